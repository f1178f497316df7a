/**
 * Driver side of a split virtqueue, in the frontend's own RAM: what the guest's virtio driver
 * does (Linux drivers/virtio/virtio_ring.c, split ring).
 *
 * Layout (virtio 1.x §2.7): descriptor table (16 B × size), avail ring
 * {u16 flags, u16 idx, u16 ring[size], u16 used_event}, used ring
 * {u16 flags, u16 idx, {u32 id, u32 len}[size], u16 avail_event}.
 *
 * Bookkeeping is the driver's own and never read back from the descriptor table (like Linux's
 * `desc_extra`): a stack of free descriptor indices and a shadow `next` per descriptor. The
 * device cannot corrupt it, and the fuzzer can write any bytes into the table (writeRawDescriptor)
 * without breaking the free list.
 *
 * Three ways to submit:
 * - `add(segments, done)`: allocates a chain, writes it, publishes it (setup paths, tests).
 * - persistent chains (`allocChain(n, true)` + `setDesc*` once + `publish(head)` per request):
 *   the load generator's hot path; nothing is allocated per request and completions go to the
 *   single `onUsed(head, len)` handler.
 * - raw (`allocChain(n)` + `writeRawDescriptor` + `publish(head, done)`, `publishRawHead`): the
 *   fuzzer's malformed chains.
 *
 * Notifications: with VIRTIO_RING_F_EVENT_IDX the driver kicks only when the device's
 * avail_event asks for it and tells the device when to interrupt through used_event; each
 * needs a full memory fence between a store and a load (see `fence()`).
 */
import { native, type FdWatcher } from '../native/binding.js';
import type { GuestRam } from './guest-ram.js';
import { DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, DESC_SIZE } from './layout.js';

export { DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, DESC_SIZE };
/** VRING_USED_F_NO_NOTIFY: the device does not want kicks (without EVENT_IDX). */
const USED_F_NO_NOTIFY = 1;

export interface Segment {
  /** Offset in guest RAM (or a raw guest address when `gpa` is set: fuzzing, DAX windows). */
  offset: number;
  len: number;
  writable: boolean;
  gpa?: bigint;
}

export type Completion = (usedLen: number) => void;

/**
 * A full memory barrier. x86 keeps stores in order and loads in order, but a load may pass an
 * earlier store to another location; the notification protocols need store→load ordering. A
 * seq_cst read-modify-write on any SharedArrayBuffer is a locked instruction on x86 (V8 emits
 * `lock xadd`), which orders every memory access, including those to our mmap'd guest RAM.
 */
const fenceWord = new Int32Array(new SharedArrayBuffer(4));
export function fence(): void {
  Atomics.add(fenceWord, 0, 0);
}

export interface QueueStats {
  /** Chains published. */
  published: number;
  /** Used entries harvested. */
  completed: number;
  /** eventfd writes (kicks) actually made, and those suppressed by the device's avail_event. */
  kicks: number;
  kicksSuppressed: number;
  /** Call notifications handled. */
  interrupts: number;
}

export class DriverQueue {
  readonly descOff: number;
  readonly availOff: number;
  readonly usedOff: number;
  readonly kickFd: number;
  readonly callFd: number;
  /** Completion handler for persistent chains (and for any chain published without `done`). */
  onUsed: ((head: number, usedLen: number) => void) | null = null;
  /** Called when the device breaks the protocol (unknown used id, index jump); not thrown. */
  onDeviceError: ((message: string) => void) | null = null;
  /** Runs after each harvest triggered by a call notification (the load loop refills here). */
  afterHarvest: (() => void) | null = null;
  readonly stats: QueueStats = { published: 0, completed: 0, kicks: 0, kicksSuppressed: 0, interrupts: 0 };
  deviceErrors = 0;
  lastDeviceError = '';
  /**
   * Interrupt coalescing (EVENT_IDX only): after a harvest, ask to be interrupted only once
   * this many more chains than the next one have completed — bounded by what is outstanding,
   * so the interrupt always comes. 0 (the default) is what Linux's virtio driver does: an
   * interrupt for the next completion.
   */
  interruptLag = 0;

