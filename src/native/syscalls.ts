/**
 * Typed view of the native system calls (native/syscalls.cc) and a small promise layer over them.
 *
 * Raw exports return a Number: >= 0 on success, -errno on failure. With a callback and a
 * non-empty worker pool the call runs on one of our threads and the callback gets the number;
 * otherwise it runs inline and returns it. Names are Buffers of raw bytes; `null` where allowed
 * means "the fd itself". Creating calls take the guest's uid/gid (-1, -1 = keep root's).
 */
import { addon } from './load.js';

export type SysCallback = (result: number) => void;
type R = number | undefined;
type Name = Uint8Array;
type Off = number | bigint;

/** Every native syscall export, one line each. */
export interface SyscallAddon {
  sys_openat2: (dirfd: number, name: Name, flags: number, mode: number, resolve: number, uid: number, gid: number, supp?: number, cb?: SysCallback) => R;
  sys_reopen: (procSelfFd: number, fd: number, flags: number, cb?: SysCallback) => R;
  sys_statx: (dirfd: number, name: Name | null, flags: number, out: Buffer, cb?: SysCallback) => R;
  sys_fchmodat: (dirfd: number, name: Name | null, mode: number, cb?: SysCallback) => R;
  sys_fchownat: (dirfd: number, name: Name | null, uid: number, gid: number, flags: number, cb?: SysCallback) => R;
  sys_utimensat: (dirfd: number, name: Name | null, aSec: number, aNsec: number, mSec: number, mNsec: number, flags: number, cb?: SysCallback) => R;
  sys_ftruncate: (fd: number, length: Off, cb?: SysCallback) => R;
  sys_mknodat: (dirfd: number, name: Name, mode: number, rdev: number, uid: number, gid: number, supp?: number, cb?: SysCallback) => R;
  sys_mkdirat: (dirfd: number, name: Name, mode: number, uid: number, gid: number, supp?: number, cb?: SysCallback) => R;
  sys_symlinkat: (target: Name, dirfd: number, name: Name, uid: number, gid: number, supp?: number, cb?: SysCallback) => R;
  sys_unlinkat: (dirfd: number, name: Name, flags: number, cb?: SysCallback) => R;
  sys_renameat2: (oldDirfd: number, oldName: Name, newDirfd: number, newName: Name, flags: number, cb?: SysCallback) => R;
  sys_linkat: (oldDirfd: number, oldName: Name | null, newDirfd: number, newName: Name, flags: number, cb?: SysCallback) => R;
  sys_readlinkat: (dirfd: number, name: Name | null, out: Buffer, cb?: SysCallback) => R;
  sys_faccessat: (dirfd: number, name: Name | null, mode: number, flags: number, uid: number, gid: number, supp?: number, cb?: SysCallback) => R;
  sys_getdents64: (fd: number, out: Buffer, cb?: SysCallback) => R;
  sys_lseek: (fd: number, offset: Off, whence: number, cb?: SysCallback) => R;
  sys_fsync: (fd: number, datasync: boolean, cb?: SysCallback) => R;
  sys_fstatvfs: (fd: number, out: Buffer, cb?: SysCallback) => R;
  /** statfs f_type (the file system's magic) or -errno; always inline. */
  sys_fstatfs_type: (fd: number) => number;
  sys_close: (fd: number, cb?: SysCallback) => R;
  sys_dup: (fd: number, cb?: SysCallback) => R;
  sys_pread: (fd: number, buf: Uint8Array, off: number, len: number, position: Off, cb?: SysCallback) => R;
  sys_pwrite: (fd: number, buf: Uint8Array, off: number, len: number, position: Off, cb?: SysCallback) => R;
  /** `how`: XATTR_VIA_FD (fd is an I/O fd), _REOPEN (O_PATH fd of a file/dir), _PATH (O_PATH fd of anything). */
  sys_getxattr: (procSelfFd: number, fd: number, how: number, name: Name, out: Buffer | null, cb?: SysCallback) => R;
  sys_listxattr: (procSelfFd: number, fd: number, how: number, out: Buffer | null, cb?: SysCallback) => R;
  sys_setxattr: (procSelfFd: number, fd: number, how: number, name: Name, value: Uint8Array, flags: number, cb?: SysCallback) => R;
  sys_removexattr: (procSelfFd: number, fd: number, how: number, name: Name, cb?: SysCallback) => R;
  sys_fallocate: (fd: number, mode: number, offset: Off, length: Off, cb?: SysCallback) => R;
  sys_copy_file_range: (fdIn: number, offIn: Off, fdOut: number, offOut: Off, len: Off, flags: number, cb?: SysCallback) => R;
  sys_syncfs: (fd: number, cb?: SysCallback) => R;
  sys_ofd_lock: (fd: number, cmd: number, type: number, start: Off, len: Off, out: Buffer | null, cb?: SysCallback) => R;
  sys_flock: (fd: number, op: number, cb?: SysCallback) => R;
  sys_name_to_handle_at: (fd: number, out: Buffer, cb?: SysCallback) => R;
  sys_open_by_handle_at: (mountFd: number, handle: Uint8Array, flags: number, cb?: SysCallback) => R;
  sys_statx_raw: (dirfd: number, name: Name | null, flags: number, mask: number, out: Buffer, cb?: SysCallback) => R;
  /** A blocking lock wait on its own thread (kind 0: OFD lock of type `arg`; 1: flock(fd, arg)). Id > 0, or -errno. */
  sys_lock_wait: (fd: number, kind: number, arg: number, start: Off, len: Off, cb: SysCallback) => number;
  /** 0 when the wait was signalled to end with -EINTR, -ESRCH when it is over. */
  sys_lock_cancel: (id: number) => number;
  sys_lock_waiters: () => number;
  sys_constants: SysConstants;
  getPoolSize: () => number;
  setPoolSize: (n: number) => void;
}

