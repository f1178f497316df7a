/**
 * A FUSE client speaking through the frontend's virtqueues, as the guest's virtio-fs driver
 * does: each request is one chain (request bytes readable, reply buffer writable), many in
 * flight at once. FORGET / BATCH_FORGET / INTERRUPT go on the hiprio queue 0.
 */
import { ErrnoError } from '../filesystem/errors.js';
import {
  AttrOut,
  EntryOut,
  FUSE_KERNEL_MINOR_VERSION,
  FUSE_KERNEL_VERSION,
  InHeader,
  InitOut,
  Opcode,
  OpenOut,
  OutHeader,
  StatfsOut,
  WriteIn,
  WriteOut,
  recAlign,
} from '../fuse/abi.js';
import type { DriverQueue, Segment } from './driver-queue.js';
import type { VhostUserFrontend } from './vhost-user-frontend.js';

export interface FuseReply {
  /** Reply bytes after fuse_out_header (a copy). */
  body: Buffer;
  /** fuse_out_header.error (0 or -errno). */
  error: number;
  unique: bigint;
  /** Total bytes the back-end reported as used. */
  usedLen: number;
}

export interface EntryInfo {
  nodeid: number;
  generation: bigint;
  attr: AttrInfo;
}

export interface AttrInfo {
  ino: bigint;
  size: bigint;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  flags: number;
  mtime: bigint;
  raw: Buffer;
}

export interface DirEntryInfo {
  ino: bigint;
  off: bigint;
  type: number;
  name: string;
  entry?: EntryInfo;
}

export interface Caller {
  uid: number;
  gid: number;
  pid: number;
}

const ROOT = { uid: 0, gid: 0, pid: 1 };

/** fuse_setupmapping_in.flags. */
export const SETUPMAPPING_WRITE = 1 << 0;
export const SETUPMAPPING_READ = 1 << 1;

export class FuseClient {
  private unique = 1n;
  private readonly hiprio: DriverQueue;
  private readonly queues: DriverQueue[];
  private rr = 0;
  initOut: Buffer | undefined;
  caller: Caller = ROOT;

  constructor(readonly frontend: VhostUserFrontend) {
    this.hiprio = frontend.queues[0];
    this.queues = frontend.queues.slice(1);
  }

  /** Sends raw request bytes (header included) and waits for the reply. */
  async raw(request: Buffer, replyCapacity: number, queue?: DriverQueue): Promise<FuseReply> {
    const ram = this.frontend.ram;
    const q = queue ?? this.queues[this.rr++ % this.queues.length];
    const inOff = ram.allocate(Math.max(request.length, 1));
    request.copy(ram.buf, inOff);
    const outOff = replyCapacity > 0 ? ram.allocate(replyCapacity) : -1;
    const segs: Segment[] = [{ offset: inOff, len: request.length, writable: false }];
    if (replyCapacity > 0) {
      ram.buf.fill(0xa5, outOff, outOff + Math.min(replyCapacity, OutHeader.SIZE));
      segs.push({ offset: outOff, len: replyCapacity, writable: true });
    }
    while (q.free < segs.length) await q.whenSpace();
    return new Promise<FuseReply>((resolve) => {
      q.add(segs, (usedLen) => {
        const reply: FuseReply = { body: Buffer.alloc(0), error: 0, unique: 0n, usedLen };
        if (replyCapacity > 0 && usedLen >= OutHeader.SIZE) {
          const len = Math.min(ram.buf.readUInt32LE(outOff + OutHeader.len), usedLen, replyCapacity);
          reply.error = ram.buf.readInt32LE(outOff + OutHeader.error);
          reply.unique = ram.buf.readBigUInt64LE(outOff + OutHeader.unique);
          reply.body = Buffer.from(ram.buf.subarray(outOff + OutHeader.SIZE, outOff + Math.max(len, OutHeader.SIZE)));
        }
        ram.free(inOff, Math.max(request.length, 1));
        if (outOff >= 0) ram.free(outOff, replyCapacity);
        resolve(reply);
      });
      q.kick();
    });
  }

  /** Builds a request: header + args; sends it; throws ErrnoError on an error reply. */
  async call(opcode: number, nodeid: number | bigint, args: Buffer[], replyBody: number): Promise<Buffer> {
    const reply = await this.raw(this.build(opcode, nodeid, args), OutHeader.SIZE + replyBody);
    if (reply.error !== 0) throw new ErrnoError(-reply.error, `opcode ${opcode}`);
    return reply.body;
  }

