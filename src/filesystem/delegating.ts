/**
 * The base of every FileSystem wrapper (--readonly, DAX, per-inode DAX): each method, the
 * optional ones included, passes its call to the inner file system unchanged. A wrapper extends
 * this class and overrides what it changes. The class implements every method of the seam
 * (`Required<FileSystem>`), so a method added to FileSystem does not compile until it is
 * delegated here, and src/filesystem/method-kinds.ts must classify it before any wrapper that
 * cares (read-only.ts) can pass its tests.
 *
 * Optional methods the inner file system lacks answer ENOSYS, as the core does for a file
 * system without them; the synchronous lane answers "cannot now" (undefined).
 */
import { E, ErrnoError } from './errors.js';
import type { AttrReply, CreateReply, DirEntrySink, Entry, FileLock, FileSystem, OpenReply, RequestContext, SessionInfo, SetattrRequest, StatfsReply, StatxReply, ZeroCopyReader, ZeroCopyWriter, HandleId, NodeId } from './filesystem.js';

function enosys(what: string): Promise<never> {
  return Promise.reject(new ErrnoError(E.ENOSYS, what));
}

export abstract class DelegatingFileSystem implements Required<FileSystem> {
  constructor(protected readonly inner: FileSystem) {}

  init(session: SessionInfo): Promise<bigint> {
    return this.inner.init(session);
  }
  destroy(): Promise<void> {
    return this.inner.destroy();
  }
  lookup(ctx: RequestContext, parent: NodeId, name: Buffer): Promise<Entry> {
    return this.inner.lookup(ctx, parent, name);
  }
  forget(nodeid: NodeId, count: bigint): void {
    this.inner.forget(nodeid, count);
  }
  /** Unknown to a file system that cannot tell: assume still known (nothing is dropped early). */
  knows(nodeid: NodeId): boolean {
    return this.inner.knows?.(nodeid) ?? true;
  }
  getattr(ctx: RequestContext, nodeid: NodeId, fh: HandleId | undefined): Promise<AttrReply> {
    return this.inner.getattr(ctx, nodeid, fh);
  }
  lookupSync(ctx: RequestContext, parent: NodeId, name: Buffer): Entry | undefined {
    return this.inner.lookupSync?.(ctx, parent, name);
  }
  getattrSync(ctx: RequestContext, nodeid: NodeId, fh: HandleId | undefined): AttrReply | undefined {
    return this.inner.getattrSync?.(ctx, nodeid, fh);
  }
  setattr(ctx: RequestContext, nodeid: NodeId, req: SetattrRequest): Promise<AttrReply> {
    return this.inner.setattr(ctx, nodeid, req);
  }
  readlink(ctx: RequestContext, nodeid: NodeId): Promise<Buffer> {
    return this.inner.readlink(ctx, nodeid);
  }
  symlink(ctx: RequestContext, parent: NodeId, name: Buffer, target: Buffer): Promise<Entry> {
    return this.inner.symlink(ctx, parent, name, target);
  }
  mknod(ctx: RequestContext, parent: NodeId, name: Buffer, mode: number, rdev: number, umask: number): Promise<Entry> {
    return this.inner.mknod(ctx, parent, name, mode, rdev, umask);
  }
  mkdir(ctx: RequestContext, parent: NodeId, name: Buffer, mode: number, umask: number): Promise<Entry> {
    return this.inner.mkdir(ctx, parent, name, mode, umask);
  }
  unlink(ctx: RequestContext, parent: NodeId, name: Buffer): Promise<void> {
    return this.inner.unlink(ctx, parent, name);
  }
  rmdir(ctx: RequestContext, parent: NodeId, name: Buffer): Promise<void> {
    return this.inner.rmdir(ctx, parent, name);
  }
  rename(ctx: RequestContext, parent: NodeId, name: Buffer, newParent: NodeId, newName: Buffer, flags: number): Promise<void> {
    return this.inner.rename(ctx, parent, name, newParent, newName, flags);
  }
  link(ctx: RequestContext, nodeid: NodeId, newParent: NodeId, newName: Buffer): Promise<Entry> {
    return this.inner.link(ctx, nodeid, newParent, newName);
  }
  open(ctx: RequestContext, nodeid: NodeId, flags: number, openFlags?: number): Promise<OpenReply> {
    return this.inner.open(ctx, nodeid, flags, openFlags);
  }
  create(ctx: RequestContext, parent: NodeId, name: Buffer, mode: number, flags: number, umask: number, openFlags?: number): Promise<CreateReply> {
    return this.inner.create(ctx, parent, name, mode, flags, umask, openFlags);
  }
  read(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, size: number, out: ZeroCopyWriter): Promise<number> {
    return this.inner.read(ctx, nodeid, fh, offset, size, out);
  }
  write(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, data: ZeroCopyReader, writeFlags: number): Promise<number> {
    return this.inner.write(ctx, nodeid, fh, offset, data, writeFlags);
  }
  flush(ctx: RequestContext, nodeid: NodeId, fh: HandleId, lockOwner: bigint): Promise<void> {
    return this.inner.flush(ctx, nodeid, fh, lockOwner);
  }
  release(ctx: RequestContext, nodeid: NodeId, fh: HandleId, flags: number, releaseFlags?: number, lockOwner?: bigint): Promise<void> {
    return this.inner.release(ctx, nodeid, fh, flags, releaseFlags, lockOwner);
  }
  fsync(ctx: RequestContext, nodeid: NodeId, fh: HandleId, datasync: boolean): Promise<void> {
    return this.inner.fsync(ctx, nodeid, fh, datasync);
  }
  opendir(ctx: RequestContext, nodeid: NodeId, flags: number): Promise<OpenReply> {
    return this.inner.opendir(ctx, nodeid, flags);
  }
  readdir(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, plus: boolean, sink: DirEntrySink): Promise<void> {
    return this.inner.readdir(ctx, nodeid, fh, offset, plus, sink);
  }
  releasedir(ctx: RequestContext, nodeid: NodeId, fh: HandleId): Promise<void> {
    return this.inner.releasedir(ctx, nodeid, fh);
  }
  fsyncdir(ctx: RequestContext, nodeid: NodeId, fh: HandleId, datasync: boolean): Promise<void> {
    return this.inner.fsyncdir(ctx, nodeid, fh, datasync);
  }
  statfs(ctx: RequestContext, nodeid: NodeId): Promise<StatfsReply> {
    return this.inner.statfs(ctx, nodeid);
  }
  access(ctx: RequestContext, nodeid: NodeId, mask: number): Promise<void> {
    return this.inner.access(ctx, nodeid, mask);
  }

