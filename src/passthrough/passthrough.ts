/**
 * PassthroughFs: serves one host directory (the share) through the FileSystem interface.
 *
 * Confinement, with or without a sandbox around the process:
 * - every inode is an O_PATH descriptor; a name is only ever resolved as a single component
 *   relative to its parent's descriptor, with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and
 *   O_NOFOLLOW: a symlink in the share is looked up as the link itself and never followed;
 * - names are re-checked here ('/', NUL, '.', '..', length) whatever the core validated;
 * - I/O descriptors are made by re-opening an inode's O_PATH fd through /proc/self/fd, and only
 *   for regular files and directories (CVE-2020-35517): OPEN on anything else is EBADF, as the
 *   Rust and C virtiofsd answer; CREATE uses O_CREAT | O_EXCL first and, when the name exists and
 *   the guest did not ask for O_EXCL, goes through the same checked OPEN path;
 * - guest-created inodes (CREATE, MKNOD, MKDIR, SYMLINK) are made with the guest's fsuid/fsgid,
 *   in the thread that makes the call, so ownership is the guest's and the kernel's permission
 *   and SGID rules apply to the guest's ids. The daemon runs with umask 0: the guest kernel
 *   already applied the process umask (we do not negotiate FUSE_DONT_MASK).
 *
 * ACCESS is answered by faccessat2(AT_EACCESS) on the inode with the guest's fsuid/fsgid, so
 * ACLs, read-only mounts and immutable files count (virtio-fs guests mount with
 * default_permissions and rarely send ACCESS; /dev/fuse hosts do).
 *
 * Unknown node ids are ESTALE; unknown or mismatched handles EBADF. Host errors reach the guest
 * with their own errno (EMFILE included: a full descriptor table fails one request, nothing else).
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import {
  STAT_RECORD_SIZE,
  StatField,
  type AttrReply,
  type CreateReply,
  type DirEntrySink,
  type Entry,
  type FileSystem,
  type OpenReply,
  type RequestContext,
  type SessionInfo,
  type SetattrRequest,
  type StatfsReply,
  type ZeroCopyReader,
  type ZeroCopyWriter,
} from '../filesystem/filesystem.js';
import * as sys from '../native/syscalls.js';
import { C } from '../native/syscalls.js';
import { cachePolicy, type CacheMode, type CachePolicy } from './cache-policy.js';
import { checkIds, checkName, checkSymlinkTarget, openFlags } from './guest-input.js';
import { HandleTable, type HandleData } from './handle-table.js';
import { acceptedInitFlags, FUSE_SUBMOUNTS } from './init-flags.js';
import { InodeTable, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type InodeData } from './inode-table.js';
import { readDirectory, type ReaddirHost } from './readdir.js';

/** fuse_attr.flags */
export const FUSE_ATTR_SUBMOUNT = 1 << 0;

/** SETATTR valid bits (FATTR_*). */
export const FATTR = {
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  FH: 1 << 6,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
  LOCKOWNER: 1 << 9,
  CTIME: 1 << 10,
  KILL_SUIDGID: 1 << 11,
} as const;

const LOOKUP_FLAGS = C.O_PATH | C.O_NOFOLLOW;
const BENEATH = C.RESOLVE_BENEATH | C.RESOLVE_NO_SYMLINKS | C.RESOLVE_NO_MAGICLINKS;
const PATH_MAX = 4096;
const R_OK = 4;
const W_OK = 2;

type LogFn = (obj: object, msg?: string) => void;
/** The slice of a pino logger the passthrough uses. */
export interface PassthroughLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const silent: PassthroughLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface PassthroughOptions {
  /** The shared directory. */
  root: string;
  cache: CacheMode;
  /** Set FUSE_ATTR_SUBMOUNT on directories that are mount points (if the guest agreed). */
  announceSubmounts: boolean;
  logger?: PassthroughLogger;
  /** Honour the guest's O_DIRECT (virtiofsd's --allow-direct-io). Default false. */
  allowDirectIo?: boolean;
}

function check(r: number, syscall: string): number {
  if (r < 0) throw new ErrnoError(-r, syscall);
  return r;
}

