/**
 * The opcode table: for each request the file system serves, the size of its fixed argument
 * struct, the size of its fixed reply, the FileSystem method it needs, and a handler that
 * decodes (bounds-checked), calls the file system once, and encodes the reply.
 *
 * Handlers run after the server's checks (session up, header length consistent, argsLen ≥
 * inSize, replyCapacity ≥ 16 + outSize). They throw on failure; the server turns the throw
 * into the errno reply. Between c.small() and c.send() there is never an await: the scratch
 * buffer is shared.
 *
 * INIT, DESTROY, FORGET, BATCH_FORGET and INTERRUPT change session state or never reply; the
 * server handles those itself.
 */
import { FATTR, type FileSystem, type ZeroCopyReader, type ZeroCopyWriter } from '../filesystem/filesystem.js';
import { E, ErrnoError } from '../filesystem/errors.js';
import type { FuseRequest } from './transport.js';
import type { Logger } from '../logger.js';
import type { FuseCall } from './call.js';
import {
  AccessIn,
  AttrOut,
  CopyFileRangeIn,
  FallocateIn,
  GetxattrIn,
  LkIn,
  LkOut,
  LseekIn,
  LseekOut,
  SetxattrIn,
  StatxIn,
  StatxOut,
  SyncfsIn,
  CreateIn,
  EntryOut,
  FlushIn,
  FsyncIn,
  FUSE_FSYNC_FDATASYNC,
  FUSE_GETATTR_FH,
  GetattrIn,
  LinkIn,
  MkdirIn,
  MknodIn,
  Opcode,
  OpenIn,
  OpenOut,
  OutHeader,
  ReadIn,
  ReleaseIn,
  Rename2In,
  RenameIn,
  RENAME_FLAGS_ALL,
  SetattrIn,
  StatfsOut,
  WRITE_DATA_OFFSET,
  WriteIn,
  WriteOut,
  OPCODE_TABLE_SIZE,
} from './abi.js';
import { DecodeError, readHandleId, readNodeId } from './codec.js';
import type { DirectIoTable } from './direct-io.js';
import { DirentEncoder, type DirentEncoderHooks } from './dirents.js';
import { abandonCreate, replyEntry } from './entries.js';
import { readCreateExtensions } from './extensions.js';
import * as ext from './handlers-ext.js';
import * as dax from './handlers-dax.js';
import { RemovemappingIn, SetupmappingIn } from './handlers-dax.js';
import { readName, readSymlinkTarget } from './names.js';
import { encodeAttrOut, encodeEntryOut, encodeOpenOut, encodeStatfsOut, encodeWriteOut } from './reply.js';

/** What handlers need from the server. */
export interface Core {
  readonly fs: FileSystem;
  /** The INIT flags of the session (0 before INIT). */
  readonly sessionFlags: bigint;
  /** Cap for READ and READDIR sizes (besides the guest's reply buffer). */
  readonly maxRead: number;
  /** Largest WRITE payload accepted (what INIT announced as max_write). */
  readonly maxWrite: number;
  readonly logger: Logger;
  /** Direct I/O grants of open handles, when the transport serves them (direct-io.ts). */
  readonly directIo: DirectIoTable | undefined;
  /** Drops lookup references the guest will never learn about; never throws. */
  forgetQuietly(nodeid: number, count: bigint): void;
  readonly direntHooks: DirentEncoderHooks;
}

export interface OpSpec {
  readonly opcode: number;
  /** Bytes of fixed argument struct that must follow fuse_in_header. */
  readonly inSize: number;
  /** Bytes of fixed reply payload (checked against replyCapacity up front), or -1: variable. */
  readonly outSize: number;
  /** The FileSystem method the handler calls; ENOSYS when the file system lacks it. */
  readonly method: keyof FileSystem;
  /** Whether the handler reads the whole request from `buf` (false: WRITE, data via transport). */
  readonly wholeRequest: boolean;
  readonly run: (core: Core, c: FuseCall) => Promise<void>;
  /**
   * A synchronous form of `run` for the hot metadata requests: true once it answered, false —
   * before doing anything — when the file system cannot serve it synchronously now (the server
   * then calls `run`). Throws like `run`.
   */
  readonly runSync: ((core: Core, c: FuseCall) => boolean) | undefined;
}

// ---------------------------------------------------------------------------------------------
// Zero-copy adapters: file data moves between a descriptor and the guest's buffers inside the
// transport; these only track positions and clamp lengths so the file system cannot touch bytes
// outside the request's payload or the reply's data area.

