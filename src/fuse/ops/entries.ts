/**
 * Names and the inodes they lead to: LOOKUP, MKNOD, MKDIR, SYMLINK, LINK, UNLINK, RMDIR, RENAME,
 * RENAME2, READLINK — and the bookkeeping of every reply that hands the guest a lookup
 * reference (fuse_entry_out): a reference the guest does not receive is dropped here.
 *
 * Handlers run after the server's checks (session up, header length consistent, argsLen ≥
 * inSize, replyCapacity ≥ 16 + outSize). They decode with bounds checks, call the file system
 * once, and encode the reply; they throw on failure and the server turns the throw into the
 * errno reply. Between c.small() and c.send() there is never an await: the scratch buffer is
 * shared. Struct layouts are in ../abi.ts.
 */
import { E, ErrnoError } from '../../filesystem/errors.js';
import type { Entry } from '../../filesystem/filesystem.js';
import { EntryOut, LinkIn, MkdirIn, MknodIn, Opcode, OutHeader, RENAME_FLAGS_ALL, Rename2In, RenameIn } from '../abi.js';
import type { FuseCall } from '../call.js';
import { DecodeError, readNodeId } from '../codec.js';
import { readCreateExtensions } from '../extensions.js';
import { readName, readSymlinkTarget } from '../names.js';
import { encodeEntryOut } from '../reply.js';
import { type Core, type OpSpec, VARIABLE, op } from './op-spec.js';

export function dropEntry(core: Core, entry: Entry | undefined): void {
  if (entry && Number.isSafeInteger(entry.nodeid) && entry.nodeid > 0) core.forgetQuietly(entry.nodeid, 1n);
}

/** fuse_entry_out reply. If it cannot be sent, the lookup reference taken for it is dropped. */
export function replyEntry(core: Core, c: FuseCall, entry: Entry): void {
  const b = c.small(EntryOut.SIZE);
  try {
    encodeEntryOut(b, OutHeader.SIZE, entry);
  } catch (err) {
    dropEntry(core, entry);
    throw err;
  }
  if (!c.send(b, EntryOut.SIZE)) dropEntry(core, entry);
}

async function lookup(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // "name\0"
  const name = readName(r);
  r.end();
  replyEntry(core, c, await core.fs.lookup(c, c.nodeid, name));
}

function lookupSync(core: Core, c: FuseCall): boolean {
  if (core.fs.lookupSync === undefined) return false;
  const r = c.args(); // "name\0"
  const name = readName(r);
  r.end();
  const entry = core.fs.lookupSync(c, c.nodeid, name);
  if (entry === undefined) return false;
  replyEntry(core, c, entry);
  return true;
}

async function readlink(core: Core, c: FuseCall): Promise<void> {
  const target = await core.fs.readlink(c, c.nodeid);
  if (!Buffer.isBuffer(target)) throw new ErrnoError(E.EIO, 'readlink returned no Buffer');
  if (target.length > c.payloadCapacity) throw new ErrnoError(E.ERANGE, 'link target larger than the reply buffer');
  const b = c.small(target.length);
  target.copy(b, OutHeader.SIZE);
  c.send(b, target.length);
}

async function symlink(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // "name\0target\0", extensions
  const name = readName(r);
  const target = readSymlinkTarget(r);
  readCreateExtensions(r, c.extensions(), core.sessionFlags, c);
  replyEntry(core, c, await core.fs.symlink(c, c.nodeid, name, target));
}

async function mknod(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_mknod_in, "name\0", extensions
  const off = r.struct(MknodIn.SIZE, 'fuse_mknod_in');
  const name = readName(r);
  readCreateExtensions(r, c.extensions(), core.sessionFlags, c);
  const b = c.buf;
  replyEntry(
    core,
    c,
    await core.fs.mknod(c, c.nodeid, name, b.readUInt32LE(off + MknodIn.mode), b.readUInt32LE(off + MknodIn.rdev), b.readUInt32LE(off + MknodIn.umask)),
  );
}

async function mkdir(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_mkdir_in, "name\0", extensions
  const off = r.struct(MkdirIn.SIZE, 'fuse_mkdir_in');
  const name = readName(r);
  readCreateExtensions(r, c.extensions(), core.sessionFlags, c);
  const b = c.buf;
  replyEntry(core, c, await core.fs.mkdir(c, c.nodeid, name, b.readUInt32LE(off + MkdirIn.mode), b.readUInt32LE(off + MkdirIn.umask)));
}

async function unlink(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // "name\0"
  const name = readName(r);
  r.end();
  await core.fs.unlink(c, c.nodeid, name);
  c.ok();
}

async function rmdir(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // "name\0"
  const name = readName(r);
  r.end();
  await core.fs.rmdir(c, c.nodeid, name);
  c.ok();
}

async function rename(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_rename_in, "old\0new\0"
  const off = r.struct(RenameIn.SIZE, 'fuse_rename_in');
  const oldName = readName(r, 'old name');
  const newName = readName(r, 'new name');
  r.end();
  await core.fs.rename(c, c.nodeid, oldName, readNodeId(c.buf, off + RenameIn.newdir), newName, 0);
  c.ok();
}

async function rename2(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_rename2_in, "old\0new\0"
  const off = r.struct(Rename2In.SIZE, 'fuse_rename2_in');
  const oldName = readName(r, 'old name');
  const newName = readName(r, 'new name');
  r.end();
  const flags = c.buf.readUInt32LE(off + Rename2In.flags);
  // renameat2(2) answers EINVAL for unknown flags; do so before touching the file system.
  if ((flags & ~RENAME_FLAGS_ALL) !== 0) throw new DecodeError(`unknown rename flags 0x${flags.toString(16)}`);
  await core.fs.rename(c, c.nodeid, oldName, readNodeId(c.buf, off + Rename2In.newdir), newName, flags);
  c.ok();
}

async function link(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_link_in, "newname\0"; header nodeid is the new parent
  const off = r.struct(LinkIn.SIZE, 'fuse_link_in');
  const name = readName(r);
  r.end();
  replyEntry(core, c, await core.fs.link(c, readNodeId(c.buf, off + LinkIn.oldnodeid), c.nodeid, name));
}

/** The rows of the opcode table (../opcodes.ts) this file serves. */
export const ENTRY_OPS: readonly OpSpec[] = [
  op(Opcode.LOOKUP, 'lookup', 0, EntryOut.SIZE, lookup, { runSync: lookupSync }),
  op(Opcode.READLINK, 'readlink', 0, VARIABLE, readlink),
  op(Opcode.SYMLINK, 'symlink', 0, EntryOut.SIZE, symlink),
  op(Opcode.MKNOD, 'mknod', MknodIn.SIZE, EntryOut.SIZE, mknod),
  op(Opcode.MKDIR, 'mkdir', MkdirIn.SIZE, EntryOut.SIZE, mkdir),
  op(Opcode.UNLINK, 'unlink', 0, 0, unlink),
  op(Opcode.RMDIR, 'rmdir', 0, 0, rmdir),
  op(Opcode.RENAME, 'rename', RenameIn.SIZE, 0, rename),
  op(Opcode.RENAME2, 'rename', Rename2In.SIZE, 0, rename2),
  op(Opcode.LINK, 'link', LinkIn.SIZE, EntryOut.SIZE, link),
];
