/**
 * The vhost-user back-end state machine: one method per front-end request, the only place
 * that gives messages meaning (was the feature negotiated, were descriptors attached, is the
 * queue index valid). Queue processing itself belongs to the device.
 *
 * Failure policy (spec: "the back-end ... must reply ... or close"): a request we understand
 * but cannot honour gets a REPLY_ACK failure when the front-end asked for an ack; a message we
 * cannot decode, or a query we cannot answer, is logged and the connection is closed — never
 * an exception out of the event loop.
 */
import { native, type GuestMemory, type VirtQueue } from '../native/binding.js';
import type { Logger } from '../logger.js';
import type { VhostUserDevice } from './device.js';
import { BackendChannel } from './backend-channel.js';
import { Endpoint } from './endpoint.js';
import {
  FLAG_NEED_REPLY,
  Feature,
  ProtocolError,
  ProtocolFeature,
  REQUESTS_WITH_REPLY,
  Req,
  VRING_INDEX_MASK,
  VRING_NOFD_MASK,
  CONFIG_HEADER_SIZE,
  SHMEM_CONFIG_SIZE,
  decodeConfigRequest,
  decodeMemTable,
  decodeSingleRegion,
  decodeU64,
  decodeVringAddr,
  decodeVringState,
  reqName,
  u64Payload,
  vringStatePayload,
  type Message,
  type VringAddr,
} from './protocol.js';

/** How long GET_VRING_BASE and RESET wait for requests in flight (a blocked lock wait...). */
const DRAIN_TIMEOUT_MS = 10_000;

/** rust-vmm's limit; QEMU asks with GET_MAX_MEM_SLOTS when CONFIGURE_MEM_SLOTS is on. */
const MAX_MEM_SLOTS = 509;

const OFFERED_FEATURES =
  Feature.VERSION_1 | Feature.RING_INDIRECT_DESC | Feature.RING_EVENT_IDX | Feature.PROTOCOL_FEATURES;

const BASE_PROTOCOL_FEATURES =
  ProtocolFeature.MQ |
  ProtocolFeature.REPLY_ACK |
  ProtocolFeature.BACKEND_REQ |
  ProtocolFeature.BACKEND_SEND_FD |
  ProtocolFeature.RESET_DEVICE |
  ProtocolFeature.CONFIGURE_MEM_SLOTS;

class QueueState {
  size = 0;
  base = 0;
  addr: VringAddr | undefined;
  kickFd = -1;
  callFd = -1;
  errFd = -1;
  enabled = false;
  running = false;
  vq: VirtQueue | undefined;
}

export interface BackendStats {
  messages: number;
  protocolErrors: number;
}

export class VhostUserBackend {
  private readonly endpoint: Endpoint;
  private readonly memory: GuestMemory = new native.GuestMemory();
  private readonly queues: QueueState[];
  private readonly offeredProtocolFeatures: bigint;
  private ackedFeatures = 0n;
  private ackedProtocolFeatures = 0n;
  private backendChannel: BackendChannel | undefined;
  /** Set while a request completes asynchronously; later messages wait in `backlog`. */
  private busy = false;
  private readonly backlog: Message[] = [];
  readonly stats: BackendStats = { messages: 0, protocolErrors: 0 };

  constructor(
    fd: number,
    private readonly device: VhostUserDevice,
    private readonly log: Logger,
    private readonly onDisconnect: (reason: string | undefined) => void,
  ) {
    this.queues = Array.from({ length: device.maxQueues }, () => new QueueState());
    this.offeredProtocolFeatures =
      BASE_PROTOCOL_FEATURES |
      (device.config !== undefined ? ProtocolFeature.CONFIG : 0n) |
      (device.shmemRegions.length > 0 ? ProtocolFeature.SHMEM : 0n);
    this.endpoint = new Endpoint(fd, {
      onMessage: (msg) => this.onMessage(msg),
      onClose: (reason) => this.onClose(reason),
    });
  }

  /** The back-end request channel (SET_BACKEND_REQ_FD), if the front-end gave us one. */
  get channel(): BackendChannel | undefined {
    return this.backendChannel;
  }

