/**
 * The passthrough's inodes: guest node ids ↔ host inodes, each holding one O_PATH descriptor —
 * or, with --inode-file-handles, a file handle (name_to_handle_at) that is opened
 * (open_by_handle_at, O_PATH) only while an operation uses the inode.
 *
 * - Keyed by the host identity (st_dev, st_ino, mnt_id), read from a StatRecord as u32 halves:
 *   no BigInt, no string keys. Entries with the same hash are chained through `next`.
 * - `refcount` is the guest's lookup count: +1 per Entry handed out, −n per FORGET. At zero the
 *   inode leaves the table. Its descriptor is closed once no operation still uses it (`pins`):
 *   a FORGET racing with an operation on a pool thread must never close an fd in use — the
 *   number could be reused by an unrelated open.
 * - Node id 1 is the root (the share); it is never evicted.
 * - Node ids are never reused within a table's life.
 * - Handle-backed inodes: `fd` is valid while pinned (acquire() opens it, synchronously and on
 *   the calling thread: open_by_handle_at on a local file system costs about what a lookup
 *   does), and is closed when the last pin goes. open_by_handle_at needs a descriptor on the
 *   same mount: the table keeps one per mount id (setMountFd).
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import { StatField, type StatRecord } from '../filesystem/filesystem.js';
import { C, sys } from '../native/syscalls.js';

export const ROOT_ID = 1;

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export class InodeData {
  refcount = 1;
  /** Operations currently using `fd`. */
  pins = 0;
  /** False once evicted; the fd is then closed when `pins` drops to 0. */
  live = true;
  next: InodeData | undefined = undefined;
  /** With a file handle: the handle (struct file_handle) and a descriptor on its mount. */
  handle: Buffer | undefined = undefined;
  mountFd = -1;
  /** "<fd>" as bytes, for calls through /proc/self/fd (built on first use, per fd). */
  private procNameBytes: Buffer | undefined = undefined;
  private procNameFd = -1;

  constructor(
    readonly nodeid: number,
    /** The O_PATH descriptor; for handle-backed inodes only while pinned (-1 otherwise). */
    public fd: number,
    /** File type bits (S_IFMT) — an inode's type never changes. */
    readonly type: number,
    readonly devLo: number,
    readonly devHi: number,
    readonly inoLo: number,
    readonly inoHi: number,
    readonly mntLo: number,
    readonly mntHi: number,
  ) {}

  get procName(): Buffer {
    if (this.procNameBytes === undefined || this.procNameFd !== this.fd) {
      this.procNameBytes = Buffer.from(String(this.fd));
      this.procNameFd = this.fd;
    }
    return this.procNameBytes;
  }

  /** The host's mount id (low 32 bits suffice: mount ids are small). */
  get mountId(): number {
    return this.mntLo;
  }

  get isDir(): boolean {
    return this.type === S_IFDIR;
  }

  /** Only regular files and directories may be opened for I/O (CVE-2020-35517). */
  get isOpenable(): boolean {
    return this.type === S_IFREG || this.type === S_IFDIR;
  }

  sameDevice(rec: StatRecord): boolean {
    return (
      rec.readUInt32LE(StatField.dev) === this.devLo &&
      rec.readUInt32LE(StatField.dev + 4) === this.devHi &&
      rec.readUInt32LE(StatField.mntId) === this.mntLo &&
      rec.readUInt32LE(StatField.mntId + 4) === this.mntHi
    );
  }
}

function hashOf(rec: StatRecord): number {
  return (rec.readUInt32LE(StatField.ino) ^ Math.imul(rec.readUInt32LE(StatField.dev), 0x9e3779b1) ^ rec.readUInt32LE(StatField.mntId)) | 0;
}

function matches(d: InodeData, rec: StatRecord): boolean {
  return (
    d.inoLo === rec.readUInt32LE(StatField.ino) &&
    d.inoHi === rec.readUInt32LE(StatField.ino + 4) &&
    d.devLo === rec.readUInt32LE(StatField.dev) &&
    d.devHi === rec.readUInt32LE(StatField.dev + 4) &&
    d.mntLo === rec.readUInt32LE(StatField.mntId) &&
    d.mntHi === rec.readUInt32LE(StatField.mntId + 4)
  );
}

export class InodeTable {
  private readonly byId = new Map<number, InodeData>();
  private readonly byKey = new Map<number, InodeData>();
  /** Mount id → a descriptor on that mount, for open_by_handle_at. */
  private readonly mountFds = new Map<number, number>();
  private nextId = ROOT_ID + 1;
  private rootData: InodeData | undefined;

  /**
   * `closeFd` closes an evicted inode's descriptor (errors are the callee's to log);
   * `evicted` hears about every inode leaving the table (the lock table closes its files).
   */
  constructor(
    private readonly closeFd: (fd: number) => void,
    private readonly evicted?: (d: InodeData) => void,
  ) {}

  /** Inodes held by file handle (tests, metrics). */
  get handleBacked(): number {
    let n = 0;
    for (const d of this.byId.values()) if (d.handle !== undefined) n++;
    return n;
  }

  /** Every live inode (SYNCFS looks for one per file system). */
  values(): IterableIterator<InodeData> {
    return this.byId.values();
  }

  get size(): number {
    return this.byId.size;
  }

  get root(): InodeData {
    if (!this.rootData) throw new ErrnoError(E.ESTALE, 'file system not open');
    return this.rootData;
  }

