/**
 * The frontend's end of the vhost-user back-end request channel (SET_BACKEND_REQ_FD): what
 * QEMU does when a virtio-fs daemon maps file ranges into the DAX cache window.
 *
 * Requests handled (DESIGN §3):
 * - Kata's patched QEMU (v6.1 set): FS_MAP = 6, FS_UNMAP = 7, FS_IO = 8; payload
 *   {u32 flags, u16 count, u16 align} + count × {u64 fd_offset, c_offset, len, flags} (≤ 32);
 *   entry flags MAP_R 1<<0, MAP_W 1<<1; FS_MAP and FS_IO carry one fd; FS_UNMAP with
 *   len = ~0 unmaps the whole window. FS_IO's c_offset is a guest-physical address (the guest
 *   buffer may be in RAM or in the window): MAP_R = pread file → memory, MAP_W = pwrite memory →
 *   file; the reply is the byte count. Replies are a signed 64-bit status.
 * - The older Kata set: FS_MAP 6, FS_UNMAP 7, FS_SYNC 8, FS_IO 9 with fixed arrays of 8 entries
 *   (fd_offset[8], c_offset[8], len[8], flags[8]) = 256 bytes. A 256-byte payload can never be
 *   a v6.1 message (8 + 32·n ≠ 256), so the layout is recognised by size.
 * - QEMU ≥ 11 SHMEM_MAP = 9 / SHMEM_UNMAP = 10: {u8 shmid, 7 pad, u64 fd_offset, shm_offset,
 *   len, flags (bit 0 = read-write)} = 40 bytes; MAP carries one fd; UNMAP must match one
 *   existing mapping exactly; reply u64 0 ok / 1 error. Recognised by size (40) too. As QEMU
 *   11.1 does (it maps the range as writable RAM from the fd), a read-only fd is refused, a range
 *   reaching past the end of a non-empty file is refused, and one of an empty file too (QEMU would
 *   ftruncate the file to the range's size — a daemon must never ask for that), and so is a
 *   range overlapping an existing mapping; `lastRefusal` says why.
 * A reply is sent only when the request has NEED_REPLY, as QEMU does.
 *
 * The window is emulated, not one reserved mmap: each mapping is its own MAP_SHARED view of the
 * received fd (native.mapShared), kept in an offset-sorted table; holes read as zeros. That is
 * enough to check what a daemon maps where and to move bytes through it. What a real window
 * needs from the addon — mmap(MAP_FIXED) into a reserved PROT_NONE range, read-only mappings,
 * munmap on demand — is not there yet: read-only fds (EACCES on a shared writable mapping)
 * fall back to a private copy of the range (`coherent: false`), and unmapped views are freed
 * by the garbage collector.
 */
import { fstatSync, readSync, writeSync } from 'node:fs';
import { native, type FdWatcher } from '../native/binding.js';
import { FLAG_NEED_REPLY, FLAG_REPLY, HEADER_SIZE, VERSION } from '../vhost/protocol.js';
import type { GuestRam } from './guest-ram.js';
import { RAM_GPA } from './layout.js';
import {
  BackendReq,
  FS_ENTRY_FLAG_R,
  FS_ENTRY_FLAG_W,
  FS_MAX_ENTRIES,
  FS_UNMAP_ALL,
  SHMEM_FLAG_RW,
  SHMEM_MSG_SIZE,
  decodeFsMessage,
  decodeShmemMessage,
} from '../dax/wire.js';

// The request numbers, layouts and limits are shared with the daemon's encoders (src/dax/wire.ts);
// FS_IO (8) is FS_SYNC in the older Kata set, SHMEM_MAP (9) that set's FS_IO (256-byte payload).
export { BackendReq, FS_MAX_ENTRIES };
export const FS_FLAG_MAP_R = Number(FS_ENTRY_FLAG_R);
export const FS_FLAG_MAP_W = Number(FS_ENTRY_FLAG_W);
const OLD_FS_PAYLOAD = 256;
const PAGE = 4096;
const EAGAIN = 11;
const EACCES = 13;
const EINVAL = 22;
const EFAULT = 14;
const ENOENT = 2;
const EBADF = 9;

export interface WindowMapping {
  offset: number;
  len: number;
  fdOffset: number;
  writable: boolean;
  /** false: a private copy (read-only fd); writes to the file are not seen. */
  coherent: boolean;
  view: Buffer;
}

/** The DAX cache window: a table of file-range views at window offsets. */
export class DaxWindow {
  private maps: WindowMapping[] = [];