  build(opcode: number, nodeid: number | bigint, args: Buffer[]): Buffer {
    const len = InHeader.SIZE + args.reduce((n, a) => n + a.length, 0);
    const h = Buffer.alloc(InHeader.SIZE);
    h.writeUInt32LE(len, InHeader.len);
    h.writeUInt32LE(opcode, InHeader.opcode);
    h.writeBigUInt64LE(this.unique++, InHeader.unique);
    h.writeBigUInt64LE(BigInt(nodeid), InHeader.nodeid);
    h.writeUInt32LE(this.caller.uid, InHeader.uid);
    h.writeUInt32LE(this.caller.gid, InHeader.gid);
    h.writeUInt32LE(this.caller.pid, InHeader.pid);
    return Buffer.concat([h, ...args]);
  }

  async init(flags = 0xffffffff, flags2 = 0): Promise<Buffer> {
    const a = Buffer.alloc(64);
    a.writeUInt32LE(FUSE_KERNEL_VERSION, 0);
    a.writeUInt32LE(FUSE_KERNEL_MINOR_VERSION, 4);
    a.writeUInt32LE(128 * 1024, 8);
    a.writeUInt32LE(flags >>> 0, 12);
    a.writeUInt32LE(flags2 >>> 0, 16);
    this.initOut = await this.call(Opcode.INIT, 0, [a], InitOut.SIZE);
    return this.initOut;
  }

  async lookup(parent: number, name: string): Promise<EntryInfo> {
    return parseEntry(await this.call(Opcode.LOOKUP, parent, [cstr(name)], EntryOut.SIZE));
  }

  forget(nodeid: number, nlookup: bigint | number): Promise<FuseReply> {
    const a = Buffer.alloc(8);
    a.writeBigUInt64LE(BigInt(nlookup));
    return this.raw(this.build(Opcode.FORGET, nodeid, [a]), 0, this.hiprio);
  }

  /**
   * BATCH_FORGET on the hiprio queue, in messages of at most `perMessage` records (the kernel
   * sends up to a page's worth). No reply: resolves when the device returns the chains.
   */
  async batchForget(entries: readonly (readonly [nodeid: number, nlookup: number | bigint])[], perMessage = 256): Promise<void> {
    const sends: Promise<FuseReply>[] = [];
    for (let i = 0; i < entries.length; i += perMessage) {
      const chunk = entries.slice(i, i + perMessage);
      const a = Buffer.alloc(8 + 16 * chunk.length);
      a.writeUInt32LE(chunk.length, 0);
      chunk.forEach(([nodeid, n], k) => {
        a.writeBigUInt64LE(BigInt(nodeid), 8 + 16 * k);
        a.writeBigUInt64LE(BigInt(n), 16 + 16 * k);
      });
      sends.push(this.raw(this.build(Opcode.BATCH_FORGET, 0, [a]), 0, this.hiprio));
    }
    await Promise.all(sends);
  }

  /** Negotiated max_write from the INIT reply (128 KiB if INIT has not run). */
  get maxWrite(): number {
    return this.initOut !== undefined && this.initOut.length >= InitOut.maxWrite + 4
      ? this.initOut.readUInt32LE(InitOut.maxWrite)
      : 128 * 1024;
  }

  async getattr(nodeid: number, fh?: number): Promise<AttrInfo> {
    const a = Buffer.alloc(16);
    if (fh !== undefined) {
      a.writeUInt32LE(1, 0);
      a.writeBigUInt64LE(BigInt(fh), 8);
    }
    const b = await this.call(Opcode.GETATTR, nodeid, [a], AttrOut.SIZE);
    return parseAttr(b.subarray(AttrOut.attr));
  }

  /** SETATTR with a raw fuse_setattr_in (88 bytes) built by the caller. */
  async setattr(nodeid: number, setattrIn: Buffer): Promise<AttrInfo> {
    const b = await this.call(Opcode.SETATTR, nodeid, [setattrIn], AttrOut.SIZE);
    return parseAttr(b.subarray(AttrOut.attr));
  }

  async mkdir(parent: number, name: string, mode = 0o755): Promise<EntryInfo> {
    const a = Buffer.alloc(8);
    a.writeUInt32LE(mode, 0);
    return parseEntry(await this.call(Opcode.MKDIR, parent, [a, cstr(name)], EntryOut.SIZE));
  }

  async mknod(parent: number, name: string, mode: number, rdev = 0): Promise<EntryInfo> {
    const a = Buffer.alloc(16);
    a.writeUInt32LE(mode, 0);
    a.writeUInt32LE(rdev, 4);
    return parseEntry(await this.call(Opcode.MKNOD, parent, [a, cstr(name)], EntryOut.SIZE));
  }

  async symlink(parent: number, name: string, target: string): Promise<EntryInfo> {
    return parseEntry(await this.call(Opcode.SYMLINK, parent, [cstr(name), cstr(target)], EntryOut.SIZE));
  }

