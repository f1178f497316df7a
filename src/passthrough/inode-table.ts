/**
 * The passthrough's inodes: guest node ids ↔ host inodes, each holding one O_PATH descriptor —
 * or, with --inode-file-handles, a file handle (name_to_handle_at) that is opened
 * (open_by_handle_at, O_PATH) only while an operation uses the inode.
 *
 * A guest walking a large tree leaves every inode it saw in this table until it forgets them
 * (its dentry cache decides), so the table is laid out for a million entries: one slot per
 * inode in typed arrays (struct of arrays: ~60 bytes per inode plus its file handle), no object
 * and no Map entry per inode. Operations get a small `Inode` view while they pin one.
 *
 * - Keyed by the host identity (st_dev, st_ino, mnt_id), read from a StatRecord as u32 halves,
 *   in an open hash of chains through `next`. The key is the inode only while something keeps
 *   the host inode alive: a descriptor does (an fd-backed inode, or a handle-backed one whose
 *   descriptor is open: holdsInode()); a bare file handle does not, and a file deleted on the
 *   host may give its inode number to a new one. So a handle-backed entry is matched by key AND
 *   handle (adoptHandle), and an entry found to be stale leaves the hash (unhash: still reachable
 *   by node id until the guest forgets it, its handle then answering ESTALE).
 * - A node id names a slot and that slot's generation: nodeid = slot + generation × 2^32. A freed
 *   slot is reused with the next generation, so node ids are never reused within a table's life
 *   (a stale id from the guest finds a newer generation and gets ESTALE); a slot whose
 *   generation would leave the safe-integer range is retired instead.
 * - `refcount` is the guest's lookup count: +1 per Entry handed out, −n per FORGET. At zero the
 *   inode leaves the table. Its descriptor is closed, and its slot freed, once no operation
 *   still uses it (`pins`): a FORGET racing with an operation on a pool thread must never close
 *   an fd in use — the number could be reused by an unrelated open.
 * - Node id 1 (slot 1, generation 0) is the root (the share); it is never evicted.
 * - Handle-backed inodes: the descriptor is valid while pinned (acquire() opens it, synchronously
 *   and on the calling thread: open_by_handle_at on a local file system costs about what a
 *   lookup does). When the last pin goes it stays open in a small cache of `openCache`
 *   descriptors (second-chance CLOCK over a ring of node ids), so the inodes a guest is working
 *   on do not pay open_by_handle_at + close per request, while the descriptors the table holds
 *   stay bounded however many inodes the guest keeps. open_by_handle_at needs a descriptor on
 *   the same mount: the table keeps one per mount id (setMountFd).
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import { StatField, type StatRecord } from '../filesystem/filesystem.js';
import { C, sys } from '../native/syscalls.js';

export const ROOT_ID = 1;

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

/** nodeid = slot + generation × SLOT_SPAN. */
const SLOT_SPAN = 2 ** 32;
/** Generations stay below this, so every node id is a safe integer. */
const MAX_GENERATION = Math.floor(Number.MAX_SAFE_INTEGER / SLOT_SPAN);
const NONE = -1;
/** Host identity words per slot: dev lo/hi, ino lo/hi, mnt lo/hi. */
const KEY_WORDS = 6;
const INITIAL_SLOTS = 1024;

/** Slot flags. */
const LIVE = 1; // in the table (found by key and by node id)
const USED = 2; // allocated: live, or evicted while still pinned
const CACHED = 4; // handle-backed, its descriptor open in the ring while unpinned
const RECENT = 8; // used since the CLOCK hand last passed it
const HASHED = 16; // in its key's hash chain

/** Unpinned handle-backed descriptors kept open (InodeTable's default). */
export const DEFAULT_OPEN_CACHE = 512;

/**
 * An inode pinned for one operation (InodeTable.acquire … release): its descriptor stays open
 * and its slot is not reused until released.
 */
export class Inode {
  private procNameBytes: Buffer | undefined = undefined;

  constructor(
    private readonly table: InodeTable,
    readonly slot: number,
    readonly nodeid: number,
    /** The O_PATH descriptor (for a handle-backed inode, opened by acquire()). */
    readonly fd: number,
    /** File type bits (S_IFMT): an inode's type never changes. */
    readonly type: number,
  ) {}

  /** "<fd>" as bytes, for calls through /proc/self/fd. */
  get procName(): Buffer {
    return (this.procNameBytes ??= Buffer.from(String(this.fd)));
  }

  /** The host's mount id (low 32 bits suffice: mount ids are small). */
  get mountId(): number {
    return this.table.mountIdOf(this.slot);
  }

