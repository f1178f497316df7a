/**
 * Reply building: the out header, the one errno mapping, and encoders for the fixed reply
 * structs. Encoders write into a caller-provided, already zeroed buffer (padding and reserved
 * fields are therefore zero), never allocate, and validate what the file system handed them.
 */
import type { AttrReply, Entry, OpenReply, StatfsReply } from '../filesystem/filesystem.js';
import { E, ErrnoError, errnoOf } from '../filesystem/errors.js';
import { FUSE_ATTR_SIZE } from '../filesystem/filesystem.js';
import { AttrOut, EntryOut, OpenOut, OutHeader, StatfsOut, WriteOut } from './abi.js';
import { writeU64Big, writeU64Number } from './codec.js';

/**
 * Errors the kernel accepts in fuse_out_header.error are -1 .. -511 (fuse_dev_do_write rejects
 * error <= -512 and > 0; 512+ are kernel-internal restart codes). Anything else becomes EIO.
 */
export const MAX_REPLY_ERRNO = 511;

/**
 * THE errno mapping: any thrown value → the positive errno the guest receives. ErrnoError and
 * Node system errors keep their errno; anything unknown, zero, or out of the wire range is EIO.
 */
export function errnoForReply(err: unknown): number {
  const e = errnoOf(err);
  return Number.isInteger(e) && e > 0 && e <= MAX_REPLY_ERRNO ? e : E.EIO;
}

/** Whether an error is one the core or file system raised on purpose (not a bug). */
export function isExpectedError(err: unknown): boolean {
  if (err instanceof ErrnoError) return true;
  if (err && typeof err === 'object') {
    const e = err as { errno?: unknown; code?: unknown };
    return typeof e.errno === 'number' || typeof e.code === 'string';
  }
  return false;
}

/** struct fuse_out_header. `error` is the positive errno (0 for success); stored negated. */
export function writeOutHeader(
  buf: Buffer,
  off: number,
  len: number,
  errno: number,
  uniqueLo: number,
  uniqueHi: number,
): void {
  buf.writeUInt32LE(len, off + OutHeader.len);
  buf.writeInt32LE(errno === 0 ? 0 : -errno, off + OutHeader.error);
  buf.writeUInt32LE(uniqueLo, off + OutHeader.unique);
  buf.writeUInt32LE(uniqueHi, off + OutHeader.unique + 4);
}

const NSEC_MAX = 999_999_999;

/**
 * Splits a cache timeout in (float) seconds into whole seconds and nanoseconds. NaN, negative
 * and zero give 0/0; huge and infinite values clamp to 2^53 - 1 seconds.
 */
export function splitTimeout(t: number): [sec: number, nsec: number] {
  if (!(t > 0)) return [0, 0];
  if (t >= Number.MAX_SAFE_INTEGER) return [Number.MAX_SAFE_INTEGER, 0];
  const sec = Math.floor(t);
  const nsec = Math.min(NSEC_MAX, Math.round((t - sec) * 1e9));
  return [sec, nsec];
}

function checkId(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ErrnoError(E.EIO, `file system returned an invalid ${what}: ${value}`);
  }
}

function copyAttr(attr: Buffer, buf: Buffer, off: number): void {
  if (!Buffer.isBuffer(attr) || attr.length < FUSE_ATTR_SIZE) {
    throw new ErrnoError(E.EIO, 'file system returned a short attribute record');
  }
  attr.copy(buf, off, 0, FUSE_ATTR_SIZE);
}

/** struct fuse_entry_out at buf[off]. Throws EIO on an invalid Entry. */
export function encodeEntryOut(buf: Buffer, off: number, entry: Entry): void {
  checkId(entry.nodeid, 'nodeid');
  checkId(entry.generation, 'generation');
  const [es, ens] = splitTimeout(entry.entryTimeout);
  const [as, ans] = splitTimeout(entry.attrTimeout);
  writeU64Number(buf, off + EntryOut.nodeid, entry.nodeid);
  writeU64Number(buf, off + EntryOut.generation, entry.generation);
  writeU64Number(buf, off + EntryOut.entryValid, es);
  writeU64Number(buf, off + EntryOut.attrValid, as);
  buf.writeUInt32LE(ens, off + EntryOut.entryValidNsec);
  buf.writeUInt32LE(ans, off + EntryOut.attrValidNsec);
  copyAttr(entry.attr, buf, off + EntryOut.attr);
}

/** struct fuse_attr_out at buf[off]. */
export function encodeAttrOut(buf: Buffer, off: number, reply: AttrReply): void {
  const [s, ns] = splitTimeout(reply.attrTimeout);
  writeU64Number(buf, off + AttrOut.attrValid, s);
  buf.writeUInt32LE(ns, off + AttrOut.attrValidNsec);
  buf.writeUInt32LE(0, off + AttrOut.dummy);
  copyAttr(reply.attr, buf, off + AttrOut.attr);
}

/** struct fuse_open_out at buf[off]. */
export function encodeOpenOut(buf: Buffer, off: number, reply: OpenReply): void {
  checkId(reply.fh, 'file handle');
  writeU64Number(buf, off + OpenOut.fh, reply.fh);
  buf.writeUInt32LE(reply.openFlags >>> 0, off + OpenOut.openFlags);
  buf.writeUInt32LE(0, off + OpenOut.padding);
}

/** struct fuse_write_out at buf[off]. */
export function encodeWriteOut(buf: Buffer, off: number, size: number): void {
  buf.writeUInt32LE(size >>> 0, off + WriteOut.size);
  buf.writeUInt32LE(0, off + WriteOut.padding);
}

/** struct fuse_statfs_out (= struct fuse_kstatfs) at buf[off]; spare[] stays zero. */
export function encodeStatfsOut(buf: Buffer, off: number, st: StatfsReply): void {
  writeU64Big(buf, off + StatfsOut.blocks, BigInt(st.blocks));
  writeU64Big(buf, off + StatfsOut.bfree, BigInt(st.bfree));
  writeU64Big(buf, off + StatfsOut.bavail, BigInt(st.bavail));
  writeU64Big(buf, off + StatfsOut.files, BigInt(st.files));
  writeU64Big(buf, off + StatfsOut.ffree, BigInt(st.ffree));
  buf.writeUInt32LE(st.bsize >>> 0, off + StatfsOut.bsize);
  buf.writeUInt32LE(st.namelen >>> 0, off + StatfsOut.namelen);
  buf.writeUInt32LE(st.frsize >>> 0, off + StatfsOut.frsize);
  buf.writeUInt32LE(0, off + StatfsOut.padding);
}
