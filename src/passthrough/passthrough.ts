/**
 * PassthroughFs: serves one host directory (the share) through the FileSystem interface.
 *
 * Confinement, with or without a sandbox around the process:
 * - every inode is an O_PATH descriptor (or a file handle opened as one while in use); a name is
 *   only ever resolved as a single component relative to its parent's descriptor, with
 *   openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and O_NOFOLLOW: a symlink in the share is
 *   looked up as the link itself and never followed;
 * - names are re-checked here ('/', NUL, '.', '..', length) whatever the core validated;
 * - I/O descriptors are made by re-opening an inode's O_PATH fd through /proc/self/fd, and only
 *   for regular files and directories (CVE-2020-35517): OPEN on anything else is EBADF, as the
 *   Rust and C virtiofsd answer;
 * - guest-created inodes are made with the guest's fsuid/fsgid and groups (create.ts).
 *
 * ACCESS is answered by faccessat2(AT_EACCESS) on the inode with the guest's fsuid/fsgid, so
 * ACLs, read-only mounts and immutable files count (virtio-fs guests mount with
 * default_permissions and rarely send ACCESS; /dev/fuse hosts do).
 *
 * The parts: core.ts (shared state, lookup, privileges), create.ts, xattr.ts, locks.ts,
 * file-ops.ts; read-only.ts wraps the whole for --readonly. Unknown node ids are ESTALE;
 * unknown or mismatched handles EBADF. Host errors reach the guest with their own errno (EMFILE
 * included: a full descriptor table fails one request, nothing else).
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import { STAT_RECORD_SIZE, type AttrReply, type CreateReply, type DirEntrySink, type Entry, type FileLock, type FileSystem, type OpenReply, type RequestContext, type SessionInfo, type SetattrRequest, type StatfsReply, type StatxReply, type ZeroCopyReader, type ZeroCopyWriter, type HandleId, type NodeId } from '../filesystem/filesystem.js';
import * as sys from '../native/syscalls.js';
import { C } from '../native/syscalls.js';
import type { CachePolicy } from './cache-policy.js';
import { check, PtCore } from './core.js';
import { createFile, createNode, createTmpfile, FUSE_OPEN_KILL_SUIDGID, sessionOpenFlags } from './create.js';
import * as fileOps from './file-ops.js';
import { checkName } from './guest-input.js';
import { acceptedInitFlags, FUSE_DONT_MASK, FUSE_HANDLE_KILLPRIV_V2, FUSE_SECURITY_CTX, FUSE_SUBMOUNTS, FUSE_WRITEBACK_CACHE } from './init-flags.js';
import { S_IFLNK, S_IFREG, type InodeData } from './inode-table.js';
import { LockTable } from './locks.js';
import { pinForMapping, type PinnedFile } from './mapping-pin.js';
import { silentLogger } from '../logger.js';
import { resolveOptions, type PassthroughOptions, type Settings } from './options.js';
import { readDirectory, type ReaddirHost } from './readdir.js';
import { setattr } from './setattr.js';
import * as xattr from './xattr.js';

export type { PassthroughOptions } from './options.js';

/** fuse_write_in.write_flags: the writer lacks CAP_FSETID (KILLPRIV_V2). */
const FUSE_WRITE_KILL_SUIDGID = 1 << 2;
/** fuse_release_in.release_flags: flush too; drop the flock lock of this open file. */
const FUSE_RELEASE_FLUSH = 1 << 0;
const FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;
const PATH_MAX = 4096;


export class PassthroughFs implements FileSystem {
  /** Creates and opens a PassthroughFs. Throws for contradictory options or an unusable share. */
  static async create(opts: PassthroughOptions): Promise<PassthroughFs> {
    const fs = new PassthroughFs(opts);
    await fs.openRoot();
    return fs;
  }

  readonly settings: Settings;
  private readonly core: PtCore;
  private readonly locks: LockTable;
  private readonly readdirHost: ReaddirHost;

  constructor(opts: PassthroughOptions) {
    this.settings = resolveOptions(opts);
    this.core = new PtCore(this.settings, opts.logger ?? silentLogger);
    this.locks = new LockTable(this.core);
    this.core.onEvict = (d) => this.locks.dropInode(d.nodeid);
    this.readdirHost = {
      lookupChild: (dir, name) => this.core.lookupIn(dir, name),
    };
  }

  get policy(): CachePolicy {
    return this.core.policy;
  }