  get isDir(): boolean {
    return this.type === S_IFDIR;
  }

  /** Only regular files and directories may be opened for I/O (CVE-2020-35517). */
  get isOpenable(): boolean {
    return this.type === S_IFREG || this.type === S_IFDIR;
  }

  /** Whether `rec` is on this inode's device and mount. */
  sameDevice(rec: StatRecord): boolean {
    return this.table.sameDevice(this.slot, rec);
  }
}

function hashOf(dev: number, ino: number, mnt: number): number {
  return (ino ^ Math.imul(dev, 0x9e3779b1) ^ Math.imul(mnt, 0x85ebca6b)) | 0;
}

export class InodeTable {
  private capacity = 0;
  private generation = new Uint32Array(0);
  /** Lookup counts: a float64 holds any count a guest can reach exactly. */
  private refcount = new Float64Array(0);
  private pins = new Uint32Array(0);
  private fds = new Int32Array(0);
  private types = new Uint16Array(0);
  private flags = new Uint8Array(0);
  private keys = new Uint32Array(0);
  /** Hash chain of a live slot; the free list's link for a free slot. */
  private next = new Int32Array(0);
  private buckets = new Int32Array(0);
  /** File handles (struct file_handle, latin1), for handle-backed slots. */
  private handles: (string | undefined)[] = [];
  private freeHead = NONE;
  /** Slots below this have been handed out at least once (slot 0 never is; slot 1 is the root's). */
  private highWater = ROOT_ID + 1;
  private live = 0;
  private handleCount = 0;
  private rootSet = false;
  /** Mount id → a descriptor on that mount, for open_by_handle_at. */
  private readonly mountFds = new Map<number, number>();
  private readonly handleScratch = Buffer.alloc(256);
  /** The open-descriptor cache of handle-backed inodes: node ids (stale ones are free places). */
  private readonly ring: Float64Array;
  private ringUsed = 0;
  private hand = 0;
  private cachedCount = 0;

  /**
   * `closeFd` closes an evicted inode's descriptor (errors are the callee's to log);
   * `evicted` hears about every inode leaving the table (the lock table closes its files);
   * `openCache`: descriptors of unpinned handle-backed inodes kept open.
   */
  constructor(
    private readonly closeFd: (fd: number) => void,
    private readonly evicted?: (nodeid: number) => void,
    openCache = DEFAULT_OPEN_CACHE,
  ) {
    this.ring = new Float64Array(openCache);
    this.grow(INITIAL_SLOTS);
  }

  /**
   * Handle-backed inodes whose descriptor the cache holds (at most `openCache`, plus evicted
   * ones still pinned by an operation: their descriptor closes when it releases them).
   */
  get cachedDescriptors(): number {
    return this.cachedCount;
  }

  /** Inodes held by file handle (tests, metrics). */
  get handleBacked(): number {
    return this.handleCount;
  }

  /** Inodes in the table, the root included. */
  get size(): number {
    return this.live;
  }

  /** Whether `nodeid` names an inode in the table. */
  has(nodeid: number): boolean {
    return this.liveSlot(nodeid) !== NONE;
  }

  /** Installs the root (node id 1) from its O_PATH fd and attributes. */
  setRoot(fd: number, rec: StatRecord): void {
    if (this.rootSet) throw new Error('root already set');
    this.rootSet = true;
    this.fill(ROOT_ID, fd, rec);
  }

  /**
   * Looks `nodeid` up and pins it for the duration of an operation; ESTALE if unknown. A
   * handle-backed inode gets its O_PATH descriptor here (the handle's errno if that fails:
   * ESTALE when the file is gone).
   */
  acquire(nodeid: number): Inode {
    const slot = this.liveSlot(nodeid);
    if (slot === NONE) throw new ErrnoError(E.ESTALE, `unknown node id ${nodeid}`);
    const handle = this.handles[slot];
    if (this.pins[slot] === 0 && handle !== undefined && this.fds[slot] < 0) {
      const n = this.handleScratch.write(handle, 0, 'latin1');
      const mountFd = this.mountFds.get(this.keys[slot * KEY_WORDS + 4]) ?? -1;
      const fd = sys.sys_open_by_handle_at(mountFd, this.handleScratch.subarray(0, n), C.O_PATH | C.O_NOFOLLOW)!;
      if (fd < 0) throw new ErrnoError(-fd, 'open_by_handle_at');
      this.fds[slot] = fd;
    }
    this.flags[slot] |= RECENT;
    this.pins[slot]++;
    return new Inode(this, slot, nodeid, this.fds[slot], this.types[slot]);
  }

