/**
 * `--readonly`: a FileSystem wrapper that refuses every change with EROFS, whatever the host
 * permissions say (as the Rust virtiofsd's read_only.rs does): every method
 * src/filesystem/method-kinds.ts classifies as `modifies`, OPEN for writing or with
 * O_TRUNC/O_CREAT, and writable DAX mappings. Reads, lookups, directory listings, xattr reads,
 * locks (read locks; a write lock needs a file opened for writing) and syncs go through. The
 * share itself stays writable for the host (atime may still change).
 *
 * Each refusal is an explicit override of the delegating base; test/unit/filesystem/
 * read-only.test.ts fails for a `modifies` method that is not overridden here.
 */
import { DelegatingFileSystem } from '../filesystem/delegating.js';
import { E, ErrnoError } from '../filesystem/errors.js';
import type { CreateReply, Entry, FileSystem, OpenReply, RequestContext, HandleId, NodeId } from '../filesystem/filesystem.js';

const O_ACCMODE = 0o3;
const O_RDONLY = 0;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
/** fuse_setupmapping_in.flags: FUSE_SETUPMAPPING_FLAG_WRITE. */
const SETUPMAPPING_FLAG_WRITE = 1 << 0;

function erofs(): Promise<never> {
  return Promise.reject(new ErrnoError(E.EROFS, 'read-only share (--readonly)'));
}

export class ReadOnlyFileSystem extends DelegatingFileSystem {
  override async open(ctx: RequestContext, nodeid: NodeId, flags: number, openFlags?: number): Promise<OpenReply> {
    if ((flags & O_ACCMODE) !== O_RDONLY || (flags & (O_TRUNC | O_CREAT)) !== 0) return erofs();
    const reply = await this.inner.open(ctx, nodeid, flags, openFlags);
    // A read-only open has nothing to write; say so to the transport too.
    if (reply.directIo !== undefined) reply.directIo = { ...reply.directIo, write: false };
    return reply;
  }

  override setupmapping(ctx: RequestContext, nodeid: NodeId, fh: HandleId, foffset: bigint, len: bigint, flags: number, moffset: bigint): Promise<void> {
    if ((flags & SETUPMAPPING_FLAG_WRITE) !== 0) return erofs();
    return super.setupmapping(ctx, nodeid, fh, foffset, len, flags, moffset);
  }

  override setattr(): Promise<never> {
    return erofs();
  }
  override symlink(): Promise<Entry> {
    return erofs();
  }
  override mknod(): Promise<Entry> {
    return erofs();
  }
  override mkdir(): Promise<Entry> {
    return erofs();
  }
  override unlink(): Promise<void> {
    return erofs();
  }
  override rmdir(): Promise<void> {
    return erofs();
  }
  override rename(): Promise<void> {
    return erofs();
  }
  override link(): Promise<Entry> {
    return erofs();
  }
  override create(): Promise<CreateReply> {
    return erofs();
  }
  override write(): Promise<number> {
    return erofs();
  }
  override setxattr(): Promise<void> {
    return erofs();
  }
  override removexattr(): Promise<void> {
    return erofs();
  }
  override fallocate(): Promise<void> {
    return erofs();
  }
  override copyFileRange(): Promise<number> {
    return erofs();
  }
  override tmpfile(): Promise<CreateReply> {
    return erofs();
  }
}

/** A read-only view of `inner`. */
export function readOnly(inner: FileSystem): FileSystem {
  return new ReadOnlyFileSystem(inner);
}
