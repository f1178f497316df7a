import { describe, expect, it } from 'vitest';
import { DirentEncoder, direntPlusSize, direntSize, encodeDirent } from '../../../src/fuse/dirents.js';
import type { DirEntry, Entry } from '../../../src/filesystem/filesystem.js';

const name = (s: string) => Buffer.from(s, 'latin1');
const dirent = (s: string, ino = 5n, off = 1n, type = 8): DirEntry => ({ ino, off, type, name: name(s) });

function entry(nodeid: number): Entry {
  const attr = Buffer.alloc(104, 0x11);
  attr.writeBigUInt64LE(0xd0d0n, 88); // beyond fuse_attr: must not be copied
  return { nodeid, generation: 3, attr, entryTimeout: 1, attrTimeout: 0.5 };
}

describe('sizes', () => {
  it.each([
    [1, 32],
    [7, 32],
    [8, 32],
    [9, 40],
    [255, 280],
  ])('name of %i bytes → fuse_dirent %i bytes', (n, size) => {
    expect(direntSize(n)).toBe(size);
    expect(direntPlusSize(n)).toBe(size + 128);
  });
});

describe('encodeDirent', () => {
  it('lays out ino/off/namelen/type/name and zeroes the padding', () => {
    const b = Buffer.alloc(40, 0xaa);
    const n = encodeDirent(b, 0, dirent('abc', 0x1122334455n, 7n, 4));
    expect(n).toBe(32);
    expect(b.readBigUInt64LE(0)).toBe(0x1122334455n);
    expect(b.readBigUInt64LE(8)).toBe(7n);
    expect(b.readUInt32LE(16)).toBe(3);
    expect(b.readUInt32LE(20)).toBe(4);
    expect(b.subarray(24, 27).toString()).toBe('abc');
    expect([...b.subarray(27, 32)]).toEqual([0, 0, 0, 0, 0]);
    expect(b[32]).toBe(0xaa); // nothing past the padded size
  });
});