  release(d: Inode): void {
    const slot = d.slot;
    if (--this.pins[slot] !== 0) return;
    if ((this.flags[slot] & LIVE) === 0) this.free(slot);
    else if (this.handles[slot] !== undefined && this.fds[slot] >= 0) this.keepOpen(slot);
  }

  /** The descriptor registered for mount `mnt` (open_by_handle_at's mount_fd), if any. */
  mountFd(mnt: number): number | undefined {
    return this.mountFds.get(mnt);
  }

  /** Registers an I/O descriptor (not O_PATH: open_by_handle_at refuses those) on mount `mnt`. */
  setMountFd(mnt: number, fd: number): void {
    const old = this.mountFds.get(mnt);
    if (old !== undefined && old !== fd) this.closeFd(old);
    this.mountFds.set(mnt, fd);
  }

  /**
   * Like adopt(), for an inode known by file handle (the bytes of its struct file_handle, on a
   * mount with a registered descriptor): +1 reference on the existing entry (`fd` is closed), or
   * a new handle-backed entry whose O_PATH descriptor `fd` starts in the open cache. Returns the
   * node id.
   */
  adoptHandle(handle: Buffer, rec: StatRecord, fd: number): number {
    const existing = this.find(rec);
    if (existing !== NONE) {
      const theirs = this.handles[existing];
      if (theirs === undefined || this.sameHandle(theirs, handle)) {
        if (this.fds[existing] === fd) return this.ref(existing);
        if (theirs !== undefined && this.fds[existing] < 0 && this.pins[existing] === 0) {
          this.fds[existing] = fd; // the lookup's descriptor becomes its cached one
          this.keepOpen(existing);
        } else {
          this.closeFd(fd);
        }
        return this.ref(existing);
      }
      this.unhash(existing); // a deleted file's number, reused: another inode
    }
    const slot = this.allocate();
    this.fill(slot, fd, rec);
    this.handles[slot] = handle.toString('latin1');
    this.handleCount++;
    this.keepOpen(slot);
    return this.nodeidOf(slot);
  }

  /**
   * Takes one lookup reference on the inode that `fd`/`rec` describe. If it is already known
   * the existing entry is used and `fd` is closed; otherwise `fd` becomes the entry's fd.
   * Returns the node id.
   */
  adopt(fd: number, rec: StatRecord): number {
    const existing = this.find(rec);
    if (existing !== NONE && this.holdsInode(existing)) {
      if (this.fds[existing] !== fd) this.closeFd(fd);
      return this.ref(existing);
    }
    // A handle-backed entry that holds nothing may be a deleted file whose number was reused:
    // without a handle to compare, the new descriptor gets an entry of its own.
    if (existing !== NONE) this.unhash(existing);
    const slot = this.allocate();
    this.fill(slot, fd, rec);
    return this.nodeidOf(slot);
  }

  /** The slot of the live inode `rec` describes, or -1. */
  find(rec: StatRecord): number {
    return this.findKey(
      rec.readUInt32LE(StatField.dev),
      rec.readUInt32LE(StatField.dev + 4),
      rec.readUInt32LE(StatField.ino),
      rec.readUInt32LE(StatField.ino + 4),
      rec.readUInt32LE(StatField.mntId),
      rec.readUInt32LE(StatField.mntId + 4),
    );
  }

  /**
   * Whether the table may hold inode number `ino` on the device and mount of `dir` (a READDIRPLUS
   * entry's d_ino): false means a lookup of the name finds a new inode — or one on another
   * mount, which the lookup's own statx then tells. Never false for an inode it holds.
   */
  mayHold(dir: Inode, ino: bigint): boolean {
    const o = dir.slot * KEY_WORDS;
    const k = this.keys;
    return this.findKey(k[o], k[o + 1], Number(ino & 0xffffffffn), Number(ino >> 32n), k[o + 4], k[o + 5]) !== NONE;
  }

  /** The hashed slot with this key, or -1. */
  private findKey(devLo: number, devHi: number, inoLo: number, inoHi: number, mntLo: number, mntHi: number): number {
    const k = this.keys;
    for (let s = this.buckets[hashOf(devLo, inoLo, mntLo) & (this.buckets.length - 1)]; s !== NONE; s = this.next[s]) {
      const o = s * KEY_WORDS;
      if (k[o + 2] === inoLo && k[o] === devLo && k[o + 4] === mntLo && k[o + 3] === inoHi && k[o + 1] === devHi && k[o + 5] === mntHi) return s;
    }
    return NONE;
  }

  /**
   * Whether the host inode of a live slot is kept alive by us (a descriptor: fd-backed, or a
   * handle-backed slot whose descriptor is open), so that its key cannot name another inode.
   */
  holdsInode(slot: number): boolean {
    return this.fds[slot] >= 0;
  }