  private readonly freeStack: Uint16Array;
  private freeTop: number;
  /** Driver's shadow of each descriptor's `next` within the chains it allocated. */
  private readonly shadowNext: Uint16Array;
  private readonly chainLen: Uint16Array;
  /** 1 while the chain whose head this is sits in the avail ring / with the device. */
  private readonly inFlight: Uint8Array;
  /** 1 for chains that stay allocated after completion (persistent). */
  private readonly persistent: Uint8Array;
  private readonly completions: (Completion | null)[];
  private availIdx = 0;
  private kickedIdx = 0;
  private lastUsed = 0;
  private readonly avail0: number;
  private readonly used0: number;
  private watcher: FdWatcher | undefined;
  private waiters: (() => void)[] = [];
  private readonly onCall = (): void => {
    native.eventfdRead(this.callFd);
    this.stats.interrupts++;
    this.harvest();
    this.afterHarvest?.();
    this.kick();
  };

  constructor(
    private readonly ram: GuestRam,
    readonly index: number,
    readonly size: number,
    readonly eventIdx: boolean,
  ) {
    if (size < 1 || size > 32768 || (size & (size - 1)) !== 0) throw new Error(`queue size ${size} is not a power of two ≤ 32768`);
    this.descOff = ram.allocate(DESC_SIZE * size, 4096);
    this.availOff = ram.allocate(6 + 2 * size, 4096);
    this.usedOff = ram.allocate(6 + 8 * size, 4096);
    ram.buf.fill(0, this.descOff, this.descOff + DESC_SIZE * size);
    ram.buf.fill(0, this.availOff, this.availOff + 6 + 2 * size);
    ram.buf.fill(0, this.usedOff, this.usedOff + 6 + 8 * size);
    this.avail0 = this.availOff + 4;
    this.used0 = this.usedOff + 4;
    this.freeStack = new Uint16Array(size);
    // Lowest indices on top, so a fresh queue hands out 0, 1, 2, ... (readable dumps).
    for (let i = 0; i < size; i++) this.freeStack[i] = size - 1 - i;
    this.freeTop = size;
    this.shadowNext = new Uint16Array(size);
    this.chainLen = new Uint16Array(size);
    this.inFlight = new Uint8Array(size);
    this.persistent = new Uint8Array(size);
    this.completions = new Array<Completion | null>(size).fill(null);
    this.kickFd = native.eventfdCreate(true);
    this.callFd = native.eventfdCreate(true);
  }

  /** Starts harvesting completions from the event loop. */
  listen(): void {
    this.watcher ??= new native.FdWatcher(this.callFd, this.onCall);
  }

  /** Keeps (ref) or stops keeping (unref) the event loop alive for this queue. */
  setRef(ref: boolean): void {
    if (ref) this.watcher?.ref();
    else this.watcher?.unref();
  }

  /** Free descriptors. */
  get free(): number {
    return this.freeTop;
  }

  /** Avail-ring entries published but not yet seen in the used ring (including dropped ones). */
  get outstanding(): number {
    return (this.availIdx - this.lastUsed) & 0xffff;
  }

  // ------------------------------------------------------------------------------------------
  // Chain allocation

  /**
   * Takes `n` descriptors off the free stack, links them (shadow and table `next`), and returns
   * the head index, or -1 if fewer than `n` are free. Flags, addresses and lengths are the
   * caller's to write. A persistent chain survives completion until `freeChain(head)`.
   */
  allocChain(n: number, persistent = false): number {
    if (n < 1 || n > this.freeTop) return -1;
    const buf = this.ram.buf;
    const head = this.freeStack[--this.freeTop];
    let d = head;
    for (let i = 1; i < n; i++) {
      const next = this.freeStack[--this.freeTop];
      this.shadowNext[d] = next;
      buf.writeUInt16LE(next, this.descOff + DESC_SIZE * d + 14);
      d = next;
    }
    this.chainLen[head] = n;
    this.persistent[head] = persistent ? 1 : 0;
    return head;
  }

  /** The i-th descriptor index of the chain starting at `head` (driver's view). */
  descIndex(head: number, i: number): number {
    let d = head;
    for (let k = 0; k < i; k++) d = this.shadowNext[d];
    return d;
  }