/** READ: data goes to reply bytes [16, 16 + capacity). */
export class ReplyDataWriter implements ZeroCopyWriter {
  written = 0;
  private busy = false;
  private closed = false;
  constructor(
    private readonly req: FuseRequest,
    private readonly capacity: number,
  ) {}

  async writeFromFile(fd: number, offset: bigint, len: number): Promise<number> {
    if (this.closed) throw new ErrnoError(E.EIO, 'writeFromFile after the request completed');
    if (this.busy) throw new ErrnoError(E.EINVAL, 'concurrent writeFromFile on one request');
    const want = Math.min(Math.max(0, Math.floor(len)), this.capacity - this.written);
    if (want <= 0) return 0;
    this.busy = true;
    try {
      const n = await this.req.readFileIntoReply(fd, OutHeader.SIZE + this.written, want, offset);
      const got = Number.isInteger(n) && n > 0 ? Math.min(n, want) : 0;
      this.written += got;
      return got;
    } finally {
      this.busy = false;
    }
  }

  close(): void {
    this.closed = true;
  }
}

/** WRITE: data comes from request bytes [80, 80 + size). */
export class RequestDataReader implements ZeroCopyReader {
  consumed = 0;
  private busy = false;
  private closed = false;
  constructor(
    private readonly req: FuseRequest,
    private readonly size: number,
  ) {}

  /** Payload bytes not yet written. */
  get length(): number {
    return this.size - this.consumed;
  }

  async readToFile(fd: number, offset: bigint, len: number): Promise<number> {
    if (this.closed) throw new ErrnoError(E.EIO, 'readToFile after the request completed');
    if (this.busy) throw new ErrnoError(E.EINVAL, 'concurrent readToFile on one request');
    const want = Math.min(Math.max(0, Math.floor(len)), this.size - this.consumed);
    if (want <= 0) return 0;
    this.busy = true;
    try {
      const n = await this.req.writeInputToFile(fd, WRITE_DATA_OFFSET + this.consumed, want, offset);
      const got = Number.isInteger(n) && n > 0 ? Math.min(n, want) : 0;
      this.consumed += got;
      return got;
    } finally {
      this.busy = false;
    }
  }

  close(): void {
    this.closed = true;
  }
}

// ---------------------------------------------------------------------------------------------
// Handlers. Layout comments are in abi.ts; each handler names the struct it reads.

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

async function open(core: Core, c: FuseCall): Promise<void> {
  const off = c.args().struct(OpenIn.SIZE, 'fuse_open_in');
  // The guest's open(2) flags go through untouched; the file system strips O_CREAT etc.
  const reply = await core.fs.open(c, c.nodeid, c.buf.readUInt32LE(off + OpenIn.flags), c.buf.readUInt32LE(off + OpenIn.openFlags));
  const b = c.small(OpenOut.SIZE);
  encodeOpenOut(b, OutHeader.SIZE, reply);
  if (c.send(b, OpenOut.SIZE)) core.directIo?.grant(c.nodeid, reply.fh, reply.directIo);
}

async function opendir(core: Core, c: FuseCall): Promise<void> {
  const off = c.args().struct(OpenIn.SIZE, 'fuse_open_in');
  const reply = await core.fs.opendir(c, c.nodeid, c.buf.readUInt32LE(off + OpenIn.flags));
  const b = c.small(OpenOut.SIZE);
  encodeOpenOut(b, OutHeader.SIZE, reply);
  c.send(b, OpenOut.SIZE);
}

