/**
 * Per-inode DAX (FUSE_HAS_INODE_DAX): a guest mounted with `-o dax=inode` uses the window only for
 * files whose attributes carry FUSE_ATTR_DAX, and the page cache for the rest (`dax=always`
 * ignores the flag). We mark regular files of at least `minSize` bytes: small files gain
 * little from DAX and, under QEMU ≥ 11, each mapped range costs a window slot and possibly a
 * range copy (range-copy.ts). The guest re-evaluates the flag whenever it refreshes an inode's
 * attributes, and switches an inode's mode the next time it evicts it.
 *
 * Every reply that carries attributes is covered: entries (LOOKUP, CREATE, MKNOD, LINK, TMPFILE,
 * READDIRPLUS), GETATTR, SETATTR and STATX, on the synchronous lane too.
 */
import { DelegatingFileSystem } from '../filesystem/delegating.js';
import type { AttrReply, CreateReply, DirEntrySink, Entry, FileSystem, RequestContext, SetattrRequest, StatRecord, StatxReply, HandleId, NodeId } from '../filesystem/filesystem.js';
import { FUSE_ATTR_DAX, StatField } from '../filesystem/filesystem.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
/** struct statx: stx_mode (u16) and stx_size (u64) offsets. */
const STATX_MODE = 0x1c;
const STATX_SIZE = 0x28;

export interface InodeDaxPolicy {
  /** Regular files smaller than this are not marked (0: every regular file). */
  minSize: bigint;
}

/** Marks FUSE_ATTR_DAX in every attribute `inner` returns, by `policy`. */
export class InodeDaxFileSystem extends DelegatingFileSystem {
  constructor(
    inner: FileSystem,
    private readonly policy: InodeDaxPolicy,
  ) {
    super(inner);
  }

  override lookup(ctx: RequestContext, parent: NodeId, name: Buffer): Promise<Entry> {
    return this.inner.lookup(ctx, parent, name).then(this.entry);
  }
  override mknod(ctx: RequestContext, parent: NodeId, name: Buffer, mode: number, rdev: number, umask: number): Promise<Entry> {
    return this.inner.mknod(ctx, parent, name, mode, rdev, umask).then(this.entry);
  }
  override link(ctx: RequestContext, nodeid: NodeId, newParent: NodeId, newName: Buffer): Promise<Entry> {
    return this.inner.link(ctx, nodeid, newParent, newName).then(this.entry);
  }
  override create(ctx: RequestContext, parent: NodeId, name: Buffer, mode: number, flags: number, umask: number, openFlags?: number): Promise<CreateReply> {
    return this.inner.create(ctx, parent, name, mode, flags, umask, openFlags).then(this.created);
  }
  override tmpfile(ctx: RequestContext, parent: NodeId, mode: number, flags: number, umask: number): Promise<CreateReply> {
    return super.tmpfile(ctx, parent, mode, flags, umask).then(this.created);
  }
  override getattr(ctx: RequestContext, nodeid: NodeId, fh: HandleId | undefined): Promise<AttrReply> {
    return this.inner.getattr(ctx, nodeid, fh).then(this.attrs);
  }
  override setattr(ctx: RequestContext, nodeid: NodeId, req: SetattrRequest): Promise<AttrReply> {
    return this.inner.setattr(ctx, nodeid, req).then(this.attrs);
  }
  // The synchronous lane (no promise) answers the hot LOOKUP / GETATTR: mark its replies too.
  override lookupSync(ctx: RequestContext, parent: NodeId, name: Buffer): Entry | undefined {
    const e = super.lookupSync(ctx, parent, name);
    return e === undefined ? e : this.entry(e);
  }
  override getattrSync(ctx: RequestContext, nodeid: NodeId, fh: HandleId | undefined): AttrReply | undefined {
    const a = super.getattrSync(ctx, nodeid, fh);
    return a === undefined ? a : this.attrs(a);
  }
  override readdir(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, plus: boolean, sink: DirEntrySink): Promise<void> {
    // Only READDIRPLUS carries attributes to mark; a plain READDIR keeps the core's sink (and its bulk path).
    if (!plus) return this.inner.readdir(ctx, nodeid, fh, offset, plus, sink);
    return this.inner.readdir(ctx, nodeid, fh, offset, plus, (dirent, e) => sink(dirent, e === undefined ? e : this.entry(e)));
  }
  override statx(ctx: RequestContext, nodeid: NodeId, fh: HandleId | undefined, flags: number, mask: number): Promise<StatxReply> {
    return super.statx(ctx, nodeid, fh, flags, mask).then((r) => {
      if (this.wantsDax(r.statx.readUInt16LE(STATX_MODE), r.statx.readBigUInt64LE(STATX_SIZE))) r.flags |= FUSE_ATTR_DAX;
      return r;
    });
  }

  private wantsDax(mode: number, size: bigint): boolean {
    return (mode & S_IFMT) === S_IFREG && size >= this.policy.minSize;
  }

  private mark(attr: StatRecord): void {
    if (this.wantsDax(attr.readUInt32LE(StatField.mode), attr.readBigUInt64LE(StatField.size))) {
      attr.writeUInt32LE(attr.readUInt32LE(StatField.flags) | FUSE_ATTR_DAX, StatField.flags);
    }
  }

  private readonly entry = (e: Entry): Entry => (this.mark(e.attr), e);
  private readonly created = (r: CreateReply): CreateReply => (this.mark(r.entry.attr), r);
  private readonly attrs = (a: AttrReply): AttrReply => (this.mark(a.attr), a);
}
