/**
 * Handlers of the opcodes beyond the core set (handlers.ts has the table and the rest):
 * extended attributes, locks, FALLOCATE, LSEEK, COPY_FILE_RANGE, SYNCFS, TMPFILE, STATX.
 * Same rules as handlers.ts: decode with bounds checks, call the file system once, encode.
 */
import type { FileLock } from '../filesystem/filesystem.js';
import { E, ErrnoError } from '../filesystem/errors.js';
import type { FuseCall } from './call.js';
import {
  CopyFileRangeIn,
  CreateIn,
  EntryOut,
  FallocateIn,
  FileLock as FileLockStruct,
  FUSE_GETATTR_FH,
  FUSE_STATX_USED,
  GetxattrIn,
  GetxattrOut,
  InitFlag,
  LkIn,
  LkOut,
  LseekIn,
  LseekOut,
  OFFSET_MAX,
  OpenOut,
  OutHeader,
  SetxattrIn,
  StatxIn,
  StatxOut,
  WriteOut,
  XATTR_NAME_MAX,
  XATTR_SIZE_MAX,
} from './abi.js';
import { ByteReader, DecodeError, readHandleId, readNodeId, writeU64Big } from './codec.js';
import { abandonCreate } from './entries.js';
import { readCreateExtensions } from './extensions.js';
import type { Core } from './handlers.js';
import { encodeEntryOut, encodeOpenOut, encodeWriteOut, splitTimeout } from './reply.js';

// ---------------------------------------------------------------------------------------------
// Extended attributes

function readXattrName(r: ByteReader): Buffer {
  const name = r.cstring('xattr name');
  // What setxattr(2) answers for an empty or overlong name.
  if (name.length === 0 || name.length > XATTR_NAME_MAX) throw new DecodeError('invalid xattr name', E.ERANGE);
  return name;
}

export async function setxattr(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_setxattr_in (8 or 16 bytes), "name\0", value
  const ext = (core.sessionFlags & InitFlag.SETXATTR_EXT) !== 0n;
  const off = r.struct(ext ? SetxattrIn.SIZE : SetxattrIn.COMPAT_SIZE, 'fuse_setxattr_in');
  const b = c.buf;
  const size = b.readUInt32LE(off + SetxattrIn.size);
  const flags = b.readUInt32LE(off + SetxattrIn.flags);
  const setxattrFlags = ext ? b.readUInt32LE(off + SetxattrIn.setxattrFlags) : 0;
  const name = readXattrName(r);
  if (size > XATTR_SIZE_MAX) throw new DecodeError(`xattr value of ${size} bytes`, E.E2BIG);
  const value = r.bytes(size);
  r.end();
  await core.fs.setxattr!(c, c.nodeid, name, value, flags, setxattrFlags);
  c.ok();
}

/** GETXATTR / LISTXATTR replies: the size (fuse_getxattr_out) or the bytes themselves. */
function replyXattr(c: FuseCall, size: number, result: Buffer | number): void {
  if (size === 0) {
    const n = typeof result === 'number' ? result : result.length;
    if (!Number.isSafeInteger(n) || n < 0) throw new ErrnoError(E.EIO, 'file system returned an invalid xattr size');
    const out = c.small(GetxattrOut.SIZE);
    out.writeUInt32LE(Math.min(n, 0xffffffff), OutHeader.SIZE + GetxattrOut.size);
    c.send(out, GetxattrOut.SIZE);
    return;
  }
  if (!Buffer.isBuffer(result)) throw new ErrnoError(E.EIO, 'file system returned no xattr data');
  if (result.length > size) throw new ErrnoError(E.ERANGE);
  if (result.length > c.payloadCapacity) throw new ErrnoError(E.ERANGE, 'xattr data larger than the reply buffer');
  const out = c.small(result.length);
  result.copy(out, OutHeader.SIZE);
  c.send(out, result.length);
}

export async function getxattr(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_getxattr_in, "name\0"
  const off = r.struct(GetxattrIn.SIZE, 'fuse_getxattr_in');
  const size = c.buf.readUInt32LE(off + GetxattrIn.size);
  const name = readXattrName(r);
  r.end();
  if (size === 0 && c.payloadCapacity < GetxattrOut.SIZE) throw new DecodeError('no room for fuse_getxattr_out', E.ERANGE);
  const want = Math.min(size, XATTR_SIZE_MAX, c.payloadCapacity);
  replyXattr(c, size === 0 ? 0 : want, await core.fs.getxattr!(c, c.nodeid, name, size === 0 ? 0 : want));
}

