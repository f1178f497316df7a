/**
 * One FUSE request on its way through the core: the decoded fuse_in_header, the request bytes,
 * and the exactly-once reply plumbing. It is also the RequestContext the file system sees.
 */
import type { NodeId, RequestContext, SecurityContext } from '../filesystem/filesystem.js';
import type { Logger } from '../logger.js';
import type { FuseRequest } from './transport.js';
import { E, ErrnoError } from '../filesystem/errors.js';
import { InHeader, OutHeader } from './abi.js';
import { ByteReader, readU64Number } from './codec.js';
import { errnoForReply, MAX_REPLY_ERRNO, writeOutHeader } from './reply.js';


/** What a call needs from the server. */
export interface CallHost {
  /**
   * A shared buffer, zero-filled over [0, len), for a reply built and sent synchronously.
   * Valid only until the next call to scratch(); transports copy in reply().
   */
  scratch(len: number): Buffer;
  /** Bookkeeping after the single reply (errno 0 = success) or noReply (errno -1). */
  completed(call: FuseCall, errno: number, err: unknown): void;
  readonly logger: Logger;
}

const TWO_32 = 0x1_0000_0000;

function noop(): void {}

export class FuseCall implements RequestContext {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
  readonly opcode: number;
  /**
   * fuse_in_header.nodeid when it fits in 2^53 - 1 (every id the file system hands out does);
   * undefined for a larger one, which names no inode of ours.
   */
  readonly headerNodeid: NodeId | undefined;
  readonly uniqueLo: number;
  readonly uniqueHi: number;
  /** Absolute offset in `buf` of fuse_in_header. */
  readonly headerOff: number;
  /** Absolute offset in `buf` of the opcode's arguments (right after fuse_in_header). */
  readonly argsOff: number;
  /**
   * Argument bytes of the request (totalLength - header - extensions), whether staged or not;
   * negative when total_extlen claims more than the request holds.
   */
  readonly argsLen: number;
  /** Answered (reply or noReply) already. */
  done = false;
  /** Request extensions (CREATE, MKNOD, MKDIR, SYMLINK, TMPFILE), set by the handler. */
  supplementaryGroups: readonly number[] | undefined = undefined;
  securityContext: SecurityContext | undefined = undefined;
  private intr = false;
  private intrListeners: (() => void)[] | undefined = undefined;

  constructor(
    private readonly host: CallHost,
    readonly req: FuseRequest,
    /** Request bytes starting at fuse_in_header: buf[headerOff ..]. */
    readonly buf: Buffer,
    headerOff: number,
    argsLen: number,
    /** Request bytes present in `buf` from headerOff (the rest only via req.readInput()). */
    readonly staged: number,
  ) {
    this.opcode = buf.readUInt32LE(headerOff + InHeader.opcode);
    this.uniqueLo = buf.readUInt32LE(headerOff + InHeader.unique);
    this.uniqueHi = buf.readUInt32LE(headerOff + InHeader.unique + 4);
    this.headerNodeid = readU64Number(buf, headerOff + InHeader.nodeid);
    this.uid = buf.readUInt32LE(headerOff + InHeader.uid);
    this.gid = buf.readUInt32LE(headerOff + InHeader.gid);
    this.pid = buf.readUInt32LE(headerOff + InHeader.pid);
    this.argsOff = headerOff + InHeader.SIZE;
    this.argsLen = argsLen;
    this.headerOff = headerOff;
  }

  /** The header's node id for a handler: ESTALE when it cannot name an inode of ours. */
  get nodeid(): NodeId {
    if (this.headerNodeid === undefined) throw new ErrnoError(E.ESTALE, 'node id out of range');
    return this.headerNodeid;
  }

  /** RequestContext.interrupted: true once a FUSE_INTERRUPT named this request. */
  interrupted(): boolean {
    return this.intr;
  }

  /** RequestContext.onInterrupt: `listener` runs once, when (or if already) interrupted. */
  onInterrupt(listener: () => void): () => void {
    if (this.intr) {
      listener();
      return noop;
    }
    (this.intrListeners ??= []).push(listener);
    return () => {
      const l = this.intrListeners;
      const i = l === undefined ? -1 : l.indexOf(listener);
      if (i >= 0) l!.splice(i, 1);
    };
  }

  markInterrupted(): void {
    if (this.intr) return;
    this.intr = true;
    const listeners = this.intrListeners;
    this.intrListeners = undefined;
    if (listeners === undefined || this.done) return;
    for (const l of listeners) {
      try {
        l();
      } catch (err) {
        this.host.logger.warn({ err }, 'interrupt listener threw');
      }
    }
  }

