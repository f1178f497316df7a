/**
 * The host-mount transport: serves the FUSE core through a /dev/fuse descriptor that the
 * kernel's FUSE client (a host mount, see src/daemon/host-mount.ts) feeds. Same FuseRequest
 * contract as the virtqueue transport: bytes in, bytes out, no knowledge of opcodes except the
 * one it needs to say "the session is up" (a successful INIT reply).
 *
 * /dev/fuse rules this follows (fs/fuse/dev.c):
 * - one read() returns exactly one request, and fails with EINVAL unless the buffer can hold the
 *   largest one (fuse_in_header + fuse_write_in + max_write): read buffers are READ_BUFFER_SIZE;
 * - one write()/writev() is one whole reply, header first; a reply to a request the kernel no
 *   longer waits for (interrupted, or its process was killed) fails with ENOENT: normal;
 * - FORGET, BATCH_FORGET and INTERRUPT get no reply: noReply() writes nothing;
 * - read() fails with ENODEV once the file system is unmounted (ECONNABORTED once aborted
 *   through fusectl): the session is over.
 *
 * Buffers: a request of at most SMALL_SLOT bytes (everything but WRITE payloads and big xattr
 * values) is copied out of the read buffer into a small slot, so the 1 MiB read buffer is
 * reused at once. A bigger request keeps the read buffer it arrived in until it is answered,
 * and the next read uses another one from a pool; at most `maxLargeInFlight` such buffers
 * exist, and reading pauses while all are taken. READ data goes from the file straight into a
 * pooled reply buffer (pread, on the worker pool when it has threads) and from there to the
 * kernel with the header in one writev: file data never passes through JavaScript.
 */
import { native, type FdWatcher } from '../native/binding.js';
import { devFuse } from '../native/dev-fuse.js';
import * as sys from '../native/syscalls.js';
import { ErrnoError } from '../filesystem/errors.js';
import type { FuseRequest, FuseRequestHandler } from '../fuse/transport.js';
import type { Logger } from '../logger.js';

const MIB = 1024 * 1024;
/** sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in). */
const WRITE_HEADERS = 40 + 40;
const OUT_HEADER = 16;
const OPCODE_INIT = 26;
const OPCODE_FORGET = 2;
const OPCODE_INTERRUPT = 36;
const OPCODE_BATCH_FORGET = 42;
/** Requests up to this size are copied into a small slot (as the virtqueue's staging slot). */
export const SMALL_SLOT = 8192;
const SLOTS_PER_CHUNK = 64;
/** Requests read per poll callback before letting the event loop breathe. */
const MAX_BATCH = 64;
/** Free large buffers (read or reply) kept for reuse; extras are left to the GC. */
const KEEP_FREE = 8;

const EAGAIN = 11;
const ENOENT = 2;
const ENODEV = 19;
const ECONNABORTED = 103;
const ESTALE = 116;
const EINVAL = 22;
const EIO = 5;

export interface DevFuseTransportOptions {
  /** The /dev/fuse descriptor (non-blocking). Not closed by the transport. */
  fd: number;
  handler: FuseRequestHandler;
  log: Logger;
  /** max_write the core announces (FuseServer.maxWrite). Default 1 MiB. */
  maxWrite?: number;
  /** Largest READ/READDIR reply payload (FuseServer.maxRead). Default 1 MiB. */
  maxRead?: number;
  /** Requests bigger than SMALL_SLOT in flight before reading pauses. Default 32. */
  maxLargeInFlight?: number;
  /** Called once, after the first successful INIT reply reached the kernel. */
  onInit?: () => void;
  /** Called once when reading stops for good: ENODEV (unmounted) or another errno. */
  onEnd?: (errno: number) => void;
}

export interface DevFuseStats {
  requests: number;
  replies: number;
  /** Replies the kernel refused with ENOENT (request interrupted or aborted). */
  staleReplies: number;
  /** Replies the kernel refused with another errno (a core bug; logged). */
  failedReplies: number;
  /** Times reading paused because every large buffer was in flight. */
  pauses: number;
}

