/**
 * The vhost-user front-end handshake, as QEMU performs it for vhost-user-fs-pci: features,
 * protocol features, owner, memory table, then each vring (num, base, addr, call, kick,
 * enable). The control channel is synchronous (blocking socket, bounded waits): set-up is
 * rare and a simple request/reply sequence is easier to reason about and to fuzz.
 */
import { native } from '../native/binding.js';
import {
  FLAG_NEED_REPLY,
  FLAG_REPLY,
  Feature,
  HEADER_SIZE,
  ProtocolFeature,
  Req,
  VERSION,
  reqName,
  u64Payload,
  vringStatePayload,
} from '../vhost/protocol.js';
import { GuestRam, RAM_GPA, RAM_UVA } from './guest-ram.js';
import { DriverQueue } from './driver-queue.js';
import { BackendChannel, DaxWindow } from './backend-channel.js';


const EAGAIN = 11;
const REPLY_TIMEOUT_MS = 10_000;

export interface FrontendOptions {
  socketPath: string;
  /** Bytes of shared guest RAM (rings + buffers). */
  ramSize?: number;
  /** Request queues to set up (plus the hiprio queue 0). */
  requestQueues?: number;
  queueSize?: number;
  /** Negotiate VIRTIO_RING_F_EVENT_IDX if the back-end offers it. */
  eventIdx?: boolean;
  /** Negotiate VIRTIO_RING_F_INDIRECT_DESC if the back-end offers it (default true). */
  indirectDesc?: boolean;
  /**
   * Open the back-end request channel (BACKEND_REQ, BACKEND_SEND_FD) if offered, serving
   * FS_MAP / FS_UNMAP / FS_IO / SHMEM_MAP / SHMEM_UNMAP into a DAX window of this many bytes
   * (with SHMEM negotiated, the back-end's GET_SHMEM_CONFIG region 0 size wins).
   */
  daxWindowSize?: number;
}

export class VhostUserFrontend {
  readonly fd: number;
  readonly ram: GuestRam;
  readonly queues: DriverQueue[] = [];
  features = 0n;
  protocolFeatures = 0n;
  /** The back-end request channel, when negotiated (`daxWindowSize`). */
  backend: BackendChannel | undefined;
  private readonly recvHeader = Buffer.alloc(HEADER_SIZE);
  private readonly fdsOut = new Int32Array(9);

  private constructor(fd: number, ram: GuestRam) {
    this.fd = fd;
    this.ram = ram;
  }

  /** Connects and performs the whole handshake; the queues are then live. */
  static connect(opts: FrontendOptions): VhostUserFrontend {
    const fd = native.socketConnect(opts.socketPath);
    native.setBlocking(fd, true);
    const fe = new VhostUserFrontend(fd, new GuestRam(opts.ramSize ?? 64 << 20));
    try {
      fe.handshake(opts);
    } catch (err) {
      fe.close();
      throw err;
    }
    return fe;
  }