export interface SysConstants {
  readonly O_RDONLY: number; readonly O_WRONLY: number; readonly O_RDWR: number; readonly O_ACCMODE: number;
  readonly O_CREAT: number; readonly O_EXCL: number; readonly O_NOCTTY: number; readonly O_TRUNC: number;
  readonly O_APPEND: number; readonly O_NONBLOCK: number; readonly O_DSYNC: number; readonly O_SYNC: number;
  readonly O_DIRECT: number; readonly O_DIRECTORY: number; readonly O_NOFOLLOW: number; readonly O_NOATIME: number;
  readonly O_CLOEXEC: number; readonly O_PATH: number; readonly O_TMPFILE: number;
  readonly RESOLVE_NO_XDEV: number; readonly RESOLVE_NO_MAGICLINKS: number; readonly RESOLVE_NO_SYMLINKS: number;
  readonly RESOLVE_BENEATH: number; readonly RESOLVE_IN_ROOT: number;
  readonly AT_FDCWD: number; readonly AT_EMPTY_PATH: number; readonly AT_SYMLINK_NOFOLLOW: number;
  readonly AT_SYMLINK_FOLLOW: number; readonly AT_REMOVEDIR: number; readonly AT_EACCESS: number;
  readonly UTIME_NOW: number; readonly UTIME_OMIT: number;
  readonly RENAME_NOREPLACE: number; readonly RENAME_EXCHANGE: number; readonly RENAME_WHITEOUT: number;
  readonly SEEK_SET: number; readonly SEEK_CUR: number; readonly SEEK_END: number; readonly SEEK_DATA: number; readonly SEEK_HOLE: number;
  readonly STAT_RECORD_SIZE: number; readonly STATVFS_SIZE: number;
  readonly F_RDLCK: number; readonly F_WRLCK: number; readonly F_UNLCK: number;
  readonly F_OFD_GETLK: number; readonly F_OFD_SETLK: number;
  readonly LOCK_SH: number; readonly LOCK_EX: number; readonly LOCK_UN: number; readonly LOCK_NB: number;
  readonly XATTR_CREATE: number; readonly XATTR_REPLACE: number;
  readonly FALLOC_FL_KEEP_SIZE: number; readonly FALLOC_FL_PUNCH_HOLE: number; readonly FALLOC_FL_COLLAPSE_RANGE: number;
  readonly FALLOC_FL_ZERO_RANGE: number; readonly FALLOC_FL_INSERT_RANGE: number; readonly FALLOC_FL_UNSHARE_RANGE: number;
  readonly XATTR_VIA_FD: number; readonly XATTR_VIA_REOPEN: number; readonly XATTR_VIA_PATH: number;
  readonly KERNEL_STATX_SIZE: number; readonly MAX_HANDLE_SZ: number;
}

