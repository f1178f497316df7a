/**
 * The daemon half of DAX: validates FUSE_SETUPMAPPING / FUSE_REMOVEMAPPING against the window,
 * asks the front-end to map or unmap over the back-end request channel (Kata's FS_MAP /
 * FS_UNMAP or the generic SHMEM_MAP / SHMEM_UNMAP), and keeps the window's mapping table.
 *
 * The guest owns the window layout (it picks window offsets and reclaims its own ranges); we
 * never trust an offset, length or count from it: every range must lie inside the window on
 * 2 MiB boundaries, every handle must be open (for writing, if the mapping is writable).
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import type { HandleId, NodeId } from '../filesystem/filesystem.js';
import { Mutex } from '../passthrough/mutex.js';
import type { Logger } from '../logger.js';
import type { BackendChannel } from '../vhost/backend-channel.js';
import { MappingTable, regionsOf, type WindowMapping } from './mapping-table.js';
import { systemCopyIo } from './system-copy-io.js';
import { RangeCopy, type CopyIo } from './range-copy.js';
import type { TraceWriter } from './trace.js';
import { DAX_RANGE } from './range.js';
import {
  BackendReq,
  FS_ENTRY_FLAG_R,
  FS_ENTRY_FLAG_W,
  FS_MAX_ENTRIES,
  SHMEM_FLAG_RW,
  encodeFsMessage,
  encodeShmemMessage,
} from './wire.js';

/** FUSE_SETUPMAPPING flags (fuse_setupmapping_in.flags). */
export const SETUPMAPPING_FLAG_WRITE = 1 << 0;
export const SETUPMAPPING_FLAG_READ = 1 << 1;
/** log2 of the alignment we ask the guest for (fuse_init_out.map_alignment): 2 MiB ranges. */
export const MAP_ALIGNMENT_LOG2 = 21;
/** FUSE_REMOVEMAPPING_MAX_ENTRY: PAGE_SIZE / sizeof(struct fuse_removemapping_one). */
export const REMOVEMAPPING_MAX_ENTRIES = 4096 / 16;

const RANGE = BigInt(DAX_RANGE);
const PAGE = 4096n;
const I64_MAX = (1n << 63n) - 1n;

export type DaxProtocol = 'kata' | 'shmem';

/** A descriptor pinned for a mapping; `readWrite` when it was opened read-write for sharing. */
export interface Pinned {
  fd: number;
  size: bigint;
  unpin: () => void;
  readWrite?: boolean;
}

/** How the manager reaches a host file for a guest handle. */
export interface MappingSource {
  /**
   * A descriptor for `nodeid` — its handle `fh`, or the inode opened afresh when there is none
   * (the Linux guest sends no handle) — pinned until `unpin()`; ErrnoError EBADF if unknown, EACCES
   * if `write` is asked of a handle not open for writing.
   */
  pinForMapping(nodeid: NodeId, fh: HandleId | undefined, write: boolean): Promise<Pinned>;
}

export interface DaxManagerOptions {
  windowBytes: bigint;
  /** Which message family the front-end understands (from the negotiated features). */
  protocol: () => DaxProtocol;
  /** The back-end request channel, once the front-end has given us one. */
  channel: () => BackendChannel | undefined;
  source: MappingSource;
  log: Logger;
  trace?: TraceWriter;
  /**
   * How many mappings may exist at once. With SHMEM every mapping becomes a region in our
   * memory table, so the memory-slot budget bounds it; a setup beyond it is refused with
   * ENOSPC (and logged), never silently dropped.
   */
  maxMappings?: () => number;
  /** False with --readonly: writable mappings are refused (EROFS). Default true. */
  writable?: boolean;
  /**
   * SHMEM only: a read-only range may map the file itself through a read-write descriptor
   * (QEMU ≥ 11 maps every region writable), instead of a copy. Safe only where the guest could
   * write the file anyway: not --readonly, and the guest's root is the host's root (no uid/gid
   * translation) — a guest kernel can then write any such file with FUSE WRITE already.
   */
  shareReadOnlyRanges?: boolean;
  /** The system calls of range copies (tests inject their own). */
  copyIo?: CopyIo;
}

export interface RemoveEntry {
  moffset: bigint;
  len: bigint;
}

export class DaxManager {
  readonly table: MappingTable;
  private readonly startedAt = performance.now();
  private readonly mutex = new Mutex();

  constructor(private readonly o: DaxManagerOptions) {
    if (o.windowBytes <= 0n || o.windowBytes % RANGE !== 0n) {
      throw new RangeError('the DAX window must be a positive multiple of 2 MiB');
    }
    this.table = new MappingTable(o.windowBytes);
  }

  get windowBytes(): bigint {
    return this.o.windowBytes;
  }

