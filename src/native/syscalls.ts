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
  sys_openat2(dirfd: number, name: Name, flags: number, mode: number, resolve: number, uid: number, gid: number, cb?: SysCallback): R;
  sys_reopen(procSelfFd: number, fd: number, flags: number, cb?: SysCallback): R;
  sys_statx(dirfd: number, name: Name | null, flags: number, out: Buffer, cb?: SysCallback): R;
  sys_fchmodat(dirfd: number, name: Name | null, mode: number, cb?: SysCallback): R;
  sys_fchownat(dirfd: number, name: Name | null, uid: number, gid: number, flags: number, cb?: SysCallback): R;
  sys_utimensat(dirfd: number, name: Name | null, aSec: number, aNsec: number, mSec: number, mNsec: number, flags: number, cb?: SysCallback): R;
  sys_ftruncate(fd: number, length: Off, cb?: SysCallback): R;
  sys_mknodat(dirfd: number, name: Name, mode: number, rdev: number, uid: number, gid: number, cb?: SysCallback): R;
  sys_mkdirat(dirfd: number, name: Name, mode: number, uid: number, gid: number, cb?: SysCallback): R;
  sys_symlinkat(target: Name, dirfd: number, name: Name, uid: number, gid: number, cb?: SysCallback): R;
  sys_unlinkat(dirfd: number, name: Name, flags: number, cb?: SysCallback): R;
  sys_renameat2(oldDirfd: number, oldName: Name, newDirfd: number, newName: Name, flags: number, cb?: SysCallback): R;
  sys_linkat(oldDirfd: number, oldName: Name | null, newDirfd: number, newName: Name, flags: number, cb?: SysCallback): R;
  sys_readlinkat(dirfd: number, name: Name | null, out: Buffer, cb?: SysCallback): R;
  sys_faccessat(dirfd: number, name: Name | null, mode: number, flags: number, uid: number, gid: number, cb?: SysCallback): R;
  sys_getdents64(fd: number, out: Buffer, cb?: SysCallback): R;
  sys_lseek(fd: number, offset: Off, whence: number, cb?: SysCallback): R;
  sys_fsync(fd: number, datasync: boolean, cb?: SysCallback): R;
  sys_fstatvfs(fd: number, out: Buffer, cb?: SysCallback): R;
  sys_close(fd: number, cb?: SysCallback): R;
  sys_dup(fd: number, cb?: SysCallback): R;
  sys_pread(fd: number, buf: Uint8Array, off: number, len: number, position: Off, cb?: SysCallback): R;
  sys_pwrite(fd: number, buf: Uint8Array, off: number, len: number, position: Off, cb?: SysCallback): R;
  sys_constants: SysConstants;
  getPoolSize(): number;
  setPoolSize(n: number): void;
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
}

export const sys = addon as SyscallAddon;
export const C: SysConstants = sys.sys_constants;

// The pool can only grow, so once it has threads it keeps them: cache the positive answer.
let pooled = false;
function usePool(): boolean {
  return pooled || (pooled = sys.getPoolSize() > 0);
}

/** A raw result, or a promise of one when the call went to the pool. Never rejects. */
export type SysResult = number | Promise<number>;

// Each wrapper runs the call inline (no allocation) when the pool is empty; otherwise it costs one
// promise and its executor. If the native side ran the job inline after all, it returned the
// number instead of calling back: settle with it.
export function openat2(dirfd: number, name: Name, flags: number, mode: number, resolve: number, uid = -1, gid = -1): SysResult {
  if (!usePool()) return sys.sys_openat2(dirfd, name, flags, mode, resolve, uid, gid)!;
  return new Promise((res) => {
    const r = sys.sys_openat2(dirfd, name, flags, mode, resolve, uid, gid, res);
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
export function mknodat(dirfd: number, name: Name, mode: number, rdev: number, uid = -1, gid = -1): SysResult {
  if (!usePool()) return sys.sys_mknodat(dirfd, name, mode, rdev, uid, gid)!;
  return new Promise((res) => {
    const r = sys.sys_mknodat(dirfd, name, mode, rdev, uid, gid, res);
    if (r !== undefined) res(r);
  });
}
export function mkdirat(dirfd: number, name: Name, mode: number, uid = -1, gid = -1): SysResult {
  if (!usePool()) return sys.sys_mkdirat(dirfd, name, mode, uid, gid)!;
  return new Promise((res) => {
    const r = sys.sys_mkdirat(dirfd, name, mode, uid, gid, res);
    if (r !== undefined) res(r);
  });
}
export function symlinkat(target: Name, dirfd: number, name: Name, uid = -1, gid = -1): SysResult {
  if (!usePool()) return sys.sys_symlinkat(target, dirfd, name, uid, gid)!;
  return new Promise((res) => {
    const r = sys.sys_symlinkat(target, dirfd, name, uid, gid, res);
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
export function faccessat(dirfd: number, name: Name | null, mode: number, flags: number, uid = -1, gid = -1): SysResult {
  if (!usePool()) return sys.sys_faccessat(dirfd, name, mode, flags, uid, gid)!;
  return new Promise((res) => {
    const r = sys.sys_faccessat(dirfd, name, mode, flags, uid, gid, res);
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
