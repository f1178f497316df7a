// The system calls the passthrough file system needs and Node's fs lacks (or hides behind
// libuv's shared pool). Every export is `sys_<name>(..., cb?)`:
//   - names are Buffers of raw bytes (Linux names are bytes, not UTF-8), copied here, on the JS
//     thread, into NUL-terminated strings before the job is queued; a name holding a NUL byte
//     fails with -EINVAL. Where documented, `null` instead of a name means "the fd itself"
//     (AT_EMPTY_PATH, or the f* variant of the call);
//   - output Buffers are pinned (referenced) until the job completes and must not be touched by
//     JS meanwhile;
//   - the result is a Number: >= 0 on success, -errno on failure. With a callback and a
//     non-empty pool (worker_pool.h) it is delivered to the callback, otherwise returned;
//   - creating calls take uid, gid[, suppGid]: the guest's identity, applied to this thread for
//     the duration of the call (guest_creds.h; -1, -1 = keep root's; suppGid -1 or omitted = no
//     supplementary group);
//   - every descriptor opened here is O_CLOEXEC.
// Argument *types* are checked (TypeError/RangeError on a programming error); values are not
// policy-checked here: TypeScript (src/passthrough) decides flags and validates names.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <napi.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "stat_record.h"
#include "syscall_args.h"
#include "syscalls_ext.h"
#include "util.h"
#include "worker_pool.h"

namespace vfs {

namespace {

constexpr int kTmpfileBit = 020000000;  // __O_TMPFILE without O_DIRECTORY
constexpr size_t kStatvfsSize = 88;     // 11 little-endian u64 fields, see SysFstatvfs

using namespace sysargs;

// ---- opening ----------------------------------------------------------------------------

// sys_openat2(dirfd, name, flags, mode, resolve, uid, gid, suppGid?, cb?) → fd. mode is masked to 07777
// and only passed with O_CREAT/O_TMPFILE (openat2 rejects it otherwise). Falls back to openat
// (+O_NOFOLLOW for RESOLVE_NO_SYMLINKS) on kernels without openat2.
Napi::Value SysOpenat2(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0);
  NameArg name = ArgName(info, 1, false);
  int flags = ArgInt32(info, 2) | O_CLOEXEC;
  uint32_t mode = ArgUint32(info, 3);
  uint32_t resolve = ArgUint32(info, 4);
  GuestCreds creds = ArgGuestCreds(info, 5);
  if ((flags & (O_CREAT | kTmpfileBit)) == 0) mode = 0;
  mode &= 07777;
  return Submit(info, 8, name.err, creds, [path = std::move(name.path), dirfd, flags, mode, resolve]() -> int64_t {
    struct open_how how;
    std::memset(&how, 0, sizeof(how));
    how.flags = static_cast<uint64_t>(static_cast<uint32_t>(flags));
    how.mode = mode;
    how.resolve = resolve;
    long fd = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof(how));
    if (fd < 0 && errno == ENOSYS) {
      int f = flags | ((resolve & RESOLVE_NO_SYMLINKS) ? O_NOFOLLOW : 0);
      fd = openat(dirfd, path.c_str(), f, mode);
    }
    return Ret(fd);
  });
}

// sys_reopen(procSelfFd, fd, flags, cb?) → fd. Opens /proc/self/fd/<fd> (relative to an fd of
// /proc/self/fd) with new flags: turns an O_PATH fd into an I/O fd for the same inode. O_NOFOLLOW,
// O_CREAT, O_EXCL and O_TMPFILE are dropped. The caller checks the inode's type first.
Napi::Value SysReopen(const Napi::CallbackInfo& info) {
  int procFd = ArgInt32(info, 0);
  int fd = ArgInt32(info, 1);
  int flags = (ArgInt32(info, 2) & ~(O_NOFOLLOW | O_CREAT | O_EXCL | kTmpfileBit)) | O_CLOEXEC;
  return Submit(info, 3, fd < 0 ? EBADF : 0, GuestCreds{}, [procFd, fd, flags]() -> int64_t {
    char name[16];
    snprintf(name, sizeof(name), "%d", fd);
    return Ret(openat(procFd, name, flags));
  });
}

// ---- attributes -------------------------------------------------------------------------