export class DevFuseTransport {
  readonly fd: number;
  readonly stats: DevFuseStats = { requests: 0, replies: 0, staleReplies: 0, failedReplies: 0, pauses: 0 };
  /** Bytes of one read buffer: the largest request the kernel may send, page-rounded. */
  readonly readBufferSize: number;
  /** Bytes of one reply buffer: out header + the largest data reply. */
  readonly replyBufferSize: number;
  readonly replyCapacity: number;

  private readonly handler: FuseRequestHandler;
  /** @internal */
  readonly log: Logger;
  private readonly maxLargeInFlight: number;
  private readonly onInit: (() => void) | undefined;
  private readonly onEnd: ((errno: number) => void) | undefined;

  private watcher: FdWatcher | undefined;
  private running = false;
  /** close() was called: replies are dropped (the descriptor may be closed and reused). */
  private closed = false;
  private ended = false;
  private initAnnounced = false;
  private resumeScheduled = false;

  /** The buffer the next read goes into; undefined while paused for lack of one. */
  private readBuf: Buffer | undefined;
  private readonly freeLarge: Buffer[] = [];
  private largeAllocated = 0;
  private readonly freeReply: Buffer[] = [];

  private readonly slotChunks: Buffer[] = [];
  private readonly freeSlots: number[] = [];

  constructor(opts: DevFuseTransportOptions) {
    this.fd = opts.fd;
    this.handler = opts.handler;
    this.log = opts.log;
    const maxWrite = opts.maxWrite ?? MIB;
    const maxRead = opts.maxRead ?? MIB;
    this.readBufferSize = roundUp(Math.max(8192, WRITE_HEADERS + maxWrite), 4096) + 4096;
    this.replyBufferSize = OUT_HEADER + maxRead;
    this.replyCapacity = this.replyBufferSize;
    this.maxLargeInFlight = Math.max(1, opts.maxLargeInFlight ?? 32);
    this.onInit = opts.onInit;
    this.onEnd = opts.onEnd;
  }

  start(): void {
    if (this.running || this.ended) return;
    this.running = true;
    this.readBuf ??= this.takeLarge();
    this.watch();
    this.drain();
  }

  /** Stops reading; requests in flight may still reply (the kernel drops what it no longer wants). */
  stop(): void {
    this.running = false;
    this.unwatch();
  }

  /**
   * Stops reading and drops every later reply. Call it before closing the descriptor, whose
   * number could otherwise be reused by a file a late reply would then be written to.
   */
  close(): void {
    this.stop();
    this.closed = true;
  }

  get isRunning(): boolean {
    return this.running;
  }

