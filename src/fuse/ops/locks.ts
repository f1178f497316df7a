/**
 * Byte-range and flock locks: GETLK, SETLK, SETLKW.
 *
 * Handlers run after the server's checks (session up, header length consistent, argsLen ≥
 * inSize, replyCapacity ≥ 16 + outSize). They decode with bounds checks, call the file system
 * once, and encode the reply; they throw on failure and the server turns the throw into the
 * errno reply. Between c.small() and c.send() there is never an await: the scratch buffer is
 * shared. Struct layouts are in ../abi.ts.
 */
import type { FileLock } from '../../filesystem/filesystem.js';
import { FileLock as FileLockStruct, LkIn, LkOut, OFFSET_MAX, Opcode, OutHeader } from '../abi.js';
import type { FuseCall } from '../call.js';
import { DecodeError, readHandleId, writeU64Big } from '../codec.js';
import { type Core, type OpSpec, op } from './op-spec.js';

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

async function getlk(core: Core, c: FuseCall): Promise<void> {
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

function setlk(core: Core, c: FuseCall): Promise<void> {
  return setlkCommon(core, c, false);
}

function setlkw(core: Core, c: FuseCall): Promise<void> {
  return setlkCommon(core, c, true);
}

/** The rows of the opcode table (../opcodes.ts) this file serves. */
export const LOCK_OPS: readonly OpSpec[] = [
  op(Opcode.GETLK, 'getlk', LkIn.SIZE, LkOut.SIZE, getlk),
  op(Opcode.SETLK, 'setlk', LkIn.SIZE, 0, setlk),
  op(Opcode.SETLKW, 'setlk', LkIn.SIZE, 0, setlkw),
];
