// The synchronous LOOKUP / GETATTR (no worker pool): the same entries, references, errors and
// descriptors as the async methods, and `undefined` — having done nothing — where they cannot
// serve (file handles as inode keys).
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StatField } from '../../../src/filesystem/filesystem.js';
import { ErrnoError } from '../../../src/filesystem/errors.js';
import { fdCount, makeShare, name, root, type Share } from './helpers.js';

let s: Share | undefined;
afterEach(async () => {
  await s?.cleanup();
  s = undefined;
});

function errnoOf(f: () => unknown): number {
  try {
    f();
  } catch (err) {
    return err instanceof ErrnoError ? err.errno : -1;
  }
  return 0;
}

describe('synchronous lookup and getattr', () => {
  it('match the async methods', async () => {
    s = await makeShare();
    nfs.writeFileSync(join(s.dir, 'file'), 'xyz');
    nfs.mkdirSync(join(s.dir, 'sub'));
    const fs = s.fs;
    const before = await fdCount();
    const a = fs.lookupSync(root, 1, name('file'))!;
    const b = await fs.lookup(root, 1, name('file'));
    expect(a.nodeid).toBe(b.nodeid);
    expect(a.attr.equals(b.attr)).toBe(true);
    expect(a.entryTimeout).toBe(b.entryTimeout);
    expect(await fdCount()).toBe(before + 1); // one O_PATH descriptor for the inode
    // Again: a known inode is found by one statx of the name, no new descriptor.
    const again = fs.lookupSync(root, 1, name('file'))!;
    expect(again.nodeid).toBe(a.nodeid);
    expect(again.attr.equals(a.attr)).toBe(true);
    expect(await fdCount()).toBe(before + 1);
    // Three references: three forgets evict it.
    fs.forget(a.nodeid, 2n);
    expect(fs.stats.inodes).toBe(2);
    fs.forget(a.nodeid, 1n);
    expect(fs.stats.inodes).toBe(1);

    // A symlink is the link itself, never its target (known or not).
    nfs.symlinkSync('file', join(s.dir, 'link'));
    nfs.symlinkSync('/etc/passwd', join(s.dir, 'abs'));
    for (const n of ['link', 'abs']) {
      const l1 = fs.lookupSync(root, 1, name(n))!;
      const l2 = fs.lookupSync(root, 1, name(n))!;
      const l3 = await fs.lookup(root, 1, name(n));
      expect(l2.nodeid).toBe(l1.nodeid);
      expect(l3.nodeid).toBe(l1.nodeid);
      expect(l1.attr.readUInt32LE(StatField.mode) & 0o170000).toBe(0o120000);
      fs.forget(l1.nodeid, 3n);
    }
    // A name replaced by another file is the new inode.
    const f1 = fs.lookupSync(root, 1, name('file'))!;
    nfs.renameSync(join(s.dir, 'link'), join(s.dir, 'file'));
    const f2 = fs.lookupSync(root, 1, name('file'))!;
    expect(f2.nodeid).not.toBe(f1.nodeid);
    expect(f2.attr.readUInt32LE(StatField.mode) & 0o170000).toBe(0o120000);

    const d = fs.lookupSync(root, 1, name('sub'))!;
    const ga = fs.getattrSync(root, d.nodeid, undefined)!;
    const gb = await fs.getattr(root, d.nodeid, undefined);
    expect(ga.attr.equals(gb.attr)).toBe(true);
    expect(ga.attr.readUInt32LE(StatField.mode) & 0o170000).toBe(0o040000);

    // Errors are the async methods' errors.
    expect(errnoOf(() => fs.lookupSync(root, 1, name('missing')))).toBe(2);
    await expect(fs.lookup(root, 1, name('missing'))).rejects.toMatchObject({ errno: 2 });
    expect(errnoOf(() => fs.lookupSync(root, 1, name('..')))).toBe(((await fs.lookup(root, 1, name('..')).catch((e: ErrnoError) => e)) as ErrnoError).errno);
    expect(errnoOf(() => fs.getattrSync(root, 999, undefined))).toBe(((await fs.getattr(root, 999, undefined).catch((e: ErrnoError) => e)) as ErrnoError).errno);
  });

  it('keep inodes as file handles too', async () => {
    s = await makeShare({ inodeFileHandles: 'prefer' });
    nfs.writeFileSync(join(s.dir, 'file'), 'xyz');
    const before = s.fs.moreStats.handleInodes;
    const e = s.fs.lookupSync(root, 1, name('file'))!;
    expect(e.nodeid).toBeGreaterThan(1);
    expect(s.fs.moreStats.handleInodes).toBe(before + 1);
    expect(s.fs.lookupSync(root, 1, name('file'))!.nodeid).toBe(e.nodeid); // known: the same inode
    expect(s.fs.getattrSync(root, e.nodeid, undefined)!.attr.readBigUInt64LE(8)).toBe(3n);
  });
});