  /** Closes every descriptor, the root's included. The instance cannot be reopened. */
  async close(): Promise<void> {
    // Inline closes: when this resolves, the descriptors are gone (e.g. a mount can be unmounted).
    const core = this.core;
    core.closeInline = true;
    try {
      this.locks.clear();
      core.handles.clear();
      core.inodes.closeAll();
      core.forgetMounts();
      if (core.procSelfFd >= 0) core.closeQuietly(core.procSelfFd);
      core.procSelfFd = -1;
    } finally {
      core.closeInline = false;
    }
  }

  /** DAX (src/dax/dax-manager.ts MappingSource): see mapping-pin.ts. */
  pinForMapping(nodeid: NodeId, fh: HandleId | undefined, write: boolean): Promise<PinnedFile> {
    return pinForMapping(this.core, nodeid, fh, write);
  }

  /** Counts, for tests and metrics. */
  get stats(): { inodes: number; handles: number } {
    return { inodes: this.core.inodes.size, handles: this.core.handles.size };
  }

  /** Inodes held by file handle, and open POSIX lock owners (tests, metrics). */
  get moreStats(): { handleInodes: number; lockOwners: number } {
    return { handleInodes: this.core.inodes.handleBacked, lockOwners: this.locks.size };
  }

  // ---- session ------------------------------------------------------------------------

  async init(session: SessionInfo): Promise<bigint> {
    // A new session: whatever an earlier one left behind is meaningless now.
    this.clearSession();
    const { flags, missing } = acceptedInitFlags(session.flags, this.settings);
    if (missing.length > 0) this.core.log.warn({ options: missing }, 'the guest does not support these options; continuing without them');
    const c = this.core;
    c.submounts = (flags & FUSE_SUBMOUNTS) !== 0n;
    c.writeback = (flags & FUSE_WRITEBACK_CACHE) !== 0n;
    c.posixAcl = (flags & FUSE_DONT_MASK) !== 0n;
    c.killprivV2 = (flags & FUSE_HANDLE_KILLPRIV_V2) !== 0n;
    c.securityLabel = (flags & FUSE_SECURITY_CTX) !== 0n;
    return flags;
  }

  async destroy(): Promise<void> {
    this.clearSession();
  }

  private clearSession(): void {
    this.locks.clear();
    this.core.handles.clear();
    this.core.inodes.clear();
  }

  // ---- names --------------------------------------------------------------------------

  async lookup(_ctx: RequestContext, parent: NodeId, name: Buffer): Promise<Entry> {
    checkName(name);
    const p = this.core.inodes.acquire(parent);
    try {
      return await this.core.lookupIn(p, name);
    } finally {
      this.core.inodes.release(p);
    }
  }

  knows(nodeid: NodeId): boolean {
    return this.core.inodes.get(nodeid) !== undefined;
  }

  /** LOOKUP without a promise when the core can (core.lookupInSync); undefined otherwise. */
  lookupSync(_ctx: RequestContext, parent: NodeId, name: Buffer): Entry | undefined {
    if (this.core.s.inodeFileHandles !== 'never' || !sys.inline()) return undefined;
    checkName(name);
    const p = this.core.inodes.acquire(parent);
    try {
      return this.core.lookupInSync(p, name);
    } finally {
      this.core.inodes.release(p);
    }
  }

  forget(nodeid: NodeId, count: bigint): void {
    // Number() of any u64 is finite and >= 0; counts beyond the refcount clamp to zero.
    this.core.inodes.forget(nodeid, Number(count));
  }

  symlink(ctx: RequestContext, parent: NodeId, name: Buffer, target: Buffer): Promise<Entry> {
    return createNode(this.core, ctx, parent, name, 'symlink', 0, 0, 0, target);
  }

  mknod(ctx: RequestContext, parent: NodeId, name: Buffer, mode: number, rdev: number, umask: number): Promise<Entry> {
    return createNode(this.core, ctx, parent, name, 'mknod', mode, rdev, umask);
  }

  mkdir(ctx: RequestContext, parent: NodeId, name: Buffer, mode: number, umask: number): Promise<Entry> {
    return createNode(this.core, ctx, parent, name, 'mkdir', mode, 0, umask);
  }

  async unlink(_ctx: RequestContext, parent: NodeId, name: Buffer): Promise<void> {
    await this.remove(parent, name, 0);
  }

  async rmdir(_ctx: RequestContext, parent: NodeId, name: Buffer): Promise<void> {
    await this.remove(parent, name, C.AT_REMOVEDIR);
  }