  private handshake(opts: FrontendOptions): void {
    const offered = this.requestU64(Req.GET_FEATURES);
    const want = Feature.VERSION_1 | Feature.PROTOCOL_FEATURES |
      (opts.indirectDesc === false ? 0n : Feature.RING_INDIRECT_DESC) |
      (opts.eventIdx === false ? 0n : Feature.RING_EVENT_IDX);
    this.features = offered & want;
    if ((this.features & Feature.PROTOCOL_FEATURES) !== 0n) {
      const proto = this.requestU64(Req.GET_PROTOCOL_FEATURES);
      let want = ProtocolFeature.MQ | ProtocolFeature.REPLY_ACK | ProtocolFeature.CONFIGURE_MEM_SLOTS;
      if (opts.daxWindowSize !== undefined) want |= ProtocolFeature.BACKEND_REQ | ProtocolFeature.BACKEND_SEND_FD | ProtocolFeature.SHMEM;
      this.protocolFeatures = proto & want;
      this.send(Req.SET_PROTOCOL_FEATURES, u64Payload(this.protocolFeatures));
    }
    const requestQueues = opts.requestQueues ?? 1;
    if ((this.protocolFeatures & ProtocolFeature.MQ) !== 0n) {
      const max = Number(this.requestU64(Req.GET_QUEUE_NUM));
      if (max < 1 + requestQueues) throw new Error(`back-end supports ${max} queues, need ${1 + requestQueues}`);
    }
    this.sendChecked(Req.SET_OWNER, Buffer.alloc(0));
    if (opts.daxWindowSize !== undefined && (this.protocolFeatures & ProtocolFeature.BACKEND_REQ) !== 0n) {
      let size = opts.daxWindowSize;
      if ((this.protocolFeatures & ProtocolFeature.SHMEM) !== 0n) {
        const sizes = this.getShmemConfig();
        if (sizes.length > 0 && sizes[0] > 0n) size = Number(sizes[0]);
      }
      this.backend = new BackendChannel(new DaxWindow(size), this.ram);
      this.sendChecked(Req.SET_BACKEND_REQ_FD, Buffer.alloc(0), [this.backend.backendFd]);
      native.closeFd(this.backend.backendFd);
      this.backend.start();
    }
    this.sendChecked(Req.SET_FEATURES, u64Payload(this.features));
    this.setMemTable();
    const size = opts.queueSize ?? 256;
    const eventIdx = (this.features & Feature.RING_EVENT_IDX) !== 0n;
    for (let i = 0; i < 1 + requestQueues; i++) {
      const q = new DriverQueue(this.ram, i, size, eventIdx);
      this.queues.push(q);
      this.sendChecked(Req.SET_VRING_NUM, vringStatePayload(i, size));
      this.sendChecked(Req.SET_VRING_BASE, vringStatePayload(i, 0));
      const addr = Buffer.alloc(40);
      addr.writeUInt32LE(i, 0);
      addr.writeBigUInt64LE(this.ram.uva(q.descOff), 8);
      addr.writeBigUInt64LE(this.ram.uva(q.usedOff), 16);
      addr.writeBigUInt64LE(this.ram.uva(q.availOff), 24);
      this.sendChecked(Req.SET_VRING_ADDR, addr);
      this.sendChecked(Req.SET_VRING_CALL, u64Payload(BigInt(i)), [q.callFd]);
      this.sendChecked(Req.SET_VRING_KICK, u64Payload(BigInt(i)), [q.kickFd]);
      if ((this.features & Feature.PROTOCOL_FEATURES) !== 0n) {
        this.sendChecked(Req.SET_VRING_ENABLE, vringStatePayload(i, 1));
      }
      q.listen();
    }
  }

  private setMemTable(): void {
    // struct vhost_user_memory { u32 nregions; u32 padding; region[nregions] } — exactly as many
    // regions as announced (rust-vmm refuses a payload padded to 8 regions).
    const p = Buffer.alloc(8 + 32);
    p.writeUInt32LE(1, 0);
    p.writeBigUInt64LE(RAM_GPA, 8);
    p.writeBigUInt64LE(BigInt(this.ram.size), 16);
    p.writeBigUInt64LE(RAM_UVA, 24);
    p.writeBigUInt64LE(0n, 32);
    this.sendChecked(Req.SET_MEM_TABLE, p, [this.ram.fd]);
  }

  /** GET_SHMEM_CONFIG (44): {u32 nregions, u32 pad, u64 sizes[256]} → the region sizes. */
  getShmemConfig(): bigint[] {
    this.send(Req.GET_SHMEM_CONFIG, Buffer.alloc(0));
    const reply = this.receiveReply(Req.GET_SHMEM_CONFIG);
    if (reply.length < 8) throw new Error(`GET_SHMEM_CONFIG: reply of ${reply.length} bytes`);
    const n = Math.min(reply.readUInt32LE(0), 256, Math.floor((reply.length - 8) / 8));
    return Array.from({ length: n }, (_, i) => reply.readBigUInt64LE(8 + 8 * i));
  }

  /** GET_VRING_BASE: stops the ring in the back-end and returns its next avail index. */
  getVringBase(index: number): number {
    this.send(Req.GET_VRING_BASE, vringStatePayload(index, 0));
    const reply = this.receiveReply(Req.GET_VRING_BASE);
    if (reply.length !== 8) throw new Error('GET_VRING_BASE: bad reply size');
    return reply.readUInt32LE(4);
  }

  /** Sends a message; with REPLY_ACK negotiated, asks for and checks the acknowledgement. */
  sendChecked(request: number, payload: Buffer, fds?: number[]): void {
    const ack = (this.protocolFeatures & ProtocolFeature.REPLY_ACK) !== 0n;
    this.send(request, payload, fds, ack ? FLAG_NEED_REPLY : 0);
    if (!ack) return;
    const reply = this.receiveReply(request);
    if (reply.length !== 8 || reply.readBigUInt64LE(0) !== 0n) {
      throw new Error(`${reqName[request]} was refused by the back-end`);
    }
  }

