/**
 * The two wire protocols a back-end uses to ask the front-end to map file ranges into the DAX
 * window, over the back-end request channel (DESIGN §3). Encoders are used by the daemon,
 * decoders by our frontend; both sides validate counts and sizes.
 *
 * Kata's patched QEMU (virtio-fs DAX patch set v6.1):
 *   FS_MAP = 6, FS_UNMAP = 7, FS_IO = 8
 *   struct { u32 flags; u16 count; u16 align; entry[count] }      flags: DROP_FSETID 1<<0
 *   entry  { u64 fd_offset; u64 c_offset; u64 len; u64 flags; }   flags: MAP_R 1<<0, MAP_W 1<<1
 *   at most 32 entries; FS_MAP and FS_IO carry one fd; FS_UNMAP len = ~0 unmaps the whole window.
 *   Reply: a signed 64-bit status (0 or -errno; FS_IO: bytes done or -errno).
 *
 * Generic shared memory (QEMU ≥ 11):
 *   SHMEM_MAP = 9 / SHMEM_UNMAP = 10
 *   struct { u8 shmid; u8 pad[7]; u64 fd_offset; u64 shm_offset; u64 len; u64 flags; }  40 bytes
 *   flags bit 0 = read-write. MAP carries one fd. UNMAP must name one existing mapping exactly.
 *   Reply (NEED_REPLY): u64, 0 ok, non-zero error.
 */
export const BackendReq = {
  FS_MAP: 6,
  FS_UNMAP: 7,
  FS_IO: 8,
  SHMEM_MAP: 9,
  SHMEM_UNMAP: 10,
} as const;

export const FS_ENTRY_FLAG_R = 1n << 0n;
export const FS_ENTRY_FLAG_W = 1n << 1n;
export const FS_FLAG_DROP_FSETID = 1 << 0;
export const FS_MAX_ENTRIES = 32;
export const FS_UNMAP_ALL = 0xffff_ffff_ffff_ffffn;
export const SHMEM_FLAG_RW = 1n;
export const SHMEM_MSG_SIZE = 40;

export interface FsMapEntry {
  fdOffset: bigint;
  cacheOffset: bigint;
  len: bigint;
  flags: bigint;
}

export interface FsMapMessage {
  flags: number;
  align: number;
  entries: FsMapEntry[];
}

export function encodeFsMessage(m: FsMapMessage): Buffer {
  if (m.entries.length === 0 || m.entries.length > FS_MAX_ENTRIES) {
    throw new RangeError(`FS_MAP/FS_UNMAP/FS_IO carry 1..${FS_MAX_ENTRIES} entries, not ${m.entries.length}`);
  }
  const b = Buffer.alloc(8 + 32 * m.entries.length);
  b.writeUInt32LE(m.flags, 0);
  b.writeUInt16LE(m.entries.length, 4);
  b.writeUInt16LE(m.align, 6);
  m.entries.forEach((e, i) => {
    const o = 8 + 32 * i;
    b.writeBigUInt64LE(e.fdOffset, o);
    b.writeBigUInt64LE(e.cacheOffset, o + 8);
    b.writeBigUInt64LE(e.len, o + 16);
    b.writeBigUInt64LE(e.flags, o + 24);
  });
  return b;
}

export function decodeFsMessage(p: Buffer): FsMapMessage {
  if (p.length < 8) throw new RangeError('FS message shorter than its header');
  const count = p.readUInt16LE(4);
  if (count === 0 || count > FS_MAX_ENTRIES) throw new RangeError(`FS message with ${count} entries`);
  if (p.length !== 8 + 32 * count) throw new RangeError(`FS message of ${p.length} bytes for ${count} entries`);
  const entries: FsMapEntry[] = [];
  for (let i = 0; i < count; i++) {
    const o = 8 + 32 * i;
    entries.push({
      fdOffset: p.readBigUInt64LE(o),
      cacheOffset: p.readBigUInt64LE(o + 8),
      len: p.readBigUInt64LE(o + 16),
      flags: p.readBigUInt64LE(o + 24),
    });
  }
  return { flags: p.readUInt32LE(0), align: p.readUInt16LE(6), entries };
}

export interface ShmemMessage {
  shmid: number;
  fdOffset: bigint;
  shmOffset: bigint;
  len: bigint;
  flags: bigint;
}

export function encodeShmemMessage(m: ShmemMessage): Buffer {
  const b = Buffer.alloc(SHMEM_MSG_SIZE);
  b.writeUInt8(m.shmid, 0);
  b.writeBigUInt64LE(m.fdOffset, 8);
  b.writeBigUInt64LE(m.shmOffset, 16);
  b.writeBigUInt64LE(m.len, 24);
  b.writeBigUInt64LE(m.flags, 32);
  return b;
}

export function decodeShmemMessage(p: Buffer): ShmemMessage {
  if (p.length !== SHMEM_MSG_SIZE) throw new RangeError(`SHMEM message of ${p.length} bytes, expected 40`);
  return {
    shmid: p.readUInt8(0),
    fdOffset: p.readBigUInt64LE(8),
    shmOffset: p.readBigUInt64LE(16),
    len: p.readBigUInt64LE(24),
    flags: p.readBigUInt64LE(32),
  };
}
