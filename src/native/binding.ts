/**
 * Typed view of the addon's data-path entry points (the passthrough's system calls are in
 * syscalls.ts). Every native function the daemon and the frontend use is listed here; the C++
 * side only checks argument types, so callers validate values first.
 *
 * Result convention: numbers ≥ 0 are success, negative numbers are -errno. Functions that can
 * only fail on set-up (listen, connect, eventfd) throw an Error with `code` and `errno` fields.
 */
import { addon } from './load.js';

/** Watches a raw fd from Node's event loop; `callback(status)` runs when it is readable. */
export interface FdWatcher {
  close(): void;
  ref(): void;
  unref(): void;
}

export interface GuestMemory {
  /** mmaps a region (the fd is not closed); 0 or -errno. */
  addRegion(fd: number, gpa: bigint, size: bigint, uva: bigint, mmapOffset: bigint): number;
  /** 0 or -ENOENT. */
  removeRegion(gpa: bigint, size: bigint): number;
  clear(): void;
  regions(): { gpa: bigint; size: bigint; uva: bigint }[];
  /** Copies between guest memory and a buffer; false if outside guest memory. */
  read(gpa: bigint, dst: Uint8Array): boolean;
  write(gpa: bigint, src: Uint8Array): boolean;
}

export interface QueueCounters {
  popped: number;
  completed: number;
  notifications: number;
  malformed: number;
  lastError: string;
  lastAvailIdx: number;
  broken: boolean;
  inFlight: number;
}

export type IoCallback = (result: number) => void;

/** Device side of one split virtqueue. */
export interface VirtQueue {
  /** '' when started, else why the rings cannot be used. */
  start(size: number, descUva: bigint, availUva: bigint, usedUva: bigint, eventIdx: boolean, lastAvailIdx: number): string;
  /** Stops the ring; returns the next avail index (GET_VRING_BASE). */
  stop(): number;
  /** Re-translates the rings after a memory table change; '' or why it failed. */
  remap(): string;
  setCallFd(fd: number): void;
  /**
   * Pops up to `max` chains. For chain i, infos[4i..4i+3] = head (| 1 << 16 when the chain has
   * foreign segments), readable bytes, writable bytes (both with foreign ones), staged bytes;
   * the staged request prefix is at arena[head * slotSize].
   */
  pop(infos: Uint32Array, max: number, arena: Buffer, slotSize: number): number;
  /** Re-arms guest notifications; true if more chains arrived meanwhile (pop again). */
  enableNotification(): boolean;
  /** Writes buf[off, off+len) as the reply start and returns the chain with `total` bytes. */
  complete(head: number, buf: Buffer, off: number, len: number, total: number): boolean;
  /** Publishes used entries; signals the call fd if the guest wants it. */
  flush(): boolean;
  readInput(head: number, from: number, dst: Buffer, dstOff: number, len: number): number;
  /** preadv from fd into the reply at replyOff. Inline result, or via cb on the pool. */
  preadInto(head: number, fd: number, replyOff: number, len: number, offset: bigint, cb?: IoCallback): number | undefined;
  /** pwritev of request bytes [from, from+len) to fd. */
  pwriteFrom(head: number, fd: number, from: number, len: number, offset: bigint, cb?: IoCallback): number | undefined;
  /**
   * Descriptors of chain `head` outside the memory table (only with setAllowForeign(true)):
   * [direction 0 readable / 1 writable, offset in that direction, gpa, len] × n.
   */
  foreign(head: number): Float64Array | undefined;
  /** Accept descriptors outside the memory table as foreign segments instead of refusing the chain. */
  setAllowForeign(allow: boolean): void;
  /** Chains popped and not yet completed. */
  inFlight(): number;
  /** True once the guest corrupted the ring (nothing more is popped until start()). */
  broken(): boolean;
  counters(): QueueCounters;
  /**
   * READs on handles `fastPath` knows are answered natively during pop (null: none). With a
   * worker pool, large ones finish on a pool thread and then call `onPooledDone()`.
   */
  setFastPath(fastPath: FuseFastPath | null, onPooledDone?: () => void): void;
  /**
   * Serves kicks of `kickFd` natively: reads the eventfd, pops (fast-path READs answered on
   * the way), calls `callback(n)` with n > 0 chains described in `infos` as pop() does, 0 once
   * the ring is broken, -errno if the eventfd cannot be read; publishes used entries after.
   */
  watchKick(kickFd: number, infos: Uint32Array, arena: Buffer, slotSize: number, max: number, callback: (n: number) => void): void;
  unwatchKick(): void;
  /** What a kick does, now, without reading the eventfd; the callback runs synchronously. */
  drainKick(): void;
}