  /** FUSE_SETUPMAPPING. Throws ErrnoError on any invalid argument or front-end failure. */
  async setup(nodeid: NodeId, fh: HandleId | undefined, foffset: bigint, len: bigint, flags: number, moffset: bigint): Promise<void> {
    if ((flags & ~(SETUPMAPPING_FLAG_READ | SETUPMAPPING_FLAG_WRITE)) !== 0) throw new ErrnoError(E.EINVAL, 'unknown mapping flags');
    if (len <= 0n || len > RANGE || len % PAGE !== 0n) throw new ErrnoError(E.EINVAL, `mapping length ${len}`);
    if (moffset % RANGE !== 0n || foffset % RANGE !== 0n) throw new ErrnoError(E.EINVAL, 'mapping not 2 MiB aligned');
    if (moffset >= this.o.windowBytes || moffset + len > this.o.windowBytes) throw new ErrnoError(E.EINVAL, 'mapping outside the window');
    if (foffset > I64_MAX - len) throw new ErrnoError(E.EINVAL, 'file offset overflows');
    return this.exclusive(() => this.setupLocked(nodeid, fh, foffset, len, flags, moffset));
  }

  private async setupLocked(nodeid: NodeId, fh: HandleId | undefined, foffset: bigint, len: bigint, flags: number, moffset: bigint): Promise<void> {
    const channel = this.requireChannel();
    const write = (flags & SETUPMAPPING_FLAG_WRITE) !== 0;
    const shmem = this.o.protocol() === 'shmem';
    const slot = Number(moffset / RANGE);
    if (write && this.o.writable === false) throw new ErrnoError(E.EROFS, 'read-only share (--readonly)');
    let pin = await this.o.source.pinForMapping(nodeid, fh, write);
    if (shmem && !write && this.o.shareReadOnlyRanges === true) pin = await this.readWritePin(nodeid, pin);
    const existing = this.table.get(slot);
    let pinOwned = false;
    try {
      // QEMU ≥ 11 maps no region past EOF and every region writable: the file backs its whole
      // pages when the descriptor is read-write (a writable range, or a shared read-only one),
      // and a copy backs the rest (range-copy.ts).
      const wholePages = pin.size > foffset ? ((pin.size - foffset) / PAGE) * PAGE : 0n;
      const fileLen = !shmem ? len : write || pin.readWrite === true ? minBig(len, wholePages) : 0n;
      const regions = (fileLen > 0n ? 1 : 0) + (fileLen < len ? 1 : 0);
      const freed = existing === undefined ? 0 : regionsOf(existing);
      if (this.o.maxMappings !== undefined && this.table.regionCount() - freed + regions > this.o.maxMappings()) {
        this.o.log.warn({ limit: this.o.maxMappings() }, 'DAX mapping refused: the front-end memory-slot budget is used up');
        throw new ErrnoError(E.ENOSPC, 'memory-slot budget exhausted');
      }
      // The generic protocol cannot map over a mapping: remove the old one first.
      if (existing !== undefined && shmem) await this.unmapSlots(channel, [slot]);
      if (fileLen > 0n) await this.map(channel, pin.fd, foffset, fileLen, moffset, write);
      let copy: RangeCopy | undefined;
      if (fileLen < len) {
        pinOwned = true; // the copy reads (and writes) the file until it is closed or fails to open
        try {
          copy = await RangeCopy.open(this.o.copyIo ?? systemCopyIo, pin, foffset + fileLen, Number(len - fileLen), write);
          await this.map(channel, copy.memfd, 0n, len - fileLen, moffset + fileLen, write);
        } catch (err) {
          if (fileLen > 0n) await this.unmapRange(channel, moffset, fileLen).catch(() => undefined);
          await copy?.close();
          throw err;
        }
      }
      this.table.set(slot, { nodeid, fh, foffset, len: Number(len), writable: write, fileLen: Number(fileLen), copy });
    } catch (err) {
      if (!pinOwned) pin.unpin(); // else released with the copy
      throw err;
    }
    if (!pinOwned) pin.unpin();
    this.o.trace?.write({ op: 'setup', file: nodeid, off: Number(foffset), len: Number(len), moff: Number(moffset), w: write });
  }

