// The caching and open-flag options on the passthrough: --writeback (O_WRONLY → O_RDWR, no
// O_APPEND), --preserve-noatime, --allow-direct-io, --no-readdirplus, --allow-mmap, and the INIT
// flags each one turns on; and the --readonly wrapper.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { constants as osc } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { FileSystem } from '../../../src/filesystem/filesystem.js';
import { C } from '../../../src/native/syscalls.js';
import { FATTR } from '../../../src/filesystem/filesystem.js';
import { readOnly } from '../../../src/passthrough/read-only.js';
import { BufferReader, BufferWriter, makeShare, name, root, setattrReq, type Share } from './helpers.js';

const E = osc.errno;
const F = {
  POSIX_LOCKS: 1n << 1n,
  FLOCK_LOCKS: 1n << 10n,
  DO_READDIRPLUS: 1n << 13n,
  READDIRPLUS_AUTO: 1n << 14n,
  WRITEBACK_CACHE: 1n << 16n,
  POSIX_ACL: 1n << 20n,
  DONT_MASK: 1n << 6n,
  SETXATTR_EXT: 1n << 29n,
  KILLPRIV: 1n << 19n,
  KILLPRIV_V2: 1n << 28n,
  EXPORT_SUPPORT: 1n << 4n,
  SECURITY_CTX: 1n << 32n,
  CREATE_SUPP_GROUP: 1n << 34n,
  DIRECT_IO_ALLOW_MMAP: 1n << 36n,
  ASYNC_READ: 1n << 0n,
};
const ALL = Object.values(F).reduce((a, b) => a | b, 0n);
let s: Share | undefined;

afterEach(async () => {
  await s?.cleanup();
  s = undefined;
});

/** open(2) flags of this process's I/O descriptors on `path` (/proc/self/fdinfo; O_PATH ones skipped). */
function hostFlags(path: string): number[] {
  const out: number[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== path) continue;
    const m = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    if (m && (parseInt(m[1], 8) & C.O_PATH) === 0) out.push(parseInt(m[1], 8));
  }
  return out;
}

describe('INIT flags follow the options', () => {
  it('defaults: no locks, no writeback, no ACLs, no KILLPRIV, no SECURITY_CTX, no EXPORT_SUPPORT; READDIRPLUS and SUPP_GROUP on', async () => {
    s = await makeShare();
    const f = await s.fs.init({ minor: 39, flags: ALL });
    expect(f & (F.POSIX_LOCKS | F.FLOCK_LOCKS | F.WRITEBACK_CACHE | F.POSIX_ACL | F.DONT_MASK | F.SETXATTR_EXT)).toBe(0n);
    expect(f & (F.KILLPRIV | F.KILLPRIV_V2 | F.SECURITY_CTX | F.EXPORT_SUPPORT | F.DIRECT_IO_ALLOW_MMAP)).toBe(0n);
    expect(f & (F.DO_READDIRPLUS | F.READDIRPLUS_AUTO | F.CREATE_SUPP_GROUP | F.ASYNC_READ)).toBe(F.DO_READDIRPLUS | F.READDIRPLUS_AUTO | F.CREATE_SUPP_GROUP | F.ASYNC_READ);
  });

  it('each option turns its bits on (when the guest offers them)', async () => {
    s = await makeShare({ posixLocks: true, flockLocks: true, writeback: true, posixAcl: true, killprivV2: true, securityLabel: true, allowMmap: true });
    const f = await s.fs.init({ minor: 39, flags: ALL });
    const want = F.POSIX_LOCKS | F.FLOCK_LOCKS | F.WRITEBACK_CACHE | F.POSIX_ACL | F.DONT_MASK | F.SETXATTR_EXT | F.KILLPRIV_V2 | F.SECURITY_CTX | F.DIRECT_IO_ALLOW_MMAP;
    expect(f & want).toBe(want);
    expect(f & F.KILLPRIV).toBe(0n);
    // A guest that lacks part of the ACL set gets none of it (and the session goes on).
    expect((await s.fs.init({ minor: 39, flags: F.POSIX_ACL | F.DONT_MASK })) & (F.POSIX_ACL | F.DONT_MASK)).toBe(0n);
  });

  it('--no-readdirplus and cache=never turn READDIRPLUS off', async () => {
    s = await makeShare({ readdirplus: false });
    expect((await s.fs.init({ minor: 39, flags: ALL })) & F.DO_READDIRPLUS).toBe(0n);
    await s.cleanup();
    s = await makeShare({ cache: 'never' });
    expect((await s.fs.init({ minor: 39, flags: ALL })) & F.DO_READDIRPLUS).toBe(0n);
  });
});