describe('DirentEncoder', () => {
  it('packs entries at 8-byte boundaries with zeroed padding', () => {
    const b = Buffer.alloc(200, 0xaa);
    const enc = new DirentEncoder(b, 16, 184, false);
    expect(enc.sink(dirent('a'), undefined)).toBe(true);
    expect(enc.sink(dirent('bbbbbbbbb', 6n, 2n), undefined)).toBe(true);
    expect(enc.used).toBe(32 + 40);
    expect(enc.count).toBe(2);
    // second entry starts at 16 + 32
    expect(b.readBigUInt64LE(48)).toBe(6n);
    expect(b.readUInt32LE(48 + 16)).toBe(9);
    expect([...b.subarray(16 + 25, 16 + 32)]).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect([...b.subarray(48 + 33, 48 + 40)]).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(b[16 + 72]).toBe(0xaa);
    expect(b[15]).toBe(0xaa); // never writes before its window
  });

  it('returns false and writes nothing when the next entry does not fit', () => {
    const b = Buffer.alloc(64, 0xaa);
    const enc = new DirentEncoder(b, 0, 40, false);
    expect(enc.sink(dirent('a'), undefined)).toBe(true); // 32
    expect(enc.sink(dirent('b'), undefined)).toBe(false); // would need 64
    expect(enc.used).toBe(32);
    expect(enc.count).toBe(1);
    expect([...b.subarray(32, 64)].every((x) => x === 0xaa)).toBe(true);
    // a smaller one would not fit either (32 + 32 > 40): still false
    expect(enc.sink(dirent(''), undefined)).toBe(false);
  });

  it('an exactly fitting entry is accepted', () => {
    const enc = new DirentEncoder(Buffer.alloc(32), 0, 32, false);
    expect(enc.sink(dirent('12345678'), undefined)).toBe(true);
    expect(enc.used).toBe(32);
  });

  it('refuses everything after close()', () => {
    const enc = new DirentEncoder(Buffer.alloc(100), 0, 100, false);
    enc.close();
    expect(enc.sink(dirent('a'), undefined)).toBe(false);
    expect(enc.used).toBe(0);
  });

  it('READDIRPLUS: entry_out then dirent; attr copied from the first 88 bytes', () => {
    const b = Buffer.alloc(200, 0xaa);
    const enc = new DirentEncoder(b, 0, 200, true);
    expect(enc.sink(dirent('file', 99n, 3n), entry(42))).toBe(true);
    expect(enc.used).toBe(direntPlusSize(4)); // 160
    expect(b.readBigUInt64LE(0)).toBe(42n); // nodeid
    expect(b.readBigUInt64LE(8)).toBe(3n); // generation
    expect(b.readBigUInt64LE(16)).toBe(1n); // entry_valid
    expect(b.readBigUInt64LE(24)).toBe(0n); // attr_valid
    expect(b.readUInt32LE(36)).toBe(500_000_000); // attr_valid_nsec
    expect([...b.subarray(40, 128)].every((x) => x === 0x11)).toBe(true);
    expect(b.readBigUInt64LE(128)).toBe(99n); // dirent.ino
    expect(b.readUInt32LE(128 + 16)).toBe(4);
    expect(b.subarray(152, 156).toString()).toBe('file');
    expect([...b.subarray(156, 160)]).toEqual([0, 0, 0, 0]);
    expect(b[160]).toBe(0xaa);
  });

  it('READDIRPLUS: no entry or nodeid 0 → zeroed entry_out', () => {
    const b = Buffer.alloc(400, 0xaa);
    const enc = new DirentEncoder(b, 0, 400, true);
    expect(enc.sink(dirent('.'), undefined)).toBe(true);
    expect(enc.sink(dirent('..'), { ...entry(0) })).toBe(true);
    expect([...b.subarray(0, 128)].every((x) => x === 0)).toBe(true);
    expect([...b.subarray(160, 160 + 128)].every((x) => x === 0)).toBe(true);
    expect(b.subarray(160 + 152, 160 + 154).toString()).toBe('..');
  });

  it('READDIRPLUS: false when full, and the core drops the refused entry\'s reference', () => {
    const dropped: number[] = [];
    const enc = new DirentEncoder(Buffer.alloc(200), 0, 200, true, { dropped: (e) => dropped.push(e.nodeid) });
    expect(enc.sink(dirent('a'), entry(5))).toBe(true);
    expect(enc.sink(dirent('b'), entry(6))).toBe(false);
    expect(dropped).toEqual([6]);
    // A late entry after the reply was sent: refused and dropped alike.
    enc.close();
    expect(enc.sink(dirent('c'), entry(7))).toBe(false);
    expect(dropped).toEqual([6, 7]);
  });

  it('skips names the guest would reject, dropping their references', () => {
    const dropped: number[] = [];
    const skipped: string[] = [];
    const b = Buffer.alloc(1000, 0);
    const enc = new DirentEncoder(b, 0, 1000, true, {
      dropped: (e) => dropped.push(e.nodeid),
      skipped: (d, why) => skipped.push(`${d.name.toString()}:${why}`),
    });
    expect(enc.sink(dirent('a/b'), entry(7))).toBe(true);
    expect(enc.sink(dirent(''), entry(8))).toBe(true);
    expect(enc.sink(dirent('ok'), { ...entry(9), attr: Buffer.alloc(10) })).toBe(true);
    expect(enc.count).toBe(0);
    expect(enc.used).toBe(0);
    expect(dropped).toEqual([7, 8, 9]);
    expect(skipped).toEqual(['a/b:invalid-name', ':invalid-name', 'ok:invalid-entry']);
    expect(b.every((x) => x === 0)).toBe(true);
  });

  it('drops the references the guest never counts: entries for . and .., and any entry in a plain READDIR', () => {
    const dropped: number[] = [];
    const b = Buffer.alloc(800, 0xaa);
    const plus = new DirentEncoder(b, 0, 800, true, { dropped: (e) => dropped.push(e.nodeid) });
    expect(plus.sink(dirent('.'), entry(3))).toBe(true);
    expect(plus.sink(dirent('..'), entry(4))).toBe(true);
    expect(plus.sink(dirent('.x'), entry(5))).toBe(true); // an ordinary name: the guest's
    expect(dropped).toEqual([3, 4]);
    expect(plus.count).toBe(3);
    expect([...b.subarray(0, 128)].every((x) => x === 0)).toBe(true); // entry_out of '.' zeroed
    const plain = new DirentEncoder(Buffer.alloc(200), 0, 200, false, { dropped: (e) => dropped.push(e.nodeid) });
    expect(plain.sink(dirent('f'), entry(6))).toBe(true);
    expect(plain.count).toBe(1);
    expect(dropped).toEqual([3, 4, 6]);
  });
});

/** linux_dirent64 records as getdents64 lays them out (d_reclen padded to 8, NUL after the name). */
function records(...list: { ino: bigint; off: bigint; type: number; name: Buffer; reclen?: number }[]): Buffer {
  const parts = list.map((r) => {
    const reclen = r.reclen ?? (19 + r.name.length + 1 + 7) & ~7;
    const b = Buffer.alloc(Math.max(reclen, 19 + r.name.length), 0);
    b.writeBigUInt64LE(r.ino, 0);
    b.writeBigUInt64LE(r.off, 8);
    b.writeUInt16LE(reclen, 16);
    b[18] = r.type;
    r.name.copy(b, 19);
    return b.subarray(0, reclen);
  });
  return Buffer.concat(parts);
}
const rec = (s: string, ino: bigint, off: bigint, type = 8) => ({ ino, off, type, name: name(s) });

