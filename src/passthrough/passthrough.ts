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
 * This class names every FileSystem method and hands it to the file of its opcode family, as the
 * FUSE core groups them (src/fuse/ops/): entries.ts, attributes.ts, files.ts, directories.ts,
 * create.ts (the opcodes that make inodes), xattr.ts, locks.ts, mapping-pin.ts (DAX); core.ts
 * holds the shared state (inode and handle tables, opening, privileges). read-only.ts wraps the
 * whole for --readonly. Unknown node ids are ESTALE;
 * unknown or mismatched handles EBADF. Host errors reach the guest with their own errno (EMFILE
 * included: a full descriptor table fails one request, nothing else).
 */
import {
  STAT_RECORD_SIZE,
  type AttrReply,
  type CreateReply,
  type DirEntrySink,
  type Entry,
  type FileLock,
  type FileSystem,
  type OpenReply,
  type RequestContext,
  type SessionInfo,
  type SetattrRequest,
  type StatfsReply,
  type StatxReply,
  type ZeroCopyReader,
  type ZeroCopyWriter,
  type HandleId,
  type NodeId,
} from '../filesystem/filesystem.js';
import * as sys from '../native/syscalls.js';
import { C } from '../native/syscalls.js';
import type { CachePolicy } from './cache-policy.js';
import { check, PtCore } from './core.js';
import { createFile, createNode, createTmpfile, FUSE_OPEN_KILL_SUIDGID } from './create.js';
import * as attributes from './attributes.js';
import * as directories from './directories.js';
import * as entries from './entries.js';
import * as files from './files.js';
import { acceptedInitFlags, FUSE_DONT_MASK, FUSE_HANDLE_KILLPRIV_V2, FUSE_SECURITY_CTX, FUSE_SUBMOUNTS, FUSE_WRITEBACK_CACHE } from './init-flags.js';
import { LockTable } from './locks.js';
import { pinForMapping, type PinnedFile } from './mapping-pin.js';
import { silentLogger } from '../logger.js';
import { resolveOptions, type PassthroughOptions, type Settings } from './options.js';
import type { ReaddirHost } from './directories.js';
import * as xattr from './xattr.js';

