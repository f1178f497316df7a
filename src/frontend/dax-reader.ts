/**
 * File I/O through the DAX window, as the guest's fs/fuse/dax.c does it: the window is cut into
 * 2 MiB slots; a read or write of (file, offset) looks up the slot holding the file's 2 MiB
 * range; on a hit the bytes are copied straight from / into the window (no FUSE request at
 * all); on a miss a slot is chosen by the WindowAllocator — its reclaim policy picks a victim
 * when the window is full, which is unmapped first (FUSE_REMOVEMAPPING) — and the range is
 * mapped there (FUSE_SETUPMAPPING, READ, or READ|WRITE for writes on a writable handle); the
 * daemon asks us, over the back-end channel, to put the file's pages into the window.
 *
 * The emulated window (DaxWindow) holds each mapping as a MAP_SHARED view of the file, so a
 * mapping never reaches past the page that holds the file's last byte (touching a page beyond
 * EOF would raise SIGBUS in this process); accesses are clamped to the file size we know, and a
 * range whose file grew is remapped. Writes cannot extend a file through the window.
 *
 * Several accesses may be in flight: a range being mapped is awaited by everyone who wants it,
 * and the operations on one slot (unmap the victim, map the new range) are serialised.
 */
import { DAX_RANGE } from '../dax/range.js';
import type { TraceWriter } from '../dax/trace.js';
import { policyFactory } from './dax/policies/index.js';
import type { ReclaimPolicy } from './dax/policy.js';
import { WindowAllocator, rangeKey } from './dax/window-allocator.js';
import type { DaxWindow } from './backend-channel.js';
import { SETUPMAPPING_READ, SETUPMAPPING_WRITE, type FuseClient } from './fuse-client.js';

const PAGE = 4096;
/** FUSE_REMOVEMAPPING_MAX_ENTRY: entries per REMOVEMAPPING. */
const REMOVE_BATCH = 256;
/** Thrown by miss() when its range was evicted again before use: the caller starts over. */
const RETRY = new Error('DAX range evicted before use: retry');

/** An open file to move bytes through the window. */
export interface DaxFile {
  nodeid: number;
  fh: number;
  /** Bytes in the file (accesses are clamped to it). */
  size: number;
  /** The handle is open for writing (writes map READ|WRITE). */
  writable: boolean;
}

export interface DaxReaderOptions {
  /** Bytes of the window to use (default: all of it); rounded down to 2 MiB slots. */
  windowBytes?: number;
  /** Reclaim policy by name (lru, clock, arc) or an instance. Default lru. */
  policy?: string | ReclaimPolicy;
  /** Record an `access` record per read/write. */
  trace?: TraceWriter;
}

interface SlotState {
  key: number;
  nodeid: number;
  foffset: number;
  /** Bytes mapped (the daemon maps whole file pages only) and bytes asked for. */
  len: number;
  asked: number;
  writable: boolean;
  view: Buffer;
}

export interface DaxStats {
  hits: number;
  misses: number;
  evictions: number;
  /** SETUPMAPPING requests sent (misses, plus upgrades to writable or longer mappings). */
  setups: number;
  /** Ranges unmapped with REMOVEMAPPING. */
  removes: number;
  hitRatio: number;
}

export class DaxReader {
  readonly allocator: WindowAllocator;
  readonly slots: number;
  setups = 0;
  removes = 0;
  /** Accesses served from a resident range without waiting / that had to wait for a mapping. */
  hits = 0;
  misses = 0;
  private readonly state: (SlotState | undefined)[];
  private readonly chain: Promise<void>[];
  private readonly pending = new Map<number, Promise<void>>();
  private readonly trace?: TraceWriter;
  private missesInFlight = 0;
  private readonly missWaiters: (() => void)[] = [];
  /** Misses (mappings) in flight at once: a quarter of the slots, at least one. */
  readonly maxMisses: number;

  constructor(
    private readonly fuse: FuseClient,
    private readonly window: DaxWindow,
    opts: DaxReaderOptions = {},
  ) {
    const bytes = Math.min(opts.windowBytes ?? window.size, window.size);
    this.slots = Math.floor(bytes / DAX_RANGE);
    if (this.slots < 1) throw new RangeError(`a DAX window of ${bytes} bytes has no 2 MiB slot`);
    const p = opts.policy ?? 'lru';
    const policy = typeof p === 'string' ? policyFactory(p)(this.slots) : p;
    this.allocator = new WindowAllocator(this.slots, policy);
    this.state = new Array<SlotState | undefined>(this.slots).fill(undefined);
    this.chain = new Array<Promise<void>>(this.slots).fill(Promise.resolve());
    this.trace = opts.trace;
    this.maxMisses = Math.max(1, Math.floor(this.slots / 4));
  }

