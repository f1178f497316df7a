// CREATE / OPEN / READ / WRITE / FLUSH / FSYNC / RELEASE, the cache policy's FOPEN flags,
// STATFS and ACCESS.
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { constants as osc } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StatField } from '../../../src/filesystem/filesystem.js';
import { FOPEN_CACHE_DIR, FOPEN_DIRECT_IO, FOPEN_KEEP_CACHE, type CacheMode } from '../../../src/passthrough/cache-policy.js';
import { C } from '../../../src/native/syscalls.js';
import { BufferReader, BufferWriter, fdCount, makeShare, name, root, user, type Share } from './helpers.js';

const E = osc.errno;
let s: Share;

beforeEach(async () => {
  s = await makeShare();
  nfs.chmodSync(s.dir, 0o777);
});
afterEach(async () => {
  await s.cleanup();
});

describe('files', () => {
  it('create, write, read back, flush, fsync, release', async () => {
    const before = await fdCount();
    const c = await s.fs.create(user(1000, 1000), 1, name('new'), 0o100644, C.O_RDWR, 0o022);
    expect(c.entry.nodeid).toBeGreaterThan(1);
    expect(c.entry.attr.readUInt32LE(StatField.mode)).toBe(0o100644);
    expect(c.entry.attr.readUInt32LE(StatField.uid)).toBe(1000);
    const w = await s.fs.write(root, c.entry.nodeid, c.fh, 0n, new BufferReader(Buffer.from('hello world')), 0);
    expect(w).toBe(11);
    const out = new BufferWriter();
    expect(await s.fs.read(root, c.entry.nodeid, c.fh, 6n, 100, out)).toBe(5);
    expect(out.data.toString()).toBe('world');
    await s.fs.flush(root, c.entry.nodeid, c.fh, 0n);
    await s.fs.fsync(root, c.entry.nodeid, c.fh, false);
    await s.fs.fsync(root, c.entry.nodeid, c.fh, true);
    await s.fs.release(root, c.entry.nodeid, c.fh, 0);
    await expect(s.fs.read(root, c.entry.nodeid, c.fh, 0n, 1, out)).rejects.toMatchObject({ errno: E.EBADF });
    await expect(s.fs.release(root, c.entry.nodeid, c.fh, 0)).rejects.toMatchObject({ errno: E.EBADF });
    expect(nfs.readFileSync(join(s.dir, 'new'), 'utf8')).toBe('hello world');
    s.fs.forget(c.entry.nodeid, 1n);
    expect(await fdCount()).toBe(before);
  });

  it('CREATE of an existing name opens it unless O_EXCL', async () => {
    nfs.writeFileSync(join(s.dir, 'exists'), 'old');
    await expect(s.fs.create(root, 1, name('exists'), 0o100644, C.O_RDWR | C.O_EXCL, 0)).rejects.toMatchObject({
      errno: E.EEXIST,
    });
    const c = await s.fs.create(root, 1, name('exists'), 0o100600, C.O_RDWR | C.O_TRUNC, 0);
    expect(nfs.readFileSync(join(s.dir, 'exists'), 'utf8')).toBe('');
    expect(nfs.statSync(join(s.dir, 'exists')).mode & 0o777).toBe(0o666); // not re-created (umask 0)
    const l = await s.fs.lookup(root, 1, name('exists'));
    expect(l.nodeid).toBe(c.entry.nodeid);
    nfs.mkdirSync(join(s.dir, 'adir'));
    await expect(s.fs.create(root, 1, name('adir'), 0o100644, C.O_RDONLY, 0)).rejects.toMatchObject({ errno: E.EISDIR });
    expect(s.fs.stats.inodes).toBe(2); // the failed CREATE dropped its lookup reference
  });

  it('CREATE of an existing name checks the guest\'s permission before opening it', async () => {
    nfs.writeFileSync(join(s.dir, 'rootfile'), 'keep');
    nfs.chmodSync(join(s.dir, 'rootfile'), 0o644);
    const g = user(1000, 1000);
    await expect(s.fs.create(g, 1, name('rootfile'), 0o100644, C.O_RDWR, 0)).rejects.toMatchObject({ errno: E.EACCES });
    await expect(s.fs.create(g, 1, name('rootfile'), 0o100644, C.O_RDONLY | C.O_TRUNC, 0)).rejects.toMatchObject({
      errno: E.EACCES,
    });
    expect(nfs.readFileSync(join(s.dir, 'rootfile'), 'utf8')).toBe('keep');
    const c = await s.fs.create(g, 1, name('rootfile'), 0o100644, C.O_RDONLY, 0);
    await s.fs.release(g, c.entry.nodeid, c.fh, 0);
    expect(s.fs.stats.inodes).toBe(2);
  });

  it('OPEN strips O_CREAT / O_EXCL / O_NOCTTY and keeps O_APPEND and O_TRUNC', async () => {
    nfs.writeFileSync(join(s.dir, 'f'), 'abc');
    const e = await s.fs.lookup(root, 1, name('f'));
    const o = await s.fs.open(root, e.nodeid, C.O_WRONLY | C.O_APPEND | C.O_CREAT | C.O_EXCL | C.O_NOCTTY);
    // O_APPEND: the write lands at the end whatever the offset says.
    await s.fs.write(root, e.nodeid, o.fh, 0n, new BufferReader(Buffer.from('def')), 0);
    expect(nfs.readFileSync(join(s.dir, 'f'), 'utf8')).toBe('abcdef');
    // Write-only: no reads.
    await expect(s.fs.read(root, e.nodeid, o.fh, 0n, 3, new BufferWriter())).rejects.toMatchObject({ errno: E.EBADF });
    await s.fs.release(root, e.nodeid, o.fh, 0);
    const t = await s.fs.open(root, e.nodeid, C.O_RDWR | C.O_TRUNC);
    expect(nfs.statSync(join(s.dir, 'f')).size).toBe(0);
    await s.fs.release(root, e.nodeid, t.fh, 0);
  });

  it('a handle is bound to its node id', async () => {
    nfs.writeFileSync(join(s.dir, 'f'), 'abc');
    const e = await s.fs.lookup(root, 1, name('f'));
    const o = await s.fs.open(root, e.nodeid, C.O_RDONLY);
    await expect(s.fs.read(root, 1, o.fh, 0n, 3, new BufferWriter())).rejects.toMatchObject({ errno: E.EBADF });
    await expect(s.fs.read(root, e.nodeid, -1, 0n, 3, new BufferWriter())).rejects.toMatchObject({ errno: E.EBADF });
    await expect(s.fs.open(root, 999, C.O_RDONLY)).rejects.toMatchObject({ errno: E.ESTALE });
  });

  it('a RELEASE during a read closes the fd only after the read', async () => {
    nfs.writeFileSync(join(s.dir, 'f'), 'data');
    const e = await s.fs.lookup(root, 1, name('f'));
    const o = await s.fs.open(root, e.nodeid, C.O_RDONLY);
    let release: Promise<void> | undefined;
    const slow = {
      writeFromFile: async (fd: number, off: bigint, len: number): Promise<number> => {
        release = s.fs.release(root, e.nodeid, o.fh, 0);
        await release;
        return new BufferWriter().writeFromFile(fd, off, len); // fd must still be open
      },
    };
    expect(await s.fs.read(root, e.nodeid, o.fh, 0n, 4, slow)).toBe(4);
    expect(s.fs.stats.handles).toBe(0);
  });

  it('O_DIRECT is dropped unless allowed', async () => {
    nfs.writeFileSync(join(s.dir, 'f'), 'x');
    const e = await s.fs.lookup(root, 1, name('f'));
    const o = await s.fs.open(root, e.nodeid, C.O_RDONLY | C.O_DIRECT);
    const fdinfo = nfs.readdirSync('/proc/self/fd').map(Number);
    // The new handle's fd has no O_DIRECT in its flags.
    const flagsOf = (fd: number): number => parseInt(/flags:\s+(\d+)/.exec(nfs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1], 8);
    const ours = fdinfo.filter((fd) => {
      try {
        return nfs.readlinkSync(`/proc/self/fd/${fd}`) === join(s.dir, 'f') && (flagsOf(fd) & 3) === 0 && (flagsOf(fd) & C.O_PATH) === 0;
      } catch {
        return false;
      }
    });
    expect(ours.length).toBe(1);
    expect(flagsOf(ours[0]) & C.O_DIRECT).toBe(0);
    await s.fs.release(root, e.nodeid, o.fh, 0);
  });

  it('STATFS and ACCESS', async () => {
    const st = await s.fs.statfs(root, 1);
    expect(st.bsize).toBeGreaterThan(0);
    expect(st.namelen).toBe(255);
    expect(st.blocks).toBeGreaterThan(0n);
    nfs.writeFileSync(join(s.dir, 'acc'), '');
    nfs.chmodSync(join(s.dir, 'acc'), 0o640);
    nfs.chownSync(join(s.dir, 'acc'), 1000, 2000);
    const e = await s.fs.lookup(root, 1, name('acc'));
    await s.fs.access(user(1000, 1), e.nodeid, 6);
    await s.fs.access(user(5, 2000), e.nodeid, 4);
    await s.fs.access(user(5, 5), e.nodeid, 0); // F_OK
    await expect(s.fs.access(user(5, 2000), e.nodeid, 2)).rejects.toMatchObject({ errno: E.EACCES });
    await expect(s.fs.access(user(5, 5), e.nodeid, 4)).rejects.toMatchObject({ errno: E.EACCES });
    await expect(s.fs.access(root, e.nodeid, 1)).rejects.toMatchObject({ errno: E.EACCES });
    await s.fs.access(root, e.nodeid, 6);
  });
});

