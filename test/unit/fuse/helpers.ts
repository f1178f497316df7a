/**
 * Test helpers for the FUSE core: build real request bytes, a fake FuseRequest that captures the
 * reply (and checks the core never overflows the guest's buffers), and an in-memory FileSystem.
 */
import type {
  CreateReply,
  DirEntrySink,
  Entry,
  FileSystem,
  OpenReply,
  RequestContext,
  SessionInfo,
  SetattrRequest,
  StatfsReply,
  ZeroCopyReader,
  ZeroCopyWriter,
} from '../../../src/filesystem/filesystem.js';
import { E, ErrnoError } from '../../../src/filesystem/errors.js';
import type { FuseRequest } from '../../../src/fuse/transport.js';
import { FuseServer, type FuseServerOptions } from '../../../src/fuse/server.js';
import { InitFlag, Opcode } from '../../../src/fuse/abi.js';

// ---------------------------------------------------------------------------------------------
// Request bytes

export function cstr(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  return Buffer.concat([b, Buffer.alloc(1)]);
}

export function u32s(...vals: number[]): Buffer {
  const b = Buffer.alloc(vals.length * 4);
  vals.forEach((v, i) => b.writeUInt32LE(v >>> 0, i * 4));
  return b;
}

export function u64(v: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)));
  return b;
}

export interface Header {
  opcode: number;
  unique?: bigint | number;
  nodeid?: bigint | number;
  uid?: number;
  gid?: number;
  pid?: number;
  extlen?: number;
  /** Override fuse_in_header.len (default: the real length). */
  len?: number;
}

let nextUnique = 1000n;

/** fuse_in_header + body. */
export function request(h: Header, ...body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  const hdr = Buffer.alloc(40);
  const len = 40 + payload.length;
  hdr.writeUInt32LE(h.len ?? len, 0);
  hdr.writeUInt32LE(h.opcode, 4);
  hdr.writeBigUInt64LE(BigInt(h.unique ?? nextUnique++), 8);
  hdr.writeBigUInt64LE(BigInt.asUintN(64, BigInt(h.nodeid ?? 1)), 16);
  hdr.writeUInt32LE(h.uid ?? 1000, 24);
  hdr.writeUInt32LE(h.gid ?? 1000, 28);
  hdr.writeUInt32LE(h.pid ?? 4242, 32);
  hdr.writeUInt16LE(h.extlen ?? 0, 36);
  return Buffer.concat([hdr, payload]);
}

export function initIn(o: { major?: number; minor?: number; readahead?: number; flags?: bigint; ext?: boolean } = {}): Buffer {
  const flags = o.flags ?? DEFAULT_GUEST_FLAGS;
  const ext = o.ext ?? (flags & InitFlag.INIT_EXT) !== 0n;
  const b = Buffer.alloc(ext ? 64 : 16);
  b.writeUInt32LE(o.major ?? 7, 0);
  b.writeUInt32LE(o.minor ?? 38, 4);
  b.writeUInt32LE(o.readahead ?? 131072, 8);
  b.writeUInt32LE(Number(flags & 0xffffffffn), 12);
  if (ext) b.writeUInt32LE(Number((flags >> 32n) & 0xffffffffn), 16);
  return b;
}

/** Everything a Linux 6.x guest offers (roughly), including bits we must not accept. */
export const DEFAULT_GUEST_FLAGS: bigint = (() => {
  let f = 0n;
  for (const v of Object.values(InitFlag)) f |= v;
  return f & ~InitFlag.INIT_RESERVED;
})();

/** fuse_read_in (also READDIR/READDIRPLUS). */
export function readIn(fh: number, offset: bigint | number, size: number): Buffer {
  return Buffer.concat([u64(fh), u64(offset), u32s(size, 0), u64(0), u32s(0, 0)]);
}

/** fuse_write_in followed by data. */
export function writeIn(fh: number, offset: bigint | number, data: Buffer, size = data.length, writeFlags = 0): Buffer {
  return Buffer.concat([u64(fh), u64(offset), u32s(size, writeFlags), u64(0), u32s(0, 0), data]);
}

