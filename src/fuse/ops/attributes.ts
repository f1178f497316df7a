/**
 * Attributes of an inode and of its file system: GETATTR, SETATTR, STATX, STATFS, ACCESS.
 *
 * Handlers run after the server's checks (session up, header length consistent, argsLen ≥
 * inSize, replyCapacity ≥ 16 + outSize). They decode with bounds checks, call the file system
 * once, and encode the reply; they throw on failure and the server turns the throw into the
 * errno reply. Between c.small() and c.send() there is never an await: the scratch buffer is
 * shared. Struct layouts are in ../abi.ts.
 */
import { E, ErrnoError } from '../../filesystem/errors.js';
import { FATTR } from '../../filesystem/filesystem.js';
import { AccessIn, AttrOut, FUSE_GETATTR_FH, FUSE_STATX_USED, GetattrIn, Opcode, OutHeader, SetattrIn, StatfsOut, StatxIn, StatxOut } from '../abi.js';
import type { FuseCall } from '../call.js';
import { readHandleId, writeU64Big } from '../codec.js';
import { encodeAttrOut, encodeStatfsOut, splitTimeout } from '../reply.js';
import { type Core, type OpSpec, op } from './op-spec.js';

function getattrSync(core: Core, c: FuseCall): boolean {
  if (core.fs.getattrSync === undefined) return false;
  const off = c.args().struct(GetattrIn.SIZE, 'fuse_getattr_in');
  const flags = c.buf.readUInt32LE(off + GetattrIn.getattrFlags);
  const fh = flags & FUSE_GETATTR_FH ? readHandleId(c.buf, off + GetattrIn.fh) : undefined;
  const attr = core.fs.getattrSync(c, c.nodeid, fh);
  if (attr === undefined) return false;
  const b = c.small(AttrOut.SIZE);
  encodeAttrOut(b, OutHeader.SIZE, attr);
  c.send(b, AttrOut.SIZE);
  return true;
}

async function getattr(core: Core, c: FuseCall): Promise<void> {
  const off = c.args().struct(GetattrIn.SIZE, 'fuse_getattr_in');
  const flags = c.buf.readUInt32LE(off + GetattrIn.getattrFlags);
  const fh = flags & FUSE_GETATTR_FH ? readHandleId(c.buf, off + GetattrIn.fh) : undefined;
  const attr = await core.fs.getattr(c, c.nodeid, fh);
  const b = c.small(AttrOut.SIZE);
  encodeAttrOut(b, OutHeader.SIZE, attr);
  c.send(b, AttrOut.SIZE);
}

async function setattr(core: Core, c: FuseCall): Promise<void> {
  const b = c.buf;
  const off = c.args().struct(SetattrIn.SIZE, 'fuse_setattr_in');
  const valid = b.readUInt32LE(off + SetattrIn.valid);
  const attr = await core.fs.setattr(c, c.nodeid, {
    valid,
    fh: (valid & FATTR.FH) !== 0 ? readHandleId(b, off + SetattrIn.fh) : undefined,
    size: b.readBigUInt64LE(off + SetattrIn.size),
    mode: b.readUInt32LE(off + SetattrIn.mode),
    uid: b.readUInt32LE(off + SetattrIn.uid),
    gid: b.readUInt32LE(off + SetattrIn.gid),
    // Seconds travel as u64 but are the kernel's signed time64_t: decode signed.
    atime: b.readBigInt64LE(off + SetattrIn.atime),
    atimensec: b.readUInt32LE(off + SetattrIn.atimensec),
    mtime: b.readBigInt64LE(off + SetattrIn.mtime),
    mtimensec: b.readUInt32LE(off + SetattrIn.mtimensec),
    ctime: b.readBigInt64LE(off + SetattrIn.ctime),
    ctimensec: b.readUInt32LE(off + SetattrIn.ctimensec),
  });
  const out = c.small(AttrOut.SIZE);
  encodeAttrOut(out, OutHeader.SIZE, attr);
  c.send(out, AttrOut.SIZE);
}

async function statx(core: Core, c: FuseCall): Promise<void> {
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

async function statfs(core: Core, c: FuseCall): Promise<void> {
  const st = await core.fs.statfs(c, c.nodeid);
  const b = c.small(StatfsOut.SIZE);
  encodeStatfsOut(b, OutHeader.SIZE, st);
  c.send(b, StatfsOut.SIZE);
}

async function access(core: Core, c: FuseCall): Promise<void> {
  const off = c.args().struct(AccessIn.SIZE, 'fuse_access_in');
  await core.fs.access(c, c.nodeid, c.buf.readUInt32LE(off + AccessIn.mask));
  c.ok();
}

/** The rows of the opcode table (../opcodes.ts) this file serves. */
export const ATTRIBUTE_OPS: readonly OpSpec[] = [
  op(Opcode.GETATTR, 'getattr', GetattrIn.SIZE, AttrOut.SIZE, getattr, { runSync: getattrSync }),
  op(Opcode.SETATTR, 'setattr', SetattrIn.SIZE, AttrOut.SIZE, setattr),
  op(Opcode.STATX, 'statx', StatxIn.SIZE, StatxOut.SIZE, statx),
  op(Opcode.STATFS, 'statfs', 0, StatfsOut.SIZE, statfs),
  op(Opcode.ACCESS, 'access', AccessIn.SIZE, 0, access),
];