  /** fuse_in_header.unique as a number (exact below 2^53; kernels count up from 1). */
  get uniqueKey(): number {
    return this.uniqueHi * TWO_32 + this.uniqueLo;
  }

  /** Argument bytes actually present in `buf` (≤ argsLen when the transport staged a prefix). */
  get argsAvail(): number {
    return Math.max(0, Math.min(this.argsLen, this.staged - InHeader.SIZE));
  }

  /** A bounds-checked reader over the argument bytes present in `buf`. */
  args(): ByteReader {
    return new ByteReader(this.buf, this.argsOff, this.argsAvail);
  }

  /**
   * A reader over the request extensions (the total_extlen × 8 bytes after the arguments), as
   * far as they are present in `buf`.
   */
  extensions(): ByteReader {
    const end = this.headerOff + Math.min(this.staged, this.req.totalLength);
    const from = Math.min(end, this.argsOff + Math.max(0, this.argsLen));
    return new ByteReader(this.buf, from, end - from);
  }

  /** Room for a reply payload after the out header, per the guest's buffers. */
  get payloadCapacity(): number {
    return Math.max(0, this.req.replyCapacity - OutHeader.SIZE);
  }

  /** A zeroed scratch buffer for a `payloadLen`-byte reply; payload goes at OutHeader.SIZE. */
  small(payloadLen: number): Buffer {
    return this.host.scratch(OutHeader.SIZE + payloadLen);
  }

  /**
   * Sends buf[0, 16 + payloadLen) as a success reply, writing the out header at buf[0]. A reply
   * that would not fit the guest's buffers becomes ERANGE instead (never an overflow).
   */
  send(buf: Buffer, payloadLen: number): boolean {
    const len = OutHeader.SIZE + payloadLen;
    if (len > this.req.replyCapacity) {
      this.error(E.ERANGE, `reply of ${len} bytes exceeds the guest's ${this.req.replyCapacity}`);
      return false;
    }
    writeOutHeader(buf, 0, len, 0, this.uniqueLo, this.uniqueHi);
    return this.finish(buf, len, len, 0, undefined);
  }

  /** Success reply of a bare out header (no payload). */
  ok(): boolean {
    return this.send(this.small(0), 0);
  }

  /**
   * Success reply whose payload (dataLen bytes) the transport already placed after the header
   * through readFileIntoReply(). The caller guarantees 16 + dataLen ≤ replyCapacity.
   */
  sendFileData(dataLen: number): boolean {
    const total = OutHeader.SIZE + dataLen;
    const hdr = this.small(0);
    writeOutHeader(hdr, 0, total, 0, this.uniqueLo, this.uniqueHi);
    return this.finish(hdr, OutHeader.SIZE, total, 0, undefined);
  }

  /** Error reply through THE errno mapping (errnoForReply). `err` may be an errno number. */
  error(err: unknown, message?: string): void {
    const errno = typeof err === 'number' ? (Number.isInteger(err) && err > 0 && err <= MAX_REPLY_ERRNO ? err : E.EIO) : errnoForReply(err);
    if (this.req.replyCapacity < OutHeader.SIZE) {
      // Not even room for the header: nothing we can say. Complete without a reply.
      this.noReply(err ?? message);
      return;
    }
    const hdr = this.small(0);
    writeOutHeader(hdr, 0, OutHeader.SIZE, errno, this.uniqueLo, this.uniqueHi);
    this.finish(hdr, OutHeader.SIZE, OutHeader.SIZE, errno, message !== undefined ? message : err);
  }

  /** Completes without a reply (FORGET, BATCH_FORGET, INTERRUPT, undeliverable replies). */
  noReply(why?: unknown): void {
    if (this.done) return this.doubleAnswer();
    this.done = true;
    try {
      this.req.noReply();
    } catch (err) {
      this.host.logger.error({ err }, 'transport noReply() threw');
    }
    this.host.completed(this, -1, why);
  }

  private finish(buf: Buffer, len: number, total: number, errno: number, err: unknown): boolean {
    if (this.done) {
      this.doubleAnswer();
      return false;
    }
    this.done = true;
    try {
      this.req.reply(buf, 0, len, total);
    } catch (e) {
      this.host.logger.error({ err: e }, 'transport reply() threw');
    }
    this.host.completed(this, errno, err);
    return true;
  }

  private doubleAnswer(): void {
    this.host.logger.error({ opcode: this.opcode, unique: this.uniqueKey }, 'FUSE core bug: request answered twice');
  }
}
