// FALLOCATE, LSEEK (SEEK_DATA / SEEK_HOLE), COPY_FILE_RANGE, SYNCFS, STATX, TMPFILE and RENAME2
// flags on the passthrough, checked against the host's view of the share.
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { constants as osc } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { StatField } from '../../../src/filesystem/filesystem.js';
import { C } from '../../../src/native/syscalls.js';
import { BufferReader, BufferWriter, fdCount, makeShare, name, root, user, type Share } from './helpers.js';

const E = osc.errno;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const STATX_BTIME = 0x800;
let s: Share | undefined;

afterEach(async () => {
  await s?.cleanup();
  s = undefined;
});

async function file(content = ''): Promise<{ node: number; fh: number; path: string }> {
  s ??= await makeShare();
  const path = join(s.dir, `f${Math.random().toString(36).slice(2, 8)}`);
  nfs.writeFileSync(path, content);
  const e = await s.fs.lookup(root, 1, name(path.slice(s.dir.length + 1)));
  const { fh } = await s.fs.open(root, e.nodeid, C.O_RDWR);
  return { node: e.nodeid, fh, path };
}

describe('FALLOCATE and LSEEK', () => {
  it('allocates, keeps the size, punches holes that SEEK_HOLE / SEEK_DATA then find', async () => {
    const f = await file();
    const MiB = 1n << 20n;
    await s!.fs.fallocate(root, f.node, f.fh, 0, 0n, 4n * MiB);
    expect(nfs.statSync(f.path).size).toBe(4 * 1024 * 1024);
    await s!.fs.fallocate(root, f.node, f.fh, C.FALLOC_FL_KEEP_SIZE, 4n * MiB, 4n * MiB);
    expect(nfs.statSync(f.path).size).toBe(4 * 1024 * 1024);
    expect(nfs.statSync(f.path).blocks * 512).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    await s!.fs.write(root, f.node, f.fh, 0n, new BufferReader(Buffer.alloc(4 << 20, 1)), 0);
    await s!.fs.fallocate(root, f.node, f.fh, C.FALLOC_FL_PUNCH_HOLE | C.FALLOC_FL_KEEP_SIZE, MiB, MiB);
    expect(await s!.fs.lseek(root, f.node, f.fh, 0n, SEEK_HOLE)).toBe(MiB);
    expect(await s!.fs.lseek(root, f.node, f.fh, MiB, SEEK_DATA)).toBe(2n * MiB);
    await expect(s!.fs.lseek(root, f.node, f.fh, 16n * MiB, SEEK_DATA)).rejects.toMatchObject({ errno: E.ENXIO });
    const r = new BufferWriter();
    await s!.fs.read(root, f.node, f.fh, MiB, 16, r);
    expect(r.data.equals(Buffer.alloc(16))).toBe(true);
    await s!.fs.fallocate(root, f.node, f.fh, C.FALLOC_FL_ZERO_RANGE, 0n, 4096n);
    const z = new BufferWriter();
    await s!.fs.read(root, f.node, f.fh, 0n, 8, z);
    expect(z.data.equals(Buffer.alloc(8))).toBe(true);
    // COLLAPSE_RANGE needs block alignment; the host's EINVAL reaches the guest as is.
    await expect(s!.fs.fallocate(root, f.node, f.fh, C.FALLOC_FL_COLLAPSE_RANGE, 1n, 10n)).rejects.toMatchObject({ errno: E.EINVAL });
    await s!.fs.fallocate(root, f.node, f.fh, C.FALLOC_FL_COLLAPSE_RANGE, 0n, MiB);
    expect(nfs.statSync(f.path).size).toBe(3 * 1024 * 1024);
  });

  it('needs a handle of that node; directories are refused', async () => {
    const f = await file('x');
    await expect(s!.fs.fallocate(root, f.node, 9999, 0, 0n, 10n)).rejects.toMatchObject({ errno: E.EBADF });
    const d = await s!.fs.opendir(root, 1, 0);
    await expect(s!.fs.fallocate(root, 1, d.fh, 0, 0n, 10n)).rejects.toMatchObject({ errno: E.EISDIR });
    await expect(s!.fs.lseek(root, 1, d.fh, 0n, SEEK_DATA)).rejects.toMatchObject({ errno: E.EINVAL });
  });
});

describe('COPY_FILE_RANGE', () => {
  it('copies between two handles at offsets, without moving data through us', async () => {
    const a = await file('hello, copy_file_range!');
    const b = await file('..........................');
    const n = await s!.fs.copyFileRange(root, a.node, a.fh, 7n, b.node, b.fh, 2n, 15n, 0n);
    expect(n).toBe(15);
    expect(nfs.readFileSync(b.path, 'utf8')).toBe('..copy_file_range.........');
    expect(await s!.fs.copyFileRange(root, a.node, a.fh, 100n, b.node, b.fh, 0n, 10n, 0n)).toBe(0); // past EOF
    await expect(s!.fs.copyFileRange(root, a.node, a.fh, 0n, b.node, b.fh, 0n, 1n, 1n)).rejects.toMatchObject({ errno: E.EINVAL });
    await expect(s!.fs.copyFileRange(root, a.node, a.fh, 0n, b.node, a.fh, 0n, 1n, 0n)).rejects.toMatchObject({ errno: E.EBADF });
  });
});