// sys_statx(dirfd, name|null, flags, out, cb?) → 0. Fills a 104-byte StatRecord (statx with
// STATX_MNT_ID, fstatat fallback). null name = the fd itself (AT_EMPTY_PATH added).
Napi::Value SysStatx(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0);
  NameArg name = ArgName(info, 1, true);
  int flags = ArgInt32(info, 2) | (name.null ? AT_EMPTY_PATH : 0);
  Pin out = ArgPin(info, 3, kStatRecordSize);
  return Submit(info, 4, name.err, GuestCreds{}, [path = std::move(name.path), dirfd, flags, out = std::move(out)]() -> int64_t {
    return StatIntoRecord(dirfd, path.c_str(), flags, out.data);
  });
}

// sys_fchmodat(dirfd, name|null, mode, cb?) → 0. null name = fchmod(dirfd) (not for O_PATH fds:
// use (procSelfFd, "<fd>") for those).
Napi::Value SysFchmodat(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0);
  NameArg name = ArgName(info, 1, true);
  mode_t mode = ArgUint32(info, 2) & 07777;
  bool self = name.null;
  return Submit(info, 3, name.err, GuestCreds{}, [path = std::move(name.path), dirfd, mode, self]() -> int64_t {
    return Ret(self ? fchmod(dirfd, mode) : fchmodat(dirfd, path.c_str(), mode, 0));
  });
}

// sys_fchownat(dirfd, name|null, uid, gid, flags, cb?) → 0. uid/gid -1 = unchanged. null name =
// the fd itself (AT_EMPTY_PATH added; works on O_PATH fds).
Napi::Value SysFchownat(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0);
  NameArg name = ArgName(info, 1, true);
  uid_t uid = static_cast<uid_t>(ArgInt64(info, 2));
  gid_t gid = static_cast<gid_t>(ArgInt64(info, 3));
  int flags = ArgInt32(info, 4) | (name.null ? AT_EMPTY_PATH : 0);
  return Submit(info, 5, name.err, GuestCreds{}, [path = std::move(name.path), dirfd, uid, gid, flags]() -> int64_t {
    return Ret(fchownat(dirfd, path.c_str(), uid, gid, flags));
  });
}

// sys_utimensat(dirfd, name|null, atimeSec, atimeNsec, mtimeSec, mtimeNsec, flags, cb?) → 0.
// Nsec may be UTIME_NOW / UTIME_OMIT. null name = futimens(dirfd) (not for O_PATH fds).
Napi::Value SysUtimensat(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0);
  NameArg name = ArgName(info, 1, true);
  struct timespec ts[2];
  ts[0].tv_sec = ArgInt64(info, 2);
  ts[0].tv_nsec = ArgInt64(info, 3);
  ts[1].tv_sec = ArgInt64(info, 4);
  ts[1].tv_nsec = ArgInt64(info, 5);
  int flags = ArgInt32(info, 6);
  bool self = name.null;
  return Submit(info, 7, name.err, GuestCreds{}, [path = std::move(name.path), dirfd, a = ts[0], m = ts[1], flags, self]() -> int64_t {
    struct timespec t[2] = {a, m};
    return Ret(self ? futimens(dirfd, t) : utimensat(dirfd, path.c_str(), t, flags));
  });
}

// sys_ftruncate(fd, length: number|bigint, cb?) → 0.
Napi::Value SysFtruncate(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  int err = 0;
  int64_t len = ArgOffset(info, 1, &err);
  return Submit(info, 2, err, GuestCreds{}, [fd, len]() -> int64_t { return Ret(ftruncate(fd, len)); });
}

// ---- creating and removing names --------------------------------------------------------

// sys_mknodat(dirfd, name, mode, rdev, uid, gid, suppGid?, cb?) → 0. mode includes the file type; rdev is
// in FUSE's 32-bit (new_encode_dev) form.
Napi::Value SysMknodat(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0);
  NameArg name = ArgName(info, 1, false);
  mode_t mode = ArgUint32(info, 2);
  uint32_t rdev = ArgUint32(info, 3);
  GuestCreds creds = ArgGuestCreds(info, 4);
  dev_t dev = makedev((rdev & 0xfff00U) >> 8, (rdev & 0xffU) | ((rdev >> 12) & 0xfff00U));
  return Submit(info, 7, name.err, creds,
                [path = std::move(name.path), dirfd, mode, dev]() -> int64_t { return Ret(mknodat(dirfd, path.c_str(), mode, dev)); });
}