  async rename(_ctx: RequestContext, parent: NodeId, name: Buffer, newParent: NodeId, newName: Buffer, flags: number): Promise<void> {
    checkName(name);
    checkName(newName);
    if ((flags & ~(C.RENAME_NOREPLACE | C.RENAME_EXCHANGE | C.RENAME_WHITEOUT)) !== 0) {
      throw new ErrnoError(E.EINVAL, 'rename flags');
    }
    const p = this.core.inodes.acquire(parent);
    try {
      const np = this.core.inodes.acquire(newParent);
      try {
        // RENAME_WHITEOUT makes a 0:0 character device: the daemon has CAP_MKNOD (as root).
        check(await sys.renameat2(p.fd, name, np.fd, newName, flags), 'renameat2');
      } finally {
        this.core.inodes.release(np);
      }
    } finally {
      this.core.inodes.release(p);
    }
  }

  async link(_ctx: RequestContext, nodeid: NodeId, newParent: NodeId, newName: Buffer): Promise<Entry> {
    checkName(newName);
    const c = this.core;
    const d = c.inodes.acquire(nodeid);
    try {
      const np = c.inodes.acquire(newParent);
      try {
        // linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH; the /proc link needs nothing (and
        // also links an O_TMPFILE file into the tree, unless it was made with O_EXCL).
        check(await sys.linkat(c.procSelfFd, d.procName, np.fd, newName, C.AT_SYMLINK_FOLLOW), 'linkat');
        return await c.lookupIn(np, newName);
      } finally {
        c.inodes.release(np);
      }
    } finally {
      c.inodes.release(d);
    }
  }

  async readlink(_ctx: RequestContext, nodeid: NodeId): Promise<Buffer> {
    const d = this.core.inodes.acquire(nodeid);
    try {
      // readlinkat(fd, "") on anything else says ENOENT; readlink(2) says EINVAL.
      if (d.type !== S_IFLNK) throw new ErrnoError(E.EINVAL, 'not a symlink');
      const buf = Buffer.allocUnsafe(PATH_MAX);
      const n = check(await sys.readlinkat(d.fd, null, buf), 'readlinkat');
      return Buffer.from(buf.subarray(0, n));
    } finally {
      this.core.inodes.release(d);
    }
  }

  // ---- attributes ---------------------------------------------------------------------

  async getattr(_ctx: RequestContext, nodeid: NodeId, _fh: number | undefined): Promise<AttrReply> {
    const d = this.core.inodes.acquire(nodeid);
    try {
      return { attr: await this.core.stat(d), attrTimeout: this.core.policy.attrTimeout };
    } finally {
      this.core.inodes.release(d);
    }
  }

  getattrSync(_ctx: RequestContext, nodeid: NodeId, _fh: number | undefined): AttrReply | undefined {
    if (!sys.inline()) return undefined;
    const d = this.core.inodes.acquire(nodeid);
    try {
      return { attr: this.core.statSync(d)!, attrTimeout: this.core.policy.attrTimeout };
    } finally {
      this.core.inodes.release(d);
    }
  }

  setattr(_ctx: RequestContext, nodeid: NodeId, req: SetattrRequest): Promise<AttrReply> {
    return setattr(this.core, nodeid, req);
  }

  // ---- files --------------------------------------------------------------------------

  async open(_ctx: RequestContext, nodeid: NodeId, flags: number, openFlags = 0): Promise<OpenReply> {
    const d = this.core.inodes.acquire(nodeid);
    try {
      return await this.openFile(d, sessionOpenFlags(this.core, flags), (openFlags & FUSE_OPEN_KILL_SUIDGID) !== 0);
    } finally {
      this.core.inodes.release(d);
    }
  }

  /** OPEN after the flags were reduced: O_TRUNC drops capabilities and, with KILLPRIV_V2, suid/sgid. */
  private async openFile(d: InodeData, flags: number, kill: boolean): Promise<OpenReply> {
    const c = this.core;
    const reply = await c.openInode(d, flags);
    if ((flags & C.O_TRUNC) !== 0 && d.type === S_IFREG) {
      const h = c.handles.acquire(reply.fh, d.nodeid);
      try {
        await c.dropCapability(h.fd);
        if (kill && c.killprivV2) await c.killSuidSgid(h.fd);
      } catch (err) {
        c.handles.remove(reply.fh, d.nodeid);
        throw err;
      } finally {
        c.handles.release(h);
      }
    }
    return reply;
  }

  create(ctx: RequestContext, parent: NodeId, name: Buffer, mode: number, flags: number, umask: number, openFlags = 0): Promise<CreateReply> {
    const kill = (openFlags & FUSE_OPEN_KILL_SUIDGID) !== 0;
    return createFile(this.core, ctx, parent, name, mode, flags, umask, kill, (d, f, k) => this.openFile(d, f, k));
  }