// ---------------------------------------------------------------------------------------------
// Fake transport

/** Fake host descriptors: fd → file contents. Shared by MemFs and FakeRequest. */
export class FakeFiles {
  private readonly files = new Map<number, Buffer>();
  private next = 100;
  create(data: Buffer = Buffer.alloc(0)): number {
    const fd = this.next++;
    this.files.set(fd, Buffer.from(data));
    return fd;
  }
  get(fd: number): Buffer {
    const f = this.files.get(fd);
    if (!f) throw new ErrnoError(E.EBADF, `fake fd ${fd}`);
    return f;
  }
  set(fd: number, data: Buffer): void {
    this.files.set(fd, data);
  }
  delete(fd: number): void {
    this.files.delete(fd);
  }
}

export type Outcome =
  | { kind: 'reply'; len: number; error: number; unique: bigint; payload: Buffer; bytes: Buffer }
  | { kind: 'none' };

export interface FakeRequestOptions {
  replyCapacity?: number;
  /** Bytes staged in `input` (default: all). */
  staged?: number;
  /** Override totalLength (default: bytes.length). */
  totalLength?: number;
  files?: FakeFiles;
}

export class FakeRequest implements FuseRequest {
  readonly input: Buffer;
  readonly inputOffset = 7; // deliberately not 0
  readonly inputLength: number;
  readonly totalLength: number;
  readonly replyCapacity: number;
  private replyBytes: Buffer | undefined;
  /** Core contract violations seen (overflow, double answer, out-of-range input access). */
  readonly violations: string[] = [];
  answered = 0;
  readonly outcome: Promise<Outcome>;
  private resolve!: (o: Outcome) => void;
  private readonly files: FakeFiles;

  constructor(
    private readonly bytes: Buffer,
    opts: FakeRequestOptions = {},
  ) {
    this.totalLength = opts.totalLength ?? bytes.length;
    this.inputLength = Math.min(opts.staged ?? bytes.length, bytes.length);
    // Surround the staged bytes with 0xEE so reading outside the window shows up.
    this.input = Buffer.alloc(this.inputOffset + this.inputLength + 64, 0xee);
    bytes.copy(this.input, this.inputOffset, 0, this.inputLength);
    this.replyCapacity = opts.replyCapacity ?? 1 << 20;
    this.files = opts.files ?? new FakeFiles();
    this.outcome = new Promise((r) => (this.resolve = r));
  }

  /** The guest's reply buffers, allocated on first use (filled with 0xCC: garbage). */
  get replyBuf(): Buffer {
    return (this.replyBytes ??= Buffer.alloc(Math.max(0, this.replyCapacity), 0xcc));
  }

  readInput(from: number, dst: Buffer, dstOffset: number, len: number): number {
    if (from < 0 || len < 0) this.violations.push(`readInput(${from}, ${len})`);
    const end = Math.min(this.totalLength, this.bytes.length, from + len);
    if (end <= from) return 0;
    return this.bytes.copy(dst, dstOffset, from, end);
  }

  async writeInputToFile(fd: number, from: number, len: number, offset: bigint): Promise<number> {
    if (from < 0 || from + len > this.totalLength) this.violations.push(`writeInputToFile beyond the request: ${from}+${len}`);
    const file = this.files.get(fd);
    const off = Number(offset);
    const data = this.bytes.subarray(from, from + len);
    const grown = off + data.length > file.length ? Buffer.concat([file, Buffer.alloc(off + data.length - file.length)]) : file;
    data.copy(grown, off);
    this.files.set(fd, grown);
    return data.length;
  }

  async readFileIntoReply(fd: number, replyOffset: number, len: number, offset: bigint): Promise<number> {
    if (replyOffset < 16 || replyOffset + len > this.replyCapacity) {
      this.violations.push(`readFileIntoReply overflow: ${replyOffset}+${len} > ${this.replyCapacity}`);
      throw new ErrnoError(E.EFAULT);
    }
    const file = this.files.get(fd);
    const off = Number(offset);
    if (off >= file.length) return 0;
    return file.copy(this.replyBuf, replyOffset, off, Math.min(file.length, off + len));
  }