// sys_mkdirat(dirfd, name, mode, uid, gid, suppGid?, cb?) → 0.
Napi::Value SysMkdirat(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0);
  NameArg name = ArgName(info, 1, false);
  mode_t mode = ArgUint32(info, 2) & 07777;
  GuestCreds creds = ArgGuestCreds(info, 3);
  return Submit(info, 6, name.err, creds,
                [path = std::move(name.path), dirfd, mode]() -> int64_t { return Ret(mkdirat(dirfd, path.c_str(), mode)); });
}

// sys_symlinkat(target, dirfd, name, uid, gid, suppGid?, cb?) → 0. The target is stored, never resolved.
Napi::Value SysSymlinkat(const Napi::CallbackInfo& info) {
  NameArg target = ArgName(info, 0, false);
  int dirfd = ArgInt32(info, 1);
  NameArg name = ArgName(info, 2, false);
  GuestCreds creds = ArgGuestCreds(info, 3);
  return Submit(info, 6, FirstErr(target.err, name.err), creds,
                [t = std::move(target.path), path = std::move(name.path), dirfd]() -> int64_t {
                  return Ret(symlinkat(t.c_str(), dirfd, path.c_str()));
                });
}

// sys_unlinkat(dirfd, name, flags, cb?) → 0. flags: 0 or AT_REMOVEDIR.
Napi::Value SysUnlinkat(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0);
  NameArg name = ArgName(info, 1, false);
  int flags = ArgInt32(info, 2);
  return Submit(info, 3, name.err, GuestCreds{},
                [path = std::move(name.path), dirfd, flags]() -> int64_t { return Ret(unlinkat(dirfd, path.c_str(), flags)); });
}

// sys_renameat2(olddirfd, oldname, newdirfd, newname, flags, cb?) → 0. flags: RENAME_*.
Napi::Value SysRenameat2(const Napi::CallbackInfo& info) {
  int oldfd = ArgInt32(info, 0);
  NameArg oldname = ArgName(info, 1, false);
  int newfd = ArgInt32(info, 2);
  NameArg newname = ArgName(info, 3, false);
  uint32_t flags = ArgUint32(info, 4);
  return Submit(info, 5, FirstErr(oldname.err, newname.err), GuestCreds{},
                [o = std::move(oldname.path), n = std::move(newname.path), oldfd, newfd, flags]() -> int64_t {
                  return Ret(syscall(SYS_renameat2, oldfd, o.c_str(), newfd, n.c_str(), flags));
                });
}

// sys_linkat(olddirfd, oldname|null, newdirfd, newname, flags, cb?) → 0. null oldname = the fd
// itself (AT_EMPTY_PATH added; needs CAP_DAC_READ_SEARCH — prefer (procSelfFd, "<fd>") with
// AT_SYMLINK_FOLLOW).
Napi::Value SysLinkat(const Napi::CallbackInfo& info) {
  int oldfd = ArgInt32(info, 0);
  NameArg oldname = ArgName(info, 1, true);
  int newfd = ArgInt32(info, 2);
  NameArg newname = ArgName(info, 3, false);
  int flags = ArgInt32(info, 4) | (oldname.null ? AT_EMPTY_PATH : 0);
  return Submit(info, 5, FirstErr(oldname.err, newname.err), GuestCreds{},
                [o = std::move(oldname.path), n = std::move(newname.path), oldfd, newfd, flags]() -> int64_t {
                  return Ret(linkat(oldfd, o.c_str(), newfd, n.c_str(), flags));
                });
}

// sys_readlinkat(dirfd, name|null, out, cb?) → length. null name = the (O_PATH) fd itself.
Napi::Value SysReadlinkat(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0);
  NameArg name = ArgName(info, 1, true);
  Pin out = ArgPin(info, 2, 0);
  return Submit(info, 3, name.err, GuestCreds{}, [path = std::move(name.path), dirfd, out = std::move(out)]() -> int64_t {
    return Ret(readlinkat(dirfd, path.c_str(), reinterpret_cast<char*>(out.data), out.size));
  });
}

// sys_faccessat(dirfd, name|null, mode, flags, uid, gid, suppGid?, cb?) → 0. faccessat2: with AT_EACCESS
// the check uses this thread's fsuid/fsgid, i.e. the given uid/gid. null name = the fd itself.
Napi::Value SysFaccessat(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0);
  NameArg name = ArgName(info, 1, true);
  int mode = ArgInt32(info, 2);
  int flags = ArgInt32(info, 3) | (name.null ? AT_EMPTY_PATH : 0);
  GuestCreds creds = ArgGuestCreds(info, 4);
  return Submit(info, 7, name.err, creds, [path = std::move(name.path), dirfd, mode, flags]() -> int64_t {
    return Ret(syscall(SYS_faccessat2, dirfd, path.c_str(), mode, flags));
  });
}