  async readlink(nodeid: number): Promise<string> {
    return (await this.call(Opcode.READLINK, nodeid, [], 4096)).toString();
  }

  async link(nodeid: number, newParent: number, name: string): Promise<EntryInfo> {
    const a = Buffer.alloc(8);
    a.writeBigUInt64LE(BigInt(nodeid));
    return parseEntry(await this.call(Opcode.LINK, newParent, [a, cstr(name)], EntryOut.SIZE));
  }

  async unlink(parent: number, name: string): Promise<void> {
    await this.call(Opcode.UNLINK, parent, [cstr(name)], 0);
  }

  async rmdir(parent: number, name: string): Promise<void> {
    await this.call(Opcode.RMDIR, parent, [cstr(name)], 0);
  }

  async rename(parent: number, name: string, newParent: number, newName: string, flags = 0): Promise<void> {
    const a = Buffer.alloc(16);
    a.writeBigUInt64LE(BigInt(newParent), 0);
    a.writeUInt32LE(flags, 8);
    await this.call(Opcode.RENAME2, parent, [a, cstr(name), cstr(newName)], 0);
  }

  async open(nodeid: number, flags: number): Promise<{ fh: number; openFlags: number }> {
    const a = Buffer.alloc(8);
    a.writeUInt32LE(flags, 0);
    const b = await this.call(Opcode.OPEN, nodeid, [a], OpenOut.SIZE);
    return { fh: Number(b.readBigUInt64LE(OpenOut.fh)), openFlags: b.readUInt32LE(OpenOut.openFlags) };
  }

  async opendir(nodeid: number): Promise<{ fh: number; openFlags: number }> {
    const a = Buffer.alloc(8);
    const b = await this.call(Opcode.OPENDIR, nodeid, [a], OpenOut.SIZE);
    return { fh: Number(b.readBigUInt64LE(OpenOut.fh)), openFlags: b.readUInt32LE(OpenOut.openFlags) };
  }

  async create(parent: number, name: string, mode: number, flags: number): Promise<{ entry: EntryInfo; fh: number }> {
    const a = Buffer.alloc(16);
    a.writeUInt32LE(flags, 0);
    a.writeUInt32LE(mode, 4);
    const b = await this.call(Opcode.CREATE, parent, [a, cstr(name)], EntryOut.SIZE + OpenOut.SIZE);
    return { entry: parseEntry(b), fh: Number(b.readBigUInt64LE(EntryOut.SIZE + OpenOut.fh)) };
  }

  async read(nodeid: number, fh: number, offset: bigint | number, size: number): Promise<Buffer> {
    const a = Buffer.alloc(40);
    a.writeBigUInt64LE(BigInt(fh), 0);
    a.writeBigUInt64LE(BigInt(offset), 8);
    a.writeUInt32LE(size, 16);
    return this.call(Opcode.READ, nodeid, [a], size);
  }

  async write(nodeid: number, fh: number, offset: bigint | number, data: Buffer): Promise<number> {
    const a = Buffer.alloc(WriteIn.SIZE);
    a.writeBigUInt64LE(BigInt(fh), WriteIn.fh);
    a.writeBigUInt64LE(BigInt(offset), WriteIn.offset);
    a.writeUInt32LE(data.length, WriteIn.size);
    const b = await this.call(Opcode.WRITE, nodeid, [a, data], WriteOut.SIZE);
    return b.readUInt32LE(WriteOut.size);
  }

  async release(nodeid: number, fh: number, dir = false): Promise<void> {
    const a = Buffer.alloc(24);
    a.writeBigUInt64LE(BigInt(fh), 0);
    await this.call(dir ? Opcode.RELEASEDIR : Opcode.RELEASE, nodeid, [a], 0);
  }

  async flush(nodeid: number, fh: number): Promise<void> {
    const a = Buffer.alloc(24);
    a.writeBigUInt64LE(BigInt(fh), 0);
    await this.call(Opcode.FLUSH, nodeid, [a], 0);
  }

  async fsync(nodeid: number, fh: number, datasync = false, dir = false): Promise<void> {
    const a = Buffer.alloc(16);
    a.writeBigUInt64LE(BigInt(fh), 0);
    a.writeUInt32LE(datasync ? 1 : 0, 8);
    await this.call(dir ? Opcode.FSYNCDIR : Opcode.FSYNC, nodeid, [a], 0);
  }

  async access(nodeid: number, mask: number): Promise<void> {
    const a = Buffer.alloc(8);
    a.writeUInt32LE(mask, 0);
    await this.call(Opcode.ACCESS, nodeid, [a], 0);
  }