  private watch(): void {
    if (this.watcher === undefined) this.watcher = new native.FdWatcher(this.fd, () => this.drain());
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private drain(): void {
    for (let i = 0; i < MAX_BATCH && this.running; i++) {
      const buf = this.readBuf;
      if (buf === undefined) return this.pause();
      const n = devFuse.devFuseRead(this.fd, buf, 0, buf.length);
      if (n === -EAGAIN) return;
      if (n < 0) return this.end(-n);
      this.stats.requests++;
      this.dispatch(buf, n);
    }
  }

  private end(errno: number): void {
    if (this.ended) return;
    this.ended = true;
    this.stop();
    if (errno === ENODEV || errno === ECONNABORTED) this.log.info(`/dev/fuse: connection ended (${errno === ENODEV ? 'unmounted' : 'aborted'})`);
    else this.log.error(`/dev/fuse: read failed: errno ${errno}`);
    this.onEnd?.(errno);
  }

  private dispatch(buf: Buffer, n: number): void {
    let req: DevFuseRequest;
    if (n <= SMALL_SLOT) {
      const slot = this.takeSlot();
      const chunk = this.slotChunks[Math.floor(slot / SLOTS_PER_CHUNK)];
      const off = (slot % SLOTS_PER_CHUNK) * SMALL_SLOT;
      buf.copy(chunk, off, 0, n);
      req = new DevFuseRequest(this, chunk, off, n, slot, undefined);
    } else {
      // The request keeps this read buffer; the next read needs another one.
      req = new DevFuseRequest(this, buf, 0, n, -1, buf);
      this.readBuf = this.takeLarge();
    }
    try {
      this.handler.handle(req);
    } catch (err) {
      this.log.error({ err }, 'FUSE core threw; answering EIO');
      req.noReply(); // answers EIO where the opcode needs an answer (see noReply)
    }
  }

  private pause(): void {
    this.stats.pauses++;
    if (this.log.isLevelEnabled('debug')) this.log.debug(`/dev/fuse: all ${this.maxLargeInFlight} large buffers in flight; pausing reads`);
    this.unwatch();
  }

  // -------------------------------------------------------------------------------------------
  // Buffers

  private takeLarge(): Buffer | undefined {
    const free = this.freeLarge.pop();
    if (free !== undefined) return free;
    if (this.largeAllocated >= this.maxLargeInFlight + 1) return undefined; // +1: the read buffer
    this.largeAllocated++;
    // allocUnsafe: pages a small request never touches cost no resident memory.
    return Buffer.allocUnsafe(this.readBufferSize);
  }

  /** @internal A large request buffer is free again. */
  releaseLarge(buf: Buffer): void {
    if (this.readBuf === undefined) {
      this.readBuf = buf;
      if (this.running) this.scheduleResume();
      return;
    }
    if (this.freeLarge.length < KEEP_FREE) this.freeLarge.push(buf);
    else this.largeAllocated--;
  }

  private scheduleResume(): void {
    if (this.resumeScheduled) return;
    this.resumeScheduled = true;
    setImmediate(() => {
      this.resumeScheduled = false;
      if (!this.running) return;
      this.watch();
      this.drain();
    });
  }

  private takeSlot(): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      const base = this.slotChunks.length * SLOTS_PER_CHUNK;
      this.slotChunks.push(Buffer.allocUnsafe(SLOTS_PER_CHUNK * SMALL_SLOT));
      for (let i = SLOTS_PER_CHUNK - 1; i > 0; i--) this.freeSlots.push(base + i);
      slot = base;
    }
    return slot;
  }

  /** @internal */
  releaseSlot(slot: number): void {
    this.freeSlots.push(slot);
  }

  /** @internal */
  takeReplyBuffer(): Buffer {
    return this.freeReply.pop() ?? Buffer.allocUnsafe(this.replyBufferSize);
  }

  /** @internal */
  releaseReplyBuffer(buf: Buffer): void {
    if (this.freeReply.length < KEEP_FREE) this.freeReply.push(buf);
  }

  // -------------------------------------------------------------------------------------------
  // Replies

  /** @internal Writes one reply: head[off, off + len) then body[len, total). */
  write(head: Buffer, off: number, len: number, body: Buffer | undefined, total: number, opcode: number): void {
    if (this.closed) return;
    if (total > len && body === undefined) {
      this.log.error({ len, total }, 'FUSE core bug: reply data announced but never written; truncating');
      total = len;
    }
    const r = devFuse.devFuseWrite(this.fd, head, off, len, total > len ? body! : null, len, total - len);
    if (r >= 0) {
      this.stats.replies++;
      if (opcode === OPCODE_INIT && !this.initAnnounced && len >= OUT_HEADER && head.readInt32LE(off + 4) === 0) {
        this.initAnnounced = true;
        this.onInit?.();
      }
      return;
    }
    if (r === -ENOENT) {
      this.stats.staleReplies++; // the kernel gave up on the request (interrupted / killed)
    } else if (r !== -ENODEV && r !== -ECONNABORTED) {
      this.stats.failedReplies++;
      this.log.warn({ errno: -r, len, total, opcode }, '/dev/fuse refused a reply');
    }
  }
}

/** One request read from /dev/fuse. */
class DevFuseRequest implements FuseRequest {
  readonly totalLength: number;
  readonly inputLength: number;
  private done = false;
  private pendingIo = 0;
  private replyBuf: Buffer | undefined;

  constructor(
    private readonly transport: DevFuseTransport,
    readonly input: Buffer,
    readonly inputOffset: number,
    length: number,
    /** Small slot index, or -1. */
    private readonly slot: number,
    /** The large read buffer this request holds, if any. */
    private readonly large: Buffer | undefined,
  ) {
    this.totalLength = length;
    this.inputLength = length;
  }

