/**
 * The production transport: serves one virtqueue of a virtio-fs device. A kick pops a whole
 * batch of chains in one native call; each chain becomes a FuseRequest handed to the FUSE
 * core; replies are written into the chain's writable buffers and published to the guest in
 * one used-ring update (and at most one interrupt) per event-loop turn.
 *
 * Kicks are served natively (VirtQueue.watchKick): JS is entered only with the chains it must
 * answer. With a FuseFastPath, READs and WRITEs on registered handles never reach JS at all
 * (see native/fuse_fast_path.cc).
 *
 * Knows nothing about inodes or opcodes: bytes in, bytes out.
 */
import { native, type FuseFastPath, type VirtQueue } from '../native/binding.js';
import { ErrnoError } from '../filesystem/errors.js';
import type { FuseRequest, FuseRequestHandler } from '../fuse/transport.js';
import type { Logger } from '../logger.js';
import { decodeForeign, splitRange, type ForeignMemoryIo, type ForeignSegments } from './foreign-memory.js';

/**
 * Bytes of each request copied out of guest memory up front. Large enough for every fixed
 * request struct plus the longest names (SYMLINK: two names up to PATH_MAX); only WRITE
 * payloads and big xattr values go past it, and those are read from guest memory on demand.
 */
export const STAGING_SLOT = 8192;
const MAX_BATCH = 64;
/** Set in a popped head word when the chain has foreign segments (native/queue_binding.cc). */
const FOREIGN_FLAG = 1 << 16;
const E_FAULT = 14;

export interface QueueStats {
  /** Requests handed to JS (the native fast path counts its own: FastPathCounters). */
  requests: number;
  batches: number;
}

export class VirtqueueTransport {
  private readonly infos = new Uint32Array(4 * MAX_BATCH);
  private readonly arena: Buffer;
  private watching = false;
  /** Started and not stopped: replies are delivered. */
  private running = false;
  /** Taking new requests from the ring (false while paused). */
  private popping = false;
  private drainWaiters: (() => void)[] = [];
  /** Bumped on every stop, so replies to requests of an earlier run are dropped. */
  generation = 0;
  private flushScheduled = false;
  private readonly flushCallback = (): void => this.flush();
  private readonly batchCallback = (n: number): void => this.onBatch(n);
  readonly stats: QueueStats = { requests: 0, batches: 0 };
  /** No worker threads: chain I/O completes inside the native call. */
  readonly inline = native.getPoolSize() === 0;

  constructor(
    readonly index: number,
    readonly queue: VirtQueue,
    queueSize: number,
    private kickFd: number,
    private readonly handler: FuseRequestHandler,
    private readonly log: Logger,
    fastPath?: FuseFastPath,
    /** Moves bytes of chains that point outside our memory table (Kata's DAX window), if any can. */
    readonly foreignIo?: ForeignMemoryIo,
  ) {
    // allocUnsafe: untouched pages of the arena cost no resident memory.
    this.arena = Buffer.allocUnsafe(queueSize * STAGING_SLOT);
    // Large fast-path reads on the worker pool finish later: publish them like JS replies.
    queue.setFastPath(fastPath ?? null, () => this.scheduleFlush());
    queue.setAllowForeign(foreignIo !== undefined);
  }

  start(): void {
    this.running = true;
    this.resume();
  }

  /** Stops popping (kicks are ignored); requests in flight still complete. */
  pause(): void {
    this.popping = false;
    if (this.watching) this.queue.unwatchKick();
    this.watching = false;
  }

  /** Pops again, watching `kickFd` (a new one when the front-end replaced it). */
  resume(kickFd = this.kickFd): void {
    if (!this.running) return;
    this.kickFd = kickFd;
    this.queue.watchKick(this.kickFd, this.infos, this.arena, STAGING_SLOT, MAX_BATCH, this.batchCallback);
    this.watching = true;
    this.popping = true;
    // Requests may have been queued while we did not watch: look once without a kick.
    this.queue.drainKick();
    this.scheduleFlush();
  }

  /**
   * Resolves true once every popped request has been answered and published (GET_VRING_BASE
   * must not report a base while the guest still waits for chains), or false after `timeoutMs`.
   */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.queue.inFlight() === 0) {
      this.flushNow();
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.drainWaiters.push(waiter);
    });
  }

  /** Publishes what was answered, then stops for good: later replies are dropped. */
  stop(): void {
    if (!this.running) return;
    this.flushNow();
    this.pause();
    this.running = false;
    this.generation++;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** The native kick handler's callback: n chains to serve, 0 = ring broken, < 0 = -errno. */
  private onBatch(n: number): void {
    if (!this.popping) return;
    if (n > 0) {
      this.stats.batches++;
      this.stats.requests += n;
      for (let i = 0; i < n; i++) this.dispatch(i);
      return;
    }
    if (n < 0) {
      this.log.error({ queue: this.index }, `reading the kick eventfd failed: errno ${-n}`);
    } else {
      // The guest corrupted its ring: serving it further could only misbehave. The queue
      // stays paused until the front-end restarts it.
      this.log.error({ queue: this.index, why: this.queue.counters().lastError }, 'virtqueue is broken; no longer serving it');
    }
    this.pause();
  }

  private dispatch(i: number): void {
    const word = this.infos[4 * i];
    const head = word & 0xffff;
    const foreignRaw = (word & FOREIGN_FLAG) !== 0 ? this.queue.foreign(head) : undefined;
    const req = new VirtqueueRequest(
      this,
      head,
      this.infos[4 * i + 1],
      this.infos[4 * i + 2],
      this.infos[4 * i + 3],
      foreignRaw === undefined ? undefined : decodeForeign(foreignRaw),
    );
    try {
      this.handler.handle(req);
    } catch (err) {
      // The core promises never to throw; if it does, the guest still gets its buffer back.
      this.log.error({ queue: this.index, err }, 'FUSE core threw; returning the request empty');
      req.noReply();
    }
  }

  get stagingArena(): Buffer {
    return this.arena;
  }

  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushCallback);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.running) this.flushNow();
  }

  private flushNow(): void {
    this.queue.flush();
    if (this.drainWaiters.length > 0 && this.queue.inFlight() === 0) {
      for (const w of this.drainWaiters.splice(0)) w();
    }
  }
}