  reply(buf: Buffer, off: number, len: number, total: number): void {
    if (++this.answered > 1) this.violations.push('answered twice');
    if (total > this.replyCapacity || len > total) this.violations.push(`reply overflow: len ${len} total ${total} cap ${this.replyCapacity}`);
    buf.copy(this.replyBuf, 0, off, off + Math.min(len, this.replyCapacity));
    const bytes = Buffer.from(this.replyBuf.subarray(0, Math.min(total, this.replyCapacity)));
    const hdrLen = bytes.readUInt32LE(0);
    if (hdrLen !== total) this.violations.push(`out header len ${hdrLen} != total ${total}`);
    this.resolve({
      kind: 'reply',
      len: hdrLen,
      error: bytes.readInt32LE(4),
      unique: bytes.readBigUInt64LE(8),
      payload: bytes.subarray(16),
      bytes,
    });
  }

  noReply(): void {
    if (++this.answered > 1) this.violations.push('answered twice');
    this.resolve({ kind: 'none' });
  }
}

// ---------------------------------------------------------------------------------------------
// In-memory FileSystem

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

interface Node {
  nodeid: number;
  mode: number;
  fd: number; // file data (regular files)
  target?: Buffer;
  children: Map<string, number>;
  lookups: number;
  nlink: number;
}

export type Call = [method: string, ...args: unknown[]];

/** A tiny in-memory file system that records each call. */
export class MemFs implements FileSystem {
  readonly calls: Call[] = [];
  readonly nodes = new Map<number, Node>();
  readonly handles = new Map<number, number>(); // fh → nodeid
  readonly forgets: Array<[number, bigint]> = [];
  initMask = (1n << 64n) - 1n;
  session: SessionInfo | undefined;
  destroyed = 0;
  private nextId = 2;
  private nextFh = 10;
  entryTimeout = 1.5;
  attrTimeout = 2.25;
  /** When set, the next call to this method waits for `gate` to resolve. */
  hold: { method: string; gate: Promise<void> } | undefined;
  lastCtx: RequestContext | undefined;

  constructor(readonly files: FakeFiles = new FakeFiles()) {
    this.reset();
  }

  private reset(): void {
    this.nodes.clear();
    this.handles.clear();
    this.nodes.set(1, { nodeid: 1, mode: S_IFDIR | 0o755, fd: -1, children: new Map(), lookups: 2, nlink: 2 });
  }

  private async enter(method: string, ...args: unknown[]): Promise<void> {
    this.calls.push([method, ...args]);
    if (this.hold?.method === method) {
      const gate = this.hold.gate;
      this.hold = undefined;
      await gate;
    }
  }

  node(nodeid: number): Node {
    const n = this.nodes.get(nodeid);
    if (!n) throw new ErrnoError(E.ENOENT, `nodeid ${nodeid}`);
    return n;
  }

  attr(n: Node): Buffer {
    const a = Buffer.alloc(104);
    a.writeBigUInt64LE(BigInt(n.nodeid + 1000), 0); // ino
    const size = n.fd >= 0 ? this.files.get(n.fd).length : n.target ? n.target.length : 4096;
    a.writeBigUInt64LE(BigInt(size), 8);
    a.writeBigUInt64LE(1700000000n, 32); // mtime
    a.writeUInt32LE(n.mode, 60);
    a.writeUInt32LE(n.nlink, 64);
    a.writeUInt32LE(1000, 68);
    a.writeUInt32LE(1000, 72);
    a.writeUInt32LE(4096, 80);
    a.writeBigUInt64LE(0xdeadbeefn, 88); // dev: must not be sent
    return a;
  }