  /** `gpa`: where the guest sees the window (for FS_IO addresses). */
  constructor(readonly size: number, readonly gpa: bigint = 0x1_0000_0000_0n) {}

  get mappings(): readonly WindowMapping[] {
    return this.maps;
  }

  /** Maps [fdOffset, fdOffset+len) of fd at window offset; replaces what was there. 0 or -errno. */
  map(offset: number, len: number, fd: number, fdOffset: number, writable: boolean): number {
    if (len <= 0 || offset < 0 || offset + len > this.size) return -EINVAL;
    if (offset % PAGE !== 0 || len % PAGE !== 0 || fdOffset % PAGE !== 0) return -EINVAL;
    let view: Buffer;
    let coherent = true;
    try {
      view = native.mapShared(fd, len, fdOffset);
    } catch (e) {
      const errno = (e as { errno?: number }).errno ?? EINVAL;
      if (errno !== EACCES) return -Math.abs(errno);
      // Read-only fd: a shared writable mapping is refused. Keep a private copy instead.
      view = Buffer.alloc(len);
      try {
        readSync(fd, view, 0, len, fdOffset);
      } catch (err) {
        return -Math.abs((err as { errno?: number }).errno ?? EBADF);
      }
      coherent = false;
    }
    this.unmap(offset, len);
    this.maps.push({ offset, len, fdOffset, writable, coherent, view });
    this.maps.sort((a, b) => a.offset - b.offset);
    return 0;
  }

  /** Removes [offset, offset+len) from every mapping (splitting partial overlaps). 0 or -EINVAL. */
  unmap(offset: number, len: number): number {
    if (len <= 0 || offset < 0 || offset + len > this.size) return -EINVAL;
    const end = offset + len;
    const kept: WindowMapping[] = [];
    for (const m of this.maps) {
      const mEnd = m.offset + m.len;
      if (mEnd <= offset || m.offset >= end) {
        kept.push(m);
        continue;
      }
      if (m.offset < offset) kept.push({ ...m, len: offset - m.offset, view: m.view.subarray(0, offset - m.offset) });
      if (mEnd > end) {
        const cut = end - m.offset;
        kept.push({ ...m, offset: end, len: mEnd - end, fdOffset: m.fdOffset + cut, view: m.view.subarray(cut) });
      }
    }
    this.maps = kept;
    return 0;
  }

  unmapAll(): void {
    this.maps = [];
  }

  /** The mapping exactly at (offset, len), if any (SHMEM_UNMAP needs an exact match). */
  exact(offset: number, len: number): WindowMapping | undefined {
    return this.maps.find((m) => m.offset === offset && m.len === len);
  }

  /** Copies window bytes into dst (holes read as zero). */
  read(offset: number, dst: Buffer): void {
    dst.fill(0);
    for (const m of this.maps) {
      const lo = Math.max(offset, m.offset);
      const hi = Math.min(offset + dst.length, m.offset + m.len);
      if (lo < hi) m.view.copy(dst, lo - offset, lo - m.offset, hi - m.offset);
    }
  }

  /** Copies src into the window; -EFAULT if any byte falls in a hole or a read-only mapping. */
  write(offset: number, src: Buffer): number {
    let covered = 0;
    for (const m of this.maps) {
      const lo = Math.max(offset, m.offset);
      const hi = Math.min(offset + src.length, m.offset + m.len);
      if (lo >= hi) continue;
      if (!m.writable) return -EFAULT;
      src.copy(m.view, lo - m.offset, lo - offset, hi - offset);
      covered += hi - lo;
    }
    return covered === src.length ? 0 : -EFAULT;
  }

  /** A Buffer view of [offset, offset+len) if one mapping covers it all. */
  span(offset: number, len: number): Buffer | undefined {
    for (const m of this.maps) {
      if (offset >= m.offset && offset + len <= m.offset + m.len) return m.view.subarray(offset - m.offset, offset - m.offset + len);
    }
    return undefined;
  }
}

export interface BackendEvent {
  request: number;
  name: string;
  /** 0 / byte count or -errno, as replied. */
  result: number;
  entries: { fdOffset: bigint; cOffset: bigint; len: bigint; flags: bigint }[];
  hadFd: boolean;
}

