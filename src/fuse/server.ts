/**
 * FuseServer: the FUSE core a transport hands requests to. Sans-IO: it reads the staged request
 * bytes, validates every length, dispatches through an opcode-indexed table (opcodes.ts) to the
 * FileSystem, and answers each request exactly once through the FuseRequest. It never throws
 * out of handle(): a malformed request gets an errno reply (or none where the protocol has none)
 * and is counted, and the server keeps serving.
 *
 * Session life cycle (INIT, DESTROY, reset()):
 *   down ──INIT──▶ starting ──fs.init ok──▶ up ──DESTROY / reset()──▶ stopping ──▶ down
 * INIT, DESTROY and reset() run one at a time, in arrival order. Before touching the file
 * system they stop admitting requests (new ones get EIO) and wait for those in flight to
 * finish, so fs.destroy() never races a running operation and concurrent INIT/DESTROY cannot
 * interleave. Only "up" serves ordinary requests; anything but INIT earlier gets EIO.
 *
 * A second INIT while up is taken as a new session (the guest driver restarted — reboot, kexec —
 * without DESTROY and without the transport calling reset()): we drain, fs.destroy(), and
 * negotiate afresh. The kernel never sends two INITs on one live connection, and refusing
 * would leave a rebooted guest unable to mount; the Rust virtiofsd also re-initialises (its
 * init() wipes prior state). DESTROY is answered (header only) — libfuse does too — after
 * fs.destroy(); the guest ignores the result.
 */
import type { DirEntry, Entry, FileSystem, SessionInfo } from '../filesystem/filesystem.js';
import { E } from '../filesystem/errors.js';
import type { FuseRequest, FuseRequestHandler } from './transport.js';
import { BatchForgetIn, ForgetIn, ForgetOne, InHeader, InterruptIn, InitOut, Opcode, OPCODE_TABLE_SIZE, OutHeader, opcodeName, WRITE_DATA_OFFSET } from './abi.js';
import { silentLogger, type Logger } from '../logger.js';
import { FuseCall, type CallHost } from './call.js';
import { DecodeError, readU64Number } from './codec.js';
import { OPS, type Core, type OpSpec } from './opcodes.js';
import { decodeInitIn, encodeInitOut, initOutSize, negotiateInit, type InitRequest } from './init.js';
import { DirectIoTable, type DirectIoRegistry } from './direct-io.js';
import { isExpectedError, MAX_REPLY_ERRNO } from './reply.js';
import { createFuseStats, type FuseStats } from './stats.js';


export interface FuseServerOptions {
  /** Where to log (src/logger.ts); defaults to a silent logger. */
  logger?: Logger;
  /** max_write announced in INIT and the largest WRITE accepted. Default 1 MiB. */
  maxWrite?: number;
  /** Cap on READ / READDIR reply data (besides the guest's buffers). Default 1 MiB. */
  maxRead?: number;
  /** Offer FUSE_SUBMOUNTS (Kata's --announce-submounts). Default false. */
  announceSubmounts?: boolean;
  /** log2 DAX mapping alignment; set when a DAX window is served (SETUPMAPPING/REMOVEMAPPING). */
  mapAlignment?: number;
  /** Counters to update; one is created when absent (see FuseServer.stats). */
  stats?: FuseStats;
  /**
   * The transport's direct I/O (its native READ/WRITE path): the server registers there the
   * handles the file system granted (direct-io.ts), tells it when the session starts serving
   * ordinary requests (INIT done) and when it stops (DESTROY, reset, a new INIT — before the
   * server drains), and withdraws every grant before the file system can close a descriptor.
   */
  directIo?: DirectIoRegistry;
}

const MIB = 1024 * 1024;
const PAGE_SIZE = 4096;
/**
 * Largest non-WRITE request we copy when the transport staged only a prefix. The largest
 * legitimate one is SETXATTR: 40 + 16 + 256 + 65536 bytes (then SYMLINK: 40 + 256 + 4096, plus
 * a security-context extension).
 */
const MAX_COPIED_REQUEST = 70 * 1024;
/** INTERRUPTs remembered for requests not seen yet (the kernel may send them first). */
const MAX_PENDING_INTERRUPTS = 1024;
/** Shared reply scratch: fixed replies are ≤ 144 bytes; READLINK targets ≤ 4095. */
const SCRATCH_SIZE = OutHeader.SIZE + 4096;
/** fuse_forget_one records read per readInput() when BATCH_FORGET was not fully staged. */
const FORGET_CHUNK = 256;