export const sys = addon as SyscallAddon;
export const C: SysConstants = sys.sys_constants;

// The pool can only grow, so once it has threads it keeps them: cache the positive answer.
let pooled = false;
function usePool(): boolean {
  return pooled || (pooled = sys.getPoolSize() > 0);
}

/** True while calls run inline (no worker pool): the wrappers then return plain numbers. */
export function inline(): boolean {
  return !usePool();
}

/** A raw result, or a promise of one when the call went to the pool. Never rejects. */
export type SysResult = number | Promise<number>;

// Each wrapper runs the call inline (no allocation) when the pool is empty; otherwise it costs one
// promise and its executor. If the native side ran the job inline after all, it returned the
// number instead of calling back: settle with it.
export function openat2(dirfd: number, name: Name, flags: number, mode: number, resolve: number, uid = -1, gid = -1, supp = -1): SysResult {
  if (!usePool()) return sys.sys_openat2(dirfd, name, flags, mode, resolve, uid, gid, supp)!;
  return new Promise((res) => {
    const r = sys.sys_openat2(dirfd, name, flags, mode, resolve, uid, gid, supp, res);
    if (r !== undefined) res(r);
  });
}
export function reopen(procSelfFd: number, fd: number, flags: number): SysResult {
  if (!usePool()) return sys.sys_reopen(procSelfFd, fd, flags)!;
  return new Promise((res) => {
    const r = sys.sys_reopen(procSelfFd, fd, flags, res);
    if (r !== undefined) res(r);
  });
}
export function statx(dirfd: number, name: Name | null, flags: number, out: Buffer): SysResult {
  if (!usePool()) return sys.sys_statx(dirfd, name, flags, out)!;
  return new Promise((res) => {
    const r = sys.sys_statx(dirfd, name, flags, out, res);
    if (r !== undefined) res(r);
  });
}
export function fchmodat(dirfd: number, name: Name | null, mode: number): SysResult {
  if (!usePool()) return sys.sys_fchmodat(dirfd, name, mode)!;
  return new Promise((res) => {
    const r = sys.sys_fchmodat(dirfd, name, mode, res);
    if (r !== undefined) res(r);
  });
}
export function fchownat(dirfd: number, name: Name | null, uid: number, gid: number, flags: number): SysResult {
  if (!usePool()) return sys.sys_fchownat(dirfd, name, uid, gid, flags)!;
  return new Promise((res) => {
    const r = sys.sys_fchownat(dirfd, name, uid, gid, flags, res);
    if (r !== undefined) res(r);
  });
}
export function utimensat(dirfd: number, name: Name | null, aSec: number, aNsec: number, mSec: number, mNsec: number, flags: number): SysResult {
  if (!usePool()) return sys.sys_utimensat(dirfd, name, aSec, aNsec, mSec, mNsec, flags)!;
  return new Promise((res) => {
    const r = sys.sys_utimensat(dirfd, name, aSec, aNsec, mSec, mNsec, flags, res);
    if (r !== undefined) res(r);
  });
}
export function ftruncate(fd: number, length: Off): SysResult {
  if (!usePool()) return sys.sys_ftruncate(fd, length)!;
  return new Promise((res) => {
    const r = sys.sys_ftruncate(fd, length, res);
    if (r !== undefined) res(r);
  });
}
export function mknodat(dirfd: number, name: Name, mode: number, rdev: number, uid = -1, gid = -1, supp = -1): SysResult {
  if (!usePool()) return sys.sys_mknodat(dirfd, name, mode, rdev, uid, gid, supp)!;
  return new Promise((res) => {
    const r = sys.sys_mknodat(dirfd, name, mode, rdev, uid, gid, supp, res);
    if (r !== undefined) res(r);
  });
}
export function mkdirat(dirfd: number, name: Name, mode: number, uid = -1, gid = -1, supp = -1): SysResult {
  if (!usePool()) return sys.sys_mkdirat(dirfd, name, mode, uid, gid, supp)!;
  return new Promise((res) => {
    const r = sys.sys_mkdirat(dirfd, name, mode, uid, gid, supp, res);
    if (r !== undefined) res(r);
  });
}
export function symlinkat(target: Name, dirfd: number, name: Name, uid = -1, gid = -1, supp = -1): SysResult {
  if (!usePool()) return sys.sys_symlinkat(target, dirfd, name, uid, gid, supp)!;
  return new Promise((res) => {
    const r = sys.sys_symlinkat(target, dirfd, name, uid, gid, supp, res);
    if (r !== undefined) res(r);
  });
}
export function unlinkat(dirfd: number, name: Name, flags: number): SysResult {
  if (!usePool()) return sys.sys_unlinkat(dirfd, name, flags)!;
  return new Promise((res) => {
    const r = sys.sys_unlinkat(dirfd, name, flags, res);
    if (r !== undefined) res(r);
  });
}
export function renameat2(oldDirfd: number, oldName: Name, newDirfd: number, newName: Name, flags: number): SysResult {
  if (!usePool()) return sys.sys_renameat2(oldDirfd, oldName, newDirfd, newName, flags)!;
  return new Promise((res) => {
    const r = sys.sys_renameat2(oldDirfd, oldName, newDirfd, newName, flags, res);
    if (r !== undefined) res(r);
  });
}
export function linkat(oldDirfd: number, oldName: Name | null, newDirfd: number, newName: Name, flags: number): SysResult {
  if (!usePool()) return sys.sys_linkat(oldDirfd, oldName, newDirfd, newName, flags)!;
  return new Promise((res) => {
    const r = sys.sys_linkat(oldDirfd, oldName, newDirfd, newName, flags, res);
    if (r !== undefined) res(r);
  });
}
export function readlinkat(dirfd: number, name: Name | null, out: Buffer): SysResult {
  if (!usePool()) return sys.sys_readlinkat(dirfd, name, out)!;
  return new Promise((res) => {
    const r = sys.sys_readlinkat(dirfd, name, out, res);
    if (r !== undefined) res(r);
  });
}
export function faccessat(dirfd: number, name: Name | null, mode: number, flags: number, uid = -1, gid = -1, supp = -1): SysResult {
  if (!usePool()) return sys.sys_faccessat(dirfd, name, mode, flags, uid, gid, supp)!;
  return new Promise((res) => {
    const r = sys.sys_faccessat(dirfd, name, mode, flags, uid, gid, supp, res);
    if (r !== undefined) res(r);
  });
}
export function getdents64(fd: number, out: Buffer): SysResult {
  if (!usePool()) return sys.sys_getdents64(fd, out)!;
  return new Promise((res) => {
    const r = sys.sys_getdents64(fd, out, res);
    if (r !== undefined) res(r);
  });
}
export function lseek(fd: number, offset: Off, whence: number): SysResult {
  if (!usePool()) return sys.sys_lseek(fd, offset, whence)!;
  return new Promise((res) => {
    const r = sys.sys_lseek(fd, offset, whence, res);
    if (r !== undefined) res(r);
  });
}
export function fsync(fd: number, datasync: boolean): SysResult {
  if (!usePool()) return sys.sys_fsync(fd, datasync)!;
  return new Promise((res) => {
    const r = sys.sys_fsync(fd, datasync, res);
    if (r !== undefined) res(r);
  });
}
export function fstatvfs(fd: number, out: Buffer): SysResult {
  if (!usePool()) return sys.sys_fstatvfs(fd, out)!;
  return new Promise((res) => {
    const r = sys.sys_fstatvfs(fd, out, res);
    if (r !== undefined) res(r);
  });
}
export function close(fd: number): SysResult {
  if (!usePool()) return sys.sys_close(fd)!;
  return new Promise((res) => {
    const r = sys.sys_close(fd, res);
    if (r !== undefined) res(r);
  });
}
export function dup(fd: number): SysResult {
  if (!usePool()) return sys.sys_dup(fd)!;
  return new Promise((res) => {
    const r = sys.sys_dup(fd, res);
    if (r !== undefined) res(r);
  });
}
export function pread(fd: number, buf: Uint8Array, off: number, len: number, position: Off): SysResult {
  if (!usePool()) return sys.sys_pread(fd, buf, off, len, position)!;
  return new Promise((res) => {
    const r = sys.sys_pread(fd, buf, off, len, position, res);
    if (r !== undefined) res(r);
  });
}
export function pwrite(fd: number, buf: Uint8Array, off: number, len: number, position: Off): SysResult {
  if (!usePool()) return sys.sys_pwrite(fd, buf, off, len, position)!;
  return new Promise((res) => {
    const r = sys.sys_pwrite(fd, buf, off, len, position, res);
    if (r !== undefined) res(r);
  });
}