// ---- directories and descriptors --------------------------------------------------------

// sys_getdents64(fd, out, cb?) → bytes of raw struct linux_dirent64 records (0 at the end).
Napi::Value SysGetdents64(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  Pin out = ArgPin(info, 1, 0);
  return Submit(info, 2, 0, GuestCreds{},
                [fd, out = std::move(out)]() -> int64_t { return Ret(syscall(SYS_getdents64, fd, out.data, out.size)); });
}

// sys_lseek(fd, offset: number|bigint, whence, cb?) → new offset (a Number: exact below 2^53).
Napi::Value SysLseek(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  int err = 0;
  int64_t off = ArgOffset(info, 1, &err);
  int whence = ArgInt32(info, 2);
  return Submit(info, 3, err, GuestCreds{}, [fd, off, whence]() -> int64_t { return Ret(lseek(fd, off, whence)); });
}

// sys_fsync(fd, datasync: boolean, cb?) → 0.
Napi::Value SysFsync(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  bool datasync = info.Length() > 1 && info[1].ToBoolean().Value();
  return Submit(info, 2, 0, GuestCreds{}, [fd, datasync]() -> int64_t { return Ret(datasync ? fdatasync(fd) : fsync(fd)); });
}

// sys_fstatvfs(fd, out, cb?) → 0. out (88 bytes) receives little-endian u64s: bsize, frsize,
// blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax. Works on O_PATH fds.
Napi::Value SysFstatvfs(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  Pin out = ArgPin(info, 1, kStatvfsSize);
  return Submit(info, 2, 0, GuestCreds{}, [fd, out = std::move(out)]() -> int64_t {
    struct statvfs s;
    if (fstatvfs(fd, &s) != 0) return -static_cast<int64_t>(errno);
    uint64_t v[11] = {s.f_bsize, s.f_frsize, s.f_blocks, s.f_bfree, s.f_bavail, s.f_files,
                      s.f_ffree, s.f_favail, s.f_fsid,   s.f_flag,  s.f_namemax};
    std::memcpy(out.data, v, sizeof(v));
    return 0;
  });
}

// sys_fstatfs_type(fd) → the file system's magic number (statfs f_type), or -errno. Inline: a
// start-up and once-per-mount question (may inodes there be held by file handle?).
Napi::Value SysFstatfsType(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  struct statfs s;
  if (fstatfs(fd, &s) != 0) return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), static_cast<double>(static_cast<uint64_t>(s.f_type)));
}

// sys_close(fd, cb?) → 0.
Napi::Value SysClose(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  return Submit(info, 1, fd < 0 ? EBADF : 0, GuestCreds{}, [fd]() -> int64_t { return Ret(close(fd)); });
}

// sys_dup(fd, cb?) → new fd (F_DUPFD_CLOEXEC).
Napi::Value SysDup(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  return Submit(info, 1, 0, GuestCreds{}, [fd]() -> int64_t { return Ret(fcntl(fd, F_DUPFD_CLOEXEC, 0)); });
}

// Shared by pread/pwrite: (fd, buf, off, len, position) with [off, off+len) inside buf.
struct IoArgs {
  int fd;
  Pin buf;
  size_t off;
  size_t len;
  int64_t pos;
  int err = 0;
};

IoArgs ArgIo(const Napi::CallbackInfo& info) {
  IoArgs a{ArgInt32(info, 0), ArgPin(info, 1, 0), 0, 0, 0};
  int64_t off = ArgInt64(info, 2);
  int64_t len = ArgInt64(info, 3);
  if (off < 0 || len < 0 || !RangeInside(static_cast<uint64_t>(off), static_cast<uint64_t>(len), a.buf.size)) {
    throw Napi::RangeError::New(info.Env(), "buffer range out of bounds");
  }
  a.off = static_cast<size_t>(off);
  a.len = static_cast<size_t>(len);
  a.pos = ArgOffset(info, 4, &a.err);
  return a;
}

// sys_pread(fd, buf, off, len, position: number|bigint, cb?) → bytes read.
Napi::Value SysPread(const Napi::CallbackInfo& info) {
  IoArgs a = ArgIo(info);
  int err = a.err;
  return Submit(info, 5, err, GuestCreds{}, [a = std::move(a)]() -> int64_t { return Ret(pread(a.fd, a.buf.data + a.off, a.len, a.pos)); });
}

