/**
 * One vhost-user connection: bytes and descriptors in, whole messages out. Framing is
 * two-phase, as rust-vmm does it: read exactly the 12-byte header (descriptors ride on its
 * first byte), then exactly `size` payload bytes. A size above MAX_PAYLOAD, descriptors that do
 * not fit, or a bad version are protocol errors: the connection is closed, never trusted.
 */
import { native, type FdWatcher } from '../native/binding.js';
import {
  FLAG_REPLY,
  FLAG_VERSION_MASK,
  HEADER_SIZE,
  MAX_PAYLOAD,
  ProtocolError,
  VERSION,
  type Message,
} from './protocol.js';

const MAX_FDS = 8;
const EAGAIN = 11;

export interface EndpointEvents {
  /** A whole message. Descriptors left in msg.fds (not set to -1) are closed afterwards. */
  onMessage(msg: Message): void;
  /** The peer closed the connection, or a protocol error forced us to. */
  onClose(reason: string | undefined): void;
}

export class Endpoint {
  private readonly watcher: FdWatcher;
  private readonly header = Buffer.alloc(HEADER_SIZE);
  private readonly fdsOut = new Int32Array(1 + MAX_FDS);
  private headerHave = 0;
  private body: Buffer | undefined;
  private bodyHave = 0;
  private pendingFds: number[] = [];
  private closed = false;

  constructor(
    readonly fd: number,
    private readonly events: EndpointEvents,
  ) {
    this.watcher = new native.FdWatcher(fd, () => this.onReadable());
  }

  /** Sends one message (used for replies and for back-end requests). */
  send(request: number, flags: number, payload: Buffer, fds?: number[]): void {
    if (this.closed) return;
    const msg = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
    msg.writeUInt32LE(request, 0);
    msg.writeUInt32LE(flags, 4);
    msg.writeUInt32LE(payload.length, 8);
    payload.copy(msg, HEADER_SIZE);
    let off = 0;
    let first = true;
    let blocking = false;
    while (off < msg.length) {
      const n = native.socketSend(this.fd, msg, off, msg.length - off, first ? fds : undefined);
      if (n === -EAGAIN && !blocking) {
        // The peer is not reading yet; messages are small, so wait for it rather than queue.
        native.setBlocking(this.fd, true);
        blocking = true;
        continue;
      }
      if (n < 0) {
        if (blocking) native.setBlocking(this.fd, false);
        this.close(`send failed: errno ${-n}`);
        return;
      }
      off += n;
      first = false;
    }
    if (blocking) native.setBlocking(this.fd, false);
  }

  reply(request: number, payload: Buffer): void {
    this.send(request, VERSION | FLAG_REPLY, payload);
  }

  close(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher.close();
    for (const fd of this.pendingFds) native.closeFd(fd);
    this.pendingFds = [];
    native.closeFd(this.fd);
    this.events.onClose(reason);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onReadable(): void {
    try {
      while (!this.closed && this.readSome()) {
        /* keep draining until EAGAIN */
      }
    } catch (err) {
      this.close(err instanceof ProtocolError ? `vhost-user protocol error: ${err.message}` : `internal error: ${String(err)}`);
    }
  }

  /** Reads what is available; returns false when the socket has nothing more for now. */
  private readSome(): boolean {
    if (this.body === undefined) {
      const n = this.recv(this.header, this.headerHave, HEADER_SIZE - this.headerHave);
      if (n <= 0) return false;
      this.headerHave += n;
      if (this.headerHave < HEADER_SIZE) return true;
      const flags = this.header.readUInt32LE(4);
      const size = this.header.readUInt32LE(8);
      if ((flags & FLAG_VERSION_MASK) !== VERSION) throw new ProtocolError(`bad message version in flags 0x${flags.toString(16)}`);
      if (size > MAX_PAYLOAD) throw new ProtocolError(`message payload of ${size} bytes exceeds ${MAX_PAYLOAD}`);
      this.body = Buffer.alloc(size);
      this.bodyHave = 0;
    }
    if (this.bodyHave < this.body.length) {
      const n = this.recv(this.body, this.bodyHave, this.body.length - this.bodyHave);
      if (n <= 0) return false;
      this.bodyHave += n;
      if (this.bodyHave < this.body.length) return true;
    }
    const msg: Message = {
      request: this.header.readUInt32LE(0),
      flags: this.header.readUInt32LE(4),
      payload: this.body,
      fds: this.pendingFds,
    };
    this.body = undefined;
    this.headerHave = 0;
    this.pendingFds = [];
    try {
      this.events.onMessage(msg);
    } finally {
      for (const fd of msg.fds) if (fd >= 0) native.closeFd(fd);
    }
    return true;
  }

  /** recvmsg into buf; collects descriptors. 0 means nothing now; the peer closing ends us. */
  private recv(buf: Buffer, off: number, len: number): number {
    const n = native.socketRecv(this.fd, buf, off, len, this.fdsOut);
    const nfds = this.fdsOut[0];
    if (nfds < 0) throw new ProtocolError(`more than ${MAX_FDS} descriptors attached to one message`);
    for (let i = 0; i < nfds; i++) this.pendingFds.push(this.fdsOut[1 + i]);
    if (this.pendingFds.length > MAX_FDS) throw new ProtocolError(`more than ${MAX_FDS} descriptors attached to one message`);
    if (n === -EAGAIN) return 0;
    if (n < 0) throw new ProtocolError(`recvmsg failed: errno ${-n}`);
    if (n === 0) {
      this.close(undefined);
      return 0;
    }
    return n;
  }
}
