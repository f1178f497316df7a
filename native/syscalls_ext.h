// More syscall exports for the passthrough (included by syscalls.cc only, same conventions):
// extended attributes, fallocate, copy_file_range, syncfs, non-blocking OFD/flock locks,
// file handles and the full statx record. Blocking lock waits are in lock_waiter.h.
#pragma once

#include <fcntl.h>
#include <linux/falloc.h>
#include <napi.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include "lock_waiter.h"
#include "stat_record.h"
#include "syscall_args.h"

namespace vfs {
namespace sysext {

using namespace sysargs;

constexpr size_t kLockRecordSize = 24;  // i32 type, i32 pid, i64 start, i64 len
constexpr size_t kMaxHandleSize = 128;  // MAX_HANDLE_SZ
constexpr size_t kKernelStatxSize = 256;

// How an *xattr call reaches the inode (argument `how`): the f*xattr calls refuse O_PATH
// descriptors, and /proc may be out of reach (sandbox), so an O_PATH descriptor is reached
// through the /proc/self/fd directory the caller opened (procSelfFd):
//   kXattrFd     fd is an I/O descriptor: f*xattr(fd);
//   kXattrReopen fd is an O_PATH descriptor of a regular file or directory: reopened read-only
//                through procSelfFd, then f*xattr;
//   kXattrPath   fd is an O_PATH descriptor of anything else (symlink, FIFO, device: opening
//                those is not side-effect free): the path "<fd>" relative to procSelfFd, by
//                fchdir under a lock (there is no *xattrat before Linux 6.13). The magic link
//                leads to the inode itself and nothing is followed further.
constexpr int kXattrFd = 0;
constexpr int kXattrReopen = 1;
constexpr int kXattrPath = 2;

inline std::mutex& CwdLock() {
  static std::mutex* m = new std::mutex();
  return *m;
}

// Runs op(fd) or op(path) per `how`; -errno on failure.
template <typename FdOp, typename PathOp>
int64_t XattrAt(int procSelfFd, int fd, int how, FdOp fdOp, PathOp pathOp) {
  if (how == kXattrFd) return fdOp(fd);
  char name[16];
  snprintf(name, sizeof(name), "%d", fd);
  if (how == kXattrReopen) {
    int io = openat(procSelfFd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (io < 0) return -static_cast<int64_t>(errno);
    int64_t r = fdOp(io);
    close(io);
    return r;
  }
  if (how != kXattrPath) return -EINVAL;
  std::lock_guard<std::mutex> lock(CwdLock());
  int saved = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fchdir(procSelfFd) != 0) {
    int e = errno;
    if (saved >= 0) close(saved);
    return -static_cast<int64_t>(e);
  }
  int64_t r = pathOp(name);
  if (saved >= 0) {
    if (fchdir(saved) != 0) {
      // the old cwd is gone: nothing relies on it
    }
    close(saved);
  }
  return r;
}

// sys_getxattr(procSelfFd, fd, how, name, out|null, cb?) → value size (out null: size query).
inline Napi::Value SysGetxattr(const Napi::CallbackInfo& info) {
  int procFd = ArgInt32(info, 0);
  int fd = ArgInt32(info, 1);
  int how = ArgInt32(info, 2);
  NameArg name = ArgName(info, 3, false);
  Pin out = ArgPinOrNull(info, 4);
  return Submit(info, 5, name.err, GuestCreds{}, [procFd, fd, how, n = std::move(name.path), out = std::move(out)]() -> int64_t {
    void* p = out.null ? nullptr : out.data;
    size_t size = out.null ? 0 : out.size;
    return XattrAt(
        procFd, fd, how, [&](int f) { return Ret(fgetxattr(f, n.c_str(), p, size)); },
        [&](const char* path) { return Ret(getxattr(path, n.c_str(), p, size)); });
  });
}

// sys_listxattr(procSelfFd, fd, how, out|null, cb?) → bytes of the NUL-separated name list.
inline Napi::Value SysListxattr(const Napi::CallbackInfo& info) {
  int procFd = ArgInt32(info, 0);
  int fd = ArgInt32(info, 1);
  int how = ArgInt32(info, 2);
  Pin out = ArgPinOrNull(info, 3);
  return Submit(info, 4, 0, GuestCreds{}, [procFd, fd, how, out = std::move(out)]() -> int64_t {
    char* p = out.null ? nullptr : reinterpret_cast<char*>(out.data);
    size_t size = out.null ? 0 : out.size;
    return XattrAt(
        procFd, fd, how, [&](int f) { return Ret(flistxattr(f, p, size)); },
        [&](const char* path) { return Ret(listxattr(path, p, size)); });
  });
}

// sys_setxattr(procSelfFd, fd, how, name, value, flags, cb?) → 0. flags: XATTR_CREATE / REPLACE.
inline Napi::Value SysSetxattr(const Napi::CallbackInfo& info) {
  int procFd = ArgInt32(info, 0);
  int fd = ArgInt32(info, 1);
  int how = ArgInt32(info, 2);
  NameArg name = ArgName(info, 3, false);
  Pin value = ArgPin(info, 4, 0);
  int flags = ArgInt32(info, 5);
  return Submit(info, 6, name.err, GuestCreds{}, [procFd, fd, how, n = std::move(name.path), value = std::move(value), flags]() -> int64_t {
    return XattrAt(
        procFd, fd, how, [&](int f) { return Ret(fsetxattr(f, n.c_str(), value.data, value.size, flags)); },
        [&](const char* path) { return Ret(setxattr(path, n.c_str(), value.data, value.size, flags)); });
  });
}

// sys_removexattr(procSelfFd, fd, how, name, cb?) → 0.
inline Napi::Value SysRemovexattr(const Napi::CallbackInfo& info) {
  int procFd = ArgInt32(info, 0);
  int fd = ArgInt32(info, 1);
  int how = ArgInt32(info, 2);
  NameArg name = ArgName(info, 3, false);
  return Submit(info, 4, name.err, GuestCreds{}, [procFd, fd, how, n = std::move(name.path)]() -> int64_t {
    return XattrAt(
        procFd, fd, how, [&](int f) { return Ret(fremovexattr(f, n.c_str())); },
        [&](const char* path) { return Ret(removexattr(path, n.c_str())); });
  });
}

// sys_fallocate(fd, mode, offset, length, cb?) → 0. Offsets as Number or BigInt.
inline Napi::Value SysFallocate(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  int mode = ArgInt32(info, 1);
  int err = 0;
  int64_t off = ArgOffset(info, 2, &err);
  int64_t len = ArgOffset(info, 3, &err);
  return Submit(info, 4, err, GuestCreds{}, [fd, mode, off, len]() -> int64_t { return Ret(fallocate(fd, mode, off, len)); });
}

// sys_copy_file_range(fdIn, offIn, fdOut, offOut, len, flags, cb?) → bytes copied.
inline Napi::Value SysCopyFileRange(const Napi::CallbackInfo& info) {
  int fdIn = ArgInt32(info, 0);
  int err = 0;
  int64_t offIn = ArgOffset(info, 1, &err);
  int fdOut = ArgInt32(info, 2);
  int64_t offOut = ArgOffset(info, 3, &err);
  int64_t len = ArgOffset(info, 4, &err);
  uint32_t flags = ArgUint32(info, 5);
  if (len < 0 || offIn < 0 || offOut < 0) err = EINVAL;
  return Submit(info, 6, err, GuestCreds{}, [fdIn, offIn, fdOut, offOut, len, flags]() -> int64_t {
    loff_t in = offIn;
    loff_t out = offOut;
    return Ret(syscall(SYS_copy_file_range, fdIn, &in, fdOut, &out, static_cast<size_t>(len), flags));
  });
}

// sys_syncfs(fd, cb?) → 0.
inline Napi::Value SysSyncfs(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  return Submit(info, 1, 0, GuestCreds{}, [fd]() -> int64_t { return Ret(syncfs(fd)); });
}

// sys_ofd_lock(fd, cmd, type, start, len, out|null, cb?) → 0. cmd: F_OFD_GETLK / F_OFD_SETLK
// (never the blocking F_OFD_SETLKW: see lock_waiter.h). l_whence is SEEK_SET; len 0 = to EOF.
// For GETLK, out (24 bytes) receives i32 type, i32 pid, i64 start, i64 len of the conflict
// (type F_UNLCK when there is none).
inline Napi::Value SysOfdLock(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  int cmd = ArgInt32(info, 1);
  int type = ArgInt32(info, 2);
  int err = 0;
  int64_t start = ArgOffset(info, 3, &err);
  int64_t len = ArgOffset(info, 4, &err);
  Pin out = ArgPinOrNull(info, 5);
  if (!out.null && out.size < kLockRecordSize) throw Napi::RangeError::New(info.Env(), "lock record must be 24 bytes");
  if (cmd != F_OFD_GETLK && cmd != F_OFD_SETLK) err = EINVAL;
  return Submit(info, 6, err, GuestCreds{}, [fd, cmd, type, start, len, out = std::move(out)]() -> int64_t {
    struct flock fl;
    std::memset(&fl, 0, sizeof(fl));
    fl.l_type = static_cast<short>(type);
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    fl.l_pid = 0;  // must be 0 for OFD locks
    if (fcntl(fd, cmd, &fl) != 0) return -static_cast<int64_t>(errno);
    if (!out.null) {
      int32_t t = fl.l_type;
      int32_t pid = fl.l_pid;
      int64_t s = fl.l_start;
      int64_t l = fl.l_len;
      std::memcpy(out.data, &t, 4);
      std::memcpy(out.data + 4, &pid, 4);
      std::memcpy(out.data + 8, &s, 8);
      std::memcpy(out.data + 16, &l, 8);
    }
    return 0;
  });
}

// sys_flock(fd, op, cb?) → 0. op: LOCK_SH / LOCK_EX / LOCK_UN, normally with LOCK_NB.
inline Napi::Value SysFlock(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  int op = ArgInt32(info, 1);
  return Submit(info, 2, 0, GuestCreds{}, [fd, op]() -> int64_t { return Ret(flock(fd, op)); });
}

// sys_name_to_handle_at(fd, out, cb?) → bytes of struct file_handle. out (≥ 8 + 8 + 128 bytes)
// receives the mount id (u64) at 0 and struct file_handle { u32 handle_bytes; i32 handle_type;
// u8 f_handle[] } at 8. The fd itself is encoded (AT_EMPTY_PATH; O_PATH fds work).
inline Napi::Value SysNameToHandleAt(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  Pin out = ArgPin(info, 1, 16 + kMaxHandleSize);
  return Submit(info, 2, 0, GuestCreds{}, [fd, out = std::move(out)]() -> int64_t {
    alignas(8) uint8_t buf[sizeof(struct file_handle) + kMaxHandleSize];
    auto* fh = reinterpret_cast<struct file_handle*>(buf);
    fh->handle_bytes = kMaxHandleSize;
    int mountId = 0;
    if (name_to_handle_at(fd, "", fh, &mountId, AT_EMPTY_PATH) != 0) return -static_cast<int64_t>(errno);
    uint64_t mnt = static_cast<uint32_t>(mountId);
    size_t total = sizeof(struct file_handle) + fh->handle_bytes;
    std::memcpy(out.data, &mnt, 8);
    std::memcpy(out.data + 8, buf, total);
    return static_cast<int64_t>(total);
  });
}

// sys_open_by_handle_at(mountFd, handle, flags, cb?) → fd. handle: a struct file_handle as
// sys_name_to_handle_at wrote it (from offset 8). O_CLOEXEC is added.
inline Napi::Value SysOpenByHandleAt(const Napi::CallbackInfo& info) {
  int mountFd = ArgInt32(info, 0);
  Pin h = ArgPin(info, 1, sizeof(struct file_handle));
  int flags = ArgInt32(info, 2) | O_CLOEXEC;
  uint32_t bytes = 0;
  std::memcpy(&bytes, h.data, 4);
  int err = (bytes > kMaxHandleSize || sizeof(struct file_handle) + bytes > h.size) ? EINVAL : 0;
  return Submit(info, 3, err, GuestCreds{}, [mountFd, h = std::move(h), flags]() -> int64_t {
    alignas(8) uint8_t buf[sizeof(struct file_handle) + kMaxHandleSize];
    std::memcpy(buf, h.data, std::min(h.size, sizeof(buf)));
    return Ret(open_by_handle_at(mountFd, reinterpret_cast<struct file_handle*>(buf), flags));
  });
}

// sys_statx_raw(dirfd, name|null, flags, mask, out, cb?) → 0. out (256 bytes) receives the
// kernel's struct statx as is. null name = the fd itself (AT_EMPTY_PATH added).
inline Napi::Value SysStatxRaw(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0);
  NameArg name = ArgName(info, 1, true);
  int flags = ArgInt32(info, 2) | (name.null ? AT_EMPTY_PATH : 0);
  uint32_t mask = ArgUint32(info, 3);
  Pin out = ArgPin(info, 4, kKernelStatxSize);
  return Submit(info, 5, name.err, GuestCreds{}, [path = std::move(name.path), dirfd, flags, mask, out = std::move(out)]() -> int64_t {
    std::memset(out.data, 0, kKernelStatxSize);
    return Ret(syscall(SYS_statx, dirfd, path.c_str(), flags, mask, out.data));
  });
}

inline void AddConstants(Napi::Env env, Napi::Object c) {
  auto set = [&](const char* k, double v) { c.Set(k, Napi::Number::New(env, v)); };
  set("F_RDLCK", F_RDLCK);
  set("F_WRLCK", F_WRLCK);
  set("F_UNLCK", F_UNLCK);
  set("F_OFD_GETLK", F_OFD_GETLK);
  set("F_OFD_SETLK", F_OFD_SETLK);
  set("LOCK_SH", LOCK_SH);
  set("LOCK_EX", LOCK_EX);
  set("LOCK_UN", LOCK_UN);
  set("LOCK_NB", LOCK_NB);
  set("XATTR_CREATE", XATTR_CREATE);
  set("XATTR_REPLACE", XATTR_REPLACE);
  set("FALLOC_FL_KEEP_SIZE", FALLOC_FL_KEEP_SIZE);
  set("FALLOC_FL_PUNCH_HOLE", FALLOC_FL_PUNCH_HOLE);
  set("FALLOC_FL_COLLAPSE_RANGE", FALLOC_FL_COLLAPSE_RANGE);
  set("FALLOC_FL_ZERO_RANGE", FALLOC_FL_ZERO_RANGE);
  set("FALLOC_FL_INSERT_RANGE", FALLOC_FL_INSERT_RANGE);
  set("FALLOC_FL_UNSHARE_RANGE", FALLOC_FL_UNSHARE_RANGE);
  set("XATTR_VIA_FD", kXattrFd);
  set("XATTR_VIA_REOPEN", kXattrReopen);
  set("XATTR_VIA_PATH", kXattrPath);
  set("KERNEL_STATX_SIZE", kKernelStatxSize);
  set("MAX_HANDLE_SZ", kMaxHandleSize);
}

inline void Init(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  static const Entry entries[] = {
      {"sys_getxattr", SysGetxattr},
      {"sys_listxattr", SysListxattr},
      {"sys_setxattr", SysSetxattr},
      {"sys_removexattr", SysRemovexattr},
      {"sys_fallocate", SysFallocate},
      {"sys_copy_file_range", SysCopyFileRange},
      {"sys_syncfs", SysSyncfs},
      {"sys_ofd_lock", SysOfdLock},
      {"sys_flock", SysFlock},
      {"sys_name_to_handle_at", SysNameToHandleAt},
      {"sys_open_by_handle_at", SysOpenByHandleAt},
      {"sys_statx_raw", SysStatxRaw},
      {"sys_lock_wait", lockwait::SysLockWait},
      {"sys_lock_cancel", lockwait::SysLockCancel},
      {"sys_lock_waiters", lockwait::SysLockWaiters},
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace sysext
}  // namespace vfs