export class PassthroughFs implements FileSystem {
  /** Creates and opens a PassthroughFs. */
  static async create(opts: PassthroughOptions): Promise<PassthroughFs> {
    const fs = new PassthroughFs(opts);
    await fs.openRoot();
    return fs;
  }

  readonly policy: CachePolicy;
  private readonly log: PassthroughLogger;
  private readonly allowDirectIo: boolean;
  private readonly inodes: InodeTable;
  private readonly handles: HandleTable;
  private readonly readdirHost: ReaddirHost;
  private procSelfFd = -1;
  private closeInline = false;
  private submounts: boolean;

  constructor(private readonly opts: PassthroughOptions) {
    this.policy = cachePolicy(opts.cache);
    this.log = opts.logger ?? silent;
    this.allowDirectIo = opts.allowDirectIo ?? false;
    this.submounts = opts.announceSubmounts;
    const closeFd = (fd: number): void => this.closeQuietly(fd);
    this.inodes = new InodeTable(closeFd);
    this.handles = new HandleTable(closeFd);
    this.readdirHost = {
      lookupChild: (dir, name) => this.lookupIn(dir, name),
      forgetOne: (nodeid) => this.inodes.forget(nodeid, 1),
    };
  }

  /** Closes every descriptor, the root's included. The instance cannot be reopened. */
  async close(): Promise<void> {
    // Inline closes: when this resolves, the descriptors are gone (e.g. a mount can be unmounted).
    this.closeInline = true;
    try {
      this.handles.clear();
      this.inodes.closeAll();
      if (this.procSelfFd >= 0) this.closeQuietly(this.procSelfFd);
      this.procSelfFd = -1;
    } finally {
      this.closeInline = false;
    }
  }

  /** Counts, for tests and metrics. */
  get stats(): { inodes: number; handles: number } {
    return { inodes: this.inodes.size, handles: this.handles.size };
  }

  // ---- session ------------------------------------------------------------------------

  async init(session: SessionInfo): Promise<bigint> {
    // A new session: whatever an earlier one left behind is meaningless now.
    this.handles.clear();
    this.inodes.clear();
    this.submounts = this.opts.announceSubmounts && (session.flags & FUSE_SUBMOUNTS) !== 0n;
    return acceptedInitFlags(session.flags, this.opts.announceSubmounts, this.policy.readdirplus);
  }

  async destroy(): Promise<void> {
    this.handles.clear();
    this.inodes.clear();
  }

  // ---- names --------------------------------------------------------------------------

  async lookup(_ctx: RequestContext, parent: number, name: Buffer): Promise<Entry> {
    checkName(name);
    const p = this.inodes.acquire(parent);
    try {
      return await this.lookupIn(p, name);
    } finally {
      this.inodes.release(p);
    }
  }

  forget(nodeid: number, count: bigint): void {
    // Number() of any u64 is finite and >= 0; counts beyond the refcount clamp to zero.
    this.inodes.forget(nodeid, Number(count));
  }

  async symlink(ctx: RequestContext, parent: number, name: Buffer, target: Buffer): Promise<Entry> {
    checkName(name);
    checkSymlinkTarget(target);
    checkIds(ctx);
    const p = this.inodes.acquire(parent);
    try {
      check(await sys.symlinkat(target, p.fd, name, ctx.uid, ctx.gid), 'symlinkat');
      return await this.lookupIn(p, name);
    } finally {
      this.inodes.release(p);
    }
  }

  async mknod(ctx: RequestContext, parent: number, name: Buffer, mode: number, rdev: number, _umask: number): Promise<Entry> {
    checkName(name);
    checkIds(ctx);
    const p = this.inodes.acquire(parent);
    try {
      check(await sys.mknodat(p.fd, name, mode, rdev, ctx.uid, ctx.gid), 'mknodat');
      return await this.lookupIn(p, name);
    } finally {
      this.inodes.release(p);
    }
  }

  async mkdir(ctx: RequestContext, parent: number, name: Buffer, mode: number, _umask: number): Promise<Entry> {
    checkName(name);
    checkIds(ctx);
    const p = this.inodes.acquire(parent);
    try {
      check(await sys.mkdirat(p.fd, name, mode, ctx.uid, ctx.gid), 'mkdirat');
      return await this.lookupIn(p, name);
    } finally {
      this.inodes.release(p);
    }
  }

