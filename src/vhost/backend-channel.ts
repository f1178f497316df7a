/**
 * The back-end request channel (SET_BACKEND_REQ_FD): the direction in which *we* ask the
 * front-end for something (map a file range into the DAX window, unmap it, do I/O on it).
 * Requests are sent in order and, when REPLY_ACK was negotiated, answered in order; callers
 * get a promise of the u64 status. A front-end that closes the channel fails every waiter.
 */
import { native } from '../native/binding.js';
import { Endpoint } from './endpoint.js';
import { FLAG_NEED_REPLY, FLAG_REPLY, VERSION, type Message } from './protocol.js';

interface Waiter {
  request: number;
  resolve: (status: bigint) => void;
  reject: (err: Error) => void;
}

export class BackendChannel {
  private readonly endpoint: Endpoint;
  private readonly waiters: Waiter[] = [];
  private closedReason: string | undefined;

  constructor(
    fd: number,
    /** Whether the front-end acknowledges requests (REPLY_ACK negotiated). */
    private readonly replyAck: boolean,
  ) {
    this.endpoint = new Endpoint(fd, {
      onMessage: (msg) => this.onMessage(msg),
      onClose: (reason) => this.onClose(reason ?? 'front-end closed the back-end channel'),
    });
  }

  get isOpen(): boolean {
    return this.closedReason === undefined;
  }

  /**
   * Sends a request. Resolves with the front-end's status (0 = success) — or 0 at once when
   * the front-end does not acknowledge requests.
   */
  request(request: number, payload: Buffer, fds?: number[]): Promise<bigint> {
    if (this.closedReason !== undefined) return Promise.reject(new Error(this.closedReason));
    const flags = this.replyAck ? FLAG_NEED_REPLY : 0;
    this.endpoint.send(request, VERSION | flags, payload, fds);
    if (!this.replyAck) return Promise.resolve(0n);
    return new Promise((resolve, reject) => this.waiters.push({ request, resolve, reject }));
  }

  close(): void {
    this.endpoint.close();
  }

  private onMessage(msg: Message): void {
    const w = this.waiters.shift();
    if (w === undefined || (msg.flags & FLAG_REPLY) === 0 || msg.request !== w.request || msg.payload.length !== 8) {
      // Out of step with the front-end: nothing after this can be matched reliably.
      w?.reject(new Error('unexpected message on the back-end channel'));
      this.endpoint.close('unexpected message on the back-end channel');
      return;
    }
    for (const fd of msg.fds) if (fd >= 0) native.closeFd(fd);
    msg.fds.length = 0;
    w.resolve(msg.payload.readBigUInt64LE(0));
  }

  private onClose(reason: string): void {
    this.closedReason = reason;
    for (const w of this.waiters.splice(0)) w.reject(new Error(reason));
  }
}