// The less frequent calls share one wrapper (a small argument array per call is fine here).
type Rest = (number | bigint | boolean | Uint8Array | Buffer | null)[];
function viaPool(fn: (...args: never[]) => R, args: Rest): SysResult {
  const f = fn as unknown as (...a: unknown[]) => R;
  if (!usePool()) return f(...args)!;
  return new Promise((res) => {
    const r = f(...args, res);
    if (r !== undefined) res(r);
  });
}
export function getxattr(procSelfFd: number, fd: number, how: number, name: Name, out: Buffer | null): SysResult {
  return viaPool(sys.sys_getxattr, [procSelfFd, fd, how, name, out]);
}
export function listxattr(procSelfFd: number, fd: number, how: number, out: Buffer | null): SysResult {
  return viaPool(sys.sys_listxattr, [procSelfFd, fd, how, out]);
}
export function setxattr(procSelfFd: number, fd: number, how: number, name: Name, value: Uint8Array, flags: number): SysResult {
  return viaPool(sys.sys_setxattr, [procSelfFd, fd, how, name, value, flags]);
}
export function removexattr(procSelfFd: number, fd: number, how: number, name: Name): SysResult {
  return viaPool(sys.sys_removexattr, [procSelfFd, fd, how, name]);
}
export function fallocate(fd: number, mode: number, offset: Off, length: Off): SysResult {
  return viaPool(sys.sys_fallocate, [fd, mode, offset, length]);
}
export function copyFileRange(fdIn: number, offIn: Off, fdOut: number, offOut: Off, len: Off, flags: number): SysResult {
  return viaPool(sys.sys_copy_file_range, [fdIn, offIn, fdOut, offOut, len, flags]);
}
export function syncfs(fd: number): SysResult {
  return viaPool(sys.sys_syncfs, [fd]);
}
export function ofdLock(fd: number, cmd: number, type: number, start: Off, len: Off, out: Buffer | null): SysResult {
  return viaPool(sys.sys_ofd_lock, [fd, cmd, type, start, len, out]);
}
export function flock(fd: number, op: number): SysResult {
  return viaPool(sys.sys_flock, [fd, op]);
}
export function nameToHandleAt(fd: number, out: Buffer): SysResult {
  return viaPool(sys.sys_name_to_handle_at, [fd, out]);
}
export function openByHandleAt(mountFd: number, handle: Uint8Array, flags: number): SysResult {
  return viaPool(sys.sys_open_by_handle_at, [mountFd, handle, flags]);
}
export function statxRaw(dirfd: number, name: Name | null, flags: number, mask: number, out: Buffer): SysResult {
  return viaPool(sys.sys_statx_raw, [dirfd, name, flags, mask, out]);
}
