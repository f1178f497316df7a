/**
 * Bounds-checked little-endian readers over staged request bytes, and the few number writers the
 * reply encoders share. Every read that would run past the end throws DecodeError (an
 * ErrnoError, EINVAL by default), so a malformed request becomes an errno reply, never an
 * out-of-range read.
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import type { HandleId, NodeId } from '../filesystem/filesystem.js';

/** A request that cannot be decoded. Carries the errno the guest gets back. */
export class DecodeError extends ErrnoError {
  constructor(message: string, errno: number = E.EINVAL) {
    super(errno, message);
    this.name = 'DecodeError';
  }
}

const TWO_32 = 0x1_0000_0000;
/** High word of Number.MAX_SAFE_INTEGER (2^53 - 1): 0x1FFFFF. */
const MAX_SAFE_HI = 0x1f_ffff;

/** u64 at buf[off] as a JS number, or undefined when it does not fit in 2^53 - 1. */
export function readU64Number(buf: Buffer, off: number): number | undefined {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  if (hi > MAX_SAFE_HI) return undefined;
  return hi * TWO_32 + lo;
}

/**
 * A u64 from the guest naming an inode. The file system hands out ids below 2^53, so a larger
 * one cannot name an inode of ours: ESTALE, the answer for any unknown node id — never a
 * sentinel passed on, so a hostile huge value can never alias a real one.
 */
export function readNodeId(buf: Buffer, off: number): NodeId {
  const v = readU64Number(buf, off);
  if (v === undefined) throw new ErrnoError(E.ESTALE, 'node id out of range');
  return v;
}

/** A u64 from the guest naming an open handle: EBADF when it cannot be one of ours. */
export function readHandleId(buf: Buffer, off: number): HandleId {
  const v = readU64Number(buf, off);
  if (v === undefined) throw new ErrnoError(E.EBADF, 'handle out of range');
  return v;
}

/** Writes a non-negative safe integer as u64. */
export function writeU64Number(buf: Buffer, off: number, value: number): void {
  const hi = Math.floor(value / TWO_32);
  buf.writeUInt32LE(value - hi * TWO_32, off);
  buf.writeUInt32LE(hi, off + 4);
}

/** Writes any bigint as u64, two's complement for negatives. */
export function writeU64Big(buf: Buffer, off: number, value: bigint): void {
  buf.writeBigUInt64LE(BigInt.asUintN(64, value), off);
}

/**
 * A cursor over buf[start, start + length). Positions are relative to `start`. Never reads
 * outside that window, whatever the window's owner Buffer holds beyond it.
 */
export class ByteReader {
  readonly buf: Buffer;
  readonly start: number;
  readonly length: number;
  private pos = 0;

  constructor(buf: Buffer, start: number, length: number) {
    if (start < 0 || length < 0 || start + length > buf.length) {
      throw new DecodeError(`window [${start}, +${length}) outside a ${buf.length}-byte buffer`);
    }
    this.buf = buf;
    this.start = start;
    this.length = length;
  }

  /** Bytes consumed so far. */
  get position(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.length - this.pos;
  }

  /** Absolute offset (into `buf`) of the next byte. */
  get offset(): number {
    return this.start + this.pos;
  }

  /** Throws unless `n` more bytes are available. */
  need(n: number, what = 'field'): void {
    if (n > this.length - this.pos) {
      throw new DecodeError(`${what}: need ${n} bytes at ${this.pos}, have ${this.length - this.pos}`);
    }
  }

  skip(n: number): void {
    this.need(n, 'skip');
    this.pos += n;
  }

  u8(): number {
    this.need(1, 'u8');
    return this.buf[this.start + this.pos++];
  }

  u16(): number {
    this.need(2, 'u16');
    const v = this.buf.readUInt16LE(this.start + this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4, 'u32');
    const v = this.buf.readUInt32LE(this.start + this.pos);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.need(8, 'u64');
    const v = this.buf.readBigUInt64LE(this.start + this.pos);
    this.pos += 8;
    return v;
  }

  /** u64 read as two's-complement s64 (fuse carries signed seconds in u64 fields). */
  s64(): bigint {
    this.need(8, 's64');
    const v = this.buf.readBigInt64LE(this.start + this.pos);
    this.pos += 8;
    return v;
  }

  /**
   * Consumes a fixed-size struct and returns its absolute offset, so the caller can read fields
   * at `off + Struct.field` without further checks.
   */
  struct(size: number, what = 'struct'): number {
    this.need(size, what);
    const off = this.start + this.pos;
    this.pos += size;
    return off;
  }

  /** A view (no copy) of the next `n` bytes. */
  bytes(n: number): Buffer {
    this.need(n, 'bytes');
    const off = this.start + this.pos;
    this.pos += n;
    return this.buf.subarray(off, off + n);
  }

  /**
   * A NUL-terminated string: returns a view of its bytes without the NUL and consumes the NUL.
   * Throws EINVAL when no NUL occurs before the end of the window.
   */
  cstring(what = 'name'): Buffer {
    const from = this.start + this.pos;
    const end = this.start + this.length;
    const nul = this.buf.indexOf(0, from);
    if (nul < 0 || nul >= end) throw new DecodeError(`${what}: not NUL-terminated inside the request`);
    this.pos = nul + 1 - this.start;
    return this.buf.subarray(from, nul);
  }

  /** Throws EINVAL when bytes remain (trailing garbage after the last field). */
  end(what = 'request'): void {
    if (this.pos !== this.length) {
      throw new DecodeError(`${what}: ${this.length - this.pos} unexpected trailing bytes`);
    }
  }
}