/** One descriptor chain seen as a FUSE request. */
class VirtqueueRequest implements FuseRequest {
  private readonly generation: number;
  private done = false;

  constructor(
    private readonly transport: VirtqueueTransport,
    private readonly head: number,
    readonly totalLength: number,
    readonly replyCapacity: number,
    readonly inputLength: number,
    /** Data descriptors outside our memory (rare: only with Kata's DAX window). */
    private readonly foreign?: ForeignSegments,
  ) {
    this.generation = transport.generation;
  }

  get input(): Buffer {
    return this.transport.stagingArena;
  }

  get inputOffset(): number {
    return this.head * STAGING_SLOT;
  }

  private get live(): boolean {
    return !this.done && this.generation === this.transport.generation && this.transport.isRunning;
  }

  readInput(from: number, dst: Buffer, dstOffset: number, len: number): number {
    if (!this.live) return 0;
    const n = this.transport.queue.readInput(this.head, from, dst, dstOffset, len);
    return n < 0 ? 0 : n;
  }

  writeInputToFile(fd: number, from: number, len: number, offset: bigint): Promise<number> {
    if (!this.live) return Promise.reject(new ErrnoError(116 /* ESTALE */, 'queue stopped'));
    if (this.foreign !== undefined) return this.withForeign(true, fd, from, len, offset);
    return this.localWrite(fd, from, len, offset);
  }

  private localWrite(fd: number, from: number, len: number, offset: bigint): Promise<number> {
    const q = this.transport.queue;
    // Without worker threads the call is synchronous: skip the callback and its closure.
    if (this.transport.inline) return settled(q.pwriteFrom(this.head, fd, from, len, offset) as number);
    return new Promise((resolve, reject) => q.pwriteFrom(this.head, fd, from, len, offset, (r) => (r < 0 ? reject(new ErrnoError(-r)) : resolve(r))));
  }

  readFileIntoReply(fd: number, replyOffset: number, len: number, offset: bigint): Promise<number> {
    if (!this.live) return Promise.reject(new ErrnoError(116 /* ESTALE */, 'queue stopped'));
    if (this.foreign !== undefined) return this.withForeign(false, fd, replyOffset, len, offset);
    return this.localRead(fd, replyOffset, len, offset);
  }

  private localRead(fd: number, replyOffset: number, len: number, offset: bigint): Promise<number> {
    const q = this.transport.queue;
    if (this.transport.inline) return settled(q.preadInto(this.head, fd, replyOffset, len, offset) as number);
    return new Promise((resolve, reject) => q.preadInto(this.head, fd, replyOffset, len, offset, (r) => (r < 0 ? reject(new ErrnoError(-r)) : resolve(r))));
  }

  /** File I/O over a range that reaches foreign segments: our part natively, the rest by FS_IO. */
  private async withForeign(write: boolean, fd: number, from: number, len: number, offset: bigint): Promise<number> {
    const { local, spans } = splitRange(write ? this.foreign!.readable : this.foreign!.writable, from, len);
    let done = 0;
    if (local > 0) {
      done = await (write ? this.localWrite(fd, from, local, offset) : this.localRead(fd, from, local, offset));
      if (done < local || spans.length === 0) return done;
    }
    // The queue may have stopped while our part ran: its chains are no longer the guest's to fill.
    if (!this.live) return done;
    const io = this.transport.foreignIo;
    if (io === undefined) throw new ErrnoError(E_FAULT, 'buffer outside guest memory');
    return done + (await io.transfer(fd, write, offset + BigInt(done), spans));
  }

  reply(buf: Buffer, off: number, len: number, total: number): void {
    if (!this.live) {
      this.done = true;
      return;
    }
    this.done = true;
    try {
      this.transport.queue.complete(this.head, buf, off, len, total);
    } catch {
      // A reply the core built wrong must still give the guest its buffer back.
      this.transport.queue.complete(this.head, EMPTY, 0, 0, 0);
    }
    this.transport.scheduleFlush();
  }

  noReply(): void {
    this.reply(EMPTY, 0, 0, 0);
  }
}

const EMPTY = Buffer.alloc(0);

/** An inline native result as a settled promise: -errno becomes an ErrnoError. */
function settled(r: number): Promise<number> {
  return r < 0 ? Promise.reject(new ErrnoError(-r)) : Promise.resolve(r);
}