  get windowBytes(): number {
    return this.slots * DAX_RANGE;
  }

  get policyName(): string {
    return this.allocator.policyName;
  }

  stats(): DaxStats {
    const s = this.allocator.stats;
    const total = this.hits + this.misses;
    return { hits: this.hits, misses: this.misses, evictions: s.evictions, setups: this.setups, removes: this.removes, hitRatio: total === 0 ? 0 : this.hits / total };
  }

  /** Reads into dst from `off`; returns the bytes read (short at end of file). */
  async read(file: DaxFile, off: number, dst: Buffer, dstOff = 0, len = dst.length - dstOff): Promise<number> {
    const n = Math.max(0, Math.min(len, file.size - off));
    this.trace?.write({ op: 'access', file: file.nodeid, off, len: n });
    let done = 0;
    while (done < n) {
      const pos = off + done;
      const range = Math.floor(pos / DAX_RANGE);
      const inRange = pos - range * DAX_RANGE;
      const piece = Math.min(n - done, DAX_RANGE - inRange);
      const at = dstOff + done;
      if (!(await this.withRange(file, range, inRange + piece, false, (view) => view.copy(dst, at, inRange, inRange + piece)))) {
        (await this.fuse.read(file.nodeid, file.fh, pos, piece)).copy(dst, at);
      }
      done += piece;
    }
    return n;
  }

  /** Writes src at `off` (within the file: the window cannot extend it); returns bytes written. */
  async write(file: DaxFile, off: number, src: Buffer, srcOff = 0, len = src.length - srcOff): Promise<number> {
    if (!file.writable) throw new Error(`node ${file.nodeid}: handle ${file.fh} is not open for writing`);
    if (off + len > file.size) throw new RangeError(`DAX write [${off}, ${off + len}) beyond the end of node ${file.nodeid} (${file.size} bytes)`);
    this.trace?.write({ op: 'access', file: file.nodeid, off, len });
    let done = 0;
    while (done < len) {
      const pos = off + done;
      const range = Math.floor(pos / DAX_RANGE);
      const inRange = pos - range * DAX_RANGE;
      const piece = Math.min(len - done, DAX_RANGE - inRange);
      const from = srcOff + done;
      if (!(await this.withRange(file, range, inRange + piece, true, (view) => src.copy(view, inRange, from, from + piece)))) {
        await this.fuse.write(file.nodeid, file.fh, pos, src.subarray(from, from + piece));
      }
      done += piece;
    }
    return len;
  }

  /**
   * Runs `use` on the window view of (file, range), mapped at least `need` bytes long (and
   * writable if asked), synchronously once the range is resident so no eviction can come
   * between the mapping and the copy.
   */
  private async withRange(file: DaxFile, range: number, need: number, write: boolean, use: (view: Buffer) => void): Promise<boolean> {
    const key = rangeKey(file.nodeid, range);
    let waited = false;
    const count = (view: Buffer): void => {
      if (waited) this.misses++;
      else this.hits++;
      use(view);
    };
    for (;;) {
      const p = this.pending.get(key);
      if (p !== undefined) {
        waited = true;
        await p.catch(() => {});
        continue;
      }
      const slot = this.allocator.lookup(key);
      if (slot !== undefined) {
        const st = this.state[slot];
        if (st === undefined || st.key !== key) throw new Error(`DAX slot ${slot} does not hold key ${key}`);
        if (st.len >= need && (!write || st.writable)) {
          count(st.view);
          return true;
        }
        // The daemon maps whole pages of the file only: the partial last page is not in the
        // window, and remapping will not change that. The caller uses READ / WRITE for it.
        if (st.len < need && st.asked >= need && (!write || st.writable)) {
          this.hits++;
          return false;
        }
        waited = true;
        // Upgrade in place: a writable mapping, or a longer one (the file grew). If that fails
        // the daemon has dropped the old mapping: the range is no longer resident.
        await this.track(
          key,
          this.onSlot(slot, () =>
            this.map(slot, key, file, range, write || st.writable).catch((err: unknown) => {
              if (this.allocator.keyAt(slot) === key) this.allocator.drop(key);
              throw err;
            }),
          ),
        );
        continue;
      }
      // Bound the misses in flight: with more concurrent misses than slots, each new placement
      // would evict a range another access is still waiting for (the guest's reclaim likewise
      // never takes a range in use).
      waited = true;
      if (this.missesInFlight >= this.maxMisses) {
        await new Promise<void>((r) => this.missWaiters.push(r));
        continue;
      }
      this.missesInFlight++;
      try {
        return await this.miss(file, range, key, need, write, count);
      } catch (err) {
        if (err === RETRY) continue;
        throw err;
      } finally {
        this.missesInFlight--;
        // Wake every waiter: one that now finds its range resident takes no miss slot, so
        // waking one alone could leave the rest asleep with nothing in flight.
        for (const wake of this.missWaiters.splice(0)) wake();
      }
    }
  }