  get replyCapacity(): number {
    return this.transport.replyCapacity;
  }

  private get opcode(): number {
    return this.inputLength >= 8 ? this.input.readUInt32LE(this.inputOffset + 4) : -1;
  }

  readInput(from: number, dst: Buffer, dstOffset: number, len: number): number {
    if (this.done || !(from >= 0) || !(dstOffset >= 0) || !(len > 0)) return 0;
    const n = Math.min(len, this.totalLength - from, dst.length - dstOffset);
    if (n <= 0) return 0;
    return this.input.copy(dst, dstOffset, this.inputOffset + from, this.inputOffset + from + n);
  }

  writeInputToFile(fd: number, from: number, len: number, offset: bigint): Promise<number> {
    if (this.done) return Promise.reject(new ErrnoError(ESTALE, 'request already answered'));
    if (!Number.isInteger(from) || !Number.isInteger(len) || from < 0 || len < 0 || from + len > this.totalLength) {
      return Promise.reject(new ErrnoError(EINVAL, 'write range outside the request'));
    }
    return this.io(sys.pwrite(fd, this.input, this.inputOffset + from, len, offset));
  }

  readFileIntoReply(fd: number, replyOffset: number, len: number, offset: bigint): Promise<number> {
    if (this.done) return Promise.reject(new ErrnoError(ESTALE, 'request already answered'));
    const cap = this.transport.replyBufferSize;
    if (!Number.isInteger(replyOffset) || !Number.isInteger(len) || replyOffset < OUT_HEADER || len < 0 || replyOffset + len > cap) {
      return Promise.reject(new ErrnoError(EINVAL, 'read range outside the reply'));
    }
    this.replyBuf ??= this.transport.takeReplyBuffer();
    return this.io(sys.pread(fd, this.replyBuf, replyOffset, len, offset));
  }

  private io(r: sys.SysResult): Promise<number> {
    if (typeof r === 'number') return r < 0 ? Promise.reject(new ErrnoError(-r)) : Promise.resolve(r);
    this.pendingIo++;
    return r.then((n) => {
      if (--this.pendingIo === 0 && this.done) this.release();
      if (n < 0) throw new ErrnoError(-n);
      return n;
    });
  }

  reply(buf: Buffer, off: number, len: number, total: number): void {
    if (this.done) return;
    this.done = true;
    try {
      this.transport.write(buf, off, len, this.replyBuf, total, this.opcode);
    } finally {
      if (this.pendingIo === 0) this.release();
    }
  }

  /**
   * FORGET, BATCH_FORGET and INTERRUPT: nothing to write. Any other request the core completes
   * without a reply (a core bug; on a virtqueue, "return the buffers empty") gets EIO instead:
   * on /dev/fuse the calling process would otherwise wait for ever.
   */
  noReply(): void {
    if (this.done) return;
    const opcode = this.opcode;
    if (opcode === OPCODE_FORGET || opcode === OPCODE_BATCH_FORGET || opcode === OPCODE_INTERRUPT || this.inputLength < 16) {
      this.done = true;
      if (this.pendingIo === 0) this.release();
      return;
    }
    const hdr = Buffer.alloc(OUT_HEADER);
    hdr.writeUInt32LE(OUT_HEADER, 0);
    hdr.writeInt32LE(-EIO, 4);
    this.input.copy(hdr, 8, this.inputOffset + 8, this.inputOffset + 16); // unique
    this.transport.log.debug({ opcode }, '/dev/fuse: request completed without a reply; answering EIO');
    this.reply(hdr, 0, OUT_HEADER, OUT_HEADER);
  }

  /** Returns the buffers; deferred while a pool job may still touch them. */
  private release(): void {
    if (this.slot >= 0) this.transport.releaseSlot(this.slot);
    if (this.large !== undefined) this.transport.releaseLarge(this.large);
    if (this.replyBuf !== undefined) this.transport.releaseReplyBuffer(this.replyBuf);
    this.replyBuf = undefined;
  }
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