  tmpfile(ctx: RequestContext, parent: NodeId, mode: number, flags: number, umask: number): Promise<CreateReply> {
    return createTmpfile(this.core, ctx, parent, mode, flags, umask);
  }

  async read(_ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, size: number, out: ZeroCopyWriter): Promise<number> {
    const h = this.core.handles.acquire(fh, nodeid);
    try {
      return await out.writeFromFile(h.fd, offset, size);
    } finally {
      this.core.handles.release(h);
    }
  }

  async write(_ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, data: ZeroCopyReader, writeFlags: number): Promise<number> {
    const c = this.core;
    const h = c.handles.acquire(fh, nodeid);
    try {
      await c.dropCapability(h.fd);
      if (c.killprivV2 && (writeFlags & FUSE_WRITE_KILL_SUIDGID) !== 0) await c.killSuidSgid(h.fd);
      return await data.readToFile(h.fd, offset, data.length);
    } finally {
      c.handles.release(h);
    }
  }

  async flush(_ctx: RequestContext, nodeid: NodeId, fh: HandleId, lockOwner: bigint): Promise<void> {
    // What close(2) of one of the guest's descriptors would do on the host: close a duplicate,
    // and drop the closing process's POSIX locks on the file.
    const h = this.core.handles.acquire(fh, nodeid);
    try {
      this.locks.releaseOwner(nodeid, lockOwner);
      const dupFd = check(await sys.dup(h.fd), 'dup');
      check(await sys.close(dupFd), 'close');
    } finally {
      this.core.handles.release(h);
    }
  }

  async release(_ctx: RequestContext, nodeid: NodeId, fh: HandleId, _flags: number, releaseFlags = 0, lockOwner = 0n): Promise<void> {
    if ((releaseFlags & FUSE_RELEASE_FLUSH) !== 0) this.locks.releaseOwner(nodeid, lockOwner);
    if ((releaseFlags & FUSE_RELEASE_FLOCK_UNLOCK) !== 0) {
      const h = this.core.handles.acquire(fh, nodeid);
      try {
        await sys.flock(h.fd, C.LOCK_UN);
      } finally {
        this.core.handles.release(h);
      }
    }
    this.core.handles.remove(fh, nodeid);
  }

  async fsync(_ctx: RequestContext, nodeid: NodeId, fh: HandleId, datasync: boolean): Promise<void> {
    const h = this.core.handles.acquire(fh, nodeid);
    try {
      check(await sys.fsync(h.fd, datasync), datasync ? 'fdatasync' : 'fsync');
    } finally {
      this.core.handles.release(h);
    }
  }

  // ---- directories --------------------------------------------------------------------

  async opendir(_ctx: RequestContext, nodeid: NodeId, _flags: number): Promise<OpenReply> {
    const d = this.core.inodes.acquire(nodeid);
    try {
      if (!d.isDir) throw new ErrnoError(E.ENOTDIR);
      return await this.core.openInode(d, C.O_RDONLY | C.O_DIRECTORY);
    } finally {
      this.core.inodes.release(d);
    }
  }

  async readdir(_ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, plus: boolean, sink: DirEntrySink): Promise<void> {
    const c = this.core;
    const h = c.handles.acquire(fh, nodeid);
    try {
      const d = c.inodes.acquire(nodeid);
      try {
        await readDirectory(h, d, offset, plus, sink, this.readdirHost);
      } finally {
        c.inodes.release(d);
      }
    } finally {
      c.handles.release(h);
    }
  }

  async releasedir(_ctx: RequestContext, nodeid: NodeId, fh: HandleId): Promise<void> {
    this.core.handles.remove(fh, nodeid);
  }

  async fsyncdir(ctx: RequestContext, nodeid: NodeId, fh: HandleId, datasync: boolean): Promise<void> {
    await this.fsync(ctx, nodeid, fh, datasync);
  }

  // ---- file system --------------------------------------------------------------------

