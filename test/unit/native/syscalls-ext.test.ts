// The syscall exports added for the file-system semantics (native/syscalls_ext.h,
// lock_waiter.h, guest_creds.h), inline mode: results, errno paths, and the per-thread
// identity (supplementary group applied for one call, then the thread's own groups back).
import { execFileSync } from 'node:child_process';
import * as nfs from 'node:fs';
import { constants as osc, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { C, sys } from '../../../src/native/syscalls.js';
import { until, untilBlockedOnLock } from '../../helpers/wait.js';

const E = osc.errno;
const b = (s: string): Buffer => Buffer.from(s);
let dir: string;
let dirFd: number;
let procFd: number;

function ok(r: number | undefined): number {
  expect(typeof r).toBe('number');
  if ((r as number) < 0) throw new Error(`errno ${-(r as number)}`);
  return r as number;
}

const openPath = (name: string): number => ok(sys.sys_openat2(dirFd, b(name), C.O_PATH | C.O_NOFOLLOW, 0, C.RESOLVE_BENEATH, -1, -1));
const openIo = (name: string, flags = C.O_RDWR): number => ok(sys.sys_openat2(dirFd, b(name), flags, 0, C.RESOLVE_BENEATH, -1, -1));

beforeAll(() => {
  process.umask(0);
  dir = nfs.mkdtempSync(join(tmpdir(), 'vfs-sysext-'));
  nfs.chmodSync(dir, 0o777);
  dirFd = ok(sys.sys_openat2(C.AT_FDCWD, b(dir), C.O_PATH | C.O_DIRECTORY, 0, 0, -1, -1));
  procFd = ok(sys.sys_openat2(C.AT_FDCWD, b('/proc/self/fd'), C.O_PATH | C.O_DIRECTORY, 0, 0, -1, -1));
});

afterAll(() => {
  sys.sys_close(dirFd);
  sys.sys_close(procFd);
  nfs.rmSync(dir, { recursive: true, force: true });
});

describe('xattr calls', () => {
  it('reach a file by I/O fd, by O_PATH fd (reopened), and a symlink by its magic link', () => {
    nfs.writeFileSync(join(dir, 'x'), '');
    nfs.symlinkSync('x', join(dir, 'xl'));
    const io = openIo('x');
    ok(sys.sys_setxattr(procFd, io, C.XATTR_VIA_FD, b('user.a'), b('1'), 0));
    const p = openPath('x');
    ok(sys.sys_setxattr(procFd, p, C.XATTR_VIA_REOPEN, b('user.b'), b('22'), C.XATTR_CREATE));
    expect(sys.sys_setxattr(procFd, p, C.XATTR_VIA_REOPEN, b('user.b'), b('22'), C.XATTR_CREATE)).toBe(-E.EEXIST);
    expect(sys.sys_getxattr(procFd, p, C.XATTR_VIA_REOPEN, b('user.b'), null)).toBe(2);
    const out = Buffer.alloc(16);
    expect(sys.sys_getxattr(procFd, io, C.XATTR_VIA_FD, b('user.b'), out)).toBe(2);
    expect(out.subarray(0, 2).toString()).toBe('22');
    expect(sys.sys_getxattr(procFd, p, C.XATTR_VIA_REOPEN, b('user.b'), Buffer.alloc(1))).toBe(-E.ERANGE);
    expect(sys.sys_listxattr(procFd, p, C.XATTR_VIA_PATH, null)).toBe('user.a\0user.b\0'.length);
    ok(sys.sys_removexattr(procFd, p, C.XATTR_VIA_PATH, b('user.a')));
    expect(sys.sys_getxattr(procFd, io, C.XATTR_VIA_FD, b('user.a'), null)).toBe(-E.ENODATA);
    const l = openPath('xl');
    ok(sys.sys_setxattr(procFd, l, C.XATTR_VIA_PATH, b('trusted.link'), b('L'), 0));
    expect(sys.sys_getxattr(procFd, l, C.XATTR_VIA_PATH, b('trusted.link'), null)).toBe(1);
    expect(sys.sys_getxattr(procFd, p, C.XATTR_VIA_REOPEN, b('trusted.link'), null)).toBe(-E.ENODATA); // not followed
    expect(sys.sys_getxattr(procFd, p, 9, b('user.b'), null)).toBe(-E.EINVAL);
    expect(process.cwd()).not.toBe('/proc/self/fd'); // the path mode restored the cwd
    for (const fd of [io, p, l]) sys.sys_close(fd);
  });
});

describe('file operations', () => {
  it('fallocate, copy_file_range, syncfs, statx_raw', () => {
    const fd = ok(sys.sys_openat2(dirFd, b('data'), C.O_CREAT | C.O_RDWR, 0o644, C.RESOLVE_BENEATH, -1, -1));
    ok(sys.sys_fallocate(fd, 0, 0, 1n << 20n));
    expect(nfs.statSync(join(dir, 'data')).size).toBe(1 << 20);
    expect(sys.sys_fallocate(fd, 0x1000, 0, 10)).toBeLessThan(0); // an unknown mode
    ok(sys.sys_pwrite(fd, b('abcdef'), 0, 6, 0));
    const out = ok(sys.sys_openat2(dirFd, b('copy'), C.O_CREAT | C.O_RDWR, 0o644, C.RESOLVE_BENEATH, -1, -1));
    expect(sys.sys_copy_file_range(fd, 2, out, 1, 3, 0)).toBe(3);
    expect(nfs.readFileSync(join(dir, 'copy')).toString('latin1')).toBe('\0cde');
    expect(sys.sys_copy_file_range(fd, -1, out, 0, 3, 0)).toBe(-E.EINVAL);
    ok(sys.sys_syncfs(fd));
    expect(sys.sys_syncfs(-1)).toBe(-E.EBADF);
    const sx = Buffer.alloc(C.KERNEL_STATX_SIZE);
    ok(sys.sys_statx_raw(fd, null, 0, 0xfff, sx));
    expect(sx.readBigUInt64LE(40)).toBe(1n << 20n); // stx_size
    expect(sys.sys_statx_raw(dirFd, b('missing'), 0, 0xfff, sx)).toBe(-E.ENOENT);
    sys.sys_close(fd);
    sys.sys_close(out);
  });

  it('name_to_handle_at / open_by_handle_at round-trip (mount fd must not be O_PATH)', () => {
    nfs.writeFileSync(join(dir, 'h'), 'handle');
    const p = openPath('h');
    const buf = Buffer.alloc(16 + C.MAX_HANDLE_SZ);
    const n = ok(sys.sys_name_to_handle_at(p, buf));
    expect(n).toBeGreaterThan(8);
    const handle = buf.subarray(8, 8 + n);
    expect(sys.sys_open_by_handle_at(dirFd, handle, C.O_RDONLY)).toBe(-E.EBADF); // O_PATH mount fd
    const mountFd = openIo('.', C.O_RDONLY | C.O_DIRECTORY);
    const fd = ok(sys.sys_open_by_handle_at(mountFd, handle, C.O_RDONLY));
    const data = Buffer.alloc(16);
    expect(sys.sys_pread(fd, data, 0, 16, 0)).toBe(6);
    const bad = Buffer.from(handle);
    bad.writeUInt32LE(200, 0);
    expect(sys.sys_open_by_handle_at(mountFd, bad, C.O_RDONLY)).toBe(-E.EINVAL);
    for (const x of [p, fd, mountFd]) sys.sys_close(x);
  });
});

describe('locks', () => {
  it('OFD locks: set, conflict between descriptions, GETLK reports the conflict', () => {
    nfs.writeFileSync(join(dir, 'lk'), '0123456789');
    const a = openIo('lk');
    const c = openIo('lk');
    ok(sys.sys_ofd_lock(a, C.F_OFD_SETLK, C.F_WRLCK, 2, 3, null));
    expect(sys.sys_ofd_lock(c, C.F_OFD_SETLK, C.F_RDLCK, 0, 0, null)).toBe(-E.EAGAIN);
    const rec = Buffer.alloc(24);
    ok(sys.sys_ofd_lock(c, C.F_OFD_GETLK, C.F_RDLCK, 0, 0, rec));
    expect([rec.readInt32LE(0), rec.readInt32LE(4), rec.readBigInt64LE(8), rec.readBigInt64LE(16)]).toEqual([C.F_WRLCK, -1, 2n, 3n]);
    ok(sys.sys_ofd_lock(a, C.F_OFD_GETLK, C.F_WRLCK, 0, 0, rec)); // own locks never conflict
    expect(rec.readInt32LE(0)).toBe(C.F_UNLCK);
    expect(sys.sys_ofd_lock(a, 38 /* F_OFD_SETLKW */, C.F_WRLCK, 0, 0, null)).toBe(-E.EINVAL); // waits go to lock_wait
    expect(() => sys.sys_ofd_lock(a, C.F_OFD_GETLK, C.F_WRLCK, 0, 0, Buffer.alloc(8))).toThrow(RangeError);
    sys.sys_close(a);
    ok(sys.sys_ofd_lock(c, C.F_OFD_SETLK, C.F_WRLCK, 0, 0, null)); // closing a released it
    sys.sys_close(c);
  });

  it('lock_wait waits on its own thread until the lock is free; lock_cancel ends it with EINTR', async () => {
    const a = openIo('lk');
    const c = openIo('lk');
    ok(sys.sys_flock(a, C.LOCK_EX | C.LOCK_NB));
    expect(sys.sys_flock(c, C.LOCK_EX | C.LOCK_NB)).toBe(-E.EWOULDBLOCK);
    const granted = new Promise<number>((res) => expect(sys.sys_lock_wait(c, 1, C.LOCK_EX, 0, 0, res)).toBeGreaterThan(0));
    // Asleep in flock(2) on its thread (the kernel lists it as a blocked waiter): a wait, not
    // a lock that happened to be free by the time the thread ran.
    const ino = nfs.statSync(join(dir, 'lk')).ino;
    await untilBlockedOnLock(ino, 'the flock wait', 1, 'FLOCK');
    expect(sys.sys_lock_waiters()).toBe(1);
    ok(sys.sys_flock(a, C.LOCK_UN));
    expect(await granted).toBe(0);
    expect(sys.sys_lock_waiters()).toBe(0);
    // Now a holds nothing and c holds LOCK_EX: an OFD wait for a, cancelled.
    ok(sys.sys_ofd_lock(c, C.F_OFD_SETLK, C.F_WRLCK, 0, 0, null));
    let id = 0;
    const cancelled = new Promise<number>((res) => {
      id = sys.sys_lock_wait(a, 0, C.F_WRLCK, 0n, 0n, res);
    });
    expect(id).toBeGreaterThan(0);
    await untilBlockedOnLock(ino, 'the OFD wait', 1, 'OFDLCK');
    let result: number | undefined;
    void cancelled.then((r) => (result = r));
    // A cancel signal can land just before the wait's system call and be lost (lock_waiter.h):
    // repeat it until the wait has ended.
    await until(() => {
      if (result === undefined) sys.sys_lock_cancel(id);
      return result !== undefined;
    }, 'the cancelled wait to end');
    expect(result).toBe(-E.EINTR);
    expect(sys.sys_lock_cancel(id)).toBe(-E.ESRCH);
    expect(sys.sys_lock_wait(a, 7, 0, 0, 0, () => {})).toBe(-E.EINVAL);
    sys.sys_close(a);
    sys.sys_close(c);
  });
});

describe('guest credentials', () => {
  it('a supplementary group counts for one call only; the thread\'s groups come back', () => {
    nfs.mkdirSync(join(dir, 'grp'));
    nfs.chownSync(join(dir, 'grp'), 0, 4321);
    nfs.chmodSync(join(dir, 'grp'), 0o770);
    const g = openPath('grp');
    const before = execFileSync('cat', [`/proc/${process.pid}/task/${process.pid}/status`]).toString().match(/Groups:.*/)?.[0];
    expect(sys.sys_mkdirat(g, b('no'), 0o755, 1000, 1000)).toBe(-E.EACCES);
    ok(sys.sys_mkdirat(g, b('yes'), 0o755, 1000, 1000, 4321));
    expect(nfs.statSync(join(dir, 'grp', 'yes')).uid).toBe(1000);
    expect(sys.sys_mkdirat(g, b('no2'), 0o755, 1000, 1000, -1)).toBe(-E.EACCES);
    ok(sys.sys_faccessat(g, null, 2, C.AT_EACCESS, 1000, 1000, 4321));
    expect(sys.sys_faccessat(g, null, 2, C.AT_EACCESS, 1000, 1000)).toBe(-E.EACCES);
    const after = execFileSync('cat', [`/proc/${process.pid}/task/${process.pid}/status`]).toString().match(/Groups:.*/)?.[0];
    expect(after).toBe(before);
    expect(() => sys.sys_mkdirat(g, b('q'), 0o755, 1000, 1000, -2)).toThrow(RangeError);
    sys.sys_close(g);
  });
});
