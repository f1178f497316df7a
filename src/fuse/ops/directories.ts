/**
 * Open directories: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR, FSYNCDIR. READDIRPLUS hands the
 * guest a lookup reference per entry; the encoder (../dirents.ts) drops every one the guest does
 * not get, so the whole of its bookkeeping is in the core.
 *
 * Handlers run after the server's checks (session up, header length consistent, argsLen ≥
 * inSize, replyCapacity ≥ 16 + outSize). They decode with bounds checks, call the file system
 * once, and encode the reply; they throw on failure and the server turns the throw into the
 * errno reply. Between c.small() and c.send() there is never an await: the scratch buffer is
 * shared. Struct layouts are in ../abi.ts.
 */
import { FUSE_FSYNC_FDATASYNC, FsyncIn, Opcode, OpenIn, OpenOut, OutHeader, ReadIn, ReleaseIn } from '../abi.js';
import type { FuseCall } from '../call.js';
import { readHandleId } from '../codec.js';
import { DirentEncoder } from '../dirents.js';
import { encodeOpenOut } from '../reply.js';
import { type Core, type OpSpec, VARIABLE, op } from './op-spec.js';

async function opendir(core: Core, c: FuseCall): Promise<void> {
  const off = c.args().struct(OpenIn.SIZE, 'fuse_open_in');
  const reply = await core.fs.opendir(c, c.nodeid, c.buf.readUInt32LE(off + OpenIn.flags));
  const b = c.small(OpenOut.SIZE);
  encodeOpenOut(b, OutHeader.SIZE, reply);
  c.send(b, OpenOut.SIZE);
}

async function readdirCommon(core: Core, c: FuseCall, plus: boolean): Promise<void> {
  const b = c.buf;
  const off = c.args().struct(ReadIn.SIZE, 'fuse_read_in');
  const size = Math.min(b.readUInt32LE(off + ReadIn.size), core.maxRead, c.payloadCapacity);
  if (size === 0) {
    c.ok(); // nothing fits: an empty listing
    return;
  }
  // Per-request buffer: entries arrive across awaits, so the shared scratch cannot hold them.
  const out = Buffer.alloc(OutHeader.SIZE + size);
  const enc = new DirentEncoder(out, OutHeader.SIZE, size, plus, core.direntHooks);
  let failed = false;
  let failure: unknown;
  try {
    await core.fs.readdir(c, c.nodeid, readHandleId(b, off + ReadIn.fh), b.readBigUInt64LE(off + ReadIn.offset), plus, enc.sink);
  } catch (err) {
    failed = true;
    failure = err;
  } finally {
    enc.close();
  }
  if (failed) {
    // Entries already encoded carry lookup references (READDIRPLUS) the guest must see, so a
    // late failure is reported only when nothing was produced (as the Rust virtiofsd does).
    if (enc.count === 0) throw failure;
    core.logger.debug({ err: failure, entries: enc.count }, 'readdir failed after some entries; replying with those');
  }
  c.send(out, enc.used);
}

function readdir(core: Core, c: FuseCall): Promise<void> {
  return readdirCommon(core, c, false);
}

function readdirplus(core: Core, c: FuseCall): Promise<void> {
  return readdirCommon(core, c, true);
}

async function releasedir(core: Core, c: FuseCall): Promise<void> {
  const off = c.args().struct(ReleaseIn.SIZE, 'fuse_release_in');
  await core.fs.releasedir(c, c.nodeid, readHandleId(c.buf, off + ReleaseIn.fh));
  c.ok();
}

async function fsyncdir(core: Core, c: FuseCall): Promise<void> {
  const off = c.args().struct(FsyncIn.SIZE, 'fuse_fsync_in');
  const datasync = (c.buf.readUInt32LE(off + FsyncIn.fsyncFlags) & FUSE_FSYNC_FDATASYNC) !== 0;
  await core.fs.fsyncdir(c, c.nodeid, readHandleId(c.buf, off + FsyncIn.fh), datasync);
  c.ok();
}

/** The rows of the opcode table (../opcodes.ts) this file serves. */
export const DIRECTORY_OPS: readonly OpSpec[] = [
  op(Opcode.OPENDIR, 'opendir', OpenIn.SIZE, OpenOut.SIZE, opendir),
  op(Opcode.READDIR, 'readdir', ReadIn.SIZE, VARIABLE, readdir),
  op(Opcode.READDIRPLUS, 'readdir', ReadIn.SIZE, VARIABLE, readdirplus),
  op(Opcode.RELEASEDIR, 'releasedir', ReleaseIn.SIZE, 0, releasedir),
  op(Opcode.FSYNCDIR, 'fsyncdir', FsyncIn.SIZE, 0, fsyncdir),
];