  // ---- optional in FileSystem: ENOSYS when the inner file system lacks them ----------------

  setxattr(ctx: RequestContext, nodeid: NodeId, name: Buffer, value: Buffer, flags: number, setxattrFlags: number): Promise<void> {
    return this.inner.setxattr ? this.inner.setxattr(ctx, nodeid, name, value, flags, setxattrFlags) : enosys('setxattr');
  }
  getxattr(ctx: RequestContext, nodeid: NodeId, name: Buffer, size: number): Promise<Buffer | number> {
    return this.inner.getxattr ? this.inner.getxattr(ctx, nodeid, name, size) : enosys('getxattr');
  }
  listxattr(ctx: RequestContext, nodeid: NodeId, size: number): Promise<Buffer | number> {
    return this.inner.listxattr ? this.inner.listxattr(ctx, nodeid, size) : enosys('listxattr');
  }
  removexattr(ctx: RequestContext, nodeid: NodeId, name: Buffer): Promise<void> {
    return this.inner.removexattr ? this.inner.removexattr(ctx, nodeid, name) : enosys('removexattr');
  }
  getlk(ctx: RequestContext, nodeid: NodeId, fh: HandleId, owner: bigint, lock: FileLock, lkFlags: number): Promise<FileLock> {
    return this.inner.getlk ? this.inner.getlk(ctx, nodeid, fh, owner, lock, lkFlags) : enosys('getlk');
  }
  setlk(ctx: RequestContext, nodeid: NodeId, fh: HandleId, owner: bigint, lock: FileLock, lkFlags: number, wait: boolean): Promise<void> {
    return this.inner.setlk ? this.inner.setlk(ctx, nodeid, fh, owner, lock, lkFlags, wait) : enosys('setlk');
  }
  fallocate(ctx: RequestContext, nodeid: NodeId, fh: HandleId, mode: number, offset: bigint, length: bigint): Promise<void> {
    return this.inner.fallocate ? this.inner.fallocate(ctx, nodeid, fh, mode, offset, length) : enosys('fallocate');
  }
  lseek(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, whence: number): Promise<bigint> {
    return this.inner.lseek ? this.inner.lseek(ctx, nodeid, fh, offset, whence) : enosys('lseek');
  }
  copyFileRange(
    ctx: RequestContext,
    nodeidIn: NodeId,
    fhIn: HandleId,
    offIn: bigint,
    nodeidOut: NodeId,
    fhOut: HandleId,
    offOut: bigint,
    len: bigint,
    flags: bigint,
  ): Promise<number> {
    return this.inner.copyFileRange
      ? this.inner.copyFileRange(ctx, nodeidIn, fhIn, offIn, nodeidOut, fhOut, offOut, len, flags)
      : enosys('copy_file_range');
  }
  syncfs(ctx: RequestContext, nodeid: NodeId): Promise<void> {
    return this.inner.syncfs ? this.inner.syncfs(ctx, nodeid) : enosys('syncfs');
  }
  tmpfile(ctx: RequestContext, parent: NodeId, mode: number, flags: number, umask: number): Promise<CreateReply> {
    return this.inner.tmpfile ? this.inner.tmpfile(ctx, parent, mode, flags, umask) : enosys('tmpfile');
  }
  statx(ctx: RequestContext, nodeid: NodeId, fh: HandleId | undefined, flags: number, mask: number): Promise<StatxReply> {
    return this.inner.statx ? this.inner.statx(ctx, nodeid, fh, flags, mask) : enosys('statx');
  }
  setupmapping(ctx: RequestContext, nodeid: NodeId, fh: HandleId, foffset: bigint, len: bigint, flags: number, moffset: bigint): Promise<void> {
    return this.inner.setupmapping ? this.inner.setupmapping(ctx, nodeid, fh, foffset, len, flags, moffset) : enosys('setupmapping');
  }
  removemapping(ctx: RequestContext, ranges: { moffset: bigint; len: bigint }[]): Promise<void> {
    return this.inner.removemapping ? this.inner.removemapping(ctx, ranges) : enosys('removemapping');
  }
}