/** Counters of the native READ/WRITE fast path (native/fuse_fast_path.cc). */
export interface FastPathCounters {
  reads: number;
  bytes: number;
  writes: number;
  written: number;
  /** READs and WRITEs left to JS (unknown handle, unusual shape). */
  passed: number;
  /** Requests whose preadv/pwritev ran on a worker thread. */
  pooled: number;
  handles: number;
  /** Error replies by positive errno. */
  errors: Record<number, number>;
}

/** The native table of open regular-file handles the READ/WRITE fast path may serve. */
export interface FuseFastPath {
  /** Serves READs (`read`) and WRITEs (`write`) of handle `fh` of `nodeid` with `fd`. */
  register(fh: number, nodeid: number, fd: number, read: boolean, write: boolean): void;
  unregister(fh: number): void;
  clear(): void;
  /** Serves only while `up`; READ/WRITE sizes capped as the core caps them; errnos above `maxErrno` become EIO. */
  setSession(up: boolean, maxRead: number, maxWrite: number, maxErrno: number): void;
  counters(): FastPathCounters;
  /** True if no request of `nodeid` runs on a worker thread; else false and `callback` runs once the last one completed. */
  whenIdle(nodeid: number, callback: () => void): boolean;
}

export interface DataPathAddon {
  FdWatcher: new (fd: number, callback: (status: number) => void) => FdWatcher;
  GuestMemory: new () => GuestMemory;
  VirtQueue: new (memory: GuestMemory) => VirtQueue;
  FuseFastPath: new () => FuseFastPath;

  eventfdCreate: (nonblocking: boolean) => number;
  /** Counter value, 0 if nothing pending, or -errno. */
  eventfdRead: (fd: number) => number;
  eventfdWrite: (fd: number) => number;
  closeFd: (fd: number) => number;
  /** O_RDONLY 0 / O_WRONLY 1 / O_RDWR 2, or -errno. */
  fdAccessMode: (fd: number) => number;

  socketListen: (path: string) => number;
  socketIsListening: (fd: number) => boolean;
  socketAccept: (fd: number) => number;
  socketConnect: (path: string) => number;
  socketPair: () => [number, number];
  /** fdsOut[0] = number of fds received (-1: too many, all closed), fdsOut[1..] the fds. */
  socketRecv: (fd: number, buf: Buffer, off: number, len: number, fdsOut: Int32Array) => number;
  socketSend: (fd: number, buf: Buffer, off: number, len: number, fds?: number[]) => number;
  setBlocking: (fd: number, blocking: boolean) => number;
  /** 1 readable, 0 timeout, -errno. */
  pollReadable: (fd: number, timeoutMs: number) => number;

  setPoolSize: (n: number) => void;
  getPoolSize: () => number;
  syslogOpen: (ident: string, facility?: number) => void;
  syslog: (priority: number, message: string) => void;
  /** n ≤ 0: raise the soft limit to the hard one; else set both to n. New soft limit or -errno. */
  setNofileLimit: (n: number) => number;

  /**
   * linux_dirent64 records of src[srcPos, srcEnd) → fuse_dirents at dst[dstPos, dstEnd) (READDIR;
   * native/dirent_encode.cc). Returns 0 source consumed, 1 destination full, 2 the next record
   * needs the per-entry path, or -EIO (malformed); out = [srcPos, dstPos, records, last record's
   * source position or -1].
   */
  encodeDirents: (src: Buffer, srcPos: number, srcEnd: number, dst: Buffer, dstPos: number, dstEnd: number, out: Float64Array) => number;

  /** Frontend side: a sized, close-on-exec memfd (throws). */
  memfdCreate: (name: string, size: number) => number;
  /** Frontend side: a MAP_SHARED view of fd as a Buffer, unmapped when collected. */
  mapShared: (fd: number, size: number, offset: number) => Buffer;
}

export const native: DataPathAddon = addon as DataPathAddon;