  requestU64(request: number): bigint {
    this.send(request, Buffer.alloc(0));
    const reply = this.receiveReply(request);
    if (reply.length !== 8) throw new Error(`${reqName[request]}: reply of ${reply.length} bytes`);
    return reply.readBigUInt64LE(0);
  }

  /** Sends raw bytes as one message (the fuzzer uses this for malformed messages). */
  send(request: number, payload: Buffer, fds?: number[], extraFlags = 0): void {
    const msg = Buffer.alloc(HEADER_SIZE + payload.length);
    msg.writeUInt32LE(request, 0);
    msg.writeUInt32LE(VERSION | extraFlags, 4);
    msg.writeUInt32LE(payload.length, 8);
    payload.copy(msg, HEADER_SIZE);
    let off = 0;
    while (off < msg.length) {
      const n = native.socketSend(this.fd, msg, off, msg.length - off, off === 0 ? fds : undefined);
      if (n < 0) throw new Error(`${reqName[request] ?? request}: send failed, errno ${-n}`);
      off += n;
    }
  }

  /**
   * Is the back-end still connected? It never writes to the main channel unprompted, so a
   * readable socket with nothing outstanding means it hung up (or is sending garbage).
   */
  isConnected(): boolean {
    return this.checkConnection() === '';
  }

  /**
   * '' while connected; otherwise why not. Readable data the back-end sent unprompted is read
   * and reported (it is a protocol violation, but not a hang-up), so a caller can tell a
   * misbehaving daemon from a dead one.
   */
  checkConnection(): string {
    const r = native.pollReadable(this.fd, 0);
    if (r === 0) return '';
    if (r < 0) return `poll failed: errno ${-r}`;
    const buf = Buffer.alloc(4096);
    native.setBlocking(this.fd, false);
    const n = native.socketRecv(this.fd, buf, 0, buf.length, this.fdsOut);
    native.setBlocking(this.fd, true);
    for (let i = 0; i < Math.max(0, this.fdsOut[0]); i++) native.closeFd(this.fdsOut[1 + i]);
    if (n === 0) return 'the back-end closed the vhost-user socket';
    if (n === -EAGAIN) return '';
    if (n < 0) return `recv failed: errno ${-n}`;
    this.unexpected.push(buf.subarray(0, n).toString('hex').slice(0, 96));
    return '';
  }

  /** Bytes the back-end sent on the main channel without being asked (hex, first 48 bytes each). */
  readonly unexpected: string[] = [];

  get indirectDesc(): boolean {
    return (this.features & Feature.RING_INDIRECT_DESC) !== 0n;
  }

  get eventIdx(): boolean {
    return (this.features & Feature.RING_EVENT_IDX) !== 0n;
  }

  receiveReply(request: number): Buffer {
    this.readExactly(this.recvHeader, HEADER_SIZE);
    const req = this.recvHeader.readUInt32LE(0);
    const flags = this.recvHeader.readUInt32LE(4);
    const size = this.recvHeader.readUInt32LE(8);
    if (req !== request || (flags & FLAG_REPLY) === 0) {
      throw new Error(`expected a reply to ${reqName[request]}, got request ${req} flags ${flags}`);
    }
    if (size > 4096) throw new Error(`reply of ${size} bytes`);
    const body = Buffer.alloc(size);
    this.readExactly(body, size);
    return body;
  }

  private readExactly(buf: Buffer, len: number): void {
    let have = 0;
    while (have < len) {
      const ready = native.pollReadable(this.fd, REPLY_TIMEOUT_MS);
      if (ready === 0) throw new Error('timed out waiting for the back-end');
      const n = native.socketRecv(this.fd, buf, have, len - have, this.fdsOut);
      for (let i = 0; i < Math.max(0, this.fdsOut[0]); i++) native.closeFd(this.fdsOut[1 + i]);
      if (n === -EAGAIN) continue;
      if (n < 0) throw new Error(`recv failed: errno ${-n}`);
      if (n === 0) throw new Error('back-end closed the connection');
      have += n;
    }
  }

  close(): void {
    this.backend?.close();
    for (const q of this.queues) q.close();
    native.closeFd(this.fd);
    this.ram.close();
  }
}