  /** Adds one reference to a live slot (find()'s): an Entry for it is handed out again. Returns its node id. */
  ref(slot: number): number {
    this.refcount[slot]++;
    return this.nodeidOf(slot);
  }

  /**
   * Drops `count` lookup references (FORGET). Any count — even one far above what was handed
   * out — is clamped at zero; unknown ids are ignored. The root is never evicted.
   */
  forget(nodeid: number, count: number): void {
    const slot = this.liveSlot(nodeid);
    if (slot === NONE || !(count > 0)) return;
    if (count < this.refcount[slot]) {
      this.refcount[slot] -= count;
      return;
    }
    this.refcount[slot] = 0;
    if (slot !== ROOT_ID) this.evict(slot);
  }

  /** Evicts every inode but the root (DESTROY, or a new session). */
  clear(): void {
    for (let s = ROOT_ID + 1; s < this.highWater; s++) if ((this.flags[s] & LIVE) !== 0) this.evict(s);
  }

  /** Evicts everything including the root (the file system is being closed). */
  closeAll(): void {
    this.clear();
    if (this.rootSet && (this.flags[ROOT_ID] & LIVE) !== 0) this.evict(ROOT_ID);
    this.rootSet = false;
    for (const fd of this.mountFds.values()) this.closeFd(fd);
    this.mountFds.clear();
  }

  // ---- for Inode views ----------------------------------------------------------------

  mountIdOf(slot: number): number {
    return this.keys[slot * KEY_WORDS + 4];
  }

  sameDevice(slot: number, rec: StatRecord): boolean {
    const o = slot * KEY_WORDS;
    return (
      rec.readUInt32LE(StatField.dev) === this.keys[o] &&
      rec.readUInt32LE(StatField.dev + 4) === this.keys[o + 1] &&
      rec.readUInt32LE(StatField.mntId) === this.keys[o + 4] &&
      rec.readUInt32LE(StatField.mntId + 4) === this.keys[o + 5]
    );
  }

  // ---- slots --------------------------------------------------------------------------

  private nodeidOf(slot: number): number {
    return slot + this.generation[slot] * SLOT_SPAN;
  }

  /** The live slot `nodeid` names (right generation), or -1. */
  private liveSlot(nodeid: number): number {
    if (!Number.isSafeInteger(nodeid) || nodeid < ROOT_ID) return NONE;
    const slot = nodeid % SLOT_SPAN;
    if (slot >= this.highWater || (this.flags[slot] & LIVE) === 0) return NONE;
    return (nodeid - slot) / SLOT_SPAN === this.generation[slot] ? slot : NONE;
  }

  private allocate(): number {
    let slot = this.freeHead;
    if (slot !== NONE) {
      this.freeHead = this.next[slot];
    } else {
      if (this.highWater === this.capacity) this.grow(this.capacity * 2);
      slot = this.highWater++;
    }
    return slot;
  }

  /** Makes `slot` a live inode with one lookup reference. */
  private fill(slot: number, fd: number, rec: StatRecord): void {
    const o = slot * KEY_WORDS;
    const k = this.keys;
    k[o] = rec.readUInt32LE(StatField.dev);
    k[o + 1] = rec.readUInt32LE(StatField.dev + 4);
    k[o + 2] = rec.readUInt32LE(StatField.ino);
    k[o + 3] = rec.readUInt32LE(StatField.ino + 4);
    k[o + 4] = rec.readUInt32LE(StatField.mntId);
    k[o + 5] = rec.readUInt32LE(StatField.mntId + 4);
    this.types[slot] = rec.readUInt32LE(StatField.mode) & S_IFMT;
    this.fds[slot] = fd;
    this.refcount[slot] = 1;
    this.pins[slot] = 0;
    this.flags[slot] = LIVE | USED | HASHED;
    const b = this.bucketOf(slot);
    this.next[slot] = this.buckets[b];
    this.buckets[b] = slot;
    this.live++;
  }

  private evict(slot: number): void {
    this.flags[slot] &= ~LIVE;
    this.live--;
    this.unhash(slot);
    this.next[slot] = NONE;
    this.evicted?.(this.nodeidOf(slot));
    if (this.pins[slot] === 0) this.free(slot);
  }

  /** Takes a live slot out of its hash chain (evicted, or its key now names another inode). */
  private unhash(slot: number): void {
    if ((this.flags[slot] & HASHED) === 0) return;
    this.flags[slot] &= ~HASHED;
    const b = this.bucketOf(slot);
    if (this.buckets[b] === slot) {
      this.buckets[b] = this.next[slot];
    } else {
      let prev = this.buckets[b];
      while (prev !== NONE && this.next[prev] !== slot) prev = this.next[prev];
      if (prev !== NONE) this.next[prev] = this.next[slot];
    }
    this.next[slot] = NONE;
  }