export async function listxattr(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_getxattr_in
  const off = r.struct(GetxattrIn.SIZE, 'fuse_getxattr_in');
  const size = c.buf.readUInt32LE(off + GetxattrIn.size);
  r.end();
  if (size === 0 && c.payloadCapacity < GetxattrOut.SIZE) throw new DecodeError('no room for fuse_getxattr_out', E.ERANGE);
  const want = Math.min(size, XATTR_SIZE_MAX, c.payloadCapacity);
  replyXattr(c, size === 0 ? 0 : want, await core.fs.listxattr!(c, c.nodeid, size === 0 ? 0 : want));
}

export async function removexattr(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // "name\0"
  const name = readXattrName(r);
  r.end();
  await core.fs.removexattr!(c, c.nodeid, name);
  c.ok();
}

// ---------------------------------------------------------------------------------------------
// Locks

interface LkRequest {
  fh: number;
  owner: bigint;
  lock: FileLock;
  lkFlags: number;
}

function readLk(c: FuseCall): LkRequest {
  const r = c.args(); // fuse_lk_in
  const off = r.struct(LkIn.SIZE, 'fuse_lk_in');
  r.end();
  const b = c.buf;
  const lk = off + LkIn.lk;
  const lock: FileLock = {
    start: b.readBigUInt64LE(lk + FileLockStruct.start),
    end: b.readBigUInt64LE(lk + FileLockStruct.end),
    type: b.readUInt32LE(lk + FileLockStruct.type),
    pid: b.readUInt32LE(lk + FileLockStruct.pid),
  };
  // fcntl(2) ranges are signed 64-bit; the kernel never sends more than OFFSET_MAX.
  if (lock.start > OFFSET_MAX || lock.end > OFFSET_MAX || lock.end < lock.start) {
    throw new DecodeError('lock range out of bounds');
  }
  return { fh: readHandleId(b, off + LkIn.fh), owner: b.readBigUInt64LE(off + LkIn.owner), lock, lkFlags: b.readUInt32LE(off + LkIn.lkFlags) };
}

export async function getlk(core: Core, c: FuseCall): Promise<void> {
  const q = readLk(c);
  const lock = await core.fs.getlk!(c, c.nodeid, q.fh, q.owner, q.lock, q.lkFlags);
  const out = c.small(LkOut.SIZE);
  const o = OutHeader.SIZE + LkOut.lk;
  writeU64Big(out, o + FileLockStruct.start, lock.start);
  writeU64Big(out, o + FileLockStruct.end, lock.end);
  out.writeUInt32LE(lock.type >>> 0, o + FileLockStruct.type);
  out.writeUInt32LE(lock.pid >>> 0, o + FileLockStruct.pid);
  c.send(out, LkOut.SIZE);
}

async function setlkCommon(core: Core, c: FuseCall, wait: boolean): Promise<void> {
  const q = readLk(c);
  await core.fs.setlk!(c, c.nodeid, q.fh, q.owner, q.lock, q.lkFlags, wait);
  c.ok();
}

export function setlk(core: Core, c: FuseCall): Promise<void> {
  return setlkCommon(core, c, false);
}

export function setlkw(core: Core, c: FuseCall): Promise<void> {
  return setlkCommon(core, c, true);
}

// ---------------------------------------------------------------------------------------------
// Data operations

export async function fallocate(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_fallocate_in
  const off = r.struct(FallocateIn.SIZE, 'fuse_fallocate_in');
  r.end();
  const b = c.buf;
  const offset = b.readBigUInt64LE(off + FallocateIn.offset);
  const length = b.readBigUInt64LE(off + FallocateIn.length);
  // fallocate(2): EINVAL for a negative offset or a non-positive length, EFBIG past loff_t.
  if (offset > OFFSET_MAX || length === 0n || length > OFFSET_MAX) throw new DecodeError('fallocate range');
  if (offset + length > OFFSET_MAX) throw new DecodeError('fallocate range past the maximum file size', E.EFBIG);
  await core.fs.fallocate!(c, c.nodeid, readHandleId(b, off + FallocateIn.fh), b.readUInt32LE(off + FallocateIn.mode), offset, length);
  c.ok();
}

export async function lseek(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_lseek_in
  const off = r.struct(LseekIn.SIZE, 'fuse_lseek_in');
  r.end();
  const b = c.buf;
  const offset = b.readBigUInt64LE(off + LseekIn.offset);
  if (offset > OFFSET_MAX) throw new DecodeError('lseek offset', E.ENXIO);
  const result = await core.fs.lseek!(c, c.nodeid, readHandleId(b, off + LseekIn.fh), offset, b.readUInt32LE(off + LseekIn.whence));
  const out = c.small(LseekOut.SIZE);
  writeU64Big(out, OutHeader.SIZE + LseekOut.offset, result);
  c.send(out, LseekOut.SIZE);
}