/** Serves the back-end request channel from the event loop. */
export class BackendChannel {
  /** The end to hand to the back-end with SET_BACKEND_REQ_FD (close it after sending). */
  readonly backendFd: number;
  readonly fd: number;
  readonly events: BackendEvent[] = [];
  /** Keep at most this many events (tests look at them; long runs should not grow). */
  maxEvents = 10_000;
  private watcher: FdWatcher | undefined;
  private readonly header = Buffer.alloc(HEADER_SIZE);
  private readonly fdsOut = new Int32Array(9);
  private pending: Buffer = Buffer.alloc(0);
  /**
   * Received fds by the stream offset of the message they came with. A stream recv can return
   * several messages, and the kernel hands over the fds of the last sk_buff read (one sendmsg
   * of the back-end = one message), so a chunk's fds belong to the last message starting in it
   * — not to the first message still pending (an UNMAP followed by a MAP in one chunk).
   */
  private readonly pendingChunk = Buffer.alloc(HEADER_SIZE + 4096);
  private readonly fdsAt = new Map<number, number[]>();
  /** Stream offset of `pending[0]` (always a message boundary). */
  private consumed = 0;
  errors = 0;
  lastError = '';
  /** Why the last SHMEM_MAP QEMU 11.1 would refuse was refused (see shmemBackingRefusal). */
  lastRefusal: string | undefined;

  constructor(
    readonly window: DaxWindow,
    private readonly ram?: GuestRam,
  ) {
    [this.fd, this.backendFd] = native.socketPair();
  }

  start(): void {
    this.watcher ??= new native.FdWatcher(this.fd, () => this.onReadable());
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    for (const fds of this.fdsAt.values()) for (const f of fds) native.closeFd(f);
    this.fdsAt.clear();
    native.closeFd(this.fd);
  }

  private onReadable(): void {
    const chunk = this.pendingChunk;
    for (;;) {
      const n = native.socketRecv(this.fd, chunk, 0, chunk.length, this.fdsOut);
      const got: number[] = [];
      for (let i = 0; i < Math.max(0, this.fdsOut[0]); i++) got.push(this.fdsOut[1 + i]);
      if (got.length > 0) this.attachFds(got, Math.max(0, n));
      if (n === -EAGAIN) break;
      if (n <= 0) {
        this.watcher?.close();
        this.watcher = undefined;
        break;
      }
      this.pending = Buffer.concat([this.pending, Buffer.from(chunk.subarray(0, n))]);
      this.drain();
    }
  }

  /** Files fds that arrived with the next `chunkLen` bytes (not yet appended to `pending`). */
  private attachFds(fds: number[], chunkLen: number): void {
    const chunkStart = this.pending.length;
    const all = chunkLen > 0 ? Buffer.concat([this.pending, Buffer.from(this.pendingChunk.subarray(0, chunkLen))]) : this.pending;
    let pos = 0;
    let owner = -1;
    while (pos + HEADER_SIZE <= all.length) {
      if (pos >= chunkStart || pos + HEADER_SIZE + all.readUInt32LE(pos + 8) > chunkStart) owner = pos;
      if (pos >= chunkStart + chunkLen - 1) break;
      pos += HEADER_SIZE + all.readUInt32LE(pos + 8);
    }
    const at = this.consumed + (owner < 0 ? chunkStart : owner);
    this.fdsAt.set(at, [...(this.fdsAt.get(at) ?? []), ...fds]);
  }

  /** Handles every complete message in the buffer. */
  private drain(): void {
    while (this.pending.length >= HEADER_SIZE) {
      const size = this.pending.readUInt32LE(8);
      if (size > 4096) {
        this.fail(`message of ${size} bytes`);
        this.consumed += this.pending.length;
        this.pending = Buffer.alloc(0);
        return;
      }
      if (this.pending.length < HEADER_SIZE + size) return;
      const request = this.pending.readUInt32LE(0);
      const flags = this.pending.readUInt32LE(4);
      const payload = Buffer.from(this.pending.subarray(HEADER_SIZE, HEADER_SIZE + size));
      const at = this.consumed;
      this.pending = this.pending.subarray(HEADER_SIZE + size);
      this.consumed += HEADER_SIZE + size;
      const fds = this.fdsAt.get(at) ?? [];
      this.fdsAt.delete(at);
      let result: bigint;
      try {
        result = this.handle(request, payload, fds);
      } finally {
        for (const f of fds) native.closeFd(f);
      }
      if ((flags & FLAG_NEED_REPLY) !== 0) this.reply(request, result);
    }
  }

  private fail(msg: string): void {
    this.errors++;
    this.lastError = msg;
  }