  entry(n: Node): Entry {
    n.lookups++;
    return { nodeid: n.nodeid, generation: 7, attr: this.attr(n), entryTimeout: this.entryTimeout, attrTimeout: this.attrTimeout };
  }

  private add(parent: number, name: Buffer, mode: number, target?: Buffer): Node {
    const p = this.node(parent);
    const key = name.toString('latin1');
    if (p.children.has(key)) throw new ErrnoError(E.EEXIST);
    const n: Node = {
      nodeid: this.nextId++,
      mode,
      fd: (mode & 0o170000) === S_IFREG ? this.files.create() : -1,
      target,
      children: new Map(),
      lookups: 0,
      nlink: 1,
    };
    this.nodes.set(n.nodeid, n);
    p.children.set(key, n.nodeid);
    return n;
  }

  /** Test setup: adds a file with contents under `parent`. */
  addFile(parent: number, name: string, data: Buffer | string): number {
    const n = this.add(parent, Buffer.from(name), S_IFREG | 0o644);
    this.files.set(n.fd, Buffer.from(data));
    return n.nodeid;
  }

  addDir(parent: number, name: string): number {
    return this.add(parent, Buffer.from(name), S_IFDIR | 0o755).nodeid;
  }

  async init(session: SessionInfo): Promise<bigint> {
    await this.enter('init', session);
    this.session = session;
    return this.initMask;
  }

  async destroy(): Promise<void> {
    await this.enter('destroy');
    this.destroyed++;
    this.reset();
  }

  async lookup(ctx: RequestContext, parent: number, name: Buffer): Promise<Entry> {
    this.lastCtx = ctx;
    await this.enter('lookup', parent, name.toString('latin1'));
    const id = this.node(parent).children.get(name.toString('latin1'));
    if (id === undefined) throw new ErrnoError(E.ENOENT);
    return this.entry(this.node(id));
  }

  forget(nodeid: number, count: bigint): void {
    this.calls.push(['forget', nodeid, count]);
    this.forgets.push([nodeid, count]);
    const n = this.nodes.get(nodeid);
    if (n) n.lookups = Math.max(0, n.lookups - Number(count));
  }

  async getattr(_ctx: RequestContext, nodeid: number, fh: number | undefined) {
    await this.enter('getattr', nodeid, fh);
    return { attr: this.attr(this.node(nodeid)), attrTimeout: this.attrTimeout };
  }

  async setattr(_ctx: RequestContext, nodeid: number, req: SetattrRequest) {
    await this.enter('setattr', nodeid, req);
    const n = this.node(nodeid);
    if (req.valid & 1) n.mode = (n.mode & 0o170000) | (req.mode & 0o7777);
    if (req.valid & 8 && n.fd >= 0) {
      const f = this.files.get(n.fd);
      const size = Number(req.size);
      this.files.set(n.fd, size <= f.length ? f.subarray(0, size) : Buffer.concat([f, Buffer.alloc(size - f.length)]));
    }
    return { attr: this.attr(n), attrTimeout: this.attrTimeout };
  }

  async readlink(_ctx: RequestContext, nodeid: number): Promise<Buffer> {
    await this.enter('readlink', nodeid);
    const t = this.node(nodeid).target;
    if (!t) throw new ErrnoError(E.EINVAL);
    return t;
  }

  async symlink(_ctx: RequestContext, parent: number, name: Buffer, target: Buffer): Promise<Entry> {
    await this.enter('symlink', parent, name.toString('latin1'), target.toString('latin1'));
    return this.entry(this.add(parent, name, S_IFLNK | 0o777, Buffer.from(target)));
  }

  async mknod(_ctx: RequestContext, parent: number, name: Buffer, mode: number, rdev: number, umask: number): Promise<Entry> {
    await this.enter('mknod', parent, name.toString('latin1'), mode, rdev, umask);
    return this.entry(this.add(parent, name, mode));
  }

  async mkdir(_ctx: RequestContext, parent: number, name: Buffer, mode: number, umask: number): Promise<Entry> {
    await this.enter('mkdir', parent, name.toString('latin1'), mode, umask);
    return this.entry(this.add(parent, name, S_IFDIR | (mode & 0o7777)));
  }