  async unlink(_ctx: RequestContext, parent: number, name: Buffer): Promise<void> {
    await this.remove(parent, name, 0);
  }

  async rmdir(_ctx: RequestContext, parent: number, name: Buffer): Promise<void> {
    await this.remove(parent, name, C.AT_REMOVEDIR);
  }

  async rename(_ctx: RequestContext, parent: number, name: Buffer, newParent: number, newName: Buffer, flags: number): Promise<void> {
    checkName(name);
    checkName(newName);
    if ((flags & ~(C.RENAME_NOREPLACE | C.RENAME_EXCHANGE | C.RENAME_WHITEOUT)) !== 0) {
      throw new ErrnoError(E.EINVAL, 'rename flags');
    }
    const p = this.inodes.acquire(parent);
    try {
      const np = this.inodes.acquire(newParent);
      try {
        check(await sys.renameat2(p.fd, name, np.fd, newName, flags), 'renameat2');
      } finally {
        this.inodes.release(np);
      }
    } finally {
      this.inodes.release(p);
    }
  }

  async link(_ctx: RequestContext, nodeid: number, newParent: number, newName: Buffer): Promise<Entry> {
    checkName(newName);
    const d = this.inodes.acquire(nodeid);
    try {
      const np = this.inodes.acquire(newParent);
      try {
        // linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH; the /proc link needs nothing.
        check(await sys.linkat(this.procSelfFd, d.procName, np.fd, newName, C.AT_SYMLINK_FOLLOW), 'linkat');
        return await this.lookupIn(np, newName);
      } finally {
        this.inodes.release(np);
      }
    } finally {
      this.inodes.release(d);
    }
  }

  async readlink(_ctx: RequestContext, nodeid: number): Promise<Buffer> {
    const d = this.inodes.acquire(nodeid);
    try {
      // readlinkat(fd, "") on anything else says ENOENT; readlink(2) says EINVAL.
      if (d.type !== S_IFLNK) throw new ErrnoError(E.EINVAL, 'not a symlink');
      const buf = Buffer.allocUnsafe(PATH_MAX);
      const n = check(await sys.readlinkat(d.fd, null, buf), 'readlinkat');
      return Buffer.from(buf.subarray(0, n));
    } finally {
      this.inodes.release(d);
    }
  }

  // ---- attributes ---------------------------------------------------------------------

  async getattr(_ctx: RequestContext, nodeid: number, _fh: number | undefined): Promise<AttrReply> {
    const d = this.inodes.acquire(nodeid);
    try {
      return { attr: await this.stat(d), attrTimeout: this.policy.attrTimeout };
    } finally {
      this.inodes.release(d);
    }
  }

  async setattr(_ctx: RequestContext, nodeid: number, req: SetattrRequest): Promise<AttrReply> {
    const v = req.valid;
    const d = this.inodes.acquire(nodeid);
    let h: HandleData | undefined;
    try {
      if (v & FATTR.FH) h = this.handles.acquire(req.fh, nodeid);
      if (v & FATTR.MODE) {
        const r = h ? await sys.fchmodat(h.fd, null, req.mode) : await sys.fchmodat(this.procSelfFd, d.procName, req.mode);
        check(r, 'fchmodat');
      }
      if (v & (FATTR.UID | FATTR.GID)) {
        const uid = v & FATTR.UID ? req.uid : -1;
        const gid = v & FATTR.GID ? req.gid : -1;
        check(await sys.fchownat(d.fd, null, uid, gid, C.AT_SYMLINK_NOFOLLOW), 'fchownat');
      }
      if (v & FATTR.SIZE) {
        if (h) check(await sys.ftruncate(h.fd, req.size), 'ftruncate');
        else await this.truncateInode(d, req.size);
      }
      if (v & (FATTR.ATIME | FATTR.MTIME | FATTR.ATIME_NOW | FATTR.MTIME_NOW)) {
        let aSec = 0;
        let aNsec = C.UTIME_OMIT;
        let mSec = 0;
        let mNsec = C.UTIME_OMIT;
        if (v & FATTR.ATIME_NOW) aNsec = C.UTIME_NOW;
        else if (v & FATTR.ATIME) [aSec, aNsec] = [Number(BigInt.asIntN(64, req.atime)), req.atimensec];
        if (v & FATTR.MTIME_NOW) mNsec = C.UTIME_NOW;
        else if (v & FATTR.MTIME) [mSec, mNsec] = [Number(BigInt.asIntN(64, req.mtime)), req.mtimensec];
        const r = h
          ? await sys.utimensat(h.fd, null, aSec, aNsec, mSec, mNsec, 0)
          : await sys.utimensat(this.procSelfFd, d.procName, aSec, aNsec, mSec, mNsec, 0);
        check(r, 'utimensat');
      }
      // FATTR_CTIME: the host sets ctime itself; LOCKOWNER / KILL_SUIDGID: not negotiated.
      return { attr: await this.stat(d), attrTimeout: this.policy.attrTimeout };
    } finally {
      if (h) this.handles.release(h);
      this.inodes.release(d);
    }
  }

