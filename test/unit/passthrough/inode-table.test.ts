// The passthrough's inode table (src/passthrough/inode-table.ts): lookup counts, node ids that
// are never reused although slots are, descriptors closed only when no operation pins them, and
// growth far past the initial size.
import { describe, expect, it } from 'vitest';
import { STAT_RECORD_SIZE, StatField } from '../../../src/filesystem/filesystem.js';
import { InodeTable, ROOT_ID, S_IFDIR, S_IFREG } from '../../../src/passthrough/inode-table.js';

/** A statx record for (dev, ino, mnt) of type `type`; `hi` sets the high words too. */
function rec(ino: number, type = S_IFREG, dev = 8, mnt = 30, hi = 0): Buffer {
  const b = Buffer.alloc(STAT_RECORD_SIZE);
  b.writeUInt32LE(ino, StatField.ino);
  b.writeUInt32LE(hi, StatField.ino + 4);
  b.writeUInt32LE(dev, StatField.dev);
  b.writeUInt32LE(hi, StatField.dev + 4);
  b.writeUInt32LE(mnt, StatField.mntId);
  b.writeUInt32LE(type | 0o644, StatField.mode);
  return b;
}

function table(): { t: InodeTable; closed: number[]; evicted: number[] } {
  const closed: number[] = [];
  const evicted: number[] = [];
  const t = new InodeTable(
    (fd) => closed.push(fd),
    (nodeid) => evicted.push(nodeid),
  );
  t.setRoot(3, rec(2, S_IFDIR));
  return { t, closed, evicted };
}

