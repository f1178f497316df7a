/**
 * FUSE_SETUPMAPPING / FUSE_REMOVEMAPPING (DAX). Decoding and count checks only; what the
 * ranges may be is the DAX manager's business (src/dax/dax-manager.ts), reached through the
 * FileSystem's optional setupmapping / removemapping methods (served by src/dax/dax-filesystem.ts).
 *
 * struct fuse_setupmapping_in {      // 40 bytes
 *   u64 fh; u64 foffset; u64 len; u64 flags; u64 moffset;
 * };
 * struct fuse_removemapping_in { u32 count; };                          // 4 bytes
 * struct fuse_removemapping_one { u64 moffset; u64 len; };              // 16 bytes × count
 */
import { Opcode } from '../abi.js';
import type { FuseCall } from '../call.js';
import { DecodeError, readHandleId } from '../codec.js';
import { op, type Core, type OpSpec } from './op-spec.js';

const SetupmappingIn = { fh: 0, foffset: 8, len: 16, flags: 24, moffset: 32, SIZE: 40 } as const;
const RemovemappingIn = { count: 0, SIZE: 4 } as const;
const RemovemappingOne = { moffset: 0, len: 8, SIZE: 16 } as const;
/** fuse_setupmapping_in.fh when the guest names no open handle (fs/fuse/dax.c sends -1). */
const NO_HANDLE = 0xffff_ffff_ffff_ffffn;
/** FUSE_REMOVEMAPPING_MAX_ENTRY: what fits in one page. */
const REMOVEMAPPING_MAX_ENTRY = 4096 / RemovemappingOne.SIZE;

async function setupmapping(core: Core, c: FuseCall): Promise<void> {
  const r = c.args();
  const off = r.struct(SetupmappingIn.SIZE, 'fuse_setupmapping_in');
  r.end();
  const b = c.buf;
  const flags = b.readBigUInt64LE(off + SetupmappingIn.flags);
  if (flags > 0xffffffffn) throw new DecodeError('setupmapping flags');
  await core.fs.setupmapping!(
    c,
    c.nodeid,
    // Linux's DAX code names no handle (fh = -1, all ones): the file system opens the inode.
    b.readBigUInt64LE(off + SetupmappingIn.fh) === NO_HANDLE ? undefined : readHandleId(b, off + SetupmappingIn.fh),
    b.readBigUInt64LE(off + SetupmappingIn.foffset),
    b.readBigUInt64LE(off + SetupmappingIn.len),
    Number(flags),
    b.readBigUInt64LE(off + SetupmappingIn.moffset),
  );
  c.ok();
}

async function removemapping(core: Core, c: FuseCall): Promise<void> {
  const r = c.args();
  const count = r.u32();
  // Never trust the count: it must match the records actually sent, within one page.
  if (count === 0 || count > REMOVEMAPPING_MAX_ENTRY) throw new DecodeError(`removemapping count ${count}`);
  const ranges: { moffset: bigint; len: bigint }[] = [];
  for (let i = 0; i < count; i++) {
    const o = r.struct(RemovemappingOne.SIZE, 'fuse_removemapping_one');
    ranges.push({ moffset: c.buf.readBigUInt64LE(o + RemovemappingOne.moffset), len: c.buf.readBigUInt64LE(o + RemovemappingOne.len) });
  }
  r.end();
  await core.fs.removemapping!(c, ranges);
  c.ok();
}

/** The rows of the opcode table (../opcodes.ts) this file serves. */
export const DAX_OPS: readonly OpSpec[] = [
  op(Opcode.SETUPMAPPING, 'setupmapping', SetupmappingIn.SIZE, 0, setupmapping),
  op(Opcode.REMOVEMAPPING, 'removemapping', RemovemappingIn.SIZE, 0, removemapping),
];