  async unlink(_ctx: RequestContext, parent: number, name: Buffer): Promise<void> {
    await this.enter('unlink', parent, name.toString('latin1'));
    if (!this.node(parent).children.delete(name.toString('latin1'))) throw new ErrnoError(E.ENOENT);
  }

  async rmdir(_ctx: RequestContext, parent: number, name: Buffer): Promise<void> {
    await this.enter('rmdir', parent, name.toString('latin1'));
    if (!this.node(parent).children.delete(name.toString('latin1'))) throw new ErrnoError(E.ENOENT);
  }

  async rename(_ctx: RequestContext, parent: number, name: Buffer, newParent: number, newName: Buffer, flags: number): Promise<void> {
    await this.enter('rename', parent, name.toString('latin1'), newParent, newName.toString('latin1'), flags);
    const p = this.node(parent);
    const id = p.children.get(name.toString('latin1'));
    if (id === undefined) throw new ErrnoError(E.ENOENT);
    p.children.delete(name.toString('latin1'));
    this.node(newParent).children.set(newName.toString('latin1'), id);
  }

  async link(_ctx: RequestContext, nodeid: number, newParent: number, newName: Buffer): Promise<Entry> {
    await this.enter('link', nodeid, newParent, newName.toString('latin1'));
    const n = this.node(nodeid);
    this.node(newParent).children.set(newName.toString('latin1'), nodeid);
    n.nlink++;
    return this.entry(n);
  }

  async open(_ctx: RequestContext, nodeid: number, flags: number): Promise<OpenReply> {
    await this.enter('open', nodeid, flags);
    this.node(nodeid);
    const fh = this.nextFh++;
    this.handles.set(fh, nodeid);
    return { fh, openFlags: 2 /* KEEP_CACHE */ };
  }

  async create(_ctx: RequestContext, parent: number, name: Buffer, mode: number, flags: number, umask: number): Promise<CreateReply> {
    await this.enter('create', parent, name.toString('latin1'), mode, flags, umask);
    const n = this.add(parent, name, S_IFREG | (mode & 0o7777));
    const fh = this.nextFh++;
    this.handles.set(fh, n.nodeid);
    return { fh, openFlags: 1, entry: this.entry(n) };
  }

  private fdOf(nodeid: number, fh: number): number {
    if (this.handles.get(fh) !== nodeid) throw new ErrnoError(E.EBADF);
    return this.node(nodeid).fd;
  }

  async read(ctx: RequestContext, nodeid: number, fh: number, offset: bigint, size: number, out: ZeroCopyWriter): Promise<number> {
    this.lastCtx = ctx;
    await this.enter('read', nodeid, fh, offset, size);
    return out.writeFromFile(this.fdOf(nodeid, fh), offset, size);
  }

  async write(_ctx: RequestContext, nodeid: number, fh: number, offset: bigint, data: ZeroCopyReader, writeFlags: number): Promise<number> {
    await this.enter('write', nodeid, fh, offset, data.length, writeFlags);
    return data.readToFile(this.fdOf(nodeid, fh), offset, data.length);
  }

  async flush(_ctx: RequestContext, nodeid: number, fh: number, lockOwner: bigint): Promise<void> {
    await this.enter('flush', nodeid, fh, lockOwner);
  }

  async release(_ctx: RequestContext, nodeid: number, fh: number, flags: number): Promise<void> {
    await this.enter('release', nodeid, fh, flags);
    this.handles.delete(fh);
  }

  async fsync(_ctx: RequestContext, nodeid: number, fh: number, datasync: boolean): Promise<void> {
    await this.enter('fsync', nodeid, fh, datasync);
  }

  async opendir(_ctx: RequestContext, nodeid: number, flags: number): Promise<OpenReply> {
    await this.enter('opendir', nodeid, flags);
    if ((this.node(nodeid).mode & 0o170000) !== S_IFDIR) throw new ErrnoError(E.ENOTDIR);
    const fh = this.nextFh++;
    this.handles.set(fh, nodeid);
    return { fh, openFlags: 0 };
  }