describe('SYNCFS', () => {
  it('syncs the file system of the inode (announced submounts) or every mount reached (not announced)', async () => {
    const f = await file('x');
    await s!.fs.syncfs(root, 1);
    await s!.fs.syncfs(root, f.node);
    await s!.fs.init({ minor: 39, flags: 1n << 27n });
    const s2 = await makeShare({ announceSubmounts: true });
    try {
      await s2.fs.init({ minor: 39, flags: 1n << 27n });
      await s2.fs.syncfs(root, 1);
      await expect(s2.fs.syncfs(root, 424242)).rejects.toMatchObject({ errno: E.ESTALE });
    } finally {
      await s2.cleanup();
    }
    await expect(s!.fs.syncfs(root, 424242)).rejects.toMatchObject({ errno: E.ESTALE });
  });
});

describe('STATX', () => {
  it('answers struct statx with btime, the guest\'s ids, and no host device numbers', async () => {
    const f = await file('12345');
    nfs.chownSync(f.path, 2001, 3001);
    const r = await s!.fs.statx(root, f.node, undefined, 0, STATX_BTIME);
    const st = nfs.statSync(f.path, { bigint: true });
    expect(r.statx.readUInt32LE(0) & STATX_BTIME).toBe(STATX_BTIME);
    expect(r.statx.readBigUInt64LE(32)).toBe(st.ino);
    expect(r.statx.readBigUInt64LE(40)).toBe(5n);
    expect(r.statx.readUInt32LE(20)).toBe(2001);
    expect(r.statx.readUInt32LE(24)).toBe(3001);
    expect(r.statx.readUInt16LE(28)).toBe(Number(st.mode & 0xffffn));
    expect(r.statx.readBigInt64LE(80)).toBe(st.birthtimeNs / 1_000_000_000n); // stx_btime.tv_sec
    expect(r.statx.readUInt32LE(136)).toBe(0); // dev_major
    expect(r.statx.subarray(144).equals(Buffer.alloc(112))).toBe(true);
  });
});

describe('TMPFILE', () => {
  it('makes an unnamed file owned by the guest, readable and writable, that LINK can name', async () => {
    s = await makeShare();
    nfs.chmodSync(s.dir, 0o777);
    const before = nfs.readdirSync(s.dir);
    const t = await s.fs.tmpfile(user(1000, 1000), 1, 0o100600, C.O_RDWR, 0);
    expect(t.entry.attr.readUInt32LE(StatField.mode)).toBe(0o100600);
    expect(t.entry.attr.readUInt32LE(StatField.uid)).toBe(1000);
    expect(t.entry.attr.readUInt32LE(StatField.nlink)).toBe(0);
    expect(nfs.readdirSync(s.dir)).toEqual(before);
    await s.fs.write(root, t.entry.nodeid, t.fh, 0n, new BufferReader(Buffer.from('tmp data')), 0);
    const e = await s.fs.link(root, t.entry.nodeid, 1, name('named'));
    expect(e.nodeid).toBe(t.entry.nodeid);
    expect(nfs.readFileSync(join(s.dir, 'named'), 'utf8')).toBe('tmp data');
    await s.fs.release(root, t.entry.nodeid, t.fh, 0);
    // O_EXCL: never linkable; read-only: EINVAL (O_TMPFILE needs write access).
    const x = await s.fs.tmpfile(root, 1, 0o100600, C.O_WRONLY | C.O_EXCL, 0);
    await expect(s.fs.link(root, x.entry.nodeid, 1, name('never'))).rejects.toMatchObject({ errno: E.ENOENT });
    await expect(s.fs.tmpfile(root, 1, 0o100600, C.O_RDONLY, 0)).rejects.toMatchObject({ errno: E.EINVAL });
    const f = await file('x');
    await expect(s.fs.tmpfile(root, f.node, 0o100600, C.O_RDWR, 0)).rejects.toMatchObject({ errno: E.ENOTDIR });
  });

  it('leaks no descriptor', async () => {
    s = await makeShare();
    const before = await fdCount();
    const t = await s.fs.tmpfile(root, 1, 0o100644, C.O_RDWR, 0);
    await s.fs.release(root, t.entry.nodeid, t.fh, 0);
    s.fs.forget(t.entry.nodeid, 1n);
    expect(await fdCount()).toBe(before);
  });
});

describe('RENAME2 flags', () => {
  it('NOREPLACE, EXCHANGE and WHITEOUT (a 0:0 character device, as overlayfs wants)', async () => {
    s = await makeShare();
    nfs.writeFileSync(join(s.dir, 'a'), 'A');
    nfs.writeFileSync(join(s.dir, 'b'), 'B');
    await expect(s.fs.rename(root, 1, name('a'), 1, name('b'), C.RENAME_NOREPLACE)).rejects.toMatchObject({ errno: E.EEXIST });
    await s.fs.rename(root, 1, name('a'), 1, name('b'), C.RENAME_EXCHANGE);
    expect(nfs.readFileSync(join(s.dir, 'a'), 'utf8')).toBe('B');
    await s.fs.rename(root, 1, name('a'), 1, name('c'), C.RENAME_WHITEOUT);
    const w = nfs.statSync(join(s.dir, 'a'));
    expect(w.isCharacterDevice()).toBe(true);
    expect(w.rdev).toBe(0);
    expect(nfs.readFileSync(join(s.dir, 'c'), 'utf8')).toBe('B');
    await expect(s.fs.rename(root, 1, name('c'), 1, name('d'), 8)).rejects.toMatchObject({ errno: E.EINVAL });
  });
});