  private record(e: BackendEvent): void {
    if (this.events.length >= this.maxEvents) this.events.shift();
    this.events.push(e);
  }

  /** Handles one request; returns the u64 reply value. */
  handle(request: number, p: Buffer, fds: number[]): bigint {
    if (request === BackendReq.SHMEM_MAP && p.length === SHMEM_MSG_SIZE) return this.shmem(true, p, fds);
    if (request === BackendReq.SHMEM_UNMAP && p.length === SHMEM_MSG_SIZE) return this.shmem(false, p, fds);
    const old = p.length === OLD_FS_PAYLOAD;
    const entries = old ? decodeOldEntries(p) : decodeEntries(p);
    const name = old
      ? ({ 6: 'FS_MAP', 7: 'FS_UNMAP', 8: 'FS_SYNC', 9: 'FS_IO' } as Record<number, string>)[request]
      : ({ 6: 'FS_MAP', 7: 'FS_UNMAP', 8: 'FS_IO' } as Record<number, string>)[request];
    let result: number;
    if (name === undefined || entries === null) {
      this.fail(`request ${request} with a ${p.length}-byte payload`);
      result = -EINVAL;
    } else if (name === 'FS_MAP') {
      result = fds.length !== 1 ? -EBADF : this.fsMap(entries, fds[0]);
    } else if (name === 'FS_UNMAP') {
      result = this.fsUnmap(entries);
    } else if (name === 'FS_SYNC') {
      result = 0;
    } else {
      result = fds.length !== 1 ? -EBADF : this.fsIo(entries, fds[0]);
    }
    this.record({ request, name: name ?? `REQ_${request}`, result, entries: entries ?? [], hadFd: fds.length > 0 });
    return BigInt.asUintN(64, BigInt(result));
  }

  private fsMap(entries: FsEntry[], fd: number): number {
    for (const e of entries) {
      if (e.len === 0n) continue;
      if (e.cOffset + e.len > BigInt(this.window.size) || e.fdOffset > BigInt(Number.MAX_SAFE_INTEGER)) return -EINVAL;
      const r = this.window.map(Number(e.cOffset), Number(e.len), fd, Number(e.fdOffset), (e.flags & FS_ENTRY_FLAG_W) !== 0n);
      if (r < 0) return r;
    }
    return 0;
  }

  private fsUnmap(entries: FsEntry[]): number {
    for (const e of entries) {
      if (e.len === FS_UNMAP_ALL) {
        this.window.unmapAll();
        continue;
      }
      if (e.len === 0n) continue;
      if (e.cOffset + e.len > BigInt(this.window.size)) return -EINVAL;
      const r = this.window.unmap(Number(e.cOffset), Number(e.len));
      if (r < 0) return r;
    }
    return 0;
  }

  /** FS_IO: c_offset is a guest-physical address in RAM or in the window. Returns bytes moved. */
  private fsIo(entries: FsEntry[], fd: number): number {
    let done = 0;
    for (const e of entries) {
      if (e.len === 0n) continue;
      const mem = this.memory(e.cOffset, e.len);
      if (mem === undefined) return -EFAULT;
      const fileOff = Number(e.fdOffset);
      try {
        if ((e.flags & FS_ENTRY_FLAG_R) !== 0n) {
          let got = 0;
          while (got < mem.length) {
            const n = readSync(fd, mem, got, mem.length - got, fileOff + got);
            if (n === 0) break; // EOF
            got += n;
          }
          done += got;
        } else if ((e.flags & FS_ENTRY_FLAG_W) !== 0n) {
          let put = 0;
          while (put < mem.length) put += writeSync(fd, mem, put, mem.length - put, fileOff + put);
          done += put;
        } else {
          return -EINVAL;
        }
      } catch (err) {
        return -Math.abs((err as { errno?: number }).errno ?? EFAULT);
      }
    }
    return done;
  }

  /** A Buffer over guest memory [gpa, gpa+len): frontend RAM or one window mapping. */
  private memory(gpa: bigint, len: bigint): Buffer | undefined {
    if (this.ram !== undefined && gpa >= RAM_GPA && gpa + len <= this.ram.endGpa) {
      const off = Number(gpa - RAM_GPA);
      return this.ram.buf.subarray(off, off + Number(len));
    }
    if (gpa >= this.window.gpa && gpa + len <= this.window.gpa + BigInt(this.window.size)) {
      return this.window.span(Number(gpa - this.window.gpa), Number(len));
    }
    return undefined;
  }

