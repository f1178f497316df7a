// Inode identity: the key (st_dev, st_ino, mnt_id), and --inode-file-handles=never|prefer|
// mandatory (inodes held by file handle, opened only while in use; falling back, or not, where
// the file system has no handles).
import { execFileSync } from 'node:child_process';
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { constants as osc } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { C } from '../../../src/native/syscalls.js';
import { FATTR } from '../../../src/filesystem/filesystem.js';
import { requireRoot } from '../../helpers/prerequisites.js';
import { BufferWriter, fdCount, makeShare, name, root, setattrReq, type Share } from './helpers.js';

const E = osc.errno;
let s: Share | undefined;
const mounted: string[] = [];

afterEach(async () => {
  await s?.fs.close(); // our descriptors keep mounts busy
  for (const m of mounted.splice(0).reverse()) execFileSync('umount', ['-l', m]);
  await s?.cleanup();
  s = undefined;
});

/** `mount ARGS DIR`; throws with mount's stderr if that fails (CI runs as root: never a skip). */
function mount(args: string[], dir: string): void {
  requireRoot('mount(2)');
  try {
    execFileSync('mount', [...args, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`mount ${[...args, dir].join(' ')} failed: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || String(e)}`, { cause: e });
  }
  mounted.push(dir);
}

describe('inode key', () => {
  it('one inode per (st_dev, st_ino, mnt_id): hard links share it, a bind mount of the same directory does not', async () => {
    s = await makeShare();
    nfs.mkdirSync(join(s.dir, 'a'));
    nfs.writeFileSync(join(s.dir, 'a', 'x'), 'x');
    nfs.linkSync(join(s.dir, 'a', 'x'), join(s.dir, 'a', 'y'));
    const a = await s.fs.lookup(root, 1, name('a'));
    const x = await s.fs.lookup(root, a.nodeid, name('x'));
    const y = await s.fs.lookup(root, a.nodeid, name('y'));
    expect(y.nodeid).toBe(x.nodeid);
    nfs.mkdirSync(join(s.dir, 'b'));
    mount(['--bind', join(s.dir, 'a')], join(s.dir, 'b'));
    const b = await s.fs.lookup(root, 1, name('b'));
    const bx = await s.fs.lookup(root, b.nodeid, name('x'));
    expect(bx.attr.readBigUInt64LE(0)).toBe(x.attr.readBigUInt64LE(0)); // same st_ino...
    expect(bx.nodeid).not.toBe(x.nodeid); // ...another mount: another inode
  });
});

describe('--inode-file-handles', () => {
  it('mandatory: unused inodes hold descriptors only in the bounded cache; every operation still works', async () => {
    s = await makeShare({ inodeFileHandles: 'mandatory', handleDescriptorCache: 8 });
    for (let i = 0; i < 50; i++) nfs.writeFileSync(join(s.dir, `f${i}`), `content ${i}`);
    nfs.symlinkSync('f0', join(s.dir, 'ln'));
    const before = await fdCount();
    const entries = [];
    for (let i = 0; i < 50; i++) entries.push(await s.fs.lookup(root, 1, name(`f${i}`)));
    expect(await fdCount()).toBeLessThanOrEqual(before + 2 + 8); // a mount descriptor or two, and the cache
    expect(s.fs.moreStats.handleInodes).toBe(50);
    const e = entries[7];
    expect((await s.fs.getattr(root, e.nodeid, undefined)).attr.readBigUInt64LE(8)).toBe(9n);
    const o = await s.fs.open(root, e.nodeid, C.O_RDWR);
    const r = new BufferWriter();
    await s.fs.read(root, e.nodeid, o.fh, 0n, 100, r);
    expect(r.data.toString()).toBe('content 7');
    await s.fs.release(root, e.nodeid, o.fh, 0);
    await s.fs.setattr(root, e.nodeid, setattrReq({ valid: FATTR.MODE, mode: 0o600 }));
    expect(nfs.statSync(join(s.dir, 'f7')).mode & 0o777).toBe(0o600);
    const l = await s.fs.lookup(root, 1, name('ln'));
    expect((await s.fs.readlink(root, l.nodeid)).toString()).toBe('f0');
    await s.fs.link(root, e.nodeid, 1, name('f7-link'));
    expect(nfs.readFileSync(join(s.dir, 'f7-link'), 'utf8')).toBe('content 7');
    // The same file looked up again: the same inode (key, not handle bytes, decides).
    expect((await s.fs.lookup(root, 1, name('f7-link'))).nodeid).toBe(e.nodeid);
    // Gone from the host: ESTALE, as the guest expects for a vanished inode.
    nfs.unlinkSync(join(s.dir, 'f9'));
    await expect(s.fs.getattr(root, entries[9].nodeid, undefined)).rejects.toMatchObject({ errno: E.ESTALE });
    expect(await fdCount()).toBeLessThanOrEqual(before + 2 + 8);
    for (const x of entries) s.fs.forget(x.nodeid, 1n);
  });

  it('a deleted file whose inode number a new file got is not the new file (handles compared)', async () => {
    s = await makeShare({ handleDescriptorCache: 1 });
    nfs.writeFileSync(join(s.dir, 'a'), 'old');
    const a = await s.fs.lookup(root, 1, name('a'));
    nfs.writeFileSync(join(s.dir, 'other'), '');
    await s.fs.lookup(root, 1, name('other')); // a's descriptor leaves the one-place cache
    const ino = nfs.statSync(join(s.dir, 'a')).ino;
    nfs.unlinkSync(join(s.dir, 'a'));
    // ext4 (and most file systems) hand a freed inode number to the next new file.
    let reused: string | undefined;
    for (let i = 0; i < 50 && reused === undefined; i++) {
      nfs.writeFileSync(join(s.dir, `b${i}`), 'brand new');
      if (nfs.statSync(join(s.dir, `b${i}`)).ino === ino) reused = `b${i}`;
    }
    expect(reused, 'the share reused the inode number').toBeDefined();
    const b = await s.fs.lookup(root, 1, name(reused!));
    expect(b.nodeid).not.toBe(a.nodeid);
    expect(b.attr.readBigUInt64LE(8)).toBe(9n);
    expect((await s.fs.getattr(root, b.nodeid, undefined)).attr.readBigUInt64LE(8)).toBe(9n);
    // The guest's old inode is the deleted file: stale, not the new one.
    await expect(s.fs.getattr(root, a.nodeid, undefined)).rejects.toMatchObject({ errno: E.ESTALE });
    // Both synchronous and pooled lanes agree: a second lookup is the same new inode.
    expect((await s.fs.lookup(root, 1, name(reused!))).nodeid).toBe(b.nodeid);
  });

  it('by default (prefer): descriptors stay bounded however many inodes the guest holds', async () => {
    s = await makeShare({ handleDescriptorCache: 16 });
    const n = 300;
    for (let i = 0; i < n; i++) nfs.writeFileSync(join(s.dir, `g${i}`), String(i));
    const before = await fdCount();
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push((await s.fs.lookup(root, 1, name(`g${i}`))).nodeid);
    expect(s.fs.moreStats.handleInodes).toBe(n);
    expect(await fdCount()).toBeLessThanOrEqual(before + 2 + 16);
    // Every inode is still reachable (reopened by handle), in an order that defeats the cache.
    for (let round = 0; round < 2; round++) {
      for (let i = round; i < n; i += 7) {
        const size = (await s.fs.getattr(root, ids[i], undefined)).attr.readBigUInt64LE(8);
        expect(size).toBe(BigInt(String(i).length));
      }
    }
    expect(await fdCount()).toBeLessThanOrEqual(before + 2 + 16);
    for (const id of ids) s.fs.forget(id, 1n);
    expect(s.fs.moreStats.handleInodes).toBe(0);
    expect(await fdCount()).toBeLessThanOrEqual(before + 2);
  });

  it('prefer falls back to O_PATH descriptors where handles are unsupported; mandatory refuses', async () => {
    s = await makeShare({ inodeFileHandles: 'prefer' });
    nfs.mkdirSync(join(s.dir, 'proc'));
    mount(['-t', 'proc', 'proc'], join(s.dir, 'proc'));
    const p = await s.fs.lookup(root, 1, name('proc'));
    const before = s.fs.moreStats.handleInodes;
    const self = await s.fs.lookup(root, p.nodeid, name('self'));
    expect(s.fs.moreStats.handleInodes).toBe(before); // held by descriptor
    expect((await s.fs.getattr(root, self.nodeid, undefined)).attr.length).toBeGreaterThan(0);
    const m = await makeShare({ inodeFileHandles: 'mandatory', root: s.dir });
    try {
      await expect(m.fs.lookup(root, 1, name('proc'))).rejects.toMatchObject({ errno: E.EOPNOTSUPP });
      nfs.writeFileSync(join(s.dir, 'ok'), '');
      expect((await m.fs.lookup(root, 1, name('ok'))).nodeid).toBeGreaterThan(1); // the share's own files still work
    } finally {
      await m.fs.close();
      nfs.rmSync(m.dir, { recursive: true, force: true }); // its own (unused) temp directory
    }
  });
});
