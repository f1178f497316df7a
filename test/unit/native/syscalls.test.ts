// Each native syscall export, inline mode (pool size 0): results, errno paths, and that the
// uid/gid of creating calls really become the owner (these tests run as root).
import { constants as osc } from 'node:os';
import * as nfs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { C, sys } from '../../../src/native/syscalls.js';
import { StatField } from '../../../src/filesystem/filesystem.js';

const E = osc.errno;
const b = (s: string): Buffer => Buffer.from(s);
let dir: string;
let dirFd: number; // O_PATH
let procFd: number;

function ok(r: number | undefined): number {
  expect(typeof r).toBe('number');
  if ((r as number) < 0) throw new Error(`errno ${-(r as number)}`);
  return r as number;
}

function openPath(name: string, flags = 0): number {
  return ok(sys.sys_openat2(dirFd, b(name), C.O_PATH | C.O_NOFOLLOW | flags, 0, C.RESOLVE_BENEATH, -1, -1));
}

beforeAll(() => {
  process.umask(0);
  dir = nfs.mkdtempSync(join(tmpdir(), 'vfs-sys-'));
  nfs.chmodSync(dir, 0o777); // guests with other fsuids create here too
  dirFd = ok(sys.sys_openat2(C.AT_FDCWD, b(dir), C.O_PATH | C.O_DIRECTORY, 0, 0, -1, -1));
  procFd = ok(sys.sys_openat2(C.AT_FDCWD, b('/proc/self/fd'), C.O_PATH | C.O_DIRECTORY, 0, 0, -1, -1));
});

afterAll(() => {
  sys.sys_close(dirFd);
  sys.sys_close(procFd);
  nfs.rmSync(dir, { recursive: true, force: true });
});