  /** FUSE_REMOVEMAPPING. Entries are validated all before any is removed. */
  async remove(entries: RemoveEntry[]): Promise<void> {
    if (entries.length === 0 || entries.length > REMOVEMAPPING_MAX_ENTRIES) throw new ErrnoError(E.EINVAL, `${entries.length} removemapping entries`);
    const slots = new Set<number>();
    for (const e of entries) {
      if (e.moffset % RANGE !== 0n || e.len <= 0n || e.moffset >= this.o.windowBytes || e.len > this.o.windowBytes - e.moffset) {
        throw new ErrnoError(E.EINVAL, 'removemapping outside the window');
      }
      for (let s = e.moffset / RANGE; s * RANGE < e.moffset + e.len; s++) slots.add(Number(s));
    }
    await this.exclusive(async () => {
      const mapped = [...slots].filter((s) => this.table.get(s) !== undefined);
      if (mapped.length > 0) await this.unmapSlots(this.requireChannel(), mapped);
    });
    for (const e of entries) this.o.trace?.write({ op: 'remove', moff: Number(e.moffset), len: Number(e.len) });
  }

  /** The inode is gone: its ranges can no longer be used; release them in the front-end too. */
  async forgetInode(nodeid: number): Promise<void> {
    await this.exclusive(async () => {
      const slots = this.table.slotsOf(nodeid);
      if (slots.length === 0) return;
      const channel = this.o.channel();
      if (channel?.isOpen) await this.unmapSlots(channel, slots).catch((err: unknown) => this.o.log.warn({ err }, 'unmapping a forgotten inode failed'));
      await this.closeTails(slots);
    });
  }

  /** Whether any window slot holds a range of `nodeid`. */
  hasMappings(nodeid: number): boolean {
    return this.table.slotsOf(nodeid).length > 0;
  }

  /** Whether `nodeid` has bytes in range copies (file-data operations must then keep them coherent). */
  hasCopies(nodeid: number): boolean {
    return this.table.copiesOf(nodeid).length > 0;
  }

  /** Writes the guest's stores in `nodeid`'s range copies (or every inode's) back to the file. */
  async writeBack(nodeid?: number): Promise<void> {
    const copies = nodeid === undefined ? this.table.allCopies() : this.table.copiesOf(nodeid);
    await Promise.all(copies.map((c) => c.writeBack()));
  }

  /** The file's bytes [offset, offset + len) changed without the window: refresh the copies holding them. */
  async reload(nodeid: number, offset = 0n, len = I64_MAX): Promise<void> {
    const reloads: Promise<void>[] = [];
    for (const t of this.table.copiesOf(nodeid)) {
      const span = t.overlap(offset, len);
      if (span !== undefined) reloads.push(t.reload(span[0], span[1]));
    }
    await Promise.all(reloads);
  }

  /**
   * The FUSE session ended (DESTROY, a new INIT, device reset): unmap what the old session
   * mapped, write the range copies back, close them and forget the table. A guest that
   * unmounts and mounts again keeps its device, and the front-end its mappings — the new
   * session's SHMEM_MAP at those offsets would be refused. After a device reset the front-end
   * has dropped them itself and refuses the unmaps: harmless.
   */
  async endSession(): Promise<void> {
    await this.exclusive(async () => {
      const slots = this.table.mappedSlots();
      const channel = this.o.channel();
      if (slots.length > 0 && channel?.isOpen) {
        await this.unmapSlots(channel, slots).catch((err: unknown) => this.o.log.debug({ err }, 'unmapping the previous session\'s DAX ranges'));
      }
      await this.closeTails(this.table.mappedSlots());
      this.table.reset();
    });
  }

  /**
   * Runs `op` alone among the window's changes (setup, remove, forget, session end): their awaits
   * (front-end round trips, opening files) must not interleave on the same slots — a second
   * setup of a slot would replace the first's entry and leak its copy, a removal could miss a
   * mapping being made, the budget check could pass twice.
   */
  private async exclusive<T>(op: () => Promise<T>): Promise<T> {
    await this.mutex.lock();
    try {
      return await op();
    } finally {
      this.mutex.unlock();
    }
  }

  /** Counters for metrics and the SIGUSR1 dump. */
  snapshot(): {
    windowBytes: number;
    mappedBytes: number;
    mappings: number;
    regions: number;
    rangeCopies: number;
    setups: number;
    removes: number;
    setupsPerSecond: number;
    perInode: Record<number, number>;
  } {
    const secs = Math.max(1e-3, (performance.now() - this.startedAt) / 1000);
    return {
      windowBytes: Number(this.o.windowBytes),
      mappedBytes: this.table.stats.mappedBytes,
      mappings: this.table.mappedSlots().length,
      regions: this.table.regionCount(),
      rangeCopies: this.table.allCopies().length,
      setups: this.table.stats.setups,
      removes: this.table.stats.removes,
      setupsPerSecond: this.table.stats.setups / secs,
      perInode: Object.fromEntries(this.table.perInode()),
    };
  }

  private requireChannel(): BackendChannel {
    const c = this.o.channel();
    if (c === undefined || !c.isOpen) throw new ErrnoError(E.EOPNOTSUPP, 'the front-end gave us no back-end request channel');
    return c;
  }

