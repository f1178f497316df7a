/**
 * Extended attributes: SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR.
 *
 * Handlers run after the server's checks (session up, header length consistent, argsLen ≥
 * inSize, replyCapacity ≥ 16 + outSize). They decode with bounds checks, call the file system
 * once, and encode the reply; they throw on failure and the server turns the throw into the
 * errno reply. Between c.small() and c.send() there is never an await: the scratch buffer is
 * shared. Struct layouts are in ../abi.ts.
 */
import { E, ErrnoError } from '../../filesystem/errors.js';
import { GetxattrIn, GetxattrOut, InitFlag, Opcode, OutHeader, SetxattrIn, XATTR_NAME_MAX, XATTR_SIZE_MAX } from '../abi.js';
import type { FuseCall } from '../call.js';
import { ByteReader, DecodeError } from '../codec.js';
import { type Core, type OpSpec, VARIABLE, op } from './op-spec.js';

function readXattrName(r: ByteReader): Buffer {
  const name = r.cstring('xattr name');
  // What setxattr(2) answers for an empty or overlong name.
  if (name.length === 0 || name.length > XATTR_NAME_MAX) throw new DecodeError('invalid xattr name', E.ERANGE);
  return name;
}

async function setxattr(core: Core, c: FuseCall): Promise<void> {
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

async function getxattr(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_getxattr_in, "name\0"
  const off = r.struct(GetxattrIn.SIZE, 'fuse_getxattr_in');
  const size = c.buf.readUInt32LE(off + GetxattrIn.size);
  const name = readXattrName(r);
  r.end();
  if (size === 0 && c.payloadCapacity < GetxattrOut.SIZE) throw new DecodeError('no room for fuse_getxattr_out', E.ERANGE);
  const want = Math.min(size, XATTR_SIZE_MAX, c.payloadCapacity);
  replyXattr(c, size === 0 ? 0 : want, await core.fs.getxattr!(c, c.nodeid, name, size === 0 ? 0 : want));
}

async function listxattr(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_getxattr_in
  const off = r.struct(GetxattrIn.SIZE, 'fuse_getxattr_in');
  const size = c.buf.readUInt32LE(off + GetxattrIn.size);
  r.end();
  if (size === 0 && c.payloadCapacity < GetxattrOut.SIZE) throw new DecodeError('no room for fuse_getxattr_out', E.ERANGE);
  const want = Math.min(size, XATTR_SIZE_MAX, c.payloadCapacity);
  replyXattr(c, size === 0 ? 0 : want, await core.fs.listxattr!(c, c.nodeid, size === 0 ? 0 : want));
}

async function removexattr(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // "name\0"
  const name = readXattrName(r);
  r.end();
  await core.fs.removexattr!(c, c.nodeid, name);
  c.ok();
}

/** The rows of the opcode table (../opcodes.ts) this file serves. */
export const XATTR_OPS: readonly OpSpec[] = [
  op(Opcode.SETXATTR, 'setxattr', SetxattrIn.COMPAT_SIZE, 0, setxattr),
  op(Opcode.GETXATTR, 'getxattr', GetxattrIn.SIZE, VARIABLE, getxattr),
  op(Opcode.LISTXATTR, 'listxattr', GetxattrIn.SIZE, VARIABLE, listxattr),
  op(Opcode.REMOVEXATTR, 'removexattr', 0, 0, removexattr),
];