describe('InodeTable', () => {
  it('the root is node id 1 and is never evicted', () => {
    const { t, closed } = table();
    expect(t.has(ROOT_ID)).toBe(true);
    t.forget(ROOT_ID, 1000);
    expect(t.has(ROOT_ID)).toBe(true);
    const root = t.acquire(ROOT_ID);
    expect(root.fd).toBe(3);
    expect(root.isDir).toBe(true);
    t.release(root);
    expect(closed).toEqual([]);
  });

  it('counts lookups per host inode and evicts at zero', () => {
    const { t, closed, evicted } = table();
    const a = t.adopt(10, rec(100));
    expect(t.adopt(11, rec(100))).toBe(a); // same inode: the second descriptor is closed
    expect(closed).toEqual([11]);
    expect(t.ref(t.find(rec(100)))).toBe(a);
    expect(t.size).toBe(2);
    t.forget(a, 2);
    expect(t.has(a)).toBe(true);
    t.forget(a, 1);
    expect(t.has(a)).toBe(false);
    expect(evicted).toEqual([a]);
    expect(closed).toEqual([11, 10]);
    expect(t.find(rec(100))).toBe(-1);
    expect(() => t.acquire(a)).toThrow(/unknown node id/);
  });

  it('tells inodes apart by every word of dev, ino and mount id', () => {
    const { t } = table();
    const ids = [t.adopt(10, rec(5)), t.adopt(11, rec(5, S_IFREG, 9)), t.adopt(12, rec(5, S_IFREG, 8, 31)), t.adopt(13, rec(5, S_IFREG, 8, 30, 1))];
    expect(new Set(ids).size).toBe(4);
    expect(t.size).toBe(5);
  });

  it('never hands out a node id twice, though it reuses slots', () => {
    const { t } = table();
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const id = t.adopt(100 + i, rec(1000 + i));
      expect(seen.has(id)).toBe(false);
      seen.add(id);
      t.forget(id, 1);
      expect(() => t.acquire(id)).toThrow(/unknown node id/); // a stale id never reaches the new occupant
    }
    expect(Math.max(...[...seen].map((id) => id % 2 ** 32))).toBe(2); // one slot, 50 generations
    expect([...seen].every(Number.isSafeInteger)).toBe(true);
  });

  it('closes an evicted inode only when its last operation releases it', () => {
    const { t, closed } = table();
    const id = t.adopt(20, rec(7));
    const pinned = t.acquire(id);
    const again = t.acquire(id);
    t.forget(id, 1);
    expect(t.has(id)).toBe(false);
    expect(closed).toEqual([]);
    // The slot is not reused while pinned: a new inode gets another one.
    const other = t.adopt(21, rec(8));
    expect(other % 2 ** 32).not.toBe(id % 2 ** 32);
    t.release(pinned);
    expect(closed).toEqual([]);
    t.release(again);
    expect(closed).toEqual([20]);
    expect(t.acquire(other).fd).toBe(21);
  });

  it('ignores forgets of unknown ids and clamps counts at zero', () => {
    const { t, evicted } = table();
    t.forget(12345, 1);
    t.forget(-1, 1);
    t.forget(Number.MAX_SAFE_INTEGER, 1);
    t.forget(1.5, 1);
    const id = t.adopt(30, rec(9));
    t.forget(id, 0);
    t.forget(id, -3);
    expect(t.has(id)).toBe(true);
    t.forget(id, 2 ** 60);
    expect(evicted).toEqual([id]);
  });

  it('grows far past its initial size and finds every inode again', () => {
    const { t, closed } = table();
    const n = 20_000;
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push(t.adopt(1000 + i, rec(10_000 + i, i % 7 === 0 ? S_IFDIR : S_IFREG)));
    expect(t.size).toBe(n + 1);
    for (let i = 0; i < n; i += 97) {
      const s = t.find(rec(10_000 + i));
      expect(t.ref(s)).toBe(ids[i]);
      const d = t.acquire(ids[i]);
      expect(d.fd).toBe(1000 + i);
      expect(d.isDir).toBe(i % 7 === 0);
      t.release(d);
      t.forget(ids[i], 1);
    }
    t.clear();
    expect(t.size).toBe(1);
    expect(closed.length).toBe(n);
    expect(t.has(ROOT_ID)).toBe(true);
  });

  it('closeAll closes the root and the mount descriptors', () => {
    const { t, closed, evicted } = table();
    t.setMountFd(30, 40);
    t.setMountFd(30, 41); // replaces (and closes) the first
    t.adopt(50, rec(60));
    t.closeAll();
    expect(closed.sort()).toEqual([3, 40, 41, 50]);
    expect(evicted).toContain(ROOT_ID);
    expect(t.size).toBe(0);
  });

  it('keeps at most openCache descriptors of unused handle-backed inodes open (CLOCK)', () => {
    const closed: number[] = [];
    const t = new InodeTable((fd) => closed.push(fd), undefined, 2);
    t.setRoot(3, rec(2, S_IFDIR));
    const h = (n: number) => Buffer.from([8, 0, 0, 0, 1, 0, 0, 0, n, 0, 0, 0, 0, 0, 0, 0]);
    const a = t.adoptHandle(h(1), rec(101), 11);
    const b = t.adoptHandle(h(2), rec(102), 12);
    expect(t.cachedDescriptors).toBe(2);
    const pinned = t.acquire(a); // used: a gets a second chance, and is pinned
    t.adoptHandle(h(3), rec(103), 13); // the ring is full: b (unused, unpinned) goes
    expect(closed).toEqual([12]);
    expect(t.holdsInode(t.find(rec(101)))).toBe(true);
    expect(t.holdsInode(t.find(rec(102)))).toBe(false);
    t.release(pinned);
    expect(t.cachedDescriptors).toBe(2);
    t.forget(b, 1);
    t.closeAll();
    expect(closed.sort()).toEqual([11, 12, 13, 3].sort());
  });

  it('tells a reused inode number from the inode it held by handle', () => {
    const closed: number[] = [];
    const t = new InodeTable((fd) => closed.push(fd), undefined, 1);
    t.setRoot(3, rec(2, S_IFDIR));
    const h = (gen: number) => Buffer.from([8, 0, 0, 0, 1, 0, 0, 0, 0x55, 0, 0, 0, gen, 0, 0, 0]);
    const old = t.adoptHandle(h(1), rec(200), 20);
    t.adoptHandle(h(9), rec(201), 21); // pushes old's descriptor out of the one-place cache
    expect(closed).toEqual([20]);
    expect(t.holdsInode(t.find(rec(200)))).toBe(false);
    // Same number, same handle: the same inode; the lookup's descriptor becomes its cached one.
    expect(t.adoptHandle(h(1), rec(200), 22)).toBe(old);
    expect(t.holdsInode(t.find(rec(200)))).toBe(true);
    expect(closed).toEqual([20, 21]);
    t.adoptHandle(h(8), rec(202), 23); // and out again
    // Same number, another handle (generation): the old file is gone, this is a new inode.
    const fresh = t.adoptHandle(h(2), rec(200), 24);
    expect(fresh).not.toBe(old);
    expect(t.find(rec(200))).toBe(fresh % 2 ** 32);
    expect(t.has(old)).toBe(true); // still the guest's until it forgets it
    t.forget(old, 2);
    expect(t.has(old)).toBe(false);
    expect(t.find(rec(200))).toBe(fresh % 2 ** 32); // the new one keeps its key
    // A descriptor lookup never merges with a handle-backed entry that holds nothing.
    t.adoptHandle(h(7), rec(203), 25);
    const byFd = t.adopt(26, rec(200));
    expect(byFd).not.toBe(fresh);
    expect(t.acquire(byFd).fd).toBe(26);
  });
});