  /**
   * Swaps a read-only pin for a read-write descriptor of the same inode when the daemon can
   * open one (not for a running executable, a read-only mount, an immutable file); else keeps it.
   */
  private async readWritePin(nodeid: number, readOnly: Pinned): Promise<Pinned> {
    try {
      const rw = await this.o.source.pinForMapping(nodeid, undefined, true);
      readOnly.unpin();
      return { ...rw, readWrite: true };
    } catch {
      return readOnly;
    }
  }

  /** One front-end mapping of [fdOffset, +len) of fd at window offset moffset. */
  private async map(channel: BackendChannel, fd: number, fdOffset: bigint, len: bigint, moffset: bigint, write: boolean): Promise<void> {
    const status = await channel.request(...this.mapMessage(fd, fdOffset, len, moffset, write));
    if (status !== 0n) throw new ErrnoError(frontEndErrno(status), 'the front-end refused the mapping');
  }

  private mapMessage(fd: number, foffset: bigint, len: bigint, moffset: bigint, write: boolean): [number, Buffer, number[]] {
    if (this.o.protocol() === 'shmem') {
      return [BackendReq.SHMEM_MAP, encodeShmemMessage({ shmid: 0, fdOffset: foffset, shmOffset: moffset, len, flags: write ? SHMEM_FLAG_RW : 0n }), [fd]];
    }
    const flags = FS_ENTRY_FLAG_R | (write ? FS_ENTRY_FLAG_W : 0n);
    return [BackendReq.FS_MAP, encodeFsMessage({ flags: 0, align: MAP_ALIGNMENT_LOG2, entries: [{ fdOffset: foffset, cacheOffset: moffset, len, flags }] }), [fd]];
  }

  /** SHMEM_UNMAP of exactly one earlier SHMEM_MAP. */
  private async unmapRange(channel: BackendChannel, moffset: bigint, len: bigint): Promise<void> {
    const status = await channel.request(BackendReq.SHMEM_UNMAP, encodeShmemMessage({ shmid: 0, fdOffset: 0n, shmOffset: moffset, len, flags: 0n }));
    if (status !== 0n) throw new ErrnoError(E.EIO, 'the front-end failed to unmap');
  }

  /**
   * Unmaps whole slots in the front-end (exact ranges, as SHMEM_UNMAP requires) and forgets
   * them. Every slot is tried; the first failure is thrown at the end.
   */
  private async unmapSlots(channel: BackendChannel, slots: number[]): Promise<void> {
    const mappings = slots.map((s) => [s, this.table.get(s)] as const).filter((x): x is readonly [number, WindowMapping] => x[1] !== undefined);
    const failures: unknown[] = [];
    if (this.o.protocol() === 'shmem') {
      for (const [slot, m] of mappings) {
        const at = BigInt(slot) * RANGE;
        this.table.clear(slot);
        try {
          if (m.fileLen > 0) await this.unmapRange(channel, at, BigInt(m.fileLen));
          if (m.copy !== undefined) await this.unmapRange(channel, at + BigInt(m.fileLen), BigInt(m.copy.len));
        } catch (err) {
          failures.push(err);
        } finally {
          await m.copy?.close().catch((err: unknown) => this.o.log.warn({ err }, 'writing a DAX range copy back failed'));
        }
      }
    } else {
      for (let i = 0; i < mappings.length; i += FS_MAX_ENTRIES) {
        const batch = mappings.slice(i, i + FS_MAX_ENTRIES);
        const status = await channel.request(
          BackendReq.FS_UNMAP,
          encodeFsMessage({ flags: 0, align: MAP_ALIGNMENT_LOG2, entries: batch.map(([slot, m]) => ({ fdOffset: 0n, cacheOffset: BigInt(slot) * RANGE, len: BigInt(m.len), flags: 0n })) }),
        );
        for (const [slot] of batch) this.table.clear(slot);
        if (status !== 0n) failures.push(new ErrnoError(frontEndErrno(status), 'the front-end failed to unmap'));
      }
    }
    if (failures.length > 0) throw failures[0];
  }

  /** Closes (writing back) the range copies of `slots` and forgets those slots. */
  private async closeTails(slots: number[]): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const s of slots) {
      const copy = this.table.clear(s)?.copy;
      if (copy !== undefined) closing.push(copy.close().catch((err: unknown) => this.o.log.warn({ err }, 'writing a DAX range copy back failed')));
    }
    await Promise.all(closing);
  }
}

const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** Kata's replies are -errno as a signed 64-bit value; SHMEM's are 0/1. */
function frontEndErrno(status: bigint): number {
  const signed = BigInt.asIntN(64, status);
  if (signed < 0n && signed > -4096n) return Number(-signed);
  return E.EIO;
}