export type { PassthroughOptions } from './options.js';


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
    this.core.onEvict = (nodeid) => this.locks.dropInode(nodeid);
    this.readdirHost = {
      // A walk's entries are mostly new inodes: no known-inode statx for a d_ino the table cannot hold.
      lookupChild: (dir, name, ino) => {
        const isNew = !this.core.inodes.mayHold(dir, ino);
        return this.core.lookupInSync(dir, name, isNew) ?? this.core.lookupIn(dir, name, isNew);
      },
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
  /** Whether inodes may be held by file handle: the option as the start-up probe left it (open_by_handle_at needs CAP_DAC_READ_SEARCH). */
  get fileHandles(): boolean {
    return this.core.s.inodeFileHandles !== 'never';
  }

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

  lookup(ctx: RequestContext, parent: NodeId, name: Buffer): Promise<Entry> {
    return entries.lookup(this.core, ctx, parent, name);
  }

  knows(nodeid: NodeId): boolean {
    return this.core.inodes.has(nodeid);
  }

  /** LOOKUP without a promise when the core can (core.lookupInSync); undefined otherwise. */
  lookupSync(ctx: RequestContext, parent: NodeId, name: Buffer): Entry | undefined {
    return entries.lookupSync(this.core, ctx, parent, name);
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

  unlink(ctx: RequestContext, parent: NodeId, name: Buffer): Promise<void> {
    return entries.unlink(this.core, ctx, parent, name);
  }

  rmdir(ctx: RequestContext, parent: NodeId, name: Buffer): Promise<void> {
    return entries.rmdir(this.core, ctx, parent, name);
  }

  rename(ctx: RequestContext, parent: NodeId, name: Buffer, newParent: NodeId, newName: Buffer, flags: number): Promise<void> {
    return entries.rename(this.core, ctx, parent, name, newParent, newName, flags);
  }

  link(ctx: RequestContext, nodeid: NodeId, newParent: NodeId, newName: Buffer): Promise<Entry> {
    return entries.link(this.core, ctx, nodeid, newParent, newName);
  }

  readlink(ctx: RequestContext, nodeid: NodeId): Promise<Buffer> {
    return entries.readlink(this.core, ctx, nodeid);
  }

  // ---- attributes ---------------------------------------------------------------------

  getattr(ctx: RequestContext, nodeid: NodeId, _fh: number | undefined): Promise<AttrReply> {
    return attributes.getattr(this.core, ctx, nodeid, _fh);
  }

  getattrSync(ctx: RequestContext, nodeid: NodeId, _fh: number | undefined): AttrReply | undefined {
    return attributes.getattrSync(this.core, ctx, nodeid, _fh);
  }

  setattr(_ctx: RequestContext, nodeid: NodeId, req: SetattrRequest): Promise<AttrReply> {
    return attributes.setattr(this.core, nodeid, req);
  }

  // ---- files --------------------------------------------------------------------------

  open(ctx: RequestContext, nodeid: NodeId, flags: number, openFlags = 0): Promise<OpenReply> {
    return files.open(this.core, ctx, nodeid, flags, openFlags);
  }

  create(ctx: RequestContext, parent: NodeId, name: Buffer, mode: number, flags: number, umask: number, openFlags = 0): Promise<CreateReply> {
    const kill = (openFlags & FUSE_OPEN_KILL_SUIDGID) !== 0;
    return createFile(this.core, ctx, parent, name, mode, flags, umask, kill, (d, f, k) => files.openFile(this.core, d, f, k));
  }

  tmpfile(ctx: RequestContext, parent: NodeId, mode: number, flags: number, umask: number): Promise<CreateReply> {
    return createTmpfile(this.core, ctx, parent, mode, flags, umask);
  }

  read(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, size: number, out: ZeroCopyWriter): Promise<number> {
    return files.read(this.core, ctx, nodeid, fh, offset, size, out);
  }

  write(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, data: ZeroCopyReader, writeFlags: number): Promise<number> {
    return files.write(this.core, ctx, nodeid, fh, offset, data, writeFlags);
  }

  flush(ctx: RequestContext, nodeid: NodeId, fh: HandleId, lockOwner: bigint): Promise<void> {
    return files.flush(this.core, this.locks, ctx, nodeid, fh, lockOwner);
  }

  release(ctx: RequestContext, nodeid: NodeId, fh: HandleId, _flags: number, releaseFlags = 0, lockOwner = 0n): Promise<void> {
    return files.release(this.core, this.locks, ctx, nodeid, fh, _flags, releaseFlags, lockOwner);
  }

  fsync(ctx: RequestContext, nodeid: NodeId, fh: HandleId, datasync: boolean): Promise<void> {
    return files.fsync(this.core, ctx, nodeid, fh, datasync);
  }

  // ---- directories --------------------------------------------------------------------

  opendir(ctx: RequestContext, nodeid: NodeId, _flags: number): Promise<OpenReply> {
    return directories.opendir(this.core, ctx, nodeid, _flags);
  }

  readdir(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, plus: boolean, sink: DirEntrySink): Promise<void> {
    return directories.readdir(this.core, this.readdirHost, ctx, nodeid, fh, offset, plus, sink);
  }

  releasedir(ctx: RequestContext, nodeid: NodeId, fh: HandleId): Promise<void> {
    return directories.releasedir(this.core, ctx, nodeid, fh);
  }

  fsyncdir(ctx: RequestContext, nodeid: NodeId, fh: HandleId, datasync: boolean): Promise<void> {
    return directories.fsyncdir(this.core, ctx, nodeid, fh, datasync);
  }

  // ---- file system --------------------------------------------------------------------

  statfs(ctx: RequestContext, nodeid: NodeId): Promise<StatfsReply> {
    return attributes.statfs(this.core, ctx, nodeid);
  }

  access(ctx: RequestContext, nodeid: NodeId, mask: number): Promise<void> {
    return attributes.access(this.core, ctx, nodeid, mask);
  }

  // ---- optional operations (xattr.ts, locks.ts, files.ts, attributes.ts) ---------------------------

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
    return files.fallocate(this.core, ctx, nodeid, fh, mode, offset, length);
  }

  lseek(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, whence: number): Promise<bigint> {
    return files.lseek(this.core, ctx, nodeid, fh, offset, whence);
  }

  copyFileRange(ctx: RequestContext, nIn: NodeId, fhIn: HandleId, offIn: bigint, nOut: NodeId, fhOut: HandleId, offOut: bigint, len: bigint, flags: bigint): Promise<number> {
    return files.copyFileRange(this.core, ctx, nIn, fhIn, offIn, nOut, fhOut, offOut, len, flags);
  }

  syncfs(ctx: RequestContext, nodeid: NodeId): Promise<void> {
    return files.syncfs(this.core, ctx, nodeid);
  }

  statx(ctx: RequestContext, nodeid: NodeId, fh: HandleId | undefined, flags: number, mask: number): Promise<StatxReply> {
    return attributes.statx(this.core, ctx, nodeid, fh, flags, mask);
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

}
