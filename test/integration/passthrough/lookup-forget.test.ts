// Lookup counting: each Entry is one reference, FORGET drops them, a known inode is reused,
// huge counts clamp, the root survives, destroy() drops everything but the root.
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { constants as osc } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StatField } from '../../../src/filesystem/filesystem.js';
import { fdCount, makeShare, name, root, type Share } from './helpers.js';

const E = osc.errno;
let s: Share;

beforeEach(async () => {
  s = await makeShare();
  nfs.writeFileSync(join(s.dir, 'file'), 'x');
  nfs.mkdirSync(join(s.dir, 'sub'));
});
afterEach(async () => {
  await s.cleanup();
});

describe('lookup and forget', () => {
  it('returns the host attributes and reuses a known inode without leaking fds', async () => {
    const before = await fdCount();
    const e1 = await s.fs.lookup(root, 1, name('file'));
    const afterFirst = await fdCount();
    const e2 = await s.fs.lookup(root, 1, name('file'));
    expect(e2.nodeid).toBe(e1.nodeid);
    expect(await fdCount()).toBe(afterFirst);
    expect(afterFirst).toBe(before + 1);
    expect(e1.nodeid).toBeGreaterThan(1);
    expect(e1.generation).toBe(0);
    expect(e1.attr.readBigUInt64LE(StatField.ino)).toBe(nfs.statSync(join(s.dir, 'file'), { bigint: true }).ino);
    expect(e1.entryTimeout).toBe(1);
    expect(e1.attrTimeout).toBe(1);
    expect(s.fs.stats.inodes).toBe(2);

    s.fs.forget(e1.nodeid, 1n);
    expect(s.fs.stats.inodes).toBe(2); // one reference left
    await s.fs.getattr(root, e1.nodeid, undefined);
    s.fs.forget(e1.nodeid, 1n);
    expect(s.fs.stats.inodes).toBe(1);
    expect(await fdCount()).toBe(before);
    await expect(s.fs.getattr(root, e1.nodeid, undefined)).rejects.toMatchObject({ errno: E.ESTALE });

    // A new lookup gets a new node id (ids are never reused).
    const e3 = await s.fs.lookup(root, 1, name('file'));
    expect(e3.nodeid).not.toBe(e1.nodeid);
  });

  it('clamps a guest-chosen huge FORGET count and ignores unknown ids', async () => {
    const e = await s.fs.lookup(root, 1, name('sub'));
    await s.fs.lookup(root, 1, name('sub'));
    s.fs.forget(e.nodeid, 0xffffffffffffffffn);
    expect(s.fs.stats.inodes).toBe(1);
    s.fs.forget(e.nodeid, 5n); // already gone
    s.fs.forget(987654, 1n);
    s.fs.forget(-1, 1n);
    s.fs.forget(e.nodeid, 0n);
    expect(s.fs.stats.inodes).toBe(1);
  });

  it('never evicts the root', async () => {
    s.fs.forget(1, 0xffffffffffffffffn);
    const a = await s.fs.getattr(root, 1, undefined);
    expect(a.attr.readUInt32LE(StatField.mode) & 0o170000).toBe(0o040000);
    const e = await s.fs.lookup(root, 1, name('file'));
    expect(e.nodeid).toBeGreaterThan(1);
  });

  it('a FORGET while an operation uses the inode defers the close', async () => {
    const e = await s.fs.lookup(root, 1, name('sub'));
    const pending = s.fs.lookup(root, e.nodeid, name('nothing')).catch((err: { errno: number }) => err.errno);
    s.fs.forget(e.nodeid, 1n);
    expect(await pending).toBe(E.ENOENT);
  });

  it('looks up in subdirectories and reports unknown parents as ESTALE', async () => {
    nfs.writeFileSync(join(s.dir, 'sub', 'inner'), 'y');
    const sub = await s.fs.lookup(root, 1, name('sub'));
    const inner = await s.fs.lookup(root, sub.nodeid, name('inner'));
    expect(inner.attr.readBigUInt64LE(StatField.size)).toBe(1n);
    await expect(s.fs.lookup(root, 4242, name('x'))).rejects.toMatchObject({ errno: E.ESTALE });
    await expect(s.fs.lookup(root, 1, name('missing'))).rejects.toMatchObject({ errno: E.ENOENT });
    await expect(s.fs.lookup(root, inner.nodeid, name('x'))).rejects.toMatchObject({ errno: E.ENOTDIR });
  });

  it('destroy() drops all inodes but the root, and all handles', async () => {
    const before = await fdCount();
    const f = await s.fs.lookup(root, 1, name('file'));
    await s.fs.lookup(root, 1, name('sub'));
    await s.fs.open(root, f.nodeid, 0);
    expect(s.fs.stats).toEqual({ inodes: 3, handles: 1 });
    await s.fs.destroy();
    expect(s.fs.stats).toEqual({ inodes: 1, handles: 0 });
    expect(await fdCount()).toBe(before);
    await s.fs.getattr(root, 1, undefined);
    // init() of a new session also starts from a clean table.
    await s.fs.lookup(root, 1, name('file'));
    await s.fs.init({ minor: 38, flags: 0n });
    expect(s.fs.stats.inodes).toBe(1);
  });

  it('does not leak fds under repeated lookups of many names', async () => {
    for (let i = 0; i < 50; i++) nfs.writeFileSync(join(s.dir, `n${i}`), '');
    const before = await fdCount();
    const ids: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 50; i++) ids.push((await s.fs.lookup(root, 1, name(`n${i}`))).nodeid);
    }
    expect(await fdCount()).toBe(before + 50);
    for (const id of ids) s.fs.forget(id, 1n);
    expect(await fdCount()).toBe(before);
  });
});