/** The kernel asks for at most UINT_MAX & PAGE_MASK bytes (fuse_write_out.size is a u32). */
const MAX_COPY = 0xffff_f000n;

export async function copyFileRange(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_copy_file_range_in
  const off = r.struct(CopyFileRangeIn.SIZE, 'fuse_copy_file_range_in');
  r.end();
  const b = c.buf;
  const offIn = b.readBigUInt64LE(off + CopyFileRangeIn.offIn);
  const offOut = b.readBigUInt64LE(off + CopyFileRangeIn.offOut);
  if (offIn > OFFSET_MAX || offOut > OFFSET_MAX) throw new DecodeError('copy_file_range offset');
  let len = b.readBigUInt64LE(off + CopyFileRangeIn.len);
  if (len > MAX_COPY) len = MAX_COPY;
  const n = await core.fs.copyFileRange!(
    c,
    c.nodeid,
    readHandleId(b, off + CopyFileRangeIn.fhIn),
    offIn,
    readNodeId(b, off + CopyFileRangeIn.nodeidOut),
    readHandleId(b, off + CopyFileRangeIn.fhOut),
    offOut,
    len,
    b.readBigUInt64LE(off + CopyFileRangeIn.flags),
  );
  const count = Number.isInteger(n) && n > 0 ? Math.min(n, Number(len)) : 0;
  const out = c.small(WriteOut.SIZE);
  encodeWriteOut(out, OutHeader.SIZE, count);
  c.send(out, WriteOut.SIZE);
}

export async function syncfs(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_syncfs_in
  r.struct(8, 'fuse_syncfs_in');
  r.end();
  await core.fs.syncfs!(c, c.nodeid);
  c.ok();
}

// ---------------------------------------------------------------------------------------------
// TMPFILE and STATX

export async function tmpfile(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_create_in, "name\0" (the VFS sends "/" for an O_TMPFILE dentry), extensions
  const off = r.struct(CreateIn.SIZE, 'fuse_create_in');
  r.cstring('tmpfile name'); // not a name in the directory: nothing to validate or use
  readCreateExtensions(r, c.extensions(), core.sessionFlags, c);
  const b = c.buf;
  const reply = await core.fs.tmpfile!(c, c.nodeid, b.readUInt32LE(off + CreateIn.mode), b.readUInt32LE(off + CreateIn.flags), b.readUInt32LE(off + CreateIn.umask));
  const out = c.small(EntryOut.SIZE + OpenOut.SIZE);
  try {
    encodeEntryOut(out, OutHeader.SIZE, reply.entry);
    encodeOpenOut(out, OutHeader.SIZE + EntryOut.SIZE, reply);
  } catch (err) {
    abandonCreate(core, c, reply.entry, reply.fh);
    throw err;
  }
  if (!c.send(out, EntryOut.SIZE + OpenOut.SIZE)) abandonCreate(core, c, reply.entry, reply.fh);
  else core.directIo?.grant(reply.entry.nodeid, reply.fh, reply.directIo);
}

export async function statx(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_statx_in
  const off = r.struct(StatxIn.SIZE, 'fuse_statx_in');
  r.end();
  const b = c.buf;
  const fh = b.readUInt32LE(off + StatxIn.getattrFlags) & FUSE_GETATTR_FH ? readHandleId(b, off + StatxIn.fh) : undefined;
  const reply = await core.fs.statx!(c, c.nodeid, fh, b.readUInt32LE(off + StatxIn.sxFlags), b.readUInt32LE(off + StatxIn.sxMask));
  if (!Buffer.isBuffer(reply.statx) || reply.statx.length < FUSE_STATX_USED) throw new ErrnoError(E.EIO, 'short statx record');
  const out = c.small(StatxOut.SIZE);
  const [s, ns] = splitTimeout(reply.attrTimeout);
  writeU64Big(out, OutHeader.SIZE + StatxOut.attrValid, BigInt(s));
  out.writeUInt32LE(ns, OutHeader.SIZE + StatxOut.attrValidNsec);
  out.writeUInt32LE(reply.flags >>> 0, OutHeader.SIZE + StatxOut.flags);
  // Only the part of struct statx that fuse_statx mirrors; the rest (mnt_id, dio alignment,
  // spare) stays zero, as fuse_statx's spare fields must.
  reply.statx.copy(out, OutHeader.SIZE + StatxOut.stat, 0, FUSE_STATX_USED);
  c.send(out, StatxOut.SIZE);
}