  async statfs(nodeid = 1): Promise<{ blocks: bigint; bsize: number; namelen: number }> {
    const b = await this.call(Opcode.STATFS, nodeid, [], StatfsOut.SIZE);
    return { blocks: b.readBigUInt64LE(StatfsOut.blocks), bsize: b.readUInt32LE(StatfsOut.bsize), namelen: b.readUInt32LE(StatfsOut.namelen) };
  }

  /** READDIR or READDIRPLUS of one buffer from `offset`. */
  async readdir(nodeid: number, fh: number, offset: bigint, plus: boolean, size = 4096): Promise<DirEntryInfo[]> {
    const a = Buffer.alloc(40);
    a.writeBigUInt64LE(BigInt(fh), 0);
    a.writeBigUInt64LE(offset, 8);
    a.writeUInt32LE(size, 16);
    const b = await this.call(plus ? Opcode.READDIRPLUS : Opcode.READDIR, nodeid, [a], size);
    const out: DirEntryInfo[] = [];
    let p = 0;
    while (p < b.length) {
      let entry: EntryInfo | undefined;
      if (plus) {
        if (p + EntryOut.SIZE > b.length) break;
        const e = parseEntry(b.subarray(p, p + EntryOut.SIZE));
        if (e.nodeid !== 0) entry = e;
        p += EntryOut.SIZE;
      }
      if (p + 24 > b.length) break;
      const namelen = b.readUInt32LE(p + 16);
      out.push({
        ino: b.readBigUInt64LE(p),
        off: b.readBigUInt64LE(p + 8),
        type: b.readUInt32LE(p + 20),
        name: b.subarray(p + 24, p + 24 + namelen).toString(),
        entry,
      });
      p += recAlign(24 + namelen);
    }
    return out;
  }

  /** Every entry of a directory (opendir, readdir until empty, releasedir). */
  async listDir(nodeid: number, plus = false): Promise<DirEntryInfo[]> {
    const { fh } = await this.opendir(nodeid);
    const all: DirEntryInfo[] = [];
    let off = 0n;
    for (;;) {
      const batch = await this.readdir(nodeid, fh, off, plus);
      if (batch.length === 0) break;
      all.push(...batch);
      off = batch[batch.length - 1].off;
    }
    await this.release(nodeid, fh, true);
    return all;
  }

  /**
   * FUSE_SETUPMAPPING (48): asks the daemon to map [foffset, foffset+len) of the file behind
   * `fh` at window offset `moffset` (flags: SETUPMAPPING_WRITE 1, SETUPMAPPING_READ 2).
   */
  async setupmapping(nodeid: number, fh: number, foffset: number | bigint, len: number | bigint, flags: number, moffset: number | bigint): Promise<void> {
    const a = Buffer.alloc(40);
    a.writeBigUInt64LE(BigInt.asUintN(64, BigInt(fh)), 0); // -1: no handle, as Linux sends it
    a.writeBigUInt64LE(BigInt(foffset), 8);
    a.writeBigUInt64LE(BigInt(len), 16);
    a.writeBigUInt64LE(BigInt(flags), 24);
    a.writeBigUInt64LE(BigInt(moffset), 32);
    await this.call(Opcode.SETUPMAPPING, nodeid, [a], 0);
  }

  /** FUSE_REMOVEMAPPING (49): unmaps window ranges, given as [moffset, len] pairs. */
  async removemapping(ranges: readonly (readonly [moffset: number | bigint, len: number | bigint])[], nodeid = 1): Promise<void> {
    const a = Buffer.alloc(4 + 16 * ranges.length);
    a.writeUInt32LE(ranges.length, 0);
    ranges.forEach(([m, l], i) => {
      a.writeBigUInt64LE(BigInt(m), 4 + 16 * i);
      a.writeBigUInt64LE(BigInt(l), 12 + 16 * i);
    });
    await this.call(Opcode.REMOVEMAPPING, nodeid, [a], 0);
  }

  async destroy(): Promise<void> {
    await this.call(Opcode.DESTROY, 0, [], 0);
  }
}

export function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s), Buffer.alloc(1)]);
}

export function parseAttr(b: Buffer): AttrInfo {
  return {
    ino: b.readBigUInt64LE(0),
    size: b.readBigUInt64LE(8),
    mtime: b.readBigUInt64LE(32),
    mode: b.readUInt32LE(60),
    nlink: b.readUInt32LE(64),
    uid: b.readUInt32LE(68),
    gid: b.readUInt32LE(72),
    flags: b.readUInt32LE(84),
    raw: Buffer.from(b.subarray(0, 88)),
  };
}

export function parseEntry(b: Buffer): EntryInfo {
  return {
    nodeid: Number(b.readBigUInt64LE(EntryOut.nodeid)),
    generation: b.readBigUInt64LE(EntryOut.generation),
    attr: parseAttr(b.subarray(EntryOut.attr)),
  };
}