  private shmem(map: boolean, p: Buffer, fds: number[]): bigint {
    const { shmid, fdOffset, shmOffset: off, len, flags } = decodeShmemMessage(p);
    let result: number;
    if (shmid !== 0 || len === 0n || off + len > BigInt(this.window.size)) {
      result = -EINVAL;
    } else if (map) {
      const overlap = this.window.mappings.some((m) => BigInt(m.offset) < off + len && off < BigInt(m.offset + m.len));
      const refusal = overlap
        ? `SHMEM_MAP at 0x${off.toString(16)} conflicts with previously mapped memory`
        : fds.length === 1
          ? shmemBackingRefusal(fds[0], fdOffset, len)
          : undefined;
      if (refusal !== undefined) this.lastRefusal = refusal;
      result = fds.length !== 1 ? -EBADF : refusal !== undefined ? -EINVAL : this.window.map(Number(off), Number(len), fds[0], Number(fdOffset), (flags & SHMEM_FLAG_RW) !== 0n);
    } else {
      result = this.window.exact(Number(off), Number(len)) === undefined ? -ENOENT : this.window.unmap(Number(off), Number(len));
    }
    this.record({ request: map ? BackendReq.SHMEM_MAP : BackendReq.SHMEM_UNMAP, name: map ? 'SHMEM_MAP' : 'SHMEM_UNMAP', result, entries: [{ fdOffset, cOffset: off, len, flags }], hadFd: fds.length > 0 });
    return result === 0 ? 0n : 1n; // QEMU 11: 0 ok, 1 error
  }

  private reply(request: number, value: bigint): void {
    const msg = Buffer.alloc(HEADER_SIZE + 8);
    msg.writeUInt32LE(request, 0);
    msg.writeUInt32LE(VERSION | FLAG_REPLY, 4);
    msg.writeUInt32LE(8, 8);
    msg.writeBigUInt64LE(value, HEADER_SIZE);
    const n = native.socketSend(this.fd, msg, 0, msg.length);
    if (n !== msg.length) this.fail(`reply to ${request}: send returned ${n}`);
  }
}

/** Why QEMU 11.1 would refuse (or abuse) SHMEM_MAP of [fdOffset, +len) of fd; undefined if it maps it. */
export function shmemBackingRefusal(fd: number, fdOffset: bigint, len: bigint): string | undefined {
  let size: bigint;
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) return undefined; // QEMU only checks the size of regular files
    size = st.size;
  } catch {
    return undefined; // the mapping itself reports the bad fd
  }
  // QEMU 11.1 maps every SHMEM region writable (VHOST_USER_FLAG_MAP_RW only picks RAM_READONLY_FD,
  // which is about how a file is opened): a read-only descriptor fails.
  if (native.fdAccessMode(fd) === 0 /* O_RDONLY */) return 'unable to map backing store for guest RAM: Permission denied (read-only fd)';
  if (size === 0n) return `SHMEM_MAP of an empty file: QEMU would ftruncate it to ${fdOffset + len} bytes`;
  if (size < fdOffset + len) return `backing store size 0x${size.toString(16)} is too small for 'size' 0x${len.toString(16)} plus 'offset' 0x${fdOffset.toString(16)}`;
  return undefined;
}

interface FsEntry {
  fdOffset: bigint;
  cOffset: bigint;
  len: bigint;
  flags: bigint;
}

/** v6.1 layout: {u32 flags, u16 count, u16 align} + count × 32 bytes; null if inconsistent. */
export function decodeEntries(p: Buffer): FsEntry[] | null {
  if (p.length === 8 && p.readUInt16LE(4) === 0) return []; // an empty request: nothing to do
  try {
    return decodeFsMessage(p).entries.map((e) => ({ fdOffset: e.fdOffset, cOffset: e.cacheOffset, len: e.len, flags: e.flags }));
  } catch {
    return null;
  }
}

/** Older layout: fd_offset[8], c_offset[8], len[8], flags[8]; unused entries have len 0. */
export function decodeOldEntries(p: Buffer): FsEntry[] | null {
  if (p.length !== OLD_FS_PAYLOAD) return null;
  const out: FsEntry[] = [];
  for (let i = 0; i < 8; i++) {
    out.push({ fdOffset: p.readBigUInt64LE(8 * i), cOffset: p.readBigUInt64LE(64 + 8 * i), len: p.readBigUInt64LE(128 + 8 * i), flags: p.readBigUInt64LE(192 + 8 * i) });
  }
  return out;
}
