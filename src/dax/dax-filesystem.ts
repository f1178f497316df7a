/**
 * DAX as a wrapper over any file system (the STYLE.md "variants as wrappers" shape): every
 * method is the inner file system's, plus
 *  - SETUPMAPPING / REMOVEMAPPING served by the DAX manager;
 *  - coherence of the range copies (src/dax/range-copy.ts) with the file: the guest's stores
 *    through the window are written back before anything reads or syncs the file the ordinary
 *    way (READ, LSEEK, COPY_FILE_RANGE, FLUSH, FSYNC, RELEASE, SYNCFS), and copies are reloaded
 *    after anything changes the file's data the ordinary way (WRITE, truncation, FALLOCATE,
 *    COPY_FILE_RANGE into it). Inodes without range copies pay one map lookup;
 *  - the mappings of an inode the guest forgets are removed;
 *  - FUSE_ATTR_DAX on the files a dax=inode guest should map (inode-dax.ts);
 *  - a session end (DESTROY, INIT of a new session) writes the copies back and forgets the
 *    window's table — the front-end drops its mappings on device reset, and a new guest
 *    session starts empty.
 */
import type { FileSystem, RequestContext, SessionInfo, SetattrRequest, ZeroCopyReader, ZeroCopyWriter } from '../filesystem/filesystem.js';
import { FATTR_SIZE } from '../fuse/abi.js';
import type { DaxManager } from './dax-manager.js';
import { markDaxInodes } from './inode-dax.js';

export interface DaxFileSystemOptions {
  /** Per-inode DAX (dax=inode guests): regular files from this size on carry FUSE_ATTR_DAX. */
  inodeDaxMinSize?: bigint;
}

export function withDax(inner: FileSystem, dax: DaxManager, options: DaxFileSystemOptions = {}): FileSystem {
  const fs = Object.create(inner) as FileSystem;
  fs.setupmapping = (_ctx: RequestContext, nodeid, fh, foffset, len, flags, moffset) => dax.setup(nodeid, fh, foffset, len, flags, moffset);
  fs.removemapping = (_ctx: RequestContext, ranges) => dax.remove(ranges);
  fs.init = async (session: SessionInfo) => {
    await dax.endSession();
    return inner.init(session);
  };
  fs.destroy = async () => {
    await dax.endSession();
    return inner.destroy();
  };

  // Linux removes an inode's mappings before it forgets the inode; a guest that does not still
  // gets them dropped, so no range keeps a forgotten file open.
  fs.forget = (nodeid, count) => {
    inner.forget(nodeid, count);
    if (dax.hasMappings(nodeid) && inner.knows?.(nodeid) === false) void dax.forgetInode(nodeid);
  };

  /** Runs `op` after the guest's stores in `nodeid`'s range copies reached the file. */
  const afterWriteBack = <T>(nodeid: number, op: () => Promise<T>): Promise<T> => (dax.hasCopies(nodeid) ? dax.writeBack(nodeid).then(op) : op());
  /** Runs `op`, which changes the file's data, with the range copies written back before and reloaded after. */
  const changingData = async <T>(nodeid: number, op: () => Promise<T>): Promise<T> => {
    if (!dax.hasCopies(nodeid)) return op();
    await dax.writeBack(nodeid);
    try {
      return await op();
    } finally {
      await dax.reload(nodeid);
    }
  };

  fs.read = (ctx, nodeid, fh, offset, size, out: ZeroCopyWriter) => afterWriteBack(nodeid, () => inner.read(ctx, nodeid, fh, offset, size, out));
  fs.write = async (ctx, nodeid, fh, offset, data: ZeroCopyReader, writeFlags) => {
    const n = await inner.write(ctx, nodeid, fh, offset, data, writeFlags);
    // The written bytes are newer than anything a buffer holds for them: refresh just those.
    if (n > 0 && dax.hasCopies(nodeid)) await dax.reload(nodeid, offset, BigInt(n));
    return n;
  };
  fs.setattr = (ctx, nodeid, req: SetattrRequest) =>
    (req.valid & FATTR_SIZE) !== 0 ? changingData(nodeid, () => inner.setattr(ctx, nodeid, req)) : inner.setattr(ctx, nodeid, req);
  fs.flush = (ctx, nodeid, fh, lockOwner) => afterWriteBack(nodeid, () => inner.flush(ctx, nodeid, fh, lockOwner));
  fs.fsync = (ctx, nodeid, fh, datasync) => afterWriteBack(nodeid, () => inner.fsync(ctx, nodeid, fh, datasync));
  fs.release = (ctx, nodeid, fh, flags, releaseFlags, lockOwner) => afterWriteBack(nodeid, () => inner.release(ctx, nodeid, fh, flags, releaseFlags, lockOwner));
  if (inner.fallocate) {
    const fallocate = inner.fallocate.bind(inner);
    fs.fallocate = (ctx, nodeid, fh, mode, offset, length) => changingData(nodeid, () => fallocate(ctx, nodeid, fh, mode, offset, length));
  }
  if (inner.lseek) {
    const lseek = inner.lseek.bind(inner);
    fs.lseek = (ctx, nodeid, fh, offset, whence) => afterWriteBack(nodeid, () => lseek(ctx, nodeid, fh, offset, whence));
  }
  if (inner.copyFileRange) {
    const copy = inner.copyFileRange.bind(inner);
    fs.copyFileRange = (ctx, nIn, fhIn, offIn, nOut, fhOut, offOut, len, flags) =>
      afterWriteBack(nIn, () => changingData(nOut, () => copy(ctx, nIn, fhIn, offIn, nOut, fhOut, offOut, len, flags)));
  }
  if (inner.syncfs) {
    const syncfs = inner.syncfs.bind(inner);
    fs.syncfs = async (ctx, nodeid) => {
      await dax.writeBack();
      return syncfs(ctx, nodeid);
    };
  }
  markDaxInodes(fs, inner, { minSize: options.inodeDaxMinSize ?? 0n });
  return fs;
}
