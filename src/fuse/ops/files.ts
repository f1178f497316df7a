/**
 * Open files: OPEN, CREATE, TMPFILE, READ, WRITE, FLUSH, RELEASE, FSYNC, FALLOCATE, LSEEK,
 * COPY_FILE_RANGE, SYNCFS. File data never passes through JavaScript: the zero-copy adapters
 * below let the file system move it between a descriptor and the guest's buffers inside the
 * transport, clamped to the request's payload and the reply's data area. Direct I/O grants
 * (../direct-io.ts) are registered after a successful OPEN/CREATE/TMPFILE reply and withdrawn
 * before RELEASE reaches the file system.
 *
 * Handlers run after the server's checks (session up, header length consistent, argsLen ≥
 * inSize, replyCapacity ≥ 16 + outSize). They decode with bounds checks, call the file system
 * once, and encode the reply; they throw on failure and the server turns the throw into the
 * errno reply. Between c.small() and c.send() there is never an await: the scratch buffer is
 * shared. Struct layouts are in ../abi.ts.
 */
import { E, ErrnoError } from '../../filesystem/errors.js';
import type { CreateReply, Entry, ZeroCopyReader, ZeroCopyWriter } from '../../filesystem/filesystem.js';
import { CopyFileRangeIn, CreateIn, EntryOut, FUSE_FSYNC_FDATASYNC, FallocateIn, FlushIn, FsyncIn, LseekIn, LseekOut, OFFSET_MAX, Opcode, OpenIn, OpenOut, OutHeader, ReadIn, ReleaseIn, SyncfsIn, WRITE_DATA_OFFSET, WriteIn, WriteOut } from '../abi.js';
import type { FuseCall } from '../call.js';
import { DecodeError, readHandleId, readNodeId, writeU64Big } from '../codec.js';
import { readCreateExtensions } from '../extensions.js';
import { readName } from '../names.js';
import { encodeEntryOut, encodeOpenOut, encodeWriteOut } from '../reply.js';
import type { FuseRequest } from '../transport.js';
import { dropEntry } from './entries.js';
import { type Core, type OpSpec, VARIABLE, op } from './op-spec.js';

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

/** The guest never saw a CREATE / TMPFILE result: release its handle and drop its lookup reference. */
export function abandonCreate(core: Core, c: FuseCall, entry: Entry, fh: number): void {
  if (Number.isSafeInteger(fh) && fh >= 0 && Number.isSafeInteger(entry?.nodeid)) {
    core.fs.release(c, entry.nodeid, fh, 0).catch((err: unknown) => core.logger.warn({ err }, 'release of an abandoned CREATE failed'));
  }
  dropEntry(core, entry);
}

async function open(core: Core, c: FuseCall): Promise<void> {
  const off = c.args().struct(OpenIn.SIZE, 'fuse_open_in');
  // The guest's open(2) flags go through untouched; the file system strips O_CREAT etc.
  const reply = await core.fs.open(c, c.nodeid, c.buf.readUInt32LE(off + OpenIn.flags), c.buf.readUInt32LE(off + OpenIn.openFlags));
  const b = c.small(OpenOut.SIZE);
  encodeOpenOut(b, OutHeader.SIZE, reply);
  if (c.send(b, OpenOut.SIZE)) core.directIo?.grant(c.nodeid, reply.fh, reply.directIo);
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
  replyCreated(core, c, reply);
}

/**
 * CREATE / TMPFILE reply: fuse_entry_out followed by fuse_open_out. A reply the guest does not get
 * takes its lookup reference and open handle back (abandonCreate); one it gets registers the
 * handle's direct I/O grant.
 */
function replyCreated(core: Core, c: FuseCall, reply: CreateReply): void {
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

async function tmpfile(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_create_in, "name\0" (the VFS sends "/" for an O_TMPFILE dentry), extensions
  const off = r.struct(CreateIn.SIZE, 'fuse_create_in');
  r.cstring('tmpfile name'); // not a name in the directory: nothing to validate or use
  readCreateExtensions(r, c.extensions(), core.sessionFlags, c);
  const b = c.buf;
  const reply = await core.fs.tmpfile!(c, c.nodeid, b.readUInt32LE(off + CreateIn.mode), b.readUInt32LE(off + CreateIn.flags), b.readUInt32LE(off + CreateIn.umask));
  replyCreated(core, c, reply);
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

async function fsync(core: Core, c: FuseCall): Promise<void> {
  const off = c.args().struct(FsyncIn.SIZE, 'fuse_fsync_in');
  const datasync = (c.buf.readUInt32LE(off + FsyncIn.fsyncFlags) & FUSE_FSYNC_FDATASYNC) !== 0;
  await core.fs.fsync(c, c.nodeid, readHandleId(c.buf, off + FsyncIn.fh), datasync);
  c.ok();
}

async function fallocate(core: Core, c: FuseCall): Promise<void> {
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

async function lseek(core: Core, c: FuseCall): Promise<void> {
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

async function copyFileRange(core: Core, c: FuseCall): Promise<void> {
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

async function syncfs(core: Core, c: FuseCall): Promise<void> {
  const r = c.args(); // fuse_syncfs_in
  r.struct(8, 'fuse_syncfs_in');
  r.end();
  await core.fs.syncfs!(c, c.nodeid);
  c.ok();
}

/** The rows of the opcode table (../opcodes.ts) this file serves. */
export const FILE_OPS: readonly OpSpec[] = [
  op(Opcode.OPEN, 'open', OpenIn.SIZE, OpenOut.SIZE, open),
  op(Opcode.CREATE, 'create', CreateIn.SIZE, EntryOut.SIZE + OpenOut.SIZE, create),
  op(Opcode.TMPFILE, 'tmpfile', CreateIn.SIZE, EntryOut.SIZE + OpenOut.SIZE, tmpfile),
  op(Opcode.READ, 'read', ReadIn.SIZE, VARIABLE, read),
  // The payload stays in guest memory (the transport writes it to the file): only the header
  // and fuse_write_in are read from the staged bytes.
  op(Opcode.WRITE, 'write', WriteIn.SIZE, WriteOut.SIZE, write, { wholeRequest: false }),
  op(Opcode.FLUSH, 'flush', FlushIn.SIZE, 0, flush),
  op(Opcode.RELEASE, 'release', ReleaseIn.SIZE, 0, release),
  op(Opcode.FSYNC, 'fsync', FsyncIn.SIZE, 0, fsync),
  op(Opcode.FALLOCATE, 'fallocate', FallocateIn.SIZE, 0, fallocate),
  op(Opcode.LSEEK, 'lseek', LseekIn.SIZE, LseekOut.SIZE, lseek),
  op(Opcode.COPY_FILE_RANGE, 'copyFileRange', CopyFileRangeIn.SIZE, WriteOut.SIZE, copyFileRange),
  op(Opcode.SYNCFS, 'syncfs', SyncfsIn.SIZE, 0, syncfs),
];