  private async miss(file: DaxFile, range: number, key: number, need: number, write: boolean, use: (view: Buffer) => void): Promise<boolean> {
    {
      const placed = this.allocator.place(key);
      const job = this.onSlot(placed.slot, async () => {
        if (placed.evicted !== undefined) await this.unmapSlots([placed.evicted.slot]);
        await this.map(placed.slot, key, file, range, write);
      });
      try {
        await this.track(key, job);
      } catch (err) {
        if (this.allocator.keyAt(placed.slot) === key) this.allocator.drop(key);
        throw err;
      }
      const st = this.state[placed.slot];
      if (this.allocator.keyAt(placed.slot) === key && st?.key === key && st.len >= need) {
        use(st.view);
        return true;
      }
      if (this.allocator.keyAt(placed.slot) === key && st?.key === key && st.asked >= need) {
        this.misses++;
        return false; // the partial last page: see withRange
      }
      throw RETRY; // evicted again before we got to it (a tiny window under contention)
    }
  }

  private async track(key: number, job: Promise<void>): Promise<void> {
    this.pending.set(key, job);
    try {
      await job;
    } finally {
      if (this.pending.get(key) === job) this.pending.delete(key);
    }
  }

  /** Runs fn after everything already queued on the slot (a failure does not block the next). */
  private onSlot(slot: number, fn: () => Promise<void>): Promise<void> {
    const next = this.chain[slot].catch(() => {}).then(fn);
    this.chain[slot] = next.catch(() => {});
    return next;
  }

  private async map(slot: number, key: number, file: DaxFile, range: number, write: boolean): Promise<void> {
    const foffset = range * DAX_RANGE;
    const len = Math.min(DAX_RANGE, Math.ceil((file.size - foffset) / PAGE) * PAGE);
    if (len <= 0) throw new RangeError(`node ${file.nodeid}: range ${range} lies beyond the end of the file`);
    const writable = write && file.writable;
    this.state[slot] = undefined;
    const moffset = slot * DAX_RANGE;
    this.setups++;
    await this.fuse.setupmapping(file.nodeid, file.fh, foffset, len, SETUPMAPPING_READ | (writable ? SETUPMAPPING_WRITE : 0), moffset);
    // The daemon may map less than asked (whole pages of the file only).
    const m = this.window.mappings.find((x) => x.offset === moffset);
    const view = m === undefined ? undefined : this.window.span(moffset, Math.min(len, m.len));
    if (view === undefined) throw new Error(`SETUPMAPPING of slot ${slot} (${len} bytes) succeeded but the window holds no mapping there: ${JSON.stringify(this.window.mappings.map((m) => [m.offset, m.len]))}`);
    this.state[slot] = { key, nodeid: file.nodeid, foffset, len: view.length, asked: len, writable, view };
  }

  /** REMOVEMAPPING of whole slots (in batches of at most 256 ranges). */
  private async unmapSlots(slots: number[]): Promise<void> {
    for (let i = 0; i < slots.length; i += REMOVE_BATCH) {
      const batch = slots.slice(i, i + REMOVE_BATCH);
      const ranges = batch.map((s) => [s * DAX_RANGE, this.state[s]?.len ?? DAX_RANGE] as const);
      for (const s of batch) this.state[s] = undefined;
      this.removes += batch.length;
      await this.fuse.removemapping(ranges);
    }
  }

  /** Waits for mappings in flight. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending.values()]);
  }

  /** Unmaps every range of one file (it is about to be closed or forgotten). */
  async dropFile(nodeid: number): Promise<void> {
    await this.settle();
    const slots: number[] = [];
    for (let s = 0; s < this.slots; s++) {
      const st = this.state[s];
      if (st?.nodeid === nodeid) {
        this.allocator.drop(st.key);
        slots.push(s);
      }
    }
    if (slots.length > 0) await this.unmapSlots(slots);
  }

  /** Unmaps everything (end of a run). */
  async unmapAll(): Promise<void> {
    await this.settle();
    const slots: number[] = [];
    for (let s = 0; s < this.slots; s++) {
      const key = this.allocator.keyAt(s);
      if (key !== undefined) {
        this.allocator.drop(key);
        if (this.state[s] !== undefined) slots.push(s);
      }
    }
    if (slots.length > 0) await this.unmapSlots(slots);
  }
}