async function create(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_create_in, "name\0", extensions
  const off = r.struct(CreateIn.SIZE, 'fuse_create_in');
  const name = readName(r);
  readCreateExtensions(r, c.extensions(), core.sessionFlags, c);
  const b = c.buf;
  const flags = b.readUInt32LE(off + CreateIn.flags);
  const reply = await core.fs.create(
    c,
    c.nodeid,
    name,
    b.readUInt32LE(off + CreateIn.mode),
    flags,
    b.readUInt32LE(off + CreateIn.umask),
    b.readUInt32LE(off + CreateIn.openFlags),
  );
  // fuse_entry_out followed by fuse_open_out.
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

async function read(core: Core, c: FuseCall): Promise<void> {
  const b = c.buf;
  const off = c.args().struct(ReadIn.SIZE, 'fuse_read_in');
  const size = Math.min(b.readUInt32LE(off + ReadIn.size), core.maxRead, c.payloadCapacity);
  const out = new ReplyDataWriter(c.req, size);
  try {
    await core.fs.read(c, c.nodeid, readHandleId(b, off + ReadIn.fh), b.readBigUInt64LE(off + ReadIn.offset), size, out);
  } finally {
    out.close();
  }
  // The reply length is what actually reached the reply buffer, whatever the file system said.
  c.sendFileData(out.written);
}

async function write(core: Core, c: FuseCall): Promise<void> {
  const b = c.buf;
  const off = c.args().struct(WriteIn.SIZE, 'fuse_write_in');
  const size = b.readUInt32LE(off + WriteIn.size);
  const available = c.argsLen - WriteIn.SIZE;
  if (size > available) throw new DecodeError(`WRITE size ${size} exceeds the ${available} payload bytes sent`);
  if (size > core.maxWrite) throw new DecodeError(`WRITE size ${size} exceeds max_write ${core.maxWrite}`);
  const data = new RequestDataReader(c.req, size);
  let n: number;
  try {
    n = await core.fs.write(c, c.nodeid, readHandleId(b, off + WriteIn.fh), b.readBigUInt64LE(off + WriteIn.offset), data, b.readUInt32LE(off + WriteIn.writeFlags));
  } finally {
    data.close();
  }
  const count = Number.isInteger(n) && n > 0 ? Math.min(n, size) : 0;
  const out = c.small(WriteOut.SIZE);
  encodeWriteOut(out, OutHeader.SIZE, count);
  c.send(out, WriteOut.SIZE);
}

async function flush(core: Core, c: FuseCall): Promise<void> {
  const off = c.args().struct(FlushIn.SIZE, 'fuse_flush_in');
  await core.fs.flush(c, c.nodeid, readHandleId(c.buf, off + FlushIn.fh), c.buf.readBigUInt64LE(off + FlushIn.lockOwner));
  c.ok();
}

async function release(core: Core, c: FuseCall): Promise<void> {
  const off = c.args().struct(ReleaseIn.SIZE, 'fuse_release_in');
  const b = c.buf;
  const fh = readHandleId(b, off + ReleaseIn.fh);
  // Before the file system may close the descriptor: no READ/WRITE is served on it natively.
  core.directIo?.revoke(fh, c.nodeid);
  await core.fs.release(
    c,
    c.nodeid,
    fh,
    b.readUInt32LE(off + ReleaseIn.flags),
    b.readUInt32LE(off + ReleaseIn.releaseFlags),
    b.readBigUInt64LE(off + ReleaseIn.lockOwner),
  );
  c.ok();
}

async function releasedir(core: Core, c: FuseCall): Promise<void> {
  const off = c.args().struct(ReleaseIn.SIZE, 'fuse_release_in');
  await core.fs.releasedir(c, c.nodeid, readHandleId(c.buf, off + ReleaseIn.fh));
  c.ok();
}

async function fsync(core: Core, c: FuseCall): Promise<void> {
  const off = c.args().struct(FsyncIn.SIZE, 'fuse_fsync_in');
  const datasync = (c.buf.readUInt32LE(off + FsyncIn.fsyncFlags) & FUSE_FSYNC_FDATASYNC) !== 0;
  await core.fs.fsync(c, c.nodeid, readHandleId(c.buf, off + FsyncIn.fh), datasync);
  c.ok();
}

async function fsyncdir(core: Core, c: FuseCall): Promise<void> {
  const off = c.args().struct(FsyncIn.SIZE, 'fuse_fsync_in');
  const datasync = (c.buf.readUInt32LE(off + FsyncIn.fsyncFlags) & FUSE_FSYNC_FDATASYNC) !== 0;
  await core.fs.fsyncdir(c, c.nodeid, readHandleId(c.buf, off + FsyncIn.fh), datasync);
  c.ok();
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

// ---------------------------------------------------------------------------------------------
// The table

const table: (OpSpec | undefined)[] = new Array(OPCODE_TABLE_SIZE).fill(undefined);

function def(
  opcode: number,
  method: keyof FileSystem,
  inSize: number,
  outSize: number,
  run: (core: Core, c: FuseCall) => Promise<void>,
  wholeRequest = true,
  runSync?: (core: Core, c: FuseCall) => boolean,
): void {
  table[opcode] = { opcode, method, inSize, outSize, run, wholeRequest, runSync };
}

const VARIABLE = -1;
def(Opcode.LOOKUP, 'lookup', 0, EntryOut.SIZE, lookup, true, lookupSync);
def(Opcode.GETATTR, 'getattr', GetattrIn.SIZE, AttrOut.SIZE, getattr, true, getattrSync);
def(Opcode.SETATTR, 'setattr', SetattrIn.SIZE, AttrOut.SIZE, setattr);
def(Opcode.READLINK, 'readlink', 0, VARIABLE, readlink);
def(Opcode.SYMLINK, 'symlink', 0, EntryOut.SIZE, symlink);
def(Opcode.MKNOD, 'mknod', MknodIn.SIZE, EntryOut.SIZE, mknod);
def(Opcode.MKDIR, 'mkdir', MkdirIn.SIZE, EntryOut.SIZE, mkdir);
def(Opcode.UNLINK, 'unlink', 0, 0, unlink);
def(Opcode.RMDIR, 'rmdir', 0, 0, rmdir);
def(Opcode.RENAME, 'rename', RenameIn.SIZE, 0, rename);
def(Opcode.RENAME2, 'rename', Rename2In.SIZE, 0, rename2);
def(Opcode.LINK, 'link', LinkIn.SIZE, EntryOut.SIZE, link);
def(Opcode.OPEN, 'open', OpenIn.SIZE, OpenOut.SIZE, open);
def(Opcode.CREATE, 'create', CreateIn.SIZE, EntryOut.SIZE + OpenOut.SIZE, create);
def(Opcode.READ, 'read', ReadIn.SIZE, VARIABLE, read);
def(Opcode.WRITE, 'write', WriteIn.SIZE, WriteOut.SIZE, write, false);
def(Opcode.FLUSH, 'flush', FlushIn.SIZE, 0, flush);
def(Opcode.RELEASE, 'release', ReleaseIn.SIZE, 0, release);
def(Opcode.FSYNC, 'fsync', FsyncIn.SIZE, 0, fsync);
def(Opcode.OPENDIR, 'opendir', OpenIn.SIZE, OpenOut.SIZE, opendir);
def(Opcode.READDIR, 'readdir', ReadIn.SIZE, VARIABLE, readdir);
def(Opcode.READDIRPLUS, 'readdir', ReadIn.SIZE, VARIABLE, readdirplus);
def(Opcode.RELEASEDIR, 'releasedir', ReleaseIn.SIZE, 0, releasedir);
def(Opcode.FSYNCDIR, 'fsyncdir', FsyncIn.SIZE, 0, fsyncdir);
def(Opcode.STATFS, 'statfs', 0, StatfsOut.SIZE, statfs);
def(Opcode.ACCESS, 'access', AccessIn.SIZE, 0, access);
def(Opcode.SETXATTR, 'setxattr', SetxattrIn.COMPAT_SIZE, 0, ext.setxattr);
def(Opcode.GETXATTR, 'getxattr', GetxattrIn.SIZE, VARIABLE, ext.getxattr);
def(Opcode.LISTXATTR, 'listxattr', GetxattrIn.SIZE, VARIABLE, ext.listxattr);
def(Opcode.REMOVEXATTR, 'removexattr', 0, 0, ext.removexattr);
def(Opcode.GETLK, 'getlk', LkIn.SIZE, LkOut.SIZE, ext.getlk);
def(Opcode.SETLK, 'setlk', LkIn.SIZE, 0, ext.setlk);
def(Opcode.SETLKW, 'setlk', LkIn.SIZE, 0, ext.setlkw);
def(Opcode.FALLOCATE, 'fallocate', FallocateIn.SIZE, 0, ext.fallocate);
def(Opcode.LSEEK, 'lseek', LseekIn.SIZE, LseekOut.SIZE, ext.lseek);
def(Opcode.COPY_FILE_RANGE, 'copyFileRange', CopyFileRangeIn.SIZE, WriteOut.SIZE, ext.copyFileRange);
def(Opcode.SYNCFS, 'syncfs', SyncfsIn.SIZE, 0, ext.syncfs);
def(Opcode.TMPFILE, 'tmpfile', CreateIn.SIZE, EntryOut.SIZE + OpenOut.SIZE, ext.tmpfile);
def(Opcode.STATX, 'statx', StatxIn.SIZE, StatxOut.SIZE, ext.statx);
def(Opcode.SETUPMAPPING, 'setupmapping', SetupmappingIn.SIZE, 0, dax.setupmapping);
def(Opcode.REMOVEMAPPING, 'removemapping', RemovemappingIn.SIZE, 0, dax.removemapping);

/** Opcode-indexed; undefined = not served here (ENOSYS, or handled by the server itself). */
export const OPS: readonly (OpSpec | undefined)[] = table;