  // ---- files --------------------------------------------------------------------------

  /**
   * OPEN of `nodeid` — or, called without arguments, opening the file system itself (same as
   * openRoot(); kept so that `await fs.open()` reads naturally at start-up).
   */
  async open(ctx: RequestContext, nodeid: number, flags: number): Promise<OpenReply>;
  async open(): Promise<void>;
  async open(ctx?: RequestContext, nodeid?: number, flags?: number): Promise<OpenReply | void> {
    if (ctx === undefined) return this.openRoot();
    const d = this.inodes.acquire(nodeid!);
    try {
      return await this.openInode(d, openFlags(flags!, this.allowDirectIo));
    } finally {
      this.inodes.release(d);
    }
  }

  async create(ctx: RequestContext, parent: number, name: Buffer, mode: number, flags: number, _umask: number): Promise<CreateReply> {
    checkName(name);
    checkIds(ctx);
    const f = openFlags(flags, this.allowDirectIo) & ~C.O_DIRECTORY;
    const p = this.inodes.acquire(parent);
    try {
      // O_EXCL: never open something that already exists (a FIFO, a device, a symlink) as
      // part of creating; O_NOFOLLOW + RESOLVE_*: never leave the directory.
      const created = f | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
      const fd = await sys.openat2(p.fd, name, created, mode & 0o7777, BENEATH, ctx.uid, ctx.gid);
      if (fd >= 0) {
        let entry: Entry;
        try {
          entry = await this.lookupIn(p, name);
        } catch (err) {
          this.closeQuietly(fd);
          throw err;
        }
        const h = this.handles.add(entry.nodeid, fd, false);
        return { fh: h.fh, openFlags: this.policy.fileOpenFlags, entry };
      }
      if (fd !== -E.EEXIST || (flags & C.O_EXCL) !== 0) throw new ErrnoError(-fd, 'openat2');
      // It exists and the guest did not insist on creating it: open it like OPEN would. The
      // guest kernel believed the name was free, so it checked no permission on the file: we
      // check, with the guest's ids, before opening as root.
      const entry = await this.lookupIn(p, name);
      const d = this.inodes.acquire(entry.nodeid);
      try {
        if (d.isDir) throw new ErrnoError(E.EISDIR);
        if (d.isOpenable) {
          const acc = f & C.O_ACCMODE;
          const mask = (acc === C.O_WRONLY ? 0 : R_OK) | (acc === C.O_RDONLY && !(f & C.O_TRUNC) ? 0 : W_OK);
          check(await sys.faccessat(d.fd, null, mask, C.AT_EACCESS | C.AT_SYMLINK_NOFOLLOW, ctx.uid, ctx.gid), 'faccessat2');
        }
        const reply = await this.openInode(d, f);
        return { fh: reply.fh, openFlags: reply.openFlags, entry };
      } catch (err) {
        this.inodes.forget(entry.nodeid, 1);
        throw err;
      } finally {
        this.inodes.release(d);
      }
    } finally {
      this.inodes.release(p);
    }
  }

  async read(_ctx: RequestContext, nodeid: number, fh: number, offset: bigint, size: number, out: ZeroCopyWriter): Promise<number> {
    const h = this.handles.acquire(fh, nodeid);
    try {
      return await out.writeFromFile(h.fd, offset, size);
    } finally {
      this.handles.release(h);
    }
  }

