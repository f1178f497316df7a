/**
 * Driver side of a split virtqueue, in the frontend's own RAM: what the guest's virtio driver
 * does. Chains are direct descriptors (readable first, then writable); completions are
 * harvested from the used ring when the back-end signals the call eventfd.
 */
import { native, type FdWatcher } from '../native/binding.js';
import type { GuestRam } from './guest-ram.js';

const DESC_F_NEXT = 1;
const DESC_F_WRITE = 2;

export interface Segment {
  /** Offset in guest RAM (or a raw guest address when `gpa` is set: fuzzing, DAX windows). */
  offset: number;
  len: number;
  writable: boolean;
  gpa?: bigint;
}

export type Completion = (usedLen: number) => void;

export class DriverQueue {
  readonly descOff: number;
  readonly availOff: number;
  readonly usedOff: number;
  readonly kickFd: number;
  readonly callFd: number;
  private freeHead = 0;
  private freeCount: number;
  private availIdx = 0;
  private lastUsed = 0;
  private readonly pending: (Completion | undefined)[];
  private readonly chainLen: Uint16Array;
  private watcher: FdWatcher | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly ram: GuestRam,
    readonly index: number,
    readonly size: number,
    readonly eventIdx: boolean,
  ) {
    this.descOff = ram.allocate(16 * size, 4096);
    this.availOff = ram.allocate(6 + 2 * size, 4096);
    this.usedOff = ram.allocate(6 + 8 * size, 4096);
    ram.buf.fill(0, this.descOff, this.descOff + 16 * size);
    ram.buf.fill(0, this.availOff, this.availOff + 6 + 2 * size);
    ram.buf.fill(0, this.usedOff, this.usedOff + 6 + 8 * size);
    for (let i = 0; i < size; i++) this.writeDescNext(i, (i + 1) % size);
    this.freeCount = size;
    this.pending = new Array(size).fill(undefined);
    this.chainLen = new Uint16Array(size);
    this.kickFd = native.eventfdCreate(true);
    this.callFd = native.eventfdCreate(true);
  }

  /** Starts harvesting completions from the event loop. */
  listen(): void {
    this.watcher ??= new native.FdWatcher(this.callFd, () => {
      native.eventfdRead(this.callFd);
      this.harvest();
    });
  }

  get free(): number {
    return this.freeCount;
  }

  /** Adds one chain and publishes it (no kick). Returns false if the ring is full. */
  add(segments: Segment[], done: Completion): boolean {
    if (segments.length === 0 || segments.length > this.freeCount) return false;
    const buf = this.ram.buf;
    const head = this.freeHead;
    let d = head;
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i];
      const off = this.descOff + 16 * d;
      const next = buf.readUInt16LE(off + 14);
      buf.writeBigUInt64LE(s.gpa ?? this.ram.gpa(s.offset), off);
      buf.writeUInt32LE(s.len, off + 8);
      const last = i === segments.length - 1;
      buf.writeUInt16LE((s.writable ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT), off + 12);
      if (last) this.freeHead = next;
      d = next;
    }
    this.freeCount -= segments.length;
    this.chainLen[head] = segments.length;
    this.pending[head] = done;
    buf.writeUInt16LE(head, this.availOff + 4 + 2 * (this.availIdx % this.size));
    this.availIdx = (this.availIdx + 1) & 0xffff;
    // Publish the ring entry before the index (x86 keeps stores in order; Atomics would not
    // help on a Buffer over shared memory that the other side reads with its own fences).
    buf.writeUInt16LE(this.availIdx, this.availOff + 2);
    return true;
  }

  /** Raw access for the fuzzer: write a descriptor exactly as given. */
  writeRawDescriptor(index: number, addr: bigint, len: number, flags: number, next: number): void {
    const off = this.descOff + 16 * index;
    const buf = this.ram.buf;
    buf.writeBigUInt64LE(addr, off);
    buf.writeUInt32LE(len >>> 0, off + 8);
    buf.writeUInt16LE(flags, off + 12);
    buf.writeUInt16LE(next, off + 14);
  }

  kick(): void {
    native.eventfdWrite(this.kickFd);
  }

  /** Collects used entries and runs their completions. */
  harvest(): number {
    const buf = this.ram.buf;
    let n = 0;
    for (;;) {
      const usedIdx = buf.readUInt16LE(this.usedOff + 2);
      if (usedIdx === this.lastUsed) break;
      while (this.lastUsed !== usedIdx) {
        const e = this.usedOff + 4 + 8 * (this.lastUsed % this.size);
        const id = buf.readUInt32LE(e);
        const len = buf.readUInt32LE(e + 4);
        this.lastUsed = (this.lastUsed + 1) & 0xffff;
        this.release(id, len);
        n++;
      }
      if (this.eventIdx) buf.writeUInt16LE(this.lastUsed, this.availOff + 4 + 2 * this.size);
    }
    if (n > 0 && this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
    return n;
  }

  /** Resolves when some descriptors are freed (back-pressure for load generators). */
  whenSpace(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(head: number, len: number): void {
    if (head >= this.size) throw new Error(`back-end returned descriptor ${head} out of range`);
    const done = this.pending[head];
    if (done === undefined) throw new Error(`back-end returned descriptor ${head} twice`);
    this.pending[head] = undefined;
    // Walk the chain to its tail, then splice it onto the free list.
    let tail = head;
    for (let i = 1; i < this.chainLen[head]; i++) tail = this.ram.buf.readUInt16LE(this.descOff + 16 * tail + 14);
    this.writeDescNext(tail, this.freeHead);
    this.freeHead = head;
    this.freeCount += this.chainLen[head];
    done(len);
  }

  private writeDescNext(i: number, next: number): void {
    this.ram.buf.writeUInt16LE(next, this.descOff + 16 * i + 14);
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    native.closeFd(this.kickFd);
    native.closeFd(this.callFd);
  }
}