type State = 'down' | 'starting' | 'up' | 'stopping';


export class FuseServer implements FuseRequestHandler {
  readonly stats: FuseStats;
  readonly maxWrite: number;
  readonly maxRead: number;
  /** max_pages announced in INIT: max_write in 4 KiB pages (256 for 1 MiB). */
  readonly maxPages: number;

  private readonly logger: Logger;
  private readonly announceSubmounts: boolean;
  private readonly mapAlignment: number | undefined;
  private stateValue: State = 'down';
  private readonly directIoRegistry: DirectIoRegistry | undefined;
  private readonly directIo: DirectIoTable | undefined;
  private sessionInfo: SessionInfo | undefined;
  private lifecycle: Promise<void> = Promise.resolve();
  private inflight = 0;
  private drainWaiters: Array<() => void> = [];
  /** Requests in flight by unique, for FUSE_INTERRUPT. */
  private readonly calls = new Map<number, FuseCall>();
  private readonly pendingInterrupts = new Set<number>();
  private readonly scratchBuf = Buffer.alloc(SCRATCH_SIZE);
  private readonly forgetChunk = Buffer.alloc(FORGET_CHUNK * ForgetOne.SIZE);
  private readonly host: CallHost;
  private readonly core: Core;

  constructor(
    private readonly fs: FileSystem,
    options: FuseServerOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.maxWrite = options.maxWrite ?? MIB;
    this.maxRead = options.maxRead ?? MIB;
    if (!Number.isInteger(this.maxWrite) || this.maxWrite < PAGE_SIZE || this.maxWrite > 0xffff * PAGE_SIZE) {
      throw new RangeError(`maxWrite must be an integer in [4096, ${0xffff * PAGE_SIZE}]`);
    }
    if (!Number.isInteger(this.maxRead) || this.maxRead < PAGE_SIZE) {
      throw new RangeError('maxRead must be an integer ≥ 4096');
    }
    this.maxPages = Math.ceil(this.maxWrite / PAGE_SIZE);
    this.announceSubmounts = options.announceSubmounts ?? false;
    this.mapAlignment = options.mapAlignment;
    this.stats = options.stats ?? createFuseStats();
    this.directIoRegistry = options.directIo;
    this.directIo = options.directIo === undefined ? undefined : new DirectIoTable(options.directIo);

    this.host = {
      logger: this.logger,
      scratch: (len) => {
        if (len > this.scratchBuf.length) return Buffer.alloc(len);
        this.scratchBuf.fill(0, 0, len);
        return this.scratchBuf;
      },
      completed: (call, errno, err) => this.completed(call, errno, err),
    };
    const sessionFlags = (): bigint => (this.state === 'up' && this.sessionInfo !== undefined ? this.sessionInfo.flags : 0n);
    this.core = {
      fs,
      get sessionFlags(): bigint {
        return sessionFlags();
      },
      maxRead: this.maxRead,
      maxWrite: this.maxWrite,
      logger: this.logger,
      directIo: this.directIo,
      forgetQuietly: (nodeid, count) => this.forgetQuietly(nodeid, count),
      direntHooks: {
        dropped: (entry: Entry) => {
          if (Number.isSafeInteger(entry.nodeid) && entry.nodeid > 0) this.forgetQuietly(entry.nodeid, 1n);
        },
        skipped: (d: DirEntry, why) => this.logger.warn({ name: d.name.toString('latin1'), why }, 'skipping a directory entry the guest would reject'),
      },
    };
  }

  private get state(): State {
    return this.stateValue;
  }

  private set state(s: State) {
    const was = this.stateValue === 'up';
    this.stateValue = s;
    const registry = this.directIoRegistry;
    if (was === (s === 'up') || registry === undefined) return;
    // Leaving "up": no request is taken natively any more, and no grant outlives the session
    // (the file system closes its descriptors when it ends).
    if (!was) {
      this.directIo?.open();
      registry.serving(true, { maxRead: this.maxRead, maxWrite: this.maxWrite, maxErrno: MAX_REPLY_ERRNO });
    } else {
      registry.serving(false, { maxRead: this.maxRead, maxWrite: this.maxWrite, maxErrno: MAX_REPLY_ERRNO });
      this.directIo?.clear();
    }
  }

  /** The negotiated session, while one is up. */
  get session(): SessionInfo | undefined {
    return this.state === 'up' ? this.sessionInfo : undefined;
  }

  get initialized(): boolean {
    return this.state === 'up';
  }

