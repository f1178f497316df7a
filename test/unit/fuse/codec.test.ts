import { describe, expect, it } from 'vitest';
import { ByteReader, DecodeError, readU64Number, writeU64Big, writeU64Number } from '../../../src/fuse/codec.js';
import { E } from '../../../src/filesystem/errors.js';

function bytes(...vals: number[]): Buffer {
  return Buffer.from(vals);
}

describe('ByteReader bounds', () => {
  it('reads little-endian fields in order', () => {
    const b = Buffer.alloc(14);
    b.writeUInt16LE(0x1234, 0);
    b.writeUInt32LE(0xdeadbeef, 2);
    b.writeBigUInt64LE(0x0102030405060708n, 6);
    const r = new ByteReader(b, 0, b.length);
    expect(r.u16()).toBe(0x1234);
    expect(r.u32()).toBe(0xdeadbeef);
    expect(r.u64()).toBe(0x0102030405060708n);
    expect(r.remaining).toBe(0);
    r.end();
  });

  it('throws DecodeError (EINVAL) instead of reading past the window', () => {
    const r = new ByteReader(Buffer.alloc(64), 8, 6);
    r.u32();
    expect(() => r.u32()).toThrow(DecodeError);
    try {
      r.u64();
    } catch (err) {
      expect((err as DecodeError).errno).toBe(E.EINVAL);
    }
    // A failed read consumes nothing.
    expect(r.position).toBe(4);
    expect(r.u16()).toBe(0);
    expect(() => r.u8()).toThrow(DecodeError);
  });

  it('never reads owner bytes beyond its window', () => {
    const b = Buffer.from('abc\0xyz\0', 'latin1');
    // Window holds "abc" without its NUL: the NUL right after the window must not count.
    const r = new ByteReader(b, 0, 3);
    expect(() => r.cstring()).toThrow(/not NUL-terminated/);
    const r2 = new ByteReader(b, 4, 4);
    expect(r2.cstring().toString()).toBe('xyz');
    expect(r2.remaining).toBe(0);
  });

  it('rejects a window outside its buffer', () => {
    expect(() => new ByteReader(Buffer.alloc(4), 2, 3)).toThrow(DecodeError);
    expect(() => new ByteReader(Buffer.alloc(4), -1, 1)).toThrow(DecodeError);
  });

  it('struct() returns an absolute offset after a full bounds check', () => {
    const r = new ByteReader(Buffer.alloc(32), 10, 20);
    expect(r.struct(8)).toBe(10);
    expect(r.offset).toBe(18);
    expect(() => r.struct(16)).toThrow(DecodeError);
    expect(r.struct(12)).toBe(18);
  });

  it('cstring() returns a view without the NUL and consumes the NUL', () => {
    const r = new ByteReader(Buffer.from('one\0two\0', 'latin1'), 0, 8);
    expect(r.cstring().toString()).toBe('one');
    expect(r.position).toBe(4);
    expect(r.cstring().toString()).toBe('two');
    expect(() => r.cstring()).toThrow(DecodeError);
  });

  it('end() rejects trailing bytes', () => {
    const r = new ByteReader(bytes(1, 2, 3), 0, 3);
    r.skip(2);
    expect(() => r.end()).toThrow(/trailing/);
    expect(() => r.skip(2)).toThrow(DecodeError);
    r.skip(1);
    r.end();
  });

  it('bytes() is a view, bounded', () => {
    const b = bytes(1, 2, 3, 4);
    const r = new ByteReader(b, 1, 2);
    const v = r.bytes(2);
    expect([...v]).toEqual([2, 3]);
    expect(v.buffer).toBe(b.buffer);
    expect(() => r.bytes(1)).toThrow(DecodeError);
  });
});

describe('u64 as number', () => {
  const cases: Array<[bigint, number | undefined]> = [
    [0n, 0],
    [1n, 1],
    [0xffffffffn, 0xffffffff],
    [0x1_0000_0000n, 0x1_0000_0000],
    [BigInt(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER],
    [BigInt(Number.MAX_SAFE_INTEGER) + 1n, undefined], // 2^53
    [0xffff_ffff_ffff_ffffn, undefined],
    [0x0020_0000_0000_0000n, undefined],
  ];
  it.each(cases)('%s → %s', (v, expected) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    expect(readU64Number(b, 0)).toBe(expected);
  });

  it('writeU64Number round-trips safe integers', () => {
    const b = Buffer.alloc(8);
    for (const v of [0, 1, 0xffffffff, 0x1_0000_0001, Number.MAX_SAFE_INTEGER]) {
      writeU64Number(b, 0, v);
      expect(b.readBigUInt64LE(0)).toBe(BigInt(v));
    }
  });

  it('writeU64Big stores negatives as two’s complement', () => {
    const b = Buffer.alloc(8);
    writeU64Big(b, 0, -1n);
    expect(b.readBigUInt64LE(0)).toBe(0xffff_ffff_ffff_ffffn);
  });

  it('s64 decodes signed seconds', () => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(-5n);
    expect(new ByteReader(b, 0, 8).s64()).toBe(-5n);
  });
});