  /** Descriptors in the chain at `head`. */
  chainLength(head: number): number {
    return this.chainLen[head];
  }

  /** Returns a chain's descriptors to the free stack (persistent chains, or never-published ones). */
  freeChain(head: number): void {
    if (this.inFlight[head] !== 0) throw new Error(`descriptor ${head} is still in flight`);
    let d = head;
    const n = this.chainLen[head];
    for (let i = 0; i < n; i++) {
      this.freeStack[this.freeTop++] = d;
      d = this.shadowNext[d];
    }
    this.chainLen[head] = 0;
    this.persistent[head] = 0;
    this.completions[head] = null;
  }

  /**
   * Writes descriptor `d` of a chain: guest RAM offset, length, WRITE flag; NEXT is set unless
   * `last`, and `next` is the driver's own link. Addresses below 2^53: no BigInt on this path.
   */
  setDescRam(d: number, offset: number, len: number, writable: boolean, last: boolean): void {
    const buf = this.ram.buf;
    const off = this.descOff + DESC_SIZE * d;
    const gpa = this.ram.gpaNumber + offset;
    buf.writeUInt32LE(gpa % 0x1_0000_0000, off);
    buf.writeUInt32LE(Math.floor(gpa / 0x1_0000_0000), off + 4);
    buf.writeUInt32LE(len >>> 0, off + 8);
    buf.writeUInt16LE((writable ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT), off + 12);
    buf.writeUInt16LE(last ? 0 : this.shadowNext[d], off + 14);
  }

  /** Rewrites only the length of descriptor `d` (per-request variable sizes). */
  setDescLen(d: number, len: number): void {
    this.ram.buf.writeUInt32LE(len >>> 0, this.descOff + DESC_SIZE * d + 8);
  }

  /** Raw access for the fuzzer: writes a descriptor exactly as given. */
  writeRawDescriptor(index: number, addr: bigint, len: number, flags: number, next: number): void {
    const off = this.descOff + DESC_SIZE * index;
    const buf = this.ram.buf;
    buf.writeBigUInt64LE(BigInt.asUintN(64, addr), off);
    buf.writeUInt32LE(len >>> 0, off + 8);
    buf.writeUInt16LE(flags & 0xffff, off + 12);
    buf.writeUInt16LE(next & 0xffff, off + 14);
  }

  // ------------------------------------------------------------------------------------------
  // Submission

  /**
   * Puts the chain at `head` into the avail ring (no kick). `done` runs on completion; without
   * it, `onUsed(head, len)` does.
   */
  publish(head: number, done: Completion | null = null): void {
    this.inFlight[head] = 1;
    this.completions[head] = done;
    this.publishRawHead(head);
  }

  /**
   * Writes any value into the next avail entry and bumps avail->idx, with no bookkeeping: the
   * fuzzer's "head out of range" cases (the device must skip them; nothing will come back).
   */
  publishRawHead(value: number): void {
    const u16 = this.ram.u16;
    u16[(this.avail0 >> 1) + (this.availIdx & (this.size - 1))] = value;
    this.availIdx = (this.availIdx + 1) & 0xffff;
    // Ring entry before index, each one aligned 16-bit store: x86 does not reorder stores, and
    // V8 emits them in program order.
    u16[(this.availOff >> 1) + 1] = this.availIdx;
    this.stats.published++;
  }

  /** Allocates, writes and publishes one chain (no kick). Returns false if the ring is full. */
  add(segments: Segment[], done: Completion): boolean {
    const n = segments.length;
    if (n === 0) return false;
    const head = this.allocChain(n);
    if (head < 0) return false;
    let d = head;
    for (let i = 0; i < n; i++) {
      const s = segments[i];
      const last = i === n - 1;
      if (s.gpa !== undefined) {
        this.writeRawDescriptor(d, s.gpa, s.len, (s.writable ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT), last ? 0 : this.shadowNext[d]);
      } else {
        this.setDescRam(d, s.offset, s.len, s.writable, last);
      }
      d = this.shadowNext[d];
    }
    this.publish(head, done);
    return true;
  }