  /** The hash bucket of a slot's key (the table's current size). */
  private bucketOf(slot: number): number {
    const o = slot * KEY_WORDS;
    return hashOf(this.keys[o], this.keys[o + 2], this.keys[o + 4]) & (this.buckets.length - 1);
  }

  private sameHandle(stored: string, handle: Buffer): boolean {
    if (stored.length !== handle.length) return false;
    for (let i = 0; i < handle.length; i++) if (stored.charCodeAt(i) !== handle[i]) return false;
    return true;
  }

  /** An evicted slot nobody pins: close its descriptor, and hand it out again with the next generation. */
  private free(slot: number): void {
    if ((this.flags[slot] & CACHED) !== 0) this.cachedCount--; // its ring place goes stale
    if (this.fds[slot] >= 0) this.closeFd(this.fds[slot]);
    this.fds[slot] = NONE;
    if (this.handles[slot] !== undefined) {
      this.handles[slot] = undefined;
      this.handleCount--;
    }
    this.flags[slot] = 0;
    if (slot === ROOT_ID || this.generation[slot] >= MAX_GENERATION) return; // retired
    this.generation[slot]++;
    this.next[slot] = this.freeHead;
    this.freeHead = slot;
  }

  /**
   * A handle-backed live slot whose last pin went (or that was just adopted with its
   * descriptor): keep the descriptor open in the ring, closing the one the CLOCK hand picks
   * (unpinned, not used since the hand last passed) when the ring is full — or this one's
   * when there is none to pick.
   */
  private keepOpen(slot: number): void {
    if ((this.flags[slot] & CACHED) !== 0) return; // already has its place
    const nodeid = this.nodeidOf(slot);
    if (this.ringUsed < this.ring.length) {
      this.ring[this.ringUsed++] = nodeid;
    } else {
      const place = this.victim();
      if (place === NONE) {
        this.closeFd(this.fds[slot]);
        this.fds[slot] = NONE;
        return;
      }
      this.ring[place] = nodeid;
    }
    this.flags[slot] |= CACHED;
    this.cachedCount++;
  }

  /** A ring place to reuse: a stale one, or one whose descriptor the hand closes; -1 if none. */
  private victim(): number {
    for (let step = 0; step < 2 * this.ring.length; step++) {
      const place = this.hand;
      this.hand = (this.hand + 1) % this.ring.length;
      const slot = this.liveSlot(this.ring[place]);
      if (slot === NONE || (this.flags[slot] & CACHED) === 0) return place; // stale: inode gone or re-cached elsewhere
      if (this.pins[slot] !== 0) continue;
      if ((this.flags[slot] & RECENT) !== 0) {
        this.flags[slot] &= ~RECENT;
        continue;
      }
      this.closeFd(this.fds[slot]);
      this.fds[slot] = NONE;
      this.flags[slot] &= ~CACHED;
      this.cachedCount--;
      return place;
    }
    return NONE;
  }

  private grow(slots: number): void {
    const copy = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(old: T, make: (n: number) => T, n: number): T => {
      const a = make(n);
      a.set(old);
      return a;
    };
    this.generation = copy(this.generation, (n) => new Uint32Array(n), slots);
    this.refcount = copy(this.refcount, (n) => new Float64Array(n), slots);
    this.pins = copy(this.pins, (n) => new Uint32Array(n), slots);
    this.fds = copy(this.fds, (n) => new Int32Array(n), slots);
    this.types = copy(this.types, (n) => new Uint16Array(n), slots);
    this.flags = copy(this.flags, (n) => new Uint8Array(n), slots);
    this.keys = copy(this.keys, (n) => new Uint32Array(n), slots * KEY_WORDS);
    this.next = copy(this.next, (n) => new Int32Array(n), slots);
    // Dense (packed) even where no slot has a handle: a sparse array would fall back to a dictionary.
    while (this.handles.length < slots) this.handles.push(undefined);
    this.capacity = slots;
    this.rehash(slots);
  }

  /** One bucket per slot: chains stay short as the table grows. */
  private rehash(buckets: number): void {
    this.buckets = new Int32Array(buckets).fill(NONE);
    for (let s = ROOT_ID; s < this.highWater; s++) {
      if ((this.flags[s] & HASHED) === 0) continue;
      const b = this.bucketOf(s);
      this.next[s] = this.buckets[b];
      this.buckets[b] = s;
    }
  }
}
