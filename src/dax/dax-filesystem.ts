/**
 * DAX as a wrapper over any file system (src/filesystem/delegating.ts): every method is the
 * inner file system's, plus
 *  - SETUPMAPPING / REMOVEMAPPING served by the DAX manager;
 *  - coherence of the range copies (src/dax/range-copy.ts) with the file: the guest's stores
 *    through the window are written back before anything reads or syncs the file the ordinary
 *    way (READ, LSEEK, COPY_FILE_RANGE, FLUSH, FSYNC, RELEASE, SYNCFS), and copies are reloaded
 *    after anything changes the file's data the ordinary way (WRITE, truncation, FALLOCATE,
 *    COPY_FILE_RANGE into it). Inodes without range copies pay one map lookup. Because READ
 *    and WRITE of such an inode must pass here, its direct I/O (the transport's native path,
 *    DirectIoControl) is suspended from its first range copy to its last;
 *  - the mappings of an inode the guest forgets are removed;
 *  - a session end (DESTROY, INIT of a new session) writes the copies back and forgets the
 *    window's table — the front-end drops its mappings on device reset, and a new guest
 *    session starts empty.
 * FUSE_ATTR_DAX for dax=inode guests is its own wrapper (inode-dax.ts).
 */
import { DelegatingFileSystem } from '../filesystem/delegating.js';
import { FATTR, type HandleId, type NodeId } from '../filesystem/filesystem.js';
import type {
  AttrReply,
  DirectIoControl,
  FileSystem,
  RequestContext,
  SessionInfo,
  SetattrRequest,
  ZeroCopyReader,
  ZeroCopyWriter,
} from '../filesystem/filesystem.js';
import type { DaxManager } from './dax-manager.js';

export class DaxFileSystem extends DelegatingFileSystem {
  /**
   * This session's direct I/O control, and the inodes whose direct I/O we suspended, each with
   * the promise that its natively served requests have finished (none start while suspended).
   */
  private directIo: DirectIoControl | undefined;
  private readonly suspended = new Map<number, Promise<void>>();
  /** SETUPMAPPINGs in progress per inode: each may be filling a range copy. */
  private readonly settingUp = new Map<number, number>();

  constructor(
    inner: FileSystem,
    private readonly dax: DaxManager,
  ) {
    super(inner);
  }

  override async init(session: SessionInfo): Promise<bigint> {
    await this.endSession();
    this.directIo = session.directIo;
    return this.inner.init(session);
  }

  override async destroy(): Promise<void> {
    await this.endSession();
    return this.inner.destroy();
  }

  /** The core withdrew every direct I/O grant with the old session: start from none. */
  private async endSession(): Promise<void> {
    this.directIo = undefined;
    this.suspended.clear();
    await this.dax.endSession();
  }

  override async setupmapping(_ctx: RequestContext, nodeid: NodeId, fh: HandleId, foffset: bigint, len: bigint, flags: number, moffset: bigint): Promise<void> {
    // Suspend first, and let the WRITEs already served natively finish: the setup may fill a
    // range copy from the file, and a native WRITE landing after the fill would not reload it.
    const drained = this.suspend(nodeid);
    this.settingUp.set(nodeid, (this.settingUp.get(nodeid) ?? 0) + 1);
    try {
      await drained;
      await this.dax.setup(nodeid, fh, foffset, len, flags, moffset);
    } finally {
      const n = this.settingUp.get(nodeid)! - 1;
      if (n === 0) this.settingUp.delete(nodeid);
      else this.settingUp.set(nodeid, n);
      this.resumeWithoutCopies();
    }
  }

  override async removemapping(_ctx: RequestContext, ranges: { moffset: bigint; len: bigint }[]): Promise<void> {
    try {
      await this.dax.remove(ranges);
    } finally {
      this.resumeWithoutCopies();
    }
  }

  // Linux removes an inode's mappings before it forgets the inode; a guest that does not still
  // gets them dropped, so no range keeps a forgotten file open.
  override forget(nodeid: NodeId, count: bigint): void {
    this.inner.forget(nodeid, count);
    if (this.dax.hasMappings(nodeid) && this.inner.knows?.(nodeid) === false) {
      void this.dax.forgetInode(nodeid).finally(() => this.resumeWithoutCopies());
    }
  }

