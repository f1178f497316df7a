// READDIR / READDIRPLUS: cookies, sink refusal (and the dropped reference), serialisation of
// concurrent readdirs on one handle, RELEASEDIR.
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { constants as osc } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DirEntry, Entry } from '../../../src/filesystem/filesystem.js';
import { StatField } from '../../../src/filesystem/filesystem.js';
import { makeShare, name, root, type Share } from './helpers.js';

const E = osc.errno;
const DT_DIR = 4;
const DT_REG = 8;
let s: Share;
const NAMES = Array.from({ length: 300 }, (_, i) => `file-${String(i).padStart(3, '0')}-${'x'.repeat(i % 40)}`);

beforeEach(async () => {
  s = await makeShare();
  nfs.mkdirSync(join(s.dir, 'd'));
  for (const n of NAMES) nfs.writeFileSync(join(s.dir, 'd', n), n);
  nfs.mkdirSync(join(s.dir, 'd', 'subdir'));
});
afterEach(async () => {
  await s.cleanup();
});

interface Got {
  name: string;
  off: bigint;
  type: number;
  ino: bigint;
  entry: Entry | undefined;
}

/** Reads a whole directory, `limit` entries per READDIR, resuming from the last cookie. */
async function readAll(nodeid: number, fh: number, plus: boolean, limit: number): Promise<Got[]> {
  const got: Got[] = [];
  let offset = 0n;
  for (;;) {
    let n = 0;
    await s.fs.readdir(root, nodeid, fh, offset, plus, (d: DirEntry, entry) => {
      if (n === limit) {
        // Refused: its lookup reference is ours (the sink's) to drop, as the core does.
        if (entry) s.fs.forget(entry.nodeid, 1n);
        return false;
      }
      n++;
      got.push({ name: d.name.toString(), off: d.off, type: d.type, ino: d.ino, entry });
      offset = d.off;
      return true;
    });
    if (n === 0) return got;
  }
}