  /** Protocol features both sides agreed on. */
  get protocolFeatures(): bigint {
    return this.ackedProtocolFeatures;
  }

  close(reason?: string): void {
    this.endpoint.close(reason);
  }

  private onMessage(msg: Message): void {
    if (this.busy) {
      // Keep the descriptors: the endpoint closes whatever is left in msg.fds.
      this.backlog.push({ ...msg, fds: msg.fds.splice(0) });
      return;
    }
    this.stats.messages++;
    const name = reqName[msg.request] ?? `request ${msg.request}`;
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug({ request: name, size: msg.payload.length, fds: msg.fds.length }, 'vhost-user message');
    }
    let result: boolean | Promise<boolean>;
    try {
      result = this.dispatch(msg);
    } catch (err) {
      this.protocolError(name, err);
      return;
    }
    if (typeof result === 'boolean') {
      this.ack(msg, result);
      return;
    }
    // An asynchronous request: hold every later message until it is answered, in order.
    this.busy = true;
    result.then(
      (ok) => this.ack(msg, ok),
      (err: unknown) => this.protocolError(name, err),
    ).finally(() => {
      this.busy = false;
      // msg's own descriptors were taken synchronously or closed by the endpoint already.
      while (!this.busy && this.backlog.length > 0 && !this.endpoint.isClosed) {
        const next = this.backlog.shift()!;
        this.onMessage(next);
        for (const fd of next.fds) if (fd >= 0) native.closeFd(fd);
      }
    });
  }

  private protocolError(name: string, err: unknown): void {
    this.stats.protocolErrors++;
    const reason = err instanceof ProtocolError ? err.message : `${name}: ${String(err)}`;
    // Logged once, by whoever handles the disconnect (the daemon).
    this.endpoint.close(`vhost-user protocol error: ${reason}`);
  }

  private ack(msg: Message, ok: boolean): void {
    if (
      !REQUESTS_WITH_REPLY.has(msg.request) &&
      (msg.flags & FLAG_NEED_REPLY) !== 0 &&
      (this.ackedProtocolFeatures & ProtocolFeature.REPLY_ACK) !== 0n
    ) {
      this.endpoint.reply(msg.request, u64Payload(ok ? 0n : 1n));
    }
  }

  /** Handles one message; false (or a promise of false) refuses it (ack failure). */
  private dispatch(msg: Message): boolean | Promise<boolean> {
    switch (msg.request) {
      case Req.GET_FEATURES:
        this.expectNoFds(msg);
        this.endpoint.reply(msg.request, u64Payload(OFFERED_FEATURES | this.device.deviceFeatures));
        return true;
      case Req.SET_FEATURES:
        return this.setFeatures(decodeU64(msg));
      case Req.GET_PROTOCOL_FEATURES:
        this.endpoint.reply(msg.request, u64Payload(this.offeredProtocolFeatures));
        return true;
      case Req.SET_PROTOCOL_FEATURES:
        this.ackedProtocolFeatures = decodeU64(msg) & this.offeredProtocolFeatures;
        return true;
      case Req.SET_OWNER:
        return true;
      case Req.RESET_OWNER:
      case Req.RESET_DEVICE:
        return this.resetDevice().then(() => true);
      case Req.GET_QUEUE_NUM:
        this.endpoint.reply(msg.request, u64Payload(BigInt(this.device.maxQueues)));
        return true;
      case Req.GET_MAX_MEM_SLOTS:
        this.endpoint.reply(msg.request, u64Payload(BigInt(MAX_MEM_SLOTS)));
        return true;
      case Req.SET_MEM_TABLE:
        return this.setMemTable(msg);
      case Req.ADD_MEM_REG:
        return this.addMemRegion(msg);
      case Req.REM_MEM_REG:
        return this.removeMemRegion(msg);
      case Req.SET_VRING_NUM:
        return this.setVringNum(msg);
      case Req.SET_VRING_ADDR:
        return this.setVringAddr(msg);
      case Req.SET_VRING_BASE:
        return this.setVringBase(msg);
      case Req.GET_VRING_BASE:
        return this.getVringBase(msg).then(() => true);
      case Req.SET_VRING_KICK:
      case Req.SET_VRING_CALL:
      case Req.SET_VRING_ERR:
        return this.setVringFd(msg);
      case Req.SET_VRING_ENABLE:
        return this.setVringEnable(msg);
      case Req.SET_BACKEND_REQ_FD:
        return this.setBackendReqFd(msg);
      case Req.GET_CONFIG:
        if (!this.negotiated(ProtocolFeature.CONFIG)) return this.unsupported(msg);
        this.getConfig(msg);
        return true;
      case Req.SET_CONFIG:
        // The virtio-fs config space (tag, queue count) is read-only.
        return false;
      case Req.GET_SHMEM_CONFIG:
        if (!this.negotiated(ProtocolFeature.SHMEM)) return this.unsupported(msg);
        this.endpoint.reply(msg.request, this.shmemConfig());
        return true;
      default:
        return this.unsupported(msg);
    }
  }

  private negotiated(f: bigint): boolean {
    return (this.ackedProtocolFeatures & f) !== 0n;
  }

  /** GET_CONFIG: the requested window of the config space, zero beyond its end. */
  private getConfig(msg: Message): void {
    const req = decodeConfigRequest(msg);
    const reply = Buffer.alloc(CONFIG_HEADER_SIZE + req.size);
    reply.writeUInt32LE(req.offset, 0);
    reply.writeUInt32LE(req.size, 4);
    reply.writeUInt32LE(req.flags, 8);
    const config = this.device.config!;
    if (req.offset < config.length) config.copy(reply, CONFIG_HEADER_SIZE, req.offset, Math.min(config.length, req.offset + req.size));
    this.endpoint.reply(msg.request, reply);
  }

  private shmemConfig(): Buffer {
    const regions = this.device.shmemRegions;
    const b = Buffer.alloc(SHMEM_CONFIG_SIZE);
    b.writeUInt32LE(regions.length, 0);
    regions.forEach((size, i) => b.writeBigUInt64LE(size, 8 + 8 * i));
    return b;
  }

  private unsupported(msg: Message): boolean {
    const name = reqName[msg.request] ?? `request ${msg.request}`;
    if (REQUESTS_WITH_REPLY.has(msg.request)) {
      // The front-end waits for an answer we cannot give: hanging it would be worse.
      throw new ProtocolError(`${name} is not supported and needs a reply`);
    }
    this.log.warn({ request: name }, 'unsupported vhost-user request refused');
    return false;
  }

  private expectNoFds(msg: Message): void {
    if (msg.fds.length > 0) throw new ProtocolError(`${reqName[msg.request]}: unexpected descriptors`);
  }

  private takeFd(msg: Message): number {
    if (msg.fds.length !== 1) {
      throw new ProtocolError(`${reqName[msg.request]}: expected 1 descriptor, got ${msg.fds.length}`);
    }
    const fd = msg.fds[0];
    msg.fds[0] = -1;
    return fd;
  }

  private queue(index: number): QueueState {
    const q = this.queues[index];
    if (q === undefined) throw new ProtocolError(`queue index ${index} out of range (${this.queues.length} queues)`);
    return q;
  }

  private setFeatures(features: bigint): boolean {
    const offered = OFFERED_FEATURES | this.device.deviceFeatures;
    if ((features & ~offered) !== 0n) {
      this.log.error({ features: features.toString(16) }, 'SET_FEATURES acks features we never offered');
      return false;
    }
    this.ackedFeatures = features;
    // Without VHOST_USER_F_PROTOCOL_FEATURES rings start enabled (spec, "Ring states").
    if ((features & Feature.PROTOCOL_FEATURES) === 0n) {
      for (let i = 0; i < this.queues.length; i++) {
        this.queues[i].enabled = true;
        if (!this.maybeStart(i)) return false;
      }
    }
    return true;
  }

  private setMemTable(msg: Message): boolean {
    const regions = decodeMemTable(msg);
    if (msg.fds.length !== regions.length) {
      throw new ProtocolError(`SET_MEM_TABLE: ${regions.length} regions but ${msg.fds.length} descriptors`);
    }
    this.memory.clear();
    let ok = true;
    regions.forEach((r, i) => {
      const rc = this.memory.addRegion(msg.fds[i], r.gpa, r.size, r.uva, r.mmapOffset);
      if (rc < 0) {
        this.log.error({ gpa: r.gpa.toString(16), size: r.size.toString() }, `cannot map guest memory region: errno ${-rc}`);
        ok = false;
      }
    });
    // The mapping holds its own reference; the descriptors are closed by the endpoint.
    this.remapQueues();
    return ok;
  }

  private addMemRegion(msg: Message): boolean {
    const r = decodeSingleRegion(msg);
    const fd = this.takeFd(msg);
    const rc = this.memory.addRegion(fd, r.gpa, r.size, r.uva, r.mmapOffset);
    native.closeFd(fd);
    if (rc < 0) {
      this.log.error({ gpa: r.gpa.toString(16) }, `ADD_MEM_REG failed: errno ${-rc}`);
      return false;
    }
    this.remapQueues();
    return true;
  }

  private removeMemRegion(msg: Message): boolean {
    const r = decodeSingleRegion(msg);
    const rc = this.memory.removeRegion(r.gpa, r.size);
    if (rc < 0) {
      this.log.warn({ gpa: r.gpa.toString(16) }, 'REM_MEM_REG for a region we do not have');
      return false;
    }
    this.remapQueues();
    return true;
  }

  private remapQueues(): void {
    this.queues.forEach((q, i) => {
      if (!q.running || q.vq === undefined) return;
      const why = q.vq.remap();
      if (why !== '') {
        this.log.error({ queue: i }, `queue stopped: ${why}`);
        this.device.stopQueue(i);
        q.base = q.vq.stop();
        q.running = false;
      }
    });
  }

  private setVringNum(msg: Message): boolean {
    const { index, num } = decodeVringState(msg);
    const q = this.queue(index);
    if (num === 0 || num > this.device.maxQueueSize || (num & (num - 1)) !== 0) {
      this.log.error({ queue: index, num }, 'SET_VRING_NUM: size must be a power of two within the limit');
      return false;
    }
    q.size = num;
    return true;
  }

  private setVringAddr(msg: Message): boolean {
    const addr = decodeVringAddr(msg);
    this.queue(addr.index).addr = addr;
    return true;
  }

  private setVringBase(msg: Message): boolean {
    const { index, num } = decodeVringState(msg);
    if (num > 0xffff) {
      this.log.error({ queue: index, num }, 'SET_VRING_BASE: index beyond 16 bits');
      return false;
    }
    this.queue(index).base = num;
    return true;
  }

  /**
   * GET_VRING_BASE stops the ring. Requests already taken from it are answered first (bounded
   * wait): the base we report must account for every chain, or the guest would wait forever
   * for chains we dropped and see stale used entries after the restart.
   */
  private async getVringBase(msg: Message): Promise<void> {
    const { index } = decodeVringState(msg);
    const q = this.queue(index);
    await this.drainQueue(index);
    this.stopQueue(index);
    if (q.kickFd >= 0) native.closeFd(q.kickFd);
    q.kickFd = -1;
    this.endpoint.reply(msg.request, vringStatePayload(index, q.base));
  }

  private async drainQueue(index: number): Promise<void> {
    const q = this.queues[index];
    if (!q.running) return;
    this.device.pauseQueue(index);
    if (!(await this.device.drainQueue(index, DRAIN_TIMEOUT_MS))) {
      this.log.error({ queue: index, inFlight: q.vq?.inFlight() }, 'requests still in flight after the drain timeout; dropping them');
    }
  }

  private setVringFd(msg: Message): boolean {
    const word = decodeU64(msg);
    const index = Number(word & VRING_INDEX_MASK);
    const noFd = (word & VRING_NOFD_MASK) !== 0n;
    const q = this.queue(index);
    const fd = noFd ? -1 : this.takeFd(msg);
    if (noFd) this.expectNoFds(msg);
    switch (msg.request) {
      case Req.SET_VRING_KICK: {
        if (noFd) {
          this.log.error({ queue: index }, 'polling mode (kick without eventfd) is not supported');
          return false;
        }
        const old = q.kickFd;
        q.kickFd = fd;
        if (q.running) {
          if (q.enabled) this.device.resumeQueue(index, fd);
        } else if (!this.maybeStart(index)) {
          return false;
        }
        if (old >= 0) native.closeFd(old);
        return true;
      }
      case Req.SET_VRING_CALL:
        if (q.callFd >= 0) native.closeFd(q.callFd);
        q.callFd = fd;
        q.vq?.setCallFd(fd);
        return true;
      default:
        if (q.errFd >= 0) native.closeFd(q.errFd);
        q.errFd = fd;
        return true;
    }
  }

  private setVringEnable(msg: Message): boolean {
    const { index, num } = decodeVringState(msg);
    const q = this.queue(index);
    if (num !== 0 && num !== 1) {
      this.log.error({ queue: index, num }, 'SET_VRING_ENABLE: value must be 0 or 1');
      return false;
    }
    q.enabled = num === 1;
    if (!q.running) return q.enabled ? this.maybeStart(index) : true;
    // A disabled ring keeps its state and its requests in flight; it only stops popping.
    if (q.enabled) this.device.resumeQueue(index, q.kickFd);
    else this.device.pauseQueue(index);
    return true;
  }

  private setBackendReqFd(msg: Message): boolean {
    const fd = this.takeFd(msg);
    this.backendChannel?.close();
    this.backendChannel = new BackendChannel(fd, this.negotiated(ProtocolFeature.REPLY_ACK));
    return true;
  }

  /**
   * Starts the queue once it has everything: size, addresses, kick fd, enabled, memory.
   * False only if it had everything and still could not start (bad ring addresses).
   */
  private maybeStart(index: number): boolean {
    const q = this.queues[index];
    if (q.running || !q.enabled || q.kickFd < 0 || q.addr === undefined || q.size === 0) return true;
    q.vq ??= new native.VirtQueue(this.memory);
    const eventIdx = (this.ackedFeatures & Feature.RING_EVENT_IDX) !== 0n;
    const why = q.vq.start(q.size, q.addr.desc, q.addr.avail, q.addr.used, eventIdx, q.base);
    if (why !== '') {
      this.log.error({ queue: index }, `cannot start queue: ${why}`);
      return false;
    }
    q.vq.setCallFd(q.callFd);
    q.running = true;
    this.log.debug({ queue: index, size: q.size, eventIdx, base: q.base }, 'queue started');
    this.device.startQueue(index, q.vq, q.kickFd, q.size);
    return true;
  }

  private stopQueue(index: number): void {
    const q = this.queues[index];
    if (!q.running || q.vq === undefined) return;
    this.device.stopQueue(index);
    q.base = q.vq.stop();
    q.running = false;
    this.log.debug({ queue: index, base: q.base }, 'queue stopped');
  }

  private async resetDevice(): Promise<void> {
    // Answer what the guest already handed us before forgetting its rings (their memory is
    // about to be reused by a new driver instance).
    await Promise.all(this.queues.map((_, i) => this.drainQueue(i)));
    for (let i = 0; i < this.queues.length; i++) this.stopQueue(i);
    for (const q of this.queues) {
      for (const fd of [q.kickFd, q.callFd, q.errFd]) if (fd >= 0) native.closeFd(fd);
      Object.assign(q, new QueueState(), { vq: q.vq });
      q.vq?.setCallFd(-1);
    }
    this.ackedFeatures = 0n;
    this.device.reset();
  }

  private onClose(reason: string | undefined): void {
    for (let i = 0; i < this.queues.length; i++) this.stopQueue(i);
    for (const q of this.queues) {
      for (const fd of [q.kickFd, q.callFd, q.errFd]) if (fd >= 0) native.closeFd(fd);
      q.kickFd = q.callFd = q.errFd = -1;
    }
    this.backendChannel?.close();
    this.backendChannel = undefined;
    this.memory.clear();
    this.device.reset();
    this.onDisconnect(reason);
  }
}