describe('native syscalls (inline)', () => {
  it('runs inline with pool size 0 even when a callback is given', () => {
    expect(sys.getPoolSize()).toBe(0);
    let called = false;
    const r = sys.sys_fsync(-1, false, () => {
      called = true;
    });
    expect(r).toBe(-E.EBADF);
    expect(called).toBe(false);
  });

  it('exposes constants', () => {
    expect(C.O_PATH).toBe(0o10000000);
    expect(C.RESOLVE_BENEATH).toBe(8);
    expect(C.STAT_RECORD_SIZE).toBe(104);
    expect(C.AT_EMPTY_PATH).toBe(0x1000);
  });

  it('openat2 creates with the given fsuid/fsgid and resolves beneath', () => {
    const fd = ok(sys.sys_openat2(dirFd, b('owned'), C.O_CREAT | C.O_EXCL | C.O_RDWR, 0o100640, C.RESOLVE_BENEATH, 1234, 5678));
    sys.sys_close(fd);
    const st = nfs.statSync(join(dir, 'owned'));
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([1234, 5678, 0o640]);
    expect(sys.sys_openat2(dirFd, b('owned'), C.O_CREAT | C.O_EXCL | C.O_RDWR, 0o600, 0, -1, -1)).toBe(-E.EEXIST);
    expect(sys.sys_openat2(dirFd, b('../x'), C.O_PATH, 0, C.RESOLVE_BENEATH, -1, -1)).toBe(-E.EXDEV);
    expect(sys.sys_openat2(dirFd, b('/etc/passwd'), C.O_PATH, 0, C.RESOLVE_BENEATH, -1, -1)).toBe(-E.EXDEV);
    expect(sys.sys_openat2(dirFd, b('missing'), C.O_PATH, 0, C.RESOLVE_BENEATH, -1, -1)).toBe(-E.ENOENT);
    expect(sys.sys_openat2(dirFd, Buffer.from([0x61, 0, 0x62]), C.O_PATH, 0, 0, -1, -1)).toBe(-E.EINVAL);
  });

  it('openat2 never follows a symlink out of the share', () => {
    nfs.symlinkSync('/etc/passwd', join(dir, 'evil'));
    // Following it beneath the directory is refused...
    expect(sys.sys_openat2(dirFd, b('evil'), C.O_RDONLY, 0, C.RESOLVE_BENEATH, -1, -1)).toBe(-E.EXDEV);
    // ...and with NO_SYMLINKS + O_PATH|O_NOFOLLOW we get the link itself.
    const fd = ok(sys.sys_openat2(dirFd, b('evil'), C.O_PATH | C.O_NOFOLLOW, 0, C.RESOLVE_BENEATH | C.RESOLVE_NO_SYMLINKS, -1, -1));
    const rec = Buffer.alloc(104);
    ok(sys.sys_statx(fd, null, C.AT_SYMLINK_NOFOLLOW, rec));
    expect(rec.readUInt32LE(StatField.mode) & 0o170000).toBe(0o120000);
    const out = Buffer.alloc(4096);
    const n = ok(sys.sys_readlinkat(fd, null, out));
    expect(out.subarray(0, n).toString()).toBe('/etc/passwd');
    sys.sys_close(fd);
  });

  it('statx fills the StatRecord like stat(2)', () => {
    nfs.writeFileSync(join(dir, 'st'), 'hello');
    const fd = openPath('st');
    const rec = Buffer.alloc(104, 0xff);
    ok(sys.sys_statx(fd, null, C.AT_SYMLINK_NOFOLLOW, rec));
    const st = nfs.statSync(join(dir, 'st'), { bigint: true });
    expect(rec.readBigUInt64LE(StatField.ino)).toBe(st.ino);
    expect(rec.readBigUInt64LE(StatField.size)).toBe(5n);
    expect(rec.readBigUInt64LE(StatField.blocks)).toBe(st.blocks);
    expect(rec.readBigUInt64LE(StatField.mtime)).toBe(st.mtimeNs / 1_000_000_000n);
    expect(BigInt(rec.readUInt32LE(StatField.mtimensec))).toBe(st.mtimeNs % 1_000_000_000n);
    expect(BigInt(rec.readUInt32LE(StatField.mode))).toBe(st.mode);
    expect(BigInt(rec.readUInt32LE(StatField.nlink))).toBe(st.nlink);
    expect(rec.readUInt32LE(StatField.uid)).toBe(0);
    expect(rec.readUInt32LE(StatField.flags)).toBe(0);
    expect(rec.readBigUInt64LE(StatField.dev)).toBe(st.dev);
    expect(rec.readBigUInt64LE(StatField.mntId)).not.toBe(0n);
    // By name relative to the directory, too.
    const rec2 = Buffer.alloc(104);
    ok(sys.sys_statx(dirFd, b('st'), C.AT_SYMLINK_NOFOLLOW, rec2));
    expect(rec2.equals(rec)).toBe(true);
    expect(sys.sys_statx(dirFd, b('nope'), 0, rec2)).toBe(-E.ENOENT);
    expect(sys.sys_statx(-1, null, 0, rec2)).toBe(-E.EBADF);
    expect(() => sys.sys_statx(fd, null, 0, Buffer.alloc(50))).toThrow(RangeError);
    sys.sys_close(fd);
  });

  it('reopen turns an O_PATH fd into an I/O fd and drops O_CREAT', () => {
    nfs.writeFileSync(join(dir, 'ro'), 'abcdef');
    const pfd = openPath('ro');
    const fd = ok(sys.sys_reopen(procFd, pfd, C.O_RDONLY | C.O_CREAT | C.O_NOFOLLOW));
    const buf = Buffer.alloc(10);
    expect(sys.sys_pread(fd, buf, 2, 4, 1)).toBe(4);
    expect(buf.subarray(2, 6).toString()).toBe('bcde');
    expect(sys.sys_pread(fd, buf, 0, 4, 1n)).toBe(4);
    expect(sys.sys_pread(pfd, buf, 0, 4, 0)).toBe(-E.EBADF); // O_PATH: no I/O
    expect(() => sys.sys_pread(fd, buf, 8, 4, 0)).toThrow(RangeError);
    expect(sys.sys_reopen(procFd, -1, C.O_RDONLY)).toBe(-E.EBADF);
    sys.sys_close(fd);
    sys.sys_close(pfd);
  });

  it('pwrite, ftruncate, lseek, fsync, dup, close', () => {
    const fd = ok(sys.sys_openat2(dirFd, b('rw'), C.O_CREAT | C.O_RDWR, 0o644, C.RESOLVE_BENEATH, -1, -1));
    expect(sys.sys_pwrite(fd, b('0123456789'), 0, 10, 0)).toBe(10);
    expect(sys.sys_lseek(fd, 0, C.SEEK_END)).toBe(10);
    expect(sys.sys_lseek(fd, 3n, C.SEEK_SET)).toBe(3);
    expect(sys.sys_lseek(fd, -1, C.SEEK_SET)).toBe(-E.EINVAL);
    expect(sys.sys_lseek(fd, 1n << 64n, C.SEEK_SET)).toBe(-E.EINVAL);
    ok(sys.sys_ftruncate(fd, 4));
    expect(nfs.readFileSync(join(dir, 'rw'), 'utf8')).toBe('0123');
    ok(sys.sys_ftruncate(fd, 100n));
    expect(nfs.statSync(join(dir, 'rw')).size).toBe(100);
    expect(sys.sys_ftruncate(fd, -1)).toBe(-E.EINVAL);
    ok(sys.sys_fsync(fd, false));
    ok(sys.sys_fsync(fd, true));
    const d = ok(sys.sys_dup(fd));
    expect(d).not.toBe(fd);
    ok(sys.sys_close(d));
    expect(sys.sys_close(d)).toBe(-E.EBADF);
    ok(sys.sys_close(fd));
    expect(sys.sys_close(-1)).toBe(-E.EBADF);
  });

  it('fchmodat through /proc/self/fd and on an fd', () => {
    nfs.writeFileSync(join(dir, 'ch'), '');
    const pfd = openPath('ch');
    ok(sys.sys_fchmodat(procFd, b(String(pfd)), 0o4751));
    expect(nfs.statSync(join(dir, 'ch')).mode & 0o7777).toBe(0o4751);
    expect(sys.sys_fchmodat(pfd, null, 0o600)).toBe(-E.EBADF); // fchmod refuses O_PATH
    const fd = ok(sys.sys_reopen(procFd, pfd, C.O_RDONLY));
    ok(sys.sys_fchmodat(fd, null, 0o600));
    expect(nfs.statSync(join(dir, 'ch')).mode & 0o7777).toBe(0o600);
    ok(sys.sys_fchmodat(dirFd, b('ch'), 0o644));
    expect(nfs.statSync(join(dir, 'ch')).mode & 0o7777).toBe(0o644);
    sys.sys_close(fd);
    sys.sys_close(pfd);
  });

  it('fchownat on an O_PATH fd, -1 keeps a field', () => {
    nfs.writeFileSync(join(dir, 'own'), '');
    const pfd = openPath('own');
    ok(sys.sys_fchownat(pfd, null, 100, 200, C.AT_SYMLINK_NOFOLLOW));
    let st = nfs.statSync(join(dir, 'own'));
    expect([st.uid, st.gid]).toEqual([100, 200]);
    ok(sys.sys_fchownat(pfd, null, -1, 300, C.AT_SYMLINK_NOFOLLOW));
    st = nfs.statSync(join(dir, 'own'));
    expect([st.uid, st.gid]).toEqual([100, 300]);
    ok(sys.sys_fchownat(dirFd, b('own'), 7, -1, 0));
    expect(nfs.statSync(join(dir, 'own')).uid).toBe(7);
    sys.sys_close(pfd);
  });

  it('utimensat with explicit times, UTIME_OMIT and UTIME_NOW', () => {
    nfs.writeFileSync(join(dir, 'tm'), '');
    const pfd = openPath('tm');
    const name = b(String(pfd));
    ok(sys.sys_utimensat(procFd, name, 1000, 5, 2000, 7, 0));
    let st = nfs.statSync(join(dir, 'tm'), { bigint: true });
    expect(st.atimeNs).toBe(1000_000_000_005n);
    expect(st.mtimeNs).toBe(2000_000_000_007n);
    ok(sys.sys_utimensat(procFd, name, 0, C.UTIME_OMIT, 3000, 0, 0));
    st = nfs.statSync(join(dir, 'tm'), { bigint: true });
    expect(st.atimeNs).toBe(1000_000_000_005n);
    expect(st.mtimeNs).toBe(3000_000_000_000n);
    ok(sys.sys_utimensat(procFd, name, 0, C.UTIME_NOW, 0, C.UTIME_OMIT, 0));
    st = nfs.statSync(join(dir, 'tm'), { bigint: true });
    expect(st.atimeNs > 3000_000_000_000n).toBe(true);
    const fd = ok(sys.sys_reopen(procFd, pfd, C.O_RDONLY));
    ok(sys.sys_utimensat(fd, null, 0, C.UTIME_OMIT, -5, 0, 0)); // futimens, negative seconds
    expect(nfs.statSync(join(dir, 'tm'), { bigint: true }).mtimeNs).toBe(-5_000_000_000n);
    expect(sys.sys_utimensat(procFd, name, 0, 2_000_000_000, 0, 0, 0)).toBe(-E.EINVAL);
    sys.sys_close(fd);
    sys.sys_close(pfd);
  });

  it('mkdirat, mknodat and symlinkat own the result as uid/gid', () => {
    ok(sys.sys_mkdirat(dirFd, b('d1'), 0o750, 1001, 1002));
    ok(sys.sys_mknodat(dirFd, b('fifo'), 0o010644, 0, 1003, 1004));
    ok(sys.sys_symlinkat(b('target/x'), dirFd, b('ln'), 1005, 1006));
    const d = nfs.statSync(join(dir, 'd1'));
    expect([d.uid, d.gid, d.mode & 0o7777, d.isDirectory()]).toEqual([1001, 1002, 0o750, true]);
    const f = nfs.statSync(join(dir, 'fifo'));
    expect([f.uid, f.gid, f.isFIFO()]).toEqual([1003, 1004, true]);
    const l = nfs.lstatSync(join(dir, 'ln'));
    expect([l.uid, l.gid, l.isSymbolicLink()]).toEqual([1005, 1006, true]);
    expect(nfs.readlinkSync(join(dir, 'ln'))).toBe('target/x');
    expect(sys.sys_mkdirat(dirFd, b('d1'), 0o755, -1, -1)).toBe(-E.EEXIST);
    // Without CAP_MKNOD (fsuid != 0 drops it) a device node is refused.
    expect(sys.sys_mknodat(dirFd, b('null'), 0o020666, (1 << 8) | 3, 1000, 1000)).toBe(-E.EPERM);
    // A non-root guest cannot create in a directory it has no write access to.
    ok(sys.sys_mkdirat(dirFd, b('rootonly'), 0o755, -1, -1));
    const sub = openPath('rootonly', C.O_DIRECTORY);
    expect(sys.sys_mkdirat(sub, b('x'), 0o755, 1000, 1000)).toBe(-E.EACCES);
    ok(sys.sys_mkdirat(sub, b('x'), 0o755, 0, 0));
    sys.sys_close(sub);
  });

  it('mknodat encodes rdev in FUSE (new_encode_dev) form', () => {
    const rdev = (1 << 8) | 3; // 1:3 = /dev/null
    const r = sys.sys_mknodat(dirFd, b('nulldev'), 0o020666, rdev, -1, -1);
    if (r === -E.EPERM) return; // no CAP_MKNOD in this container
    ok(r);
    const st = nfs.statSync(join(dir, 'nulldev'));
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe(nfs.statSync('/dev/null').rdev);
  });

  it('unlinkat, renameat2 (flags) and linkat', () => {
    nfs.writeFileSync(join(dir, 'a'), 'A');
    nfs.writeFileSync(join(dir, 'b'), 'B');
    expect(sys.sys_renameat2(dirFd, b('a'), dirFd, b('b'), C.RENAME_NOREPLACE)).toBe(-E.EEXIST);
    ok(sys.sys_renameat2(dirFd, b('a'), dirFd, b('b'), C.RENAME_EXCHANGE));
    expect(nfs.readFileSync(join(dir, 'a'), 'utf8')).toBe('B');
    ok(sys.sys_renameat2(dirFd, b('a'), dirFd, b('c'), 0));
    expect(nfs.existsSync(join(dir, 'a'))).toBe(false);
    expect(sys.sys_renameat2(dirFd, b('a'), dirFd, b('c'), 0)).toBe(-E.ENOENT);
    const pfd = openPath('c');
    ok(sys.sys_linkat(procFd, b(String(pfd)), dirFd, b('c2'), C.AT_SYMLINK_FOLLOW));
    expect(nfs.statSync(join(dir, 'c')).nlink).toBe(2);
    ok(sys.sys_linkat(pfd, null, dirFd, b('c3'), 0)); // AT_EMPTY_PATH (root has the capability)
    expect(nfs.statSync(join(dir, 'c')).nlink).toBe(3);
    sys.sys_close(pfd);
    ok(sys.sys_unlinkat(dirFd, b('c2'), 0));
    ok(sys.sys_unlinkat(dirFd, b('c3'), 0));
    expect(sys.sys_unlinkat(dirFd, b('c2'), 0)).toBe(-E.ENOENT);
    nfs.mkdirSync(join(dir, 'dd'));
    expect(sys.sys_unlinkat(dirFd, b('dd'), 0)).toBe(-E.EISDIR);
    ok(sys.sys_unlinkat(dirFd, b('dd'), C.AT_REMOVEDIR));
  });

  it('readlinkat errors', () => {
    const out = Buffer.alloc(64);
    expect(sys.sys_readlinkat(dirFd, null, out)).toBe(-E.ENOENT); // "" on a directory
    nfs.writeFileSync(join(dir, 'notlink'), '');
    expect(sys.sys_readlinkat(dirFd, b('notlink'), out)).toBe(-E.EINVAL);
  });

  it('getdents64 returns raw linux_dirent64 records', () => {
    const sub = join(dir, 'list');
    nfs.mkdirSync(sub);
    for (const n of ['one', 'two', 'three']) nfs.writeFileSync(join(sub, n), '');
    const pfd = openPath('list');
    const fd = ok(sys.sys_reopen(procFd, pfd, C.O_RDONLY | C.O_DIRECTORY));
    const buf = Buffer.alloc(4096);
    const names: string[] = [];
    for (;;) {
      const n = ok(sys.sys_getdents64(fd, buf));
      if (n === 0) break;
      for (let p = 0; p < n; p += buf.readUInt16LE(p + 16)) {
        const end = buf.indexOf(0, p + 19);
        names.push(buf.toString('utf8', p + 19, end));
      }
    }
    expect(names.sort()).toEqual(['.', '..', 'one', 'three', 'two']);
    expect(sys.sys_getdents64(pfd, buf)).toBe(-E.EBADF);
    sys.sys_close(fd);
    sys.sys_close(pfd);
  });

  it('fstatvfs on an O_PATH fd', () => {
    const out = Buffer.alloc(C.STATVFS_SIZE);
    ok(sys.sys_fstatvfs(dirFd, out));
    const s = nfs.statfsSync(dir, { bigint: true });
    expect(out.readBigUInt64LE(0)).toBe(s.bsize);
    expect(out.readBigUInt64LE(16)).toBe(s.blocks);
    expect(out.readBigUInt64LE(80)).toBeGreaterThan(0n);
    expect(sys.sys_fstatvfs(-1, out)).toBe(-E.EBADF);
  });

  it('faccessat checks with the given fsuid/fsgid', () => {
    nfs.writeFileSync(join(dir, 'acc'), '');
    nfs.chmodSync(join(dir, 'acc'), 0o640);
    nfs.chownSync(join(dir, 'acc'), 2000, 3000);
    const pfd = openPath('acc');
    const f = C.AT_EACCESS | C.AT_SYMLINK_NOFOLLOW;
    ok(sys.sys_faccessat(pfd, null, 6, f, 2000, 2000)); // owner rw
    ok(sys.sys_faccessat(pfd, null, 4, f, 4000, 3000)); // group r
    expect(sys.sys_faccessat(pfd, null, 2, f, 4000, 3000)).toBe(-E.EACCES);
    expect(sys.sys_faccessat(pfd, null, 4, f, 4000, 4000)).toBe(-E.EACCES);
    ok(sys.sys_faccessat(pfd, null, 6, f, 0, 0)); // root
    expect(sys.sys_faccessat(pfd, null, 1, f, 0, 0)).toBe(-E.EACCES); // no x bit at all
    ok(sys.sys_faccessat(dirFd, b('acc'), 4, f, 2000, 0));
    sys.sys_close(pfd);
  });

  it('rejects bad argument types', () => {
    expect(() => sys.sys_close('x' as unknown as number)).toThrow(TypeError);
    expect(() => sys.sys_unlinkat(dirFd, 'name' as unknown as Buffer, 0)).toThrow(TypeError);
    expect(() => sys.sys_mkdirat(dirFd, b('q'), 0o755, -2, 0)).toThrow(RangeError);
    expect(sys.sys_unlinkat(dirFd, Buffer.alloc(5000, 0x61), 0)).toBe(-E.ENAMETOOLONG);
  });

  it('the uid/gid switch does not stick to the thread', () => {
    ok(sys.sys_mkdirat(dirFd, b('after1'), 0o755, 555, 666));
    ok(sys.sys_mkdirat(dirFd, b('after2'), 0o755, -1, -1));
    const st = nfs.statSync(join(dir, 'after2'));
    expect([st.uid, st.gid]).toEqual([0, 0]);
  });
});