describe('readdir', () => {
  it('resumes from the previous reply\'s leftovers, and from any other cookie by seeking', async () => {
    const d = await s.fs.lookup(root, 1, name('d'));
    const o = await s.fs.opendir(root, d.nodeid, 0);
    const whole = await readAll(d.nodeid, o.fh, false, 1000);
    // Reads of 5 entries: a continuation uses the buffered entries; re-reading from an earlier
    // cookie (not where the last call stopped) must seek and return the same entries again.
    const batch = async (offset: bigint): Promise<Got[]> => {
      const got: Got[] = [];
      await s.fs.readdir(root, d.nodeid, o.fh, offset, false, (x: DirEntry, entry) => {
        if (got.length === 5) return false;
        got.push({ name: x.name.toString(), off: x.off, type: x.type, ino: x.ino, entry });
        return true;
      });
      return got;
    };
    const first = await batch(0n);
    const second = await batch(first[4].off);
    expect(second.map((g) => g.name)).toEqual(whole.slice(5, 10).map((g) => g.name));
    const again = await batch(first[1].off);
    expect(again.map((g) => g.name)).toEqual(whole.slice(2, 7).map((g) => g.name));
    const fromStart = await batch(0n);
    expect(fromStart.map((g) => g.name)).toEqual(whole.slice(0, 5).map((g) => g.name));
  });

  it('lists everything exactly once across many small replies', async () => {
    const d = await s.fs.lookup(root, 1, name('d'));
    const o = await s.fs.opendir(root, d.nodeid, 0);
    const got = await readAll(d.nodeid, o.fh, false, 7);
    const names = got.map((g) => g.name).sort();
    expect(names).toEqual(['.', '..', ...NAMES, 'subdir'].sort());
    expect(got.every((g) => g.entry === undefined)).toBe(true);
    const sub = got.find((g) => g.name === 'subdir')!;
    expect(sub.type).toBe(DT_DIR);
    const f = got.find((g) => g.name === NAMES[5])!;
    expect(f.type).toBe(DT_REG);
    expect(f.ino).toBe(nfs.statSync(join(s.dir, 'd', NAMES[5]), { bigint: true }).ino);
    // Reading again from 0 restarts; a cookie past the end gives nothing.
    expect((await readAll(d.nodeid, o.fh, false, 1000)).length).toBe(got.length);
    await s.fs.releasedir(root, d.nodeid, o.fh);
    await expect(s.fs.readdir(root, d.nodeid, o.fh, 0n, false, () => true)).rejects.toMatchObject({ errno: E.EBADF });
  });

  it('readdirplus: an Entry per name except . and .., one reference each', async () => {
    const d = await s.fs.lookup(root, 1, name('d'));
    const o = await s.fs.opendir(root, d.nodeid, 0);
    const got = await readAll(d.nodeid, o.fh, true, 50);
    expect(got.length).toBe(NAMES.length + 3);
    for (const g of got) {
      if (g.name === '.' || g.name === '..') {
        expect(g.entry).toBeUndefined();
      } else {
        expect(g.entry).toBeDefined();
        expect(g.entry!.attr.readBigUInt64LE(StatField.ino)).toBe(g.ino);
      }
    }
    // 2 (root, d) + every name
    expect(s.fs.stats.inodes).toBe(2 + NAMES.length + 1);
    // The references are real: one FORGET each evicts them all.
    for (const g of got) if (g.entry) s.fs.forget(g.entry.nodeid, 1n);
    expect(s.fs.stats.inodes).toBe(2);
  });

  it('readdirplus: the entry the sink refuses keeps its reference — the core drops it, not the file system', async () => {
    const d = await s.fs.lookup(root, 1, name('d'));
    const o = await s.fs.opendir(root, d.nodeid, 0);
    let refused: Entry | undefined;
    let accepted = 0;
    await s.fs.readdir(root, d.nodeid, o.fh, 0n, true, (dirent, entry) => {
      if (entry && accepted >= 3) {
        refused = entry;
        return false;
      }
      if (entry) accepted++;
      return true;
    });
    expect(refused).toBeDefined();
    // The refused entry's reference is the core's to drop (src/fuse/dirents.ts): still held here.
    expect(s.fs.stats.inodes).toBe(2 + 4);
    s.fs.forget(refused!.nodeid, 1n);
    expect(s.fs.stats.inodes).toBe(2 + 3);
    // and the sink refusing the very first entry sends nothing (its reference the sink's again)
    let first: Entry | undefined;
    await s.fs.readdir(root, d.nodeid, o.fh, 0n, true, (_d, e) => ((first = e), false));
    if (first) s.fs.forget(first.nodeid, 1n);
    expect(s.fs.stats.inodes).toBe(5);
  });

  it('serialises concurrent readdirs on one handle', async () => {
    const d = await s.fs.lookup(root, 1, name('d'));
    const o = await s.fs.opendir(root, d.nodeid, 0);
    const lists: string[][] = [[], [], [], []];
    await Promise.all(
      lists.map((list) =>
        s.fs.readdir(root, d.nodeid, o.fh, 0n, true, (dirent, entry) => {
          list.push(dirent.name.toString());
          if (entry) s.fs.forget(entry.nodeid, 1n);
          return true;
        }),
      ),
    );
    for (const list of lists) expect(list.length).toBe(NAMES.length + 3);
    expect(new Set(lists.map((l) => l.join('/'))).size).toBe(1);
  });

  it('skips names removed between getdents64 and the lookup', async () => {
    const d = await s.fs.lookup(root, 1, name('d'));
    const o = await s.fs.opendir(root, d.nodeid, 0);
    const seen: string[] = [];
    await s.fs.readdir(root, d.nodeid, o.fh, 0n, true, (dirent, entry) => {
      seen.push(dirent.name.toString());
      if (seen.length === 3) for (const n of NAMES.slice(100, 110)) nfs.unlinkSync(join(s.dir, 'd', n));
      if (entry) s.fs.forget(entry.nodeid, 1n);
      return true;
    });
    expect(seen.length).toBeGreaterThanOrEqual(NAMES.length + 3 - 10);
  });

  it('opendir of a non-directory and readdir with a file handle fail', async () => {
    nfs.writeFileSync(join(s.dir, 'f'), '');
    const f = await s.fs.lookup(root, 1, name('f'));
    await expect(s.fs.opendir(root, f.nodeid, 0)).rejects.toMatchObject({ errno: E.ENOTDIR });
    const o = await s.fs.open(root, f.nodeid, 0);
    await expect(s.fs.readdir(root, f.nodeid, o.fh, 0n, false, () => true)).rejects.toMatchObject({ errno: E.ENOTDIR });
    const r = await s.fs.opendir(root, 1, 0);
    await s.fs.fsyncdir(root, 1, r.fh, false);
    await s.fs.releasedir(root, 1, r.fh);
    expect(s.fs.stats.handles).toBe(1);
  });
});