describe('open flags', () => {
  it('--writeback: O_WRONLY is opened O_RDWR (the guest reads pages) and O_APPEND is dropped', async () => {
    s = await makeShare({ writeback: true });
    await s.fs.init({ minor: 39, flags: F.WRITEBACK_CACHE });
    const path = join(s.dir, 'f');
    nfs.writeFileSync(path, 'abcdef');
    const e = await s.fs.lookup(root, 1, name('f'));
    const o = await s.fs.open(root, e.nodeid, C.O_WRONLY | C.O_APPEND);
    const [flags] = hostFlags(path);
    expect(flags & C.O_ACCMODE).toBe(C.O_RDWR);
    expect(flags & C.O_APPEND).toBe(0);
    const r = new BufferWriter();
    expect(await s.fs.read(root, e.nodeid, o.fh, 0n, 3, r)).toBe(3);
    await s.fs.write(root, e.nodeid, o.fh, 1n, new BufferReader(Buffer.from('X')), 1 /* FUSE_WRITE_CACHE */);
    expect(readFileSync(path, 'utf8')).toBe('aXcdef'); // at the guest's offset, not appended
    await s.fs.release(root, e.nodeid, o.fh, 0);
  });

  it('without writeback O_APPEND and O_WRONLY stay', async () => {
    s = await makeShare({ writeback: true }); // offered but not negotiated
    await s.fs.init({ minor: 39, flags: 0n });
    const path = join(s.dir, 'f');
    nfs.writeFileSync(path, 'abc');
    const e = await s.fs.lookup(root, 1, name('f'));
    const o = await s.fs.open(root, e.nodeid, C.O_WRONLY | C.O_APPEND);
    const [flags] = hostFlags(path);
    expect(flags & (C.O_ACCMODE | C.O_APPEND)).toBe(C.O_WRONLY | C.O_APPEND);
    await s.fs.release(root, e.nodeid, o.fh, 0);
  });

  it('O_NOATIME is dropped unless --preserve-noatime; O_DIRECT unless --allow-direct-io', async () => {
    for (const [opts, noatime, direct] of [
      [{}, false, false],
      [{ preserveNoatime: true, allowDirectIo: true }, true, true],
    ] as const) {
      s = await makeShare(opts);
      const path = join(s.dir, 'f');
      nfs.writeFileSync(path, 'x'.repeat(4096));
      const e = await s.fs.lookup(root, 1, name('f'));
      const o = await s.fs.open(root, e.nodeid, C.O_RDONLY | C.O_NOATIME | C.O_DIRECT);
      const [flags] = hostFlags(path);
      expect((flags & C.O_NOATIME) !== 0).toBe(noatime);
      expect((flags & C.O_DIRECT) !== 0).toBe(direct);
      await s.fs.release(root, e.nodeid, o.fh, 0);
      await s.cleanup();
      s = undefined;
    }
  });
});

describe('--readonly', () => {
  it('refuses every change with EROFS and serves everything else', async () => {
    s = await makeShare({ xattr: true, posixLocks: true });
    nfs.writeFileSync(join(s.dir, 'f'), 'data');
    nfs.mkdirSync(join(s.dir, 'd'));
    const fs: FileSystem = readOnly(s.fs);
    const e = await fs.lookup(root, 1, name('f'));
    const rerofs = { errno: E.EROFS };
    await expect(fs.setattr(root, e.nodeid, setattrReq({ valid: FATTR.MODE, mode: 0o600 }))).rejects.toMatchObject(rerofs);
    await expect(fs.mkdir(root, 1, name('x'), 0o755, 0)).rejects.toMatchObject(rerofs);
    await expect(fs.mknod(root, 1, name('x'), 0o10644, 0, 0)).rejects.toMatchObject(rerofs);
    await expect(fs.symlink(root, 1, name('x'), Buffer.from('f'))).rejects.toMatchObject(rerofs);
    await expect(fs.unlink(root, 1, name('f'))).rejects.toMatchObject(rerofs);
    await expect(fs.rmdir(root, 1, name('d'))).rejects.toMatchObject(rerofs);
    await expect(fs.rename(root, 1, name('f'), 1, name('g'), 0)).rejects.toMatchObject(rerofs);
    await expect(fs.link(root, e.nodeid, 1, name('g'))).rejects.toMatchObject(rerofs);
    await expect(fs.create(root, 1, name('g'), 0o100644, C.O_RDWR, 0)).rejects.toMatchObject(rerofs);
    await expect(fs.tmpfile!(root, 1, 0o100644, C.O_RDWR, 0)).rejects.toMatchObject(rerofs);
    await expect(fs.setxattr!(root, e.nodeid, name('user.x'), Buffer.from('1'), 0, 0)).rejects.toMatchObject(rerofs);
    await expect(fs.removexattr!(root, e.nodeid, name('user.x'))).rejects.toMatchObject(rerofs);
    for (const flags of [C.O_WRONLY, C.O_RDWR, C.O_RDONLY | C.O_TRUNC]) {
      await expect(fs.open(root, e.nodeid, flags)).rejects.toMatchObject(rerofs);
    }
    const o = await fs.open(root, e.nodeid, C.O_RDONLY);
    await expect(fs.write(root, e.nodeid, o.fh, 0n, new BufferReader(Buffer.from('x')), 0)).rejects.toMatchObject(rerofs);
    await expect(fs.fallocate!(root, e.nodeid, o.fh, 0, 0n, 10n)).rejects.toMatchObject(rerofs);
    await expect(fs.copyFileRange!(root, e.nodeid, o.fh, 0n, e.nodeid, o.fh, 0n, 1n, 0n)).rejects.toMatchObject(rerofs);
    const r = new BufferWriter();
    expect(await fs.read(root, e.nodeid, o.fh, 0n, 10, r)).toBe(4);
    await fs.setlk!(root, e.nodeid, o.fh, 1n, { start: 0n, end: 0x7fff_ffff_ffff_ffffn, type: C.F_RDLCK, pid: 1 }, 0, false);
    expect(await fs.listxattr!(root, e.nodeid, 0)).toBe(0);
    await fs.flush(root, e.nodeid, o.fh, 1n);
    await fs.release(root, e.nodeid, o.fh, 0);
    expect((await fs.statfs(root, 1)).bsize).toBeGreaterThan(0);
    expect(readFileSync(join(s.dir, 'f'), 'utf8')).toBe('data');
    // Optional methods the inner file system lacks stay absent (ENOSYS in the core).
    const partial = readOnly({ ...s.fs, getattr: s.fs.getattr.bind(s.fs) } as unknown as FileSystem);
    expect(typeof partial.getattr).toBe('function');
  });
});