  async write(_ctx: RequestContext, nodeid: number, fh: number, offset: bigint, data: ZeroCopyReader, _writeFlags: number): Promise<number> {
    const h = this.handles.acquire(fh, nodeid);
    try {
      return await data.readToFile(h.fd, offset, data.length);
    } finally {
      this.handles.release(h);
    }
  }

  async flush(_ctx: RequestContext, nodeid: number, fh: number, _lockOwner: bigint): Promise<void> {
    // What close(2) of one of the guest's descriptors would do on the host: close a duplicate.
    const h = this.handles.acquire(fh, nodeid);
    try {
      const dupFd = check(await sys.dup(h.fd), 'dup');
      check(await sys.close(dupFd), 'close');
    } finally {
      this.handles.release(h);
    }
  }

  async release(_ctx: RequestContext, nodeid: number, fh: number, _flags: number): Promise<void> {
    this.handles.remove(fh, nodeid);
  }

  async fsync(_ctx: RequestContext, nodeid: number, fh: number, datasync: boolean): Promise<void> {
    const h = this.handles.acquire(fh, nodeid);
    try {
      check(await sys.fsync(h.fd, datasync), datasync ? 'fdatasync' : 'fsync');
    } finally {
      this.handles.release(h);
    }
  }

  // ---- directories --------------------------------------------------------------------

  async opendir(_ctx: RequestContext, nodeid: number, _flags: number): Promise<OpenReply> {
    const d = this.inodes.acquire(nodeid);
    try {
      if (!d.isDir) throw new ErrnoError(E.ENOTDIR);
      return await this.openInode(d, C.O_RDONLY | C.O_DIRECTORY);
    } finally {
      this.inodes.release(d);
    }
  }

  async readdir(_ctx: RequestContext, nodeid: number, fh: number, offset: bigint, plus: boolean, sink: DirEntrySink): Promise<void> {
    const h = this.handles.acquire(fh, nodeid);
    try {
      const d = this.inodes.acquire(nodeid);
      try {
        await readDirectory(h, d, offset, plus, sink, this.readdirHost);
      } finally {
        this.inodes.release(d);
      }
    } finally {
      this.handles.release(h);
    }
  }

  async releasedir(_ctx: RequestContext, nodeid: number, fh: number): Promise<void> {
    this.handles.remove(fh, nodeid);
  }

  async fsyncdir(ctx: RequestContext, nodeid: number, fh: number, datasync: boolean): Promise<void> {
    await this.fsync(ctx, nodeid, fh, datasync);
  }

  // ---- file system --------------------------------------------------------------------

  async statfs(_ctx: RequestContext, nodeid: number): Promise<StatfsReply> {
    const d = this.inodes.acquire(nodeid);
    try {
      const b = Buffer.allocUnsafe(C.STATVFS_SIZE);
      check(await sys.fstatvfs(d.fd, b), 'fstatvfs');
      return {
        bsize: Number(b.readBigUInt64LE(0)),
        frsize: Number(b.readBigUInt64LE(8)),
        blocks: b.readBigUInt64LE(16),
        bfree: b.readBigUInt64LE(24),
        bavail: b.readBigUInt64LE(32),
        files: b.readBigUInt64LE(40),
        ffree: b.readBigUInt64LE(48),
        namelen: Number(b.readBigUInt64LE(80)),
      };
    } finally {
      this.inodes.release(d);
    }
  }

  async access(ctx: RequestContext, nodeid: number, mask: number): Promise<void> {
    const d = this.inodes.acquire(nodeid);
    try {
      const m = mask & 7; // R_OK | W_OK | X_OK; F_OK: it exists, we hold it
      if (m === 0) return;
      checkIds(ctx);
      check(await sys.faccessat(d.fd, null, m, C.AT_EACCESS | C.AT_SYMLINK_NOFOLLOW, ctx.uid, ctx.gid), 'faccessat2');
    } finally {
      this.inodes.release(d);
    }
  }

  // ---- internals ----------------------------------------------------------------------