  /** Installs the root (node id 1) from its O_PATH fd and attributes. */
  setRoot(fd: number, rec: StatRecord): InodeData {
    if (this.rootData) throw new Error('root already set');
    const d = this.make(ROOT_ID, fd, rec);
    this.rootData = d;
    this.insert(d, rec);
    return d;
  }

  get(nodeid: number): InodeData | undefined {
    return this.byId.get(nodeid);
  }

  /**
   * Looks `nodeid` up and pins it for the duration of an operation; ESTALE if unknown. A
   * handle-backed inode gets its O_PATH descriptor here (the handle's errno if that fails:
   * ESTALE when the file is gone).
   */
  acquire(nodeid: number): InodeData {
    const d = this.byId.get(nodeid);
    if (d === undefined) throw new ErrnoError(E.ESTALE, `unknown node id ${nodeid}`);
    if (d.pins === 0 && d.handle !== undefined && d.fd < 0) {
      const fd = sys.sys_open_by_handle_at(d.mountFd, d.handle, C.O_PATH | C.O_NOFOLLOW)!;
      if (fd < 0) throw new ErrnoError(-fd, 'open_by_handle_at');
      d.fd = fd;
    }
    d.pins++;
    return d;
  }

  release(d: InodeData): void {
    if (--d.pins !== 0) return;
    if (!d.live) {
      if (d.fd >= 0) this.closeFd(d.fd);
    } else if (d.handle !== undefined && d.fd >= 0) {
      this.closeFd(d.fd);
      d.fd = -1;
    }
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
   * Like adopt(), for an inode known by file handle: +1 reference on the existing entry, or a
   * new handle-backed entry (no descriptor until acquired).
   */
  adoptHandle(handle: Buffer, mountFd: number, rec: StatRecord): InodeData {
    const existing = this.find(rec);
    if (existing !== undefined) {
      existing.refcount++;
      return existing;
    }
    const d = this.make(this.nextId++, -1, rec);
    d.handle = handle;
    d.mountFd = mountFd;
    this.insert(d, rec);
    return d;
  }

  /**
   * Takes one lookup reference on the inode that `fd`/`rec` describe. If it is already known
   * the existing entry is returned and `fd` is closed; otherwise `fd` becomes the entry's fd.
   */
  adopt(fd: number, rec: StatRecord): InodeData {
    const existing = this.find(rec);
    if (existing !== undefined) {
      existing.refcount++;
      if (existing.fd !== fd) this.closeFd(fd);
      return existing;
    }
    const d = this.make(this.nextId++, fd, rec);
    this.insert(d, rec);
    return d;
  }

  find(rec: StatRecord): InodeData | undefined {
    for (let d = this.byKey.get(hashOf(rec)); d !== undefined; d = d.next) {
      if (matches(d, rec)) return d;
    }
    return undefined;
  }

  /** Adds one reference to a known inode (an Entry for it is being handed out again). */
  ref(d: InodeData): void {
    d.refcount++;
  }

  /**
   * Drops `count` lookup references (FORGET). Any count — even one far above what was handed
   * out — is clamped at zero; unknown ids are ignored. The root is never evicted.
   */
  forget(nodeid: number, count: number): void {
    const d = this.byId.get(nodeid);
    if (d === undefined || !(count > 0)) return;
    if (count < d.refcount) {
      d.refcount -= count;
      return;
    }
    d.refcount = 0;
    if (d.nodeid !== ROOT_ID) this.evict(d);
  }

  /** Evicts every inode but the root (DESTROY, or a new session). */
  clear(): void {
    for (const d of [...this.byId.values()]) {
      if (d.nodeid !== ROOT_ID) this.evict(d);
    }
  }

  /** Evicts everything including the root (the file system is being closed). */
  closeAll(): void {
    for (const d of [...this.byId.values()]) this.evict(d);
    this.rootData = undefined;
    for (const fd of this.mountFds.values()) this.closeFd(fd);
    this.mountFds.clear();
  }

  private make(nodeid: number, fd: number, rec: StatRecord): InodeData {
    return new InodeData(
      nodeid,
      fd,
      rec.readUInt32LE(StatField.mode) & S_IFMT,
      rec.readUInt32LE(StatField.dev),
      rec.readUInt32LE(StatField.dev + 4),
      rec.readUInt32LE(StatField.ino),
      rec.readUInt32LE(StatField.ino + 4),
      rec.readUInt32LE(StatField.mntId),
      rec.readUInt32LE(StatField.mntId + 4),
    );
  }

  private insert(d: InodeData, rec: StatRecord): void {
    const h = hashOf(rec);
    d.next = this.byKey.get(h);
    this.byKey.set(h, d);
    this.byId.set(d.nodeid, d);
  }

  private evict(d: InodeData): void {
    if (!d.live) return;
    d.live = false;
    this.byId.delete(d.nodeid);
    const h = (d.inoLo ^ Math.imul(d.devLo, 0x9e3779b1) ^ d.mntLo) | 0;
    let prev: InodeData | undefined;
    for (let cur = this.byKey.get(h); cur !== undefined; prev = cur, cur = cur.next) {
      if (cur !== d) continue;
      if (prev === undefined) {
        if (d.next === undefined) this.byKey.delete(h);
        else this.byKey.set(h, d.next);
      } else {
        prev.next = d.next;
      }
      break;
    }
    d.next = undefined;
    this.evicted?.(d);
    if (d.pins === 0 && d.fd >= 0) this.closeFd(d.fd);
  }
}