  async readdir(_ctx: RequestContext, nodeid: number, fh: number, offset: bigint, plus: boolean, sink: DirEntrySink): Promise<void> {
    await this.enter('readdir', nodeid, fh, offset, plus);
    if (this.handles.get(fh) !== nodeid) throw new ErrnoError(E.EBADF);
    const dir = this.node(nodeid);
    const list: Array<[string, number]> = [['.', nodeid], ['..', 1], ...dir.children];
    for (let i = Number(offset); i < list.length; i++) {
      const [name, id] = list[i];
      const n = this.node(id);
      const special = name === '.' || name === '..';
      const entry = plus && !special ? this.entry(n) : undefined;
      const ok = sink({ ino: BigInt(n.nodeid + 1000), off: BigInt(i + 1), type: (n.mode >> 12) & 0xf, name: Buffer.from(name, 'latin1') }, entry);
      if (!ok) break; // a refused entry's reference is the core's to drop
    }
  }

  async releasedir(_ctx: RequestContext, nodeid: number, fh: number): Promise<void> {
    await this.enter('releasedir', nodeid, fh);
    this.handles.delete(fh);
  }

  async fsyncdir(_ctx: RequestContext, nodeid: number, fh: number, datasync: boolean): Promise<void> {
    await this.enter('fsyncdir', nodeid, fh, datasync);
  }

  async statfs(_ctx: RequestContext, nodeid: number): Promise<StatfsReply> {
    await this.enter('statfs', nodeid);
    return { blocks: 1000n, bfree: 500n, bavail: 400n, files: 100n, ffree: 50n, bsize: 4096, namelen: 255, frsize: 4096 };
  }

  async access(_ctx: RequestContext, nodeid: number, mask: number): Promise<void> {
    await this.enter('access', nodeid, mask);
    this.node(nodeid);
  }
}

// ---------------------------------------------------------------------------------------------
// Driving a server

export interface Rig {
  server: FuseServer;
  fs: MemFs;
  files: FakeFiles;
  /** Sends request bytes; resolves with the outcome. Asserts no contract violations. */
  send(bytes: Buffer, opts?: FakeRequestOptions): Promise<Outcome>;
  /** Like send() but returns the FakeRequest too. */
  sendRaw(bytes: Buffer, opts?: FakeRequestOptions): { req: FakeRequest; outcome: Promise<Outcome> };
}

export function rig(options: FuseServerOptions = {}, fs?: MemFs): Rig {
  const files = fs?.files ?? new FakeFiles();
  const mem = fs ?? new MemFs(files);
  const server = new FuseServer(mem, options);
  const sendRaw = (bytes: Buffer, opts: FakeRequestOptions = {}) => {
    const req = new FakeRequest(bytes, { files, ...opts });
    server.handle(req);
    const outcome = req.outcome.then((o) => {
      if (req.violations.length) throw new Error(`contract violations: ${req.violations.join('; ')}`);
      return o;
    });
    return { req, outcome };
  };
  return { server, fs: mem, files, sendRaw, send: (bytes, opts) => sendRaw(bytes, opts).outcome };
}

/** A rig with a completed INIT (minor 38, the default guest flags). */
export async function initializedRig(options: FuseServerOptions = {}, fs?: MemFs): Promise<Rig> {
  const r = rig(options, fs);
  const o = await r.send(request({ opcode: Opcode.INIT }, initIn()));
  if (o.kind !== 'reply' || o.error !== 0) throw new Error('INIT failed in test setup');
  return r;
}

export function expectReply(o: Outcome): Extract<Outcome, { kind: 'reply' }> {
  if (o.kind !== 'reply') throw new Error('expected a reply, got none');
  return o;
}

/** Positive errno of a reply (0 for success). */
export function errnoOfReply(o: Outcome): number {
  return -expectReply(o).error || 0;
}