  /** Opens the share's root (O_PATH) and /proc/self/fd. Call once, before serving. */
  async openRoot(): Promise<void> {
    if (this.procSelfFd >= 0) throw new Error('PassthroughFs already open');
    const dirFlags = C.O_PATH | C.O_DIRECTORY;
    const procFd = check(await sys.openat2(C.AT_FDCWD, Buffer.from('/proc/self/fd'), dirFlags, 0, 0), 'open /proc/self/fd');
    let rootFd = -1;
    try {
      // The root is operator configuration, not guest input: a symlinked path is fine.
      rootFd = check(await sys.openat2(C.AT_FDCWD, Buffer.from(this.opts.root), dirFlags, 0, 0), `open ${this.opts.root}`);
      const attr = Buffer.alloc(STAT_RECORD_SIZE);
      check(await sys.statx(rootFd, null, C.AT_SYMLINK_NOFOLLOW, attr), 'statx');
      this.inodes.setRoot(rootFd, attr);
    } catch (err) {
      this.closeQuietly(procFd);
      if (rootFd >= 0) this.closeQuietly(rootFd);
      throw err;
    }
    this.procSelfFd = procFd;
  }

  /**
   * One lookup of `name` in the (pinned) directory `parent`: +1 reference on the result. The
   * part after the last await is synchronous, so the table cannot change between finding an
   * existing inode and taking the reference.
   */
  private async lookupIn(parent: InodeData, name: Buffer): Promise<Entry> {
    const fd = check(await sys.openat2(parent.fd, name, LOOKUP_FLAGS, 0, BENEATH), 'openat2');
    const attr = Buffer.allocUnsafe(STAT_RECORD_SIZE);
    const r = await sys.statx(fd, null, C.AT_SYMLINK_NOFOLLOW, attr);
    if (r < 0) {
      this.closeQuietly(fd);
      throw new ErrnoError(-r, 'statx');
    }
    if (this.submounts && (attr.readUInt32LE(StatField.mode) & S_IFMT) === S_IFDIR && !parent.sameDevice(attr)) {
      attr.writeUInt32LE(FUSE_ATTR_SUBMOUNT, StatField.flags);
    }
    const d = this.inodes.adopt(fd, attr);
    return { nodeid: d.nodeid, generation: 0, attr, entryTimeout: this.policy.entryTimeout, attrTimeout: this.policy.attrTimeout };
  }

  private async stat(d: InodeData): Promise<Buffer> {
    const attr = Buffer.allocUnsafe(STAT_RECORD_SIZE);
    check(await sys.statx(d.fd, null, C.AT_SYMLINK_NOFOLLOW, attr), 'statx');
    return attr;
  }

  /** An I/O descriptor for a (pinned) regular file or directory, registered as a handle. */
  private async openInode(d: InodeData, flags: number): Promise<OpenReply> {
    if (!d.isOpenable) throw new ErrnoError(E.EBADF, 'not a regular file or directory');
    const fd = check(await sys.reopen(this.procSelfFd, d.fd, flags), 'open');
    const h = this.handles.add(d.nodeid, fd, d.isDir);
    return { fh: h.fh, openFlags: d.isDir ? this.policy.dirOpenFlags : this.policy.fileOpenFlags };
  }

  private async truncateInode(d: InodeData, size: bigint): Promise<void> {
    if (d.type === S_IFDIR) throw new ErrnoError(E.EISDIR);
    if (d.type !== S_IFREG) throw new ErrnoError(E.EINVAL);
    const fd = check(await sys.reopen(this.procSelfFd, d.fd, C.O_WRONLY | C.O_NONBLOCK), 'open');
    try {
      check(await sys.ftruncate(fd, size), 'ftruncate');
    } finally {
      this.closeQuietly(fd);
    }
  }

  private async remove(parent: number, name: Buffer, flags: number): Promise<void> {
    checkName(name);
    const p = this.inodes.acquire(parent);
    try {
      check(await sys.unlinkat(p.fd, name, flags), flags ? 'rmdir' : 'unlink');
    } finally {
      this.inodes.release(p);
    }
  }

  private closeQuietly(fd: number): void {
    const r = this.closeInline ? sys.sys.sys_close(fd)! : sys.close(fd);
    if (typeof r === 'number') {
      if (r < 0) this.log.warn({ fd, errno: -r }, 'close failed');
    } else {
      r.then(
        (n) => {
          if (n < 0) this.log.warn({ fd, errno: -n }, 'close failed');
        },
        () => {},
      );
    }
  }
}