// sys_pwrite(fd, buf, off, len, position: number|bigint, cb?) → bytes written.
Napi::Value SysPwrite(const Napi::CallbackInfo& info) {
  IoArgs a = ArgIo(info);
  int err = a.err;
  return Submit(info, 5, err, GuestCreds{},
                [a = std::move(a)]() -> int64_t { return Ret(pwrite(a.fd, a.buf.data + a.off, a.len, a.pos)); });
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  auto set = [&](const char* k, double v) { c.Set(k, Napi::Number::New(env, v)); };
  set("O_RDONLY", O_RDONLY);
  set("O_WRONLY", O_WRONLY);
  set("O_RDWR", O_RDWR);
  set("O_ACCMODE", O_ACCMODE);
  set("O_CREAT", O_CREAT);
  set("O_EXCL", O_EXCL);
  set("O_NOCTTY", O_NOCTTY);
  set("O_TRUNC", O_TRUNC);
  set("O_APPEND", O_APPEND);
  set("O_NONBLOCK", O_NONBLOCK);
  set("O_DSYNC", O_DSYNC);
  set("O_SYNC", O_SYNC);
  set("O_DIRECT", O_DIRECT);
  set("O_DIRECTORY", O_DIRECTORY);
  set("O_NOFOLLOW", O_NOFOLLOW);
  set("O_NOATIME", O_NOATIME);
  set("O_CLOEXEC", O_CLOEXEC);
  set("O_PATH", O_PATH);
  set("O_TMPFILE", O_TMPFILE);
  set("RESOLVE_NO_XDEV", RESOLVE_NO_XDEV);
  set("RESOLVE_NO_MAGICLINKS", RESOLVE_NO_MAGICLINKS);
  set("RESOLVE_NO_SYMLINKS", RESOLVE_NO_SYMLINKS);
  set("RESOLVE_BENEATH", RESOLVE_BENEATH);
  set("RESOLVE_IN_ROOT", RESOLVE_IN_ROOT);
  set("AT_FDCWD", AT_FDCWD);
  set("AT_EMPTY_PATH", AT_EMPTY_PATH);
  set("AT_SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW);
  set("AT_SYMLINK_FOLLOW", AT_SYMLINK_FOLLOW);
  set("AT_REMOVEDIR", AT_REMOVEDIR);
  set("AT_EACCESS", AT_EACCESS);
  set("UTIME_NOW", UTIME_NOW);
  set("UTIME_OMIT", UTIME_OMIT);
  set("RENAME_NOREPLACE", 1);
  set("RENAME_EXCHANGE", 2);
  set("RENAME_WHITEOUT", 4);
  set("SEEK_SET", SEEK_SET);
  set("SEEK_CUR", SEEK_CUR);
  set("SEEK_END", SEEK_END);
  set("SEEK_DATA", SEEK_DATA);
  set("SEEK_HOLE", SEEK_HOLE);
  set("STAT_RECORD_SIZE", kStatRecordSize);
  set("STATVFS_SIZE", kStatvfsSize);
  sysext::AddConstants(env, c);
  return c;
}

}  // namespace

void InitSyscalls(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  static const Entry entries[] = {
      {"sys_openat2", SysOpenat2},     {"sys_reopen", SysReopen},
      {"sys_statx", SysStatx},         {"sys_fchmodat", SysFchmodat},
      {"sys_fchownat", SysFchownat},   {"sys_utimensat", SysUtimensat},
      {"sys_ftruncate", SysFtruncate}, {"sys_mknodat", SysMknodat},
      {"sys_mkdirat", SysMkdirat},     {"sys_symlinkat", SysSymlinkat},
      {"sys_unlinkat", SysUnlinkat},   {"sys_renameat2", SysRenameat2},
      {"sys_linkat", SysLinkat},       {"sys_readlinkat", SysReadlinkat},
      {"sys_faccessat", SysFaccessat}, {"sys_getdents64", SysGetdents64},
      {"sys_lseek", SysLseek},         {"sys_fsync", SysFsync},
      {"sys_fstatvfs", SysFstatvfs},   {"sys_fstatfs_type", SysFstatfsType},
      {"sys_close", SysClose},         {"sys_dup", SysDup},
      {"sys_pread", SysPread},         {"sys_pwrite", SysPwrite},
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  sysext::Init(env, exports);
  exports.Set("sys_constants", Constants(env));
}

}  // namespace vfs