  /** Requests currently inside the file system. */
  get inFlight(): number {
    return this.inflight;
  }

  /**
   * Ends the session without a DESTROY request (device reset, frontend disconnect): waits for
   * requests in flight, calls fs.destroy() if a session was up, and returns to the
   * un-initialised state. Serialised with INIT/DESTROY.
   */
  reset(): Promise<void> {
    return this.enqueue(async () => {
      if (this.state === 'down') return;
      this.state = 'stopping';
      this.interruptAll();
      await this.drain();
      await this.destroyFs('reset');
      this.state = 'down';
      this.sessionInfo = undefined;
    });
  }

  /** FuseRequestHandler: never throws; answers `req` exactly once (now or later). */
  handle(req: FuseRequest): void {
    let call: FuseCall | undefined;
    try {
      call = this.accept(req);
      if (call !== undefined) this.dispatch(call);
    } catch (err) {
      this.logger.error({ err }, 'FUSE core bug: dispatch threw');
      try {
        if (call === undefined) {
          this.stats.malformed++;
          req.noReply();
        } else if (!call.done) {
          if (isNoReply(call.opcode)) call.noReply(err);
          else call.error(err);
        }
      } catch (err2) {
        this.logger.error({ err: err2 }, 'could not complete a request after a core bug');
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Intake: make the header (and, where needed, the whole request) addressable, or drop it.

  private accept(req: FuseRequest): FuseCall | undefined {
    const total = req.totalLength;
    let buf = req.input;
    let base = req.inputOffset;
    let staged = Math.min(req.inputLength, total);

    if (!(total >= InHeader.SIZE)) {
      // No trustworthy unique: nothing to answer to.
      this.stats.malformed++;
      this.logger.debug({ total }, 'dropping a request shorter than fuse_in_header');
      req.noReply();
      return undefined;
    }
    if (staged < InHeader.SIZE) {
      const copy = Buffer.alloc(Math.min(total, MAX_COPIED_REQUEST));
      staged = req.readInput(0, copy, 0, copy.length);
      if (!(staged >= InHeader.SIZE)) {
        this.stats.malformed++;
        req.noReply();
        return undefined;
      }
      buf = copy;
      base = 0;
    }

    const opcode = buf.readUInt32LE(base + InHeader.opcode);
    const extBytes = buf.readUInt16LE(base + InHeader.totalExtlen) * 8;
    const argsLen = total - InHeader.SIZE - extBytes; // may be negative: checked in dispatch

    // Bytes of the request the handler will read from `buf`.
    let needed: number;
    if (isNoReply(opcode)) needed = Math.min(total, InHeader.SIZE + ForgetIn.SIZE); // BATCH_FORGET streams the rest
    else if (opcode === Opcode.WRITE) needed = Math.min(total, WRITE_DATA_OFFSET);
    else if (opcode === Opcode.INIT || (opcode < OPCODE_TABLE_SIZE && OPS[opcode] !== undefined)) needed = total;
    else needed = InHeader.SIZE;

    if (staged < needed && needed <= MAX_COPIED_REQUEST) {
      const copy = Buffer.alloc(needed);
      const n = req.readInput(0, copy, 0, needed);
      if (n >= InHeader.SIZE) {
        buf = copy;
        base = 0;
        staged = n;
      }
    }
    // Whatever is still missing shows up as a too-short argument area below (EINVAL).
    return new FuseCall(this.host, req, buf, base, argsLen, staged);
  }

  private dispatch(c: FuseCall): void {
    const req = c.req;
    const opcode = c.opcode;
    if (opcode < OPCODE_TABLE_SIZE) this.stats.requests[opcode]++;
    else this.stats.unknownOpcodes++;
    if (this.logger.isLevelEnabled('debug')) {
      this.logger.debug({ op: opcodeName(opcode), unique: c.uniqueKey, nodeid: c.headerNodeid, len: req.totalLength }, 'fuse request');
    }

    const headerLen = c.buf.readUInt32LE(c.headerOff + InHeader.len);
    const noReply = isNoReply(opcode);
    if (headerLen !== req.totalLength) {
      const err = new DecodeError(`fuse_in_header.len ${headerLen} != request length ${req.totalLength}`);
      return noReply ? c.noReply(err) : c.error(err);
    }
    if (!noReply && req.replyCapacity < OutHeader.SIZE) {
      return c.noReply(new DecodeError(`no room for a reply (${req.replyCapacity} bytes)`));
    }
    if (c.argsLen < 0) {
      const err = new DecodeError('total_extlen exceeds the request');
      return noReply ? c.noReply(err) : c.error(err);
    }

    switch (opcode) {
      case Opcode.INIT:
        return this.init(c);
      case Opcode.DESTROY:
        return this.destroy(c);
      case Opcode.FORGET:
        return this.forget(c);
      case Opcode.BATCH_FORGET:
        return this.batchForget(c);
      case Opcode.INTERRUPT:
        return this.interrupt(c);
      case Opcode.NOTIFY_REPLY:
        return c.noReply();
    }

    if (this.state !== 'up') return c.error(E.EIO);
    // Deliberate answers for opcodes no file system serves here:
    // - IOCTL: ENOTTY, what ioctl(2) says for a request the file does not support. A virtio-fs
    //   guest only sends restricted ioctls; none of them (FS_IOC_GETFLAGS, FICLONE, ...) is worth
    //   running in the host file system as root on the guest's behalf.
    // - BMAP (fuseblk only), POLL (the guest then treats files as always ready): ENOSYS, which
    //   also stops the guest from asking again. SETUPMAPPING / REMOVEMAPPING are served only
    //   when the file system has them (the DAX wrapper, src/dax/dax-filesystem.ts); else ENOSYS.
    if (opcode === Opcode.IOCTL) return c.error(E.ENOTTY);
    const spec = opcode < OPCODE_TABLE_SIZE ? OPS[opcode] : undefined;
    if (spec === undefined) return c.error(E.ENOSYS);
    if (typeof (this.fs as unknown as Record<string, unknown>)[spec.method] !== 'function') return c.error(E.ENOSYS);
    if (c.argsLen < spec.inSize) {
      return c.error(new DecodeError(`${opcodeName(opcode)}: ${c.argsLen} argument bytes, need ${spec.inSize}`));
    }
    if (spec.wholeRequest ? c.staged < req.totalLength : c.argsAvail < spec.inSize) {
      return c.error(new DecodeError(`${opcodeName(opcode)}: request of ${req.totalLength} bytes could not be staged`));
    }
    if (spec.outSize > 0 && req.replyCapacity < OutHeader.SIZE + spec.outSize) {
      return c.error(new DecodeError(`reply buffer of ${req.replyCapacity} bytes is too small`, E.ERANGE));
    }
    this.start(spec, c);
  }

  private start(spec: OpSpec, c: FuseCall): void {
    if (spec.runSync !== undefined && this.runSync(spec.runSync, c)) return;
    this.inflight++;
    const key = c.uniqueKey;
    this.calls.set(key, c);
    if (this.pendingInterrupts.size !== 0 && this.pendingInterrupts.delete(key)) c.markInterrupted();
    void this.run(spec, c);
  }

  /**
   * The synchronous lane (LOOKUP, GETATTR without worker threads): no promise, no microtask.
   * The request is never in flight across a turn of the event loop, so it needs no entry in
   * `calls` (FUSE_INTERRUPT) or `inflight` (drain). False: the file system cannot serve it
   * synchronously now; nothing was done.
   */
  private runSync(run: (core: Core, c: FuseCall) => boolean, c: FuseCall): boolean {
    try {
      if (!run(this.core, c)) return false;
      this.checkReplied(c);
    } catch (err) {
      this.failed(c, err);
    }
    // An INTERRUPT that arrived before this request would have been consumed by it.
    if (this.pendingInterrupts.size !== 0) this.pendingInterrupts.delete(c.uniqueKey);
    return true;
  }

  /** A handler that returned without answering is a core bug: the guest still gets EIO. */
  private checkReplied(c: FuseCall): void {
    if (c.done) return;
    this.logger.error({ op: opcodeName(c.opcode) }, 'FUSE core bug: handler returned without replying');
    c.error(E.EIO);
  }

  /** A handler threw: the error is the reply, unless one was sent already. */
  private failed(c: FuseCall, err: unknown): void {
    if (!c.done) c.error(err);
    else this.logger.warn({ err, op: opcodeName(c.opcode) }, 'error after the reply was sent');
  }

  private async run(spec: OpSpec, c: FuseCall): Promise<void> {
    try {
      await spec.run(this.core, c);
      this.checkReplied(c);
    } catch (err) {
      this.failed(c, err);
    } finally {
      if (--this.inflight === 0 && this.drainWaiters.length !== 0) {
        const waiters = this.drainWaiters;
        this.drainWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  /** CallHost.completed: statistics, logging, interrupt bookkeeping. */
  private completed(c: FuseCall, errno: number, err: unknown): void {
    const key = c.uniqueKey;
    if (this.calls.get(key) === c) this.calls.delete(key);
    if (errno > 0) this.stats.errors.set(errno, (this.stats.errors.get(errno) ?? 0) + 1);
    if (err instanceof DecodeError) {
      this.stats.malformed++;
      // Guest-controlled: debug only, so a hostile guest cannot flood the log.
      this.logger.debug({ op: opcodeName(c.opcode), unique: key, err: err.message }, 'malformed request');
    } else if (err !== undefined && typeof err === 'object' && !isExpectedError(err)) {
      this.logger.warn({ err, op: opcodeName(c.opcode) }, 'unexpected error from the file system; replied EIO');
    }
  }

  // -------------------------------------------------------------------------------------------
  // Session life cycle

  private init(c: FuseCall): void {
    let inReq: InitRequest;
    try {
      inReq = decodeInitIn(c.args());
    } catch (err) {
      return c.error(err);
    }
    const decision = negotiateInit(inReq, { announceSubmounts: this.announceSubmounts, mapAlignment: this.mapAlignment });
    if (decision.kind === 'error') {
      this.logger.error({ major: inReq.major, minor: inReq.minor }, `FUSE INIT refused: ${decision.reason}`);
      return c.error(decision.errno);
    }
    if (decision.kind === 'retry') {
      this.logger.info({ major: inReq.major, minor: inReq.minor }, 'FUSE INIT with a newer major; answering 7.x');
      const b = c.small(InitOut.SIZE);
      encodeInitOut(b, OutHeader.SIZE, InitOut.SIZE);
      c.send(b, InitOut.SIZE);
      return;
    }
    const size = initOutSize(inReq.minor);
    if (c.req.replyCapacity < OutHeader.SIZE + size) {
      return c.error(new DecodeError('reply buffer too small for fuse_init_out', E.ERANGE));
    }
    void this.enqueue(async () => {
      try {
        const restart = this.state !== 'down';
        this.state = 'starting';
        this.interruptAll();
        await this.drain();
        if (restart) await this.destroyFs('INIT of a new session');
        let mask: bigint;
        try {
          mask = await this.fs.init({ minor: decision.minor, flags: decision.offered, directIo: this.directIo });
        } catch (err) {
          this.state = 'down';
          this.sessionInfo = undefined;
          this.logger.error({ err }, 'file system refused INIT');
          return c.error(err);
        }
        const flags = decision.offered & (typeof mask === 'bigint' ? mask : 0n);
        this.sessionInfo = { minor: decision.minor, flags };
        this.state = 'up';
        this.logger.info({ minor: decision.minor, flags: '0x' + flags.toString(16) }, 'FUSE session initialised');
        const b = c.small(size);
        encodeInitOut(b, OutHeader.SIZE, size, {
          maxReadahead: inReq.maxReadahead,
          flags,
          maxWrite: this.maxWrite,
          maxPages: this.maxPages,
          mapAlignment: this.mapAlignment,
        });
        c.send(b, size);
      } catch (err) {
        this.state = 'down';
        if (!c.done) c.error(err);
        throw err;
      }
    });
  }

  /** DESTROY is queued behind earlier INIT/DESTROY and judged against the state they leave. */
  private destroy(c: FuseCall): void {
    void this.enqueue(async () => {
      if (this.state !== 'up') return c.error(E.EIO);
      this.state = 'stopping';
      this.interruptAll();
      await this.drain();
      await this.destroyFs('DESTROY');
      this.state = 'down';
      this.sessionInfo = undefined;
      c.ok();
    });
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const next = this.lifecycle.then(op);
    this.lifecycle = next.catch((err: unknown) => this.logger.error({ err }, 'FUSE core bug: session transition failed'));
    return next;
  }

  /**
   * The session is ending: every request still in flight is interrupted, so that waits which
   * only end on FUSE_INTERRUPT (SETLKW) end now and drain() does not wait for them forever.
   */
  private interruptAll(): void {
    for (const c of [...this.calls.values()]) c.markInterrupted();
  }

  private drain(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private async destroyFs(why: string): Promise<void> {
    try {
      await this.fs.destroy();
    } catch (err) {
      this.logger.error({ err, why }, 'file system destroy() failed');
    }
  }

  // -------------------------------------------------------------------------------------------
  // Requests without a reply

  private forgetQuietly(nodeid: number, count: bigint): void {
    try {
      this.fs.forget(nodeid, count);
    } catch (err) {
      this.logger.warn({ err, nodeid }, 'file system forget() threw');
    }
  }

  /** FORGET: fuse_forget_in; drops lookup references. Ignored outside a session. */
  private forget(c: FuseCall): void {
    if (c.argsAvail < ForgetIn.SIZE) return c.noReply(new DecodeError('short FORGET'));
    if (this.state === 'up') {
      this.stats.forgets++;
      const nodeid = c.headerNodeid;
      if (nodeid !== undefined) this.forgetQuietly(nodeid, c.buf.readBigUInt64LE(c.argsOff + ForgetIn.nlookup));
    }
    c.noReply();
  }

  /**
   * BATCH_FORGET: fuse_batch_forget_in then count × fuse_forget_one. The count is never trusted:
   * we process min(count, records actually present). Each record stands alone, so applying the
   * present ones is safe, while dropping them would leak inodes (and descriptors) on the host.
   * A count larger than the records present is still counted as malformed.
   */
  private batchForget(c: FuseCall): void {
    if (c.argsAvail < BatchForgetIn.SIZE) return c.noReply(new DecodeError('short BATCH_FORGET'));
    const count = c.buf.readUInt32LE(c.argsOff + BatchForgetIn.count);
    const present = Math.floor((c.argsLen - BatchForgetIn.SIZE) / ForgetOne.SIZE);
    const n = Math.min(count, present);
    if (this.state === 'up') {
      const first = InHeader.SIZE + BatchForgetIn.SIZE; // request offset of record 0
      // Records inside the staged bytes.
      const staged = Math.min(n, Math.max(0, Math.floor((c.staged - first) / ForgetOne.SIZE)));
      for (let i = 0; i < staged; i++) this.forgetOne(c.buf, c.headerOff + first + i * ForgetOne.SIZE);
      let done = staged;
      // The rest in chunks through readInput().
      while (done < n) {
        const want = Math.min(FORGET_CHUNK, n - done) * ForgetOne.SIZE;
        const got = c.req.readInput(first + done * ForgetOne.SIZE, this.forgetChunk, 0, want);
        const records = Math.floor(Math.max(0, Math.min(got, want)) / ForgetOne.SIZE);
        for (let i = 0; i < records; i++) this.forgetOne(this.forgetChunk, i * ForgetOne.SIZE);
        done += records;
        if (records * ForgetOne.SIZE < want) break;
      }
    }
    if (count > present) return c.noReply(new DecodeError(`BATCH_FORGET count ${count} but ${present} records`));
    c.noReply();
  }

  private forgetOne(buf: Buffer, off: number): void {
    this.stats.forgets++;
    // A node id beyond 2^53 names no inode of ours: nothing to forget.
    const nodeid = readU64Number(buf, off + ForgetOne.nodeid);
    if (nodeid !== undefined) this.forgetQuietly(nodeid, buf.readBigUInt64LE(off + ForgetOne.nlookup));
  }

  /**
   * INTERRUPT: fuse_interrupt_in names the unique of a request to interrupt. It makes that
   * request's RequestContext.interrupted() return true; it may arrive before the request
   * itself, so unknown uniques are remembered (bounded). No reply.
   */
  private interrupt(c: FuseCall): void {
    if (c.argsAvail < InterruptIn.SIZE) return c.noReply(new DecodeError('short INTERRUPT'));
    this.stats.interrupts++;
    const off = c.argsOff + InterruptIn.unique;
    const key = c.buf.readUInt32LE(off + 4) * 0x1_0000_0000 + c.buf.readUInt32LE(off);
    const target = this.calls.get(key);
    if (target !== undefined) {
      target.markInterrupted();
    } else {
      if (this.pendingInterrupts.size >= MAX_PENDING_INTERRUPTS) {
        const oldest = this.pendingInterrupts.values().next().value;
        if (oldest !== undefined) this.pendingInterrupts.delete(oldest);
      }
      this.pendingInterrupts.add(key);
    }
    c.noReply();
  }
}

/**
 * Requests the guest never waits a reply for. NOTIFY_REPLY answers a FUSE_NOTIFY_RETRIEVE of
 * ours (we send none): the kernel sends it as a no-reply request, so it is dropped and counted.
 */
function isNoReply(opcode: number): boolean {
  return opcode === Opcode.FORGET || opcode === Opcode.BATCH_FORGET || opcode === Opcode.INTERRUPT || opcode === Opcode.NOTIFY_REPLY;
}