  /**
   * Notifies the device of new avail entries, unless none were added since the last kick or
   * (EVENT_IDX) the device's avail_event says it will look anyway, or (no EVENT_IDX) it set
   * VRING_USED_F_NO_NOTIFY.
   */
  kick(): void {
    const idx = this.availIdx;
    const old = this.kickedIdx;
    if (idx === old) return;
    this.kickedIdx = idx;
    // Our avail->idx store must be visible before we read the device's suppression state.
    fence();
    const u16 = this.ram.u16;
    let need: boolean;
    if (this.eventIdx) {
      const event = u16[(this.used0 + 8 * this.size) >> 1];
      // vring_need_event(event, new, old)
      need = ((idx - event - 1) & 0xffff) < ((idx - old) & 0xffff);
    } else {
      need = (u16[this.usedOff >> 1] & USED_F_NO_NOTIFY) === 0;
    }
    if (need) {
      native.eventfdWrite(this.kickFd);
      this.stats.kicks++;
    } else {
      this.stats.kicksSuppressed++;
    }
  }

  /** Kicks unconditionally (tests, and devices whose suppression state we cannot trust). */
  forceKick(): void {
    this.kickedIdx = this.availIdx;
    native.eventfdWrite(this.kickFd);
    this.stats.kicks++;
  }

  // ------------------------------------------------------------------------------------------
  // Completion

  /** Collects used entries and runs their completions. Returns how many it collected. */
  harvest(): number {
    const u16 = this.ram.u16;
    const u32 = this.ram.u32;
    const mask = this.size - 1;
    let n = 0;
    for (;;) {
      const usedIdx = u16[(this.usedOff >> 1) + 1];
      if (usedIdx === this.lastUsed) break;
      const pending = (usedIdx - this.lastUsed) & 0xffff;
      if (pending > this.size) {
        this.deviceError(`used index jumped by ${pending} (queue size ${this.size})`);
        this.lastUsed = usedIdx;
        break;
      }
      while (this.lastUsed !== usedIdx) {
        const e = (this.used0 >> 2) + 2 * (this.lastUsed & mask);
        const id = u32[e];
        const len = u32[e + 1];
        this.lastUsed = (this.lastUsed + 1) & 0xffff;
        this.complete(id, len);
        n++;
      }
      if (this.eventIdx) {
        // used_event: interrupt us when the device goes past what we have consumed. The store
        // must be visible before we re-read used->idx, or a completion could slip between.
        const lag = Math.min(this.interruptLag, Math.max(0, ((this.availIdx - this.lastUsed) & 0xffff) - 1));
        u16[(this.avail0 >> 1) + this.size] = (this.lastUsed + lag) & 0xffff;
        fence();
      }
    }
    this.stats.completed += n;
    if (n > 0 && this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
    return n;
  }

  /** Resolves when some descriptors are freed (back-pressure for callers of `add`). */
  whenSpace(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private complete(id: number, len: number): void {
    if (id >= this.size || this.inFlight[id] === 0) {
      this.deviceError(`device returned descriptor ${id}, which is not an outstanding chain head`);
      return;
    }
    this.inFlight[id] = 0;
    const done = this.completions[id];
    this.completions[id] = null;
    if (this.persistent[id] === 0) this.freeChain(id);
    if (done !== null) done(len);
    else this.onUsed?.(id, len);
  }

  private deviceError(message: string): void {
    this.deviceErrors++;
    this.lastDeviceError = message;
    this.onDeviceError?.(message);
  }

  /** Is the chain at `head` with the device? */
  isInFlight(head: number): boolean {
    return this.inFlight[head] !== 0;
  }

  /**
   * Gives up on a chain the device has not returned in time (a detected hang): its completion
   * is dropped; its descriptors stay reserved — the device may still read them — until it is
   * returned late (counted in `lateCompletions`), if ever.
   */
  abandon(head: number): void {
    this.completions[head] = this.lateCompletion;
  }

  /** Chains returned after they were abandoned. */
  lateCompletions = 0;
  private readonly lateCompletion: Completion = () => {
    this.lateCompletions++;
  };

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    native.closeFd(this.kickFd);
    native.closeFd(this.callFd);
  }
}
