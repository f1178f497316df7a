/**
 * vhost-user wire facts (QEMU docs/interop/vhost-user.rst): message ids, header flags, feature
 * bits, and the payload structs we decode. Each payload struct is declared once with its
 * layout; `decode*` functions check the exact size (the syntax check) and the dispatcher in
 * backend.ts checks meaning (was the feature negotiated, were fds attached, ...).
 */

export const HEADER_SIZE = 12;
/** Largest payload we accept; the biggest legitimate one (GET_CONFIG) is 268 bytes. */
export const MAX_PAYLOAD = 4096;

export const VERSION = 0x1;
export const FLAG_VERSION_MASK = 0x3;
export const FLAG_REPLY = 1 << 2;
export const FLAG_NEED_REPLY = 1 << 3;

/** Front-end → back-end requests. */
export const Req = {
  GET_FEATURES: 1,
  SET_FEATURES: 2,
  SET_OWNER: 3,
  RESET_OWNER: 4,
  SET_MEM_TABLE: 5,
  SET_LOG_BASE: 6,
  SET_LOG_FD: 7,
  SET_VRING_NUM: 8,
  SET_VRING_ADDR: 9,
  SET_VRING_BASE: 10,
  GET_VRING_BASE: 11,
  SET_VRING_KICK: 12,
  SET_VRING_CALL: 13,
  SET_VRING_ERR: 14,
  GET_PROTOCOL_FEATURES: 15,
  SET_PROTOCOL_FEATURES: 16,
  GET_QUEUE_NUM: 17,
  SET_VRING_ENABLE: 18,
  SEND_RARP: 19,
  NET_SET_MTU: 20,
  SET_BACKEND_REQ_FD: 21,
  IOTLB_MSG: 22,
  SET_VRING_ENDIAN: 23,
  GET_CONFIG: 24,
  SET_CONFIG: 25,
  GET_INFLIGHT_FD: 31,
  SET_INFLIGHT_FD: 32,
  RESET_DEVICE: 34,
  VRING_KICK: 35,
  GET_MAX_MEM_SLOTS: 36,
  ADD_MEM_REG: 37,
  REM_MEM_REG: 38,
  SET_STATUS: 39,
  GET_STATUS: 40,
  GET_SHMEM_CONFIG: 44,
} as const;

export const reqName: Record<number, string> = Object.fromEntries(
  Object.entries(Req).map(([k, v]) => [v, k]),
);

/** Virtio feature bits (64-bit mask as bigint). */
export const Feature = {
  RING_INDIRECT_DESC: 1n << 28n,
  RING_EVENT_IDX: 1n << 29n,
  PROTOCOL_FEATURES: 1n << 30n, // VHOST_USER_F_PROTOCOL_FEATURES
  VERSION_1: 1n << 32n,
} as const;

export const ProtocolFeature = {
  MQ: 1n << 0n,
  LOG_SHMFD: 1n << 1n,
  REPLY_ACK: 1n << 3n,
  BACKEND_REQ: 1n << 5n,
  CONFIG: 1n << 9n,
  BACKEND_SEND_FD: 1n << 10n,
  INFLIGHT_SHMFD: 1n << 12n,
  RESET_DEVICE: 1n << 13n,
  CONFIGURE_MEM_SLOTS: 1n << 15n,
  /**
   * Shared memory regions (GET_SHMEM_CONFIG, SHMEM_MAP/UNMAP). Bit 22 as QEMU 11.1 numbers it
   * (measured: bit 21 is GPA_ADDRESSES there; rust-vmm's 21 is wrong for QEMU).
   */
  SHMEM: 1n << 22n,
} as const;

/** GET_CONFIG / SET_CONFIG: { u32 offset; u32 size; u32 flags; u8 payload[size] } */
export const CONFIG_HEADER_SIZE = 12;
export const MAX_CONFIG_SIZE = 256;
/** GET_SHMEM_CONFIG reply: { u32 nregions; u32 padding; u64 memory_sizes[256] } */
export const MAX_SHMEM_REGIONS = 256;
export const SHMEM_CONFIG_SIZE = 8 + 8 * MAX_SHMEM_REGIONS;

export interface ConfigRequest {
  offset: number;
  size: number;
  flags: number;
}
export function decodeConfigRequest(msg: Message): ConfigRequest {
  const p = msg.payload;
  if (p.length < CONFIG_HEADER_SIZE) throw new ProtocolError('GET_CONFIG: payload shorter than its header');
  const size = p.readUInt32LE(4);
  if (size > MAX_CONFIG_SIZE || p.length !== CONFIG_HEADER_SIZE + size) {
    throw new ProtocolError(`GET_CONFIG: size ${size} does not match a ${p.length}-byte payload`);
  }
  return { offset: p.readUInt32LE(0), size, flags: p.readUInt32LE(8) };
}