describe('DirentEncoder.addRecords (READDIR: getdents64 records, natively)', () => {
  it('writes what add() writes, entry for entry, and says where it stopped', () => {
    const list = [rec('a', 10n, 1n, 4), rec('bb', 0xffff_ffff_ffffn, 2n), rec('c'.repeat(255), 12n, 0x7fff_ffff_ffff_fff0n), rec('.', 13n, 4n, 4)];
    const src = records(...list);
    const viaRecords = Buffer.alloc(4096, 0xaa);
    const viaAdd = Buffer.alloc(4096, 0xaa);
    const e1 = new DirentEncoder(viaRecords, 8, 1000, false);
    const e2 = new DirentEncoder(viaAdd, 8, 1000, false);
    const p = e1.sink.records!(src, 0, src.length);
    for (const r of list) expect(e2.sink(dirent(r.name.toString('latin1'), r.ino, r.off, r.type), undefined)).toBe(true);
    expect(p).toMatchObject({ status: 0, pos: src.length, count: 4 });
    expect(src.readBigUInt64LE(p.last + 8)).toBe(4n); // the last record's d_off: the next cookie
    expect(e1.used).toBe(e2.used);
    expect(e1.count).toBe(4);
    expect(viaRecords.equals(viaAdd)).toBe(true);
  });

  it('stops before a record that does not fit, and takes it on the next reply', () => {
    const src = records(rec('one', 1n, 1n), rec('two', 2n, 2n), rec('three', 3n, 3n));
    const dst = Buffer.alloc(64);
    const e = new DirentEncoder(dst, 0, 64, false); // room for two 32-byte entries
    const p = e.sink.records!(src, 0, src.length);
    expect(p.status).toBe(1);
    expect(p.count).toBe(2);
    expect(p.pos).toBe(src.readUInt16LE(16) + src.readUInt16LE(src.readUInt16LE(16) + 16)); // the third record
    expect(e.used).toBe(64);
    const next = new DirentEncoder(Buffer.alloc(64), 0, 64, false);
    expect(next.sink.records!(src, p.pos, src.length)).toMatchObject({ status: 0, count: 1, pos: src.length });
  });

  it('hands a name the guest may not get to the per-entry path; stops at a partial header', () => {
    const bad = records(rec('ok', 1n, 1n), { ino: 2n, off: 2n, type: 8, name: name('a/b') }, rec('after', 3n, 3n));
    const e = new DirentEncoder(Buffer.alloc(512), 0, 512, false);
    const p = e.sink.records!(bad, 0, bad.length);
    expect(p).toMatchObject({ status: 2, count: 1 });
    expect(bad.readBigUInt64LE(p.pos)).toBe(2n); // positioned at the slash name
    const empty = records({ ino: 4n, off: 4n, type: 8, name: Buffer.alloc(0) });
    expect(new DirentEncoder(Buffer.alloc(64), 0, 64, false).sink.records!(empty, 0, empty.length)).toMatchObject({ status: 2, count: 0, pos: 0 });
    const src = records(rec('x', 1n, 1n));
    const partial = Buffer.concat([src, Buffer.alloc(10)]);
    expect(new DirentEncoder(Buffer.alloc(64), 0, 64, false).sink.records!(partial, 0, partial.length)).toMatchObject({ status: 0, count: 1, pos: src.length });
  });

  it('refuses malformed records with EIO and windows outside their buffers', () => {
    const short = records({ ...rec('abc', 1n, 1n), reclen: 19 });
    expect(() => new DirentEncoder(Buffer.alloc(64), 0, 64, false).sink.records!(short, 0, short.length)).toThrow(/malformed dirent/);
    const long = records(rec('abc', 1n, 1n));
    long.writeUInt16LE(long.length + 8, 16); // d_reclen past the end
    expect(() => new DirentEncoder(Buffer.alloc(64), 0, 64, false).sink.records!(long, 0, long.length)).toThrow(/malformed dirent/);
    const ok = records(rec('abc', 1n, 1n));
    expect(() => new DirentEncoder(Buffer.alloc(64), 0, 64, false).sink.records!(ok, 0, ok.length + 1)).toThrow(RangeError);
    expect(() => new DirentEncoder(Buffer.alloc(64), 0, 64, false).sink.records!(ok, 5, 4)).toThrow(RangeError);
  });

  it('is offered for READDIR only, and takes nothing once closed', () => {
    expect(new DirentEncoder(Buffer.alloc(64), 0, 64, true).sink.records).toBeUndefined();
    const e = new DirentEncoder(Buffer.alloc(64), 0, 64, false);
    e.close();
    const src = records(rec('x', 1n, 1n));
    expect(e.sink.records!(src, 0, src.length)).toMatchObject({ status: 1, count: 0, pos: 0 });
  });
});
