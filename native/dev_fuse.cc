// The host-mount transport's system calls: /dev/fuse and mount(2)/umount2(2), no libfuse.
//
// The FUSE core is the same one the virtqueue transport feeds; this file only moves bytes
// between /dev/fuse and Buffers the TypeScript side owns (src/transport/dev-fuse-transport.ts):
//   devFuseOpen()                          → fd (O_RDWR | O_CLOEXEC | O_NONBLOCK); throws
//   fuseMount(source, target, fstype, flags, data)                          throws on failure
//   umountAsync(target, flags, cb)         umount2 on a thread of its own; cb(0 | -errno)
//   devFuseRead(fd, buf, off, len)         → bytes of one request, or -errno (-EAGAIN: none
//                                            queued, -ENODEV: unmounted)
//   devFuseWrite(fd, head, off, len, body?, bodyOff, bodyLen) → bytes written, or -errno
//                                            (-ENOENT: the request was interrupted/aborted)
//   devFuseConstants                       MS_* / MNT_* flags
//
// Why umount2 runs on its own thread: unmounting may make the kernel wait for answers from this
// very daemon (flushing dirty pages with a writeback cache, SYNCFS, DESTROY on fuseblk). Doing
// it on the JS thread, which is the one answering, could deadlock. mount(2) never waits for us
// (the kernel sends INIT asynchronously), so it stays synchronous.
#include <fcntl.h>
#include <napi.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>

#include "util.h"

namespace vfs {

namespace {

Napi::Value Result(Napi::Env env, long r) { return Napi::Number::New(env, r < 0 ? -static_cast<double>(errno) : static_cast<double>(r)); }

// devFuseOpen() → fd. Throws an Error with code/errno (ENOENT: no /dev/fuse; EPERM/EACCES).
Napi::Value DevFuseOpen(const Napi::CallbackInfo& info) {
  int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) ThrowErrno(info.Env(), errno, "open /dev/fuse");
  return Napi::Number::New(info.Env(), fd);
}

// fuseMount(source, target, fstype, flags, data): mount(2). Throws on failure.
Napi::Value FuseMount(const Napi::CallbackInfo& info) {
  std::string source = ArgString(info, 0);
  std::string target = ArgString(info, 1);
  std::string fstype = ArgString(info, 2);
  int64_t flags = ArgInt64(info, 3);
  std::string data = ArgString(info, 4);
  if (flags < 0) throw Napi::RangeError::New(info.Env(), "mount flags must be non-negative");
  if (mount(source.c_str(), target.c_str(), fstype.c_str(), static_cast<unsigned long>(flags), data.c_str()) < 0) {
    ThrowErrno(info.Env(), errno, "mount");
  }
  return info.Env().Undefined();
}

// umountAsync(target, flags, cb): umount2() on a short-lived thread; cb(0 | -errno) on the JS
// thread. The pending call keeps the event loop alive.
Napi::Value UmountAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string target = ArgString(info, 0);
  int flags = ArgInt32(info, 1);
  if (info.Length() < 3 || !info[2].IsFunction()) throw Napi::TypeError::New(env, "umountAsync(target, flags, cb)");
  auto tsfn = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "umountAsync", 0, 1);
  std::thread([tsfn, target = std::move(target), flags]() mutable {
    int r = umount2(target.c_str(), flags) < 0 ? -errno : 0;
    tsfn.BlockingCall([r](Napi::Env cbEnv, Napi::Function cb) { cb.Call({Napi::Number::New(cbEnv, r)}); });
    tsfn.Release();
  }).detach();
  return env.Undefined();
}

// devFuseRead(fd, buf, off, len) → bytes of exactly one request, or -errno. The kernel fails
// with EINVAL when len is smaller than a whole request can be (max_write + headers).
Napi::Value DevFuseRead(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  Napi::Uint8Array buf = ArgBytes(info, 1);
  int64_t off = ArgInt64(info, 2);
  int64_t len = ArgInt64(info, 3);
  if (off < 0 || len < 0 || !RangeInside(static_cast<uint64_t>(off), static_cast<uint64_t>(len), buf.ByteLength())) {
    throw Napi::RangeError::New(info.Env(), "buffer range out of bounds");
  }
  ssize_t n;
  do {
    n = read(fd, buf.Data() + off, static_cast<size_t>(len));
  } while (n < 0 && errno == EINTR);
  return Result(info.Env(), n);
}

// devFuseWrite(fd, head, headOff, headLen, body | null, bodyOff, bodyLen) → bytes or -errno.
// One writev: the kernel takes a reply in a single write, header first.
Napi::Value DevFuseWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0);
  Napi::Uint8Array head = ArgBytes(info, 1);
  int64_t headOff = ArgInt64(info, 2);
  int64_t headLen = ArgInt64(info, 3);
  if (headOff < 0 || headLen < 0 || !RangeInside(static_cast<uint64_t>(headOff), static_cast<uint64_t>(headLen), head.ByteLength())) {
    throw Napi::RangeError::New(env, "head range out of bounds");
  }
  struct iovec iov[2];
  int iovcnt = 1;
  iov[0].iov_base = head.Data() + headOff;
  iov[0].iov_len = static_cast<size_t>(headLen);
  if (info.Length() > 4 && !info[4].IsNull() && !info[4].IsUndefined()) {
    Napi::Uint8Array body = ArgBytes(info, 4);
    int64_t bodyOff = ArgInt64(info, 5);
    int64_t bodyLen = ArgInt64(info, 6);
    if (bodyOff < 0 || bodyLen < 0 || !RangeInside(static_cast<uint64_t>(bodyOff), static_cast<uint64_t>(bodyLen), body.ByteLength())) {
      throw Napi::RangeError::New(env, "body range out of bounds");
    }
    if (bodyLen > 0) {
      iov[1].iov_base = body.Data() + bodyOff;
      iov[1].iov_len = static_cast<size_t>(bodyLen);
      iovcnt = 2;
    }
  }
  ssize_t n;
  do {
    n = writev(fd, iov, iovcnt);
  } while (n < 0 && errno == EINTR);
  return Result(env, n);
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  auto set = [&](const char* k, double v) { c.Set(k, Napi::Number::New(env, v)); };
  set("MS_NOSUID", MS_NOSUID);
  set("MS_NODEV", MS_NODEV);
  set("MS_NOEXEC", MS_NOEXEC);
  set("MS_NOATIME", MS_NOATIME);
  set("MS_RDONLY", MS_RDONLY);
  set("MNT_FORCE", MNT_FORCE);
  set("MNT_DETACH", MNT_DETACH);
  set("UMOUNT_NOFOLLOW", UMOUNT_NOFOLLOW);
  return c;
}

}  // namespace

void InitDevFuse(Napi::Env env, Napi::Object exports) {
  exports.Set("devFuseOpen", Napi::Function::New(env, DevFuseOpen, "devFuseOpen"));
  exports.Set("fuseMount", Napi::Function::New(env, FuseMount, "fuseMount"));
  exports.Set("umountAsync", Napi::Function::New(env, UmountAsync, "umountAsync"));
  exports.Set("devFuseRead", Napi::Function::New(env, DevFuseRead, "devFuseRead"));
  exports.Set("devFuseWrite", Napi::Function::New(env, DevFuseWrite, "devFuseWrite"));
  exports.Set("devFuseConstants", Constants(env));
}

}  // namespace vfs