  override read(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, size: number, out: ZeroCopyWriter): Promise<number> {
    return this.afterWriteBack(nodeid, () => this.inner.read(ctx, nodeid, fh, offset, size, out));
  }

  override async write(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, data: ZeroCopyReader, writeFlags: number): Promise<number> {
    const n = await this.inner.write(ctx, nodeid, fh, offset, data, writeFlags);
    // The written bytes are newer than anything a buffer holds for them: refresh just those.
    if (n > 0 && this.dax.hasCopies(nodeid)) await this.dax.reload(nodeid, offset, BigInt(n));
    return n;
  }

  override setattr(ctx: RequestContext, nodeid: NodeId, req: SetattrRequest): Promise<AttrReply> {
    if ((req.valid & FATTR.SIZE) === 0) return this.inner.setattr(ctx, nodeid, req);
    return this.changingData(nodeid, () => this.inner.setattr(ctx, nodeid, req));
  }

  override flush(ctx: RequestContext, nodeid: NodeId, fh: HandleId, lockOwner: bigint): Promise<void> {
    return this.afterWriteBack(nodeid, () => this.inner.flush(ctx, nodeid, fh, lockOwner));
  }

  override fsync(ctx: RequestContext, nodeid: NodeId, fh: HandleId, datasync: boolean): Promise<void> {
    return this.afterWriteBack(nodeid, () => this.inner.fsync(ctx, nodeid, fh, datasync));
  }

  override release(ctx: RequestContext, nodeid: NodeId, fh: HandleId, flags: number, releaseFlags?: number, lockOwner?: bigint): Promise<void> {
    return this.afterWriteBack(nodeid, () => this.inner.release(ctx, nodeid, fh, flags, releaseFlags, lockOwner));
  }

  override fallocate(ctx: RequestContext, nodeid: NodeId, fh: HandleId, mode: number, offset: bigint, length: bigint): Promise<void> {
    return this.changingData(nodeid, () => super.fallocate(ctx, nodeid, fh, mode, offset, length));
  }

  override lseek(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, whence: number): Promise<bigint> {
    return this.afterWriteBack(nodeid, () => super.lseek(ctx, nodeid, fh, offset, whence));
  }

  override copyFileRange(
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
    return this.afterWriteBack(nodeidIn, () =>
      this.changingData(nodeidOut, () => super.copyFileRange(ctx, nodeidIn, fhIn, offIn, nodeidOut, fhOut, offOut, len, flags)),
    );
  }

  override async syncfs(ctx: RequestContext, nodeid: NodeId): Promise<void> {
    await this.dax.writeBack();
    return super.syncfs(ctx, nodeid);
  }

  /** Runs `op` after the guest's stores in `nodeid`'s range copies reached the file. */
  private afterWriteBack<T>(nodeid: NodeId, op: () => Promise<T>): Promise<T> {
    return this.dax.hasCopies(nodeid) ? this.dax.writeBack(nodeid).then(op) : op();
  }

  /** Runs `op`, which changes the file's data, with the range copies written back before and reloaded after. */
  private async changingData<T>(nodeid: NodeId, op: () => Promise<T>): Promise<T> {
    if (!this.dax.hasCopies(nodeid)) return op();
    await this.dax.writeBack(nodeid);
    try {
      return await op();
    } finally {
      await this.dax.reload(nodeid);
    }
  }

  /** Suspends `nodeid`'s direct I/O (once, however many setups); resolves when its in-flight native requests are done. */
  private suspend(nodeid: NodeId): Promise<void> {
    if (this.directIo === undefined) return Promise.resolve();
    let drained = this.suspended.get(nodeid);
    if (drained === undefined) {
      drained = this.directIo.suspend(nodeid);
      this.suspended.set(nodeid, drained);
    }
    return drained;
  }

  /** Gives direct I/O back to the inodes that no longer have (nor are getting) range copies. */
  private resumeWithoutCopies(): void {
    for (const nodeid of this.suspended.keys()) {
      if (this.dax.hasCopies(nodeid) || this.settingUp.has(nodeid)) continue;
      this.suspended.delete(nodeid);
      this.directIo?.resume(nodeid);
    }
  }
}