describe('cache policy', () => {
  const cases: Array<[CacheMode, number, number, number]> = [
    ['never', 0, FOPEN_DIRECT_IO, 0],
    ['auto', 1, 0, 0],
    ['always', 86400, FOPEN_KEEP_CACHE, FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR],
    ['metadata', 86400, FOPEN_DIRECT_IO, FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR],
  ];
  for (const [mode, timeout, fileFlags, dirFlags] of cases) {
    it(`cache=${mode}`, async () => {
      const t = await makeShare({ cache: mode });
      try {
        nfs.mkdirSync(join(t.dir, 'd'));
        const c = await t.fs.create(root, 1, name('f'), 0o100644, C.O_RDWR, 0);
        expect([c.entry.entryTimeout, c.entry.attrTimeout, c.openFlags]).toEqual([timeout, timeout, fileFlags]);
        expect((await t.fs.open(root, c.entry.nodeid, C.O_RDONLY)).openFlags).toBe(fileFlags);
        expect((await t.fs.getattr(root, c.entry.nodeid, undefined)).attrTimeout).toBe(timeout);
        const d = await t.fs.lookup(root, 1, name('d'));
        expect((await t.fs.opendir(root, d.nodeid, 0)).openFlags).toBe(dirFlags);
        const readdirplus = (1n << 13n) | (1n << 14n);
        const mask = await t.fs.init({ minor: 38, flags: readdirplus });
        expect(mask).toBe(mode === 'never' ? 0n : readdirplus);
      } finally {
        await t.cleanup();
      }
    });
  }
});
