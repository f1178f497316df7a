// Unix stream sockets with SCM_RIGHTS, for the vhost-user control channel (and its backend
// request channel). All sockets are non-blocking and close-on-exec; JS drives them from an
// FdWatcher and does the two-phase message framing (header, then body) itself.
#include <fcntl.h>
#include <napi.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util.h"

namespace vfs {

namespace {

constexpr size_t kMaxFdsPerMessage = 32;  // vhost-user sends at most 8 (+ slack)

bool FillAddress(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr->sun_path) return false;
  std::memcpy(addr->sun_path, path.c_str(), path.size());
  return true;
}

// socketListen(path) → fd. A stale socket file at path is replaced; any other file is an error.
Napi::Value SocketListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0);
  sockaddr_un addr;
  if (!FillAddress(path, &addr)) ThrowErrno(env, ENAMETOOLONG, "bind");
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) ThrowErrno(env, EEXIST, "bind");
    unlink(path.c_str());
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket");
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || listen(fd, 1) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "bind");
  }
  return Napi::Number::New(env, fd);
}

// socketIsListening(fd) → bool: true for a listening AF_UNIX stream socket (--fd validation).
Napi::Value SocketIsListening(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  int accepting = 0;
  socklen_t len = sizeof accepting;
  int type = 0;
  socklen_t tlen = sizeof type;
  bool ok = getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && accepting &&
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_STREAM;
  return Napi::Boolean::New(info.Env(), ok);
}

// socketAccept(listenFd) → fd | -EAGAIN | -errno. The accepted socket is non-blocking.
Napi::Value SocketAccept(const Napi::CallbackInfo& info) {
  int lfd = ArgInt32(info, 0);
  int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  return Napi::Number::New(info.Env(), fd < 0 ? -errno : fd);
}

// socketConnect(path) → fd (throws). Used by the userspace frontend.
Napi::Value SocketConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0);
  sockaddr_un addr;
  if (!FillAddress(path, &addr)) ThrowErrno(env, ENAMETOOLONG, "connect");
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket");
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "connect");
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return Napi::Number::New(env, fd);
}

// socketPair() → [fd, fd] (non-blocking, close-on-exec): the backend request channel.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
    ThrowErrno(info.Env(), errno, "socketpair");
  }
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), sv[0]));
  out.Set(1u, Napi::Number::New(info.Env(), sv[1]));
  return out;
}

// socketRecv(fd, buf, off, len, fdsOut: Int32Array) → bytes (0 = peer closed) | -errno.
// Received descriptors are stored in fdsOut[1..] with their count in fdsOut[0]; descriptors
// that do not fit are closed and the count reports -1 so the caller can reject the message.
Napi::Value SocketRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0);
  Napi::Uint8Array buf = ArgBytes(info, 1);
  uint32_t off = ArgUint32(info, 2);
  uint32_t len = ArgUint32(info, 3);
  if (!RangeInside(off, len, buf.ByteLength())) throw Napi::RangeError::New(env, "recv range");
  if (info.Length() < 5 || !info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(env, "fdsOut must be an Int32Array");
  }
  Napi::Int32Array fds_out = info[4].As<Napi::Int32Array>();
  if (fds_out.ElementLength() < 1) throw Napi::RangeError::New(env, "fdsOut needs room for the count");
  fds_out[0] = 0;
  iovec iov{buf.Data() + off, len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Napi::Number::New(env, -errno);
  size_t capacity = fds_out.ElementLength() > 0 ? fds_out.ElementLength() - 1 : 0;
  int32_t count = 0;
  bool overflow = (msg.msg_flags & MSG_CTRUNC) != 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int* data = reinterpret_cast<int*>(CMSG_DATA(c));
    for (size_t i = 0; i < nfds; i++) {
      int received;
      std::memcpy(&received, data + i, sizeof received);
      if (static_cast<size_t>(count) < capacity) {
        fds_out[1 + count++] = received;
      } else {
        close(received);
        overflow = true;
      }
    }
  }
  fds_out[0] = overflow ? -1 : count;
  if (overflow) {
    for (int32_t i = 0; i < count; i++) close(fds_out[1 + i]);
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// socketSend(fd, buf, off, len, fds: number[]) → bytes | -errno. Fds ride on the first byte.
Napi::Value SocketSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0);
  Napi::Uint8Array buf = ArgBytes(info, 1);
  uint32_t off = ArgUint32(info, 2);
  uint32_t len = ArgUint32(info, 3);
  if (!RangeInside(off, len, buf.ByteLength())) throw Napi::RangeError::New(env, "send range");
  std::vector<int> fds;
  if (info.Length() > 4 && info[4].IsArray()) {
    Napi::Array arr = info[4].As<Napi::Array>();
    if (arr.Length() > kMaxFdsPerMessage) throw Napi::RangeError::New(env, "too many fds");
    for (uint32_t i = 0; i < arr.Length(); i++) fds.push_back(arr.Get(i).As<Napi::Number>().Int32Value());
  }
  iovec iov{buf.Data() + off, len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return Napi::Number::New(env, n < 0 ? -errno : static_cast<double>(n));
}

// setBlocking(fd, blocking) → 0 | -errno
Napi::Value SetBlocking(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  bool blocking = info.Length() > 1 && info[1].ToBoolean();
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return Napi::Number::New(info.Env(), -errno);
  flags = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  return Napi::Number::New(info.Env(), fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0);
}

// pollReadable(fd, timeoutMs) → 1 readable | 0 timeout | -errno. For the few places that must
// wait synchronously for a reply (backend requests with NEED_REPLY).
Napi::Value PollReadable(const Napi::CallbackInfo& info) {
  pollfd p{ArgInt32(info, 0), POLLIN, 0};
  int r;
  do {
    r = poll(&p, 1, ArgInt32(info, 1));
  } while (r < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : (r > 0 ? 1 : 0));
}

}  // namespace

void InitUnixSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("socketListen", Napi::Function::New(env, SocketListen, "socketListen"));
  exports.Set("socketIsListening", Napi::Function::New(env, SocketIsListening, "socketIsListening"));
  exports.Set("socketAccept", Napi::Function::New(env, SocketAccept, "socketAccept"));
  exports.Set("socketConnect", Napi::Function::New(env, SocketConnect, "socketConnect"));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair, "socketPair"));
  exports.Set("socketRecv", Napi::Function::New(env, SocketRecv, "socketRecv"));
  exports.Set("socketSend", Napi::Function::New(env, SocketSend, "socketSend"));
  exports.Set("setBlocking", Napi::Function::New(env, SetBlocking, "setBlocking"));
  exports.Set("pollReadable", Napi::Function::New(env, PollReadable, "pollReadable"));
}

}  // namespace vfs