  async statfs(_ctx: RequestContext, nodeid: NodeId): Promise<StatfsReply> {
    const d = this.core.inodes.acquire(nodeid);
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
      this.core.inodes.release(d);
    }
  }

  async access(ctx: RequestContext, nodeid: NodeId, mask: number): Promise<void> {
    const d = this.core.inodes.acquire(nodeid);
    try {
      const m = mask & 7; // R_OK | W_OK | X_OK; F_OK: it exists, we hold it
      if (m === 0) return;
      const ids = this.core.hostIds(ctx);
      check(await sys.faccessat(d.fd, null, m, C.AT_EACCESS | C.AT_SYMLINK_NOFOLLOW, ids.uid, ids.gid, ids.supp), 'faccessat2');
    } finally {
      this.core.inodes.release(d);
    }
  }

  // ---- optional operations (xattr.ts, locks.ts, file-ops.ts) ---------------------------

  setxattr(ctx: RequestContext, nodeid: NodeId, name: Buffer, value: Buffer, flags: number, setxattrFlags: number): Promise<void> {
    return xattr.setxattr(this.core, ctx, nodeid, name, value, flags, setxattrFlags);
  }

  getxattr(ctx: RequestContext, nodeid: NodeId, name: Buffer, size: number): Promise<Buffer | number> {
    return xattr.getxattr(this.core, ctx, nodeid, name, size);
  }

  listxattr(ctx: RequestContext, nodeid: NodeId, size: number): Promise<Buffer | number> {
    return xattr.listxattr(this.core, ctx, nodeid, size);
  }

  removexattr(ctx: RequestContext, nodeid: NodeId, name: Buffer): Promise<void> {
    return xattr.removexattr(this.core, ctx, nodeid, name);
  }

  getlk(ctx: RequestContext, nodeid: NodeId, fh: HandleId, owner: bigint, lock: FileLock, lkFlags: number): Promise<FileLock> {
    return this.locks.getlk(ctx, nodeid, fh, owner, lock, lkFlags);
  }

  setlk(ctx: RequestContext, nodeid: NodeId, fh: HandleId, owner: bigint, lock: FileLock, lkFlags: number, wait: boolean): Promise<void> {
    return this.locks.setlk(ctx, nodeid, fh, owner, lock, lkFlags, wait);
  }

  fallocate(ctx: RequestContext, nodeid: NodeId, fh: HandleId, mode: number, offset: bigint, length: bigint): Promise<void> {
    return fileOps.fallocate(this.core, ctx, nodeid, fh, mode, offset, length);
  }

  lseek(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, whence: number): Promise<bigint> {
    return fileOps.lseek(this.core, ctx, nodeid, fh, offset, whence);
  }

  copyFileRange(ctx: RequestContext, nIn: NodeId, fhIn: HandleId, offIn: bigint, nOut: NodeId, fhOut: HandleId, offOut: bigint, len: bigint, flags: bigint): Promise<number> {
    return fileOps.copyFileRange(this.core, ctx, nIn, fhIn, offIn, nOut, fhOut, offOut, len, flags);
  }

  syncfs(ctx: RequestContext, nodeid: NodeId): Promise<void> {
    return fileOps.syncfs(this.core, ctx, nodeid);
  }

  statx(ctx: RequestContext, nodeid: NodeId, fh: HandleId | undefined, flags: number, mask: number): Promise<StatxReply> {
    return fileOps.statx(this.core, ctx, nodeid, fh, flags, mask);
  }

  // ---- internals ----------------------------------------------------------------------

  /** Opens the share's root (O_PATH) and /proc/self/fd. Call once, before serving. */
  async openRoot(): Promise<void> {
    const c = this.core;
    if (c.procSelfFd >= 0) throw new Error('PassthroughFs already open');
    const dirFlags = C.O_PATH | C.O_DIRECTORY;
    const procFd =
      this.settings.procSelfFd ?? check(await sys.openat2(C.AT_FDCWD, Buffer.from('/proc/self/fd'), dirFlags, 0, 0), 'open /proc/self/fd');
    c.procSelfFd = procFd; // probeFileHandles reopens through it
    let rootFd = -1;
    try {
      // The root is operator configuration, not guest input: a symlinked path is fine.
      rootFd = check(await sys.openat2(C.AT_FDCWD, Buffer.from(this.settings.root), dirFlags, 0, 0), `open ${this.settings.root}`);
      const attr = Buffer.alloc(STAT_RECORD_SIZE);
      check(await sys.statx(rootFd, null, C.AT_SYMLINK_NOFOLLOW, attr), 'statx');
      await c.probeFileHandles(rootFd, attr);
      c.inodes.setRoot(rootFd, attr);
      c.noteMount(attr, rootFd);
    } catch (err) {
      c.closeQuietly(procFd);
      c.procSelfFd = -1;
      if (rootFd >= 0) c.closeQuietly(rootFd);
      throw err;
    }
  }

  private async remove(parent: NodeId, name: Buffer, flags: number): Promise<void> {
    checkName(name);
    const p = this.core.inodes.acquire(parent);
    try {
      check(await sys.unlinkat(p.fd, name, flags), flags ? 'rmdir' : 'unlink');
    } finally {
      this.core.inodes.release(p);
    }
  }
}