/** Messages whose reply is defined by the request itself (not REPLY_ACK). */
export const REQUESTS_WITH_REPLY = new Set<number>([
  Req.GET_FEATURES,
  Req.GET_PROTOCOL_FEATURES,
  Req.GET_VRING_BASE,
  Req.GET_QUEUE_NUM,
  Req.GET_CONFIG,
  Req.GET_MAX_MEM_SLOTS,
  Req.GET_INFLIGHT_FD,
  Req.GET_STATUS,
  Req.GET_SHMEM_CONFIG,
  Req.SET_LOG_BASE,
]);

export class ProtocolError extends Error {}

export interface Message {
  request: number;
  flags: number;
  payload: Buffer;
  /** Attached descriptors; a handler that keeps one sets its slot to -1. */
  fds: number[];
}

function expectSize(msg: Message, size: number): void {
  if (msg.payload.length !== size) {
    throw new ProtocolError(
      `${reqName[msg.request] ?? msg.request}: payload is ${msg.payload.length} bytes, expected ${size}`,
    );
  }
}

/** u64 payload (features, protocol features, a kick/call/err index word, ...). */
export function decodeU64(msg: Message): bigint {
  expectSize(msg, 8);
  return msg.payload.readBigUInt64LE(0);
}

/** struct vhost_vring_state { u32 index; u32 num; } */
export interface VringState {
  index: number;
  num: number;
}
export function decodeVringState(msg: Message): VringState {
  expectSize(msg, 8);
  return { index: msg.payload.readUInt32LE(0), num: msg.payload.readUInt32LE(4) };
}

/**
 * struct vhost_vring_addr { u32 index; u32 flags; u64 desc_user_addr; u64 used_user_addr;
 *                           u64 avail_user_addr; u64 log_guest_addr; }  (40 bytes)
 * Addresses are in the front-end's virtual address space (translated via region uva).
 */
export interface VringAddr {
  index: number;
  flags: number;
  desc: bigint;
  used: bigint;
  avail: bigint;
  log: bigint;
}
export function decodeVringAddr(msg: Message): VringAddr {
  expectSize(msg, 40);
  const p = msg.payload;
  return {
    index: p.readUInt32LE(0),
    flags: p.readUInt32LE(4),
    desc: p.readBigUInt64LE(8),
    used: p.readBigUInt64LE(16),
    avail: p.readBigUInt64LE(24),
    log: p.readBigUInt64LE(32),
  };
}

/** struct vhost_user_memory_region { u64 guest_phys_addr, memory_size, userspace_addr, mmap_offset; } */
export interface MemRegion {
  gpa: bigint;
  size: bigint;
  uva: bigint;
  mmapOffset: bigint;
}
function decodeRegion(p: Buffer, off: number): MemRegion {
  return {
    gpa: p.readBigUInt64LE(off),
    size: p.readBigUInt64LE(off + 8),
    uva: p.readBigUInt64LE(off + 16),
    mmapOffset: p.readBigUInt64LE(off + 24),
  };
}

export const MAX_MEM_TABLE_REGIONS = 8;

/** SET_MEM_TABLE: { u32 nregions; u32 padding; region[nregions] } — one fd per region. */
export function decodeMemTable(msg: Message): MemRegion[] {
  const p = msg.payload;
  if (p.length < 8) throw new ProtocolError('SET_MEM_TABLE: payload too short');
  const n = p.readUInt32LE(0);
  if (n > MAX_MEM_TABLE_REGIONS) throw new ProtocolError(`SET_MEM_TABLE: ${n} regions (max 8)`);
  // QEMU sends the fixed-size struct (8 region slots); accept exactly-sized variants too.
  if (p.length < 8 + 32 * n) throw new ProtocolError('SET_MEM_TABLE: payload shorter than its regions');
  const regions: MemRegion[] = [];
  for (let i = 0; i < n; i++) regions.push(decodeRegion(p, 8 + 32 * i));
  return regions;
}

/** ADD_MEM_REG / REM_MEM_REG: { u64 padding; region } — ADD carries one fd. */
export function decodeSingleRegion(msg: Message): MemRegion {
  expectSize(msg, 40);
  return decodeRegion(msg.payload, 8);
}

/** Kick/call/err payload: index in bits 0..7, bit 8 = no fd (polling). */
export const VRING_INDEX_MASK = 0xffn;
export const VRING_NOFD_MASK = 1n << 8n;

export function u64Payload(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}

export function vringStatePayload(index: number, num: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(index, 0);
  b.writeUInt32LE(num, 4);
  return b;
}
