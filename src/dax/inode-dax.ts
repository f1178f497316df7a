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
import type { AttrReply, Entry, FileSystem, StatRecord } from '../filesystem/filesystem.js';
import { StatField } from '../filesystem/filesystem.js';
import { FUSE_ATTR_DAX } from '../fuse/abi.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
/** struct statx: stx_mode (u16) and stx_size (u64) offsets. */
const STATX_MODE = 0x1c;
const STATX_SIZE = 0x28;

export interface InodeDaxPolicy {
  /** Regular files smaller than this are not marked (0: every regular file). */
  minSize: bigint;
}

/** Overrides the attribute-returning methods of `fs` (a wrapper whose prototype is `inner`). */
export function markDaxInodes(fs: FileSystem, inner: FileSystem, policy: InodeDaxPolicy): void {
  const wantsDax = (mode: number, size: bigint): boolean => (mode & S_IFMT) === S_IFREG && size >= policy.minSize;
  const mark = (attr: StatRecord): void => {
    if (wantsDax(attr.readUInt32LE(StatField.mode), attr.readBigUInt64LE(StatField.size))) {
      attr.writeUInt32LE(attr.readUInt32LE(StatField.flags) | FUSE_ATTR_DAX, StatField.flags);
    }
  };
  const entry = <T extends Entry>(e: T): T => (mark(e.attr), e);
  const attrs = <T extends AttrReply>(a: T): T => (mark(a.attr), a);

  fs.lookup = (ctx, parent, name) => inner.lookup(ctx, parent, name).then(entry);
  fs.mknod = (ctx, parent, name, mode, rdev, umask) => inner.mknod(ctx, parent, name, mode, rdev, umask).then(entry);
  fs.link = (ctx, nodeid, newParent, newName) => inner.link(ctx, nodeid, newParent, newName).then(entry);
  fs.create = (ctx, parent, name, mode, flags, umask, openFlags) =>
    inner.create(ctx, parent, name, mode, flags, umask, openFlags).then((r) => (entry(r.entry), r));
  fs.getattr = (ctx, nodeid, fh) => inner.getattr(ctx, nodeid, fh).then(attrs);
  // The synchronous lane (no promise) answers the hot LOOKUP / GETATTR: mark its replies too.
  if (inner.lookupSync) {
    const lookupSync = inner.lookupSync.bind(inner);
    fs.lookupSync = (ctx, parent, name) => {
      const e = lookupSync(ctx, parent, name);
      return e === undefined ? e : entry(e);
    };
  }
  if (inner.getattrSync) {
    const getattrSync = inner.getattrSync.bind(inner);
    fs.getattrSync = (ctx, nodeid, fh) => {
      const a = getattrSync(ctx, nodeid, fh);
      return a === undefined ? a : attrs(a);
    };
  }
  // SETATTR may already be wrapped (range copies): mark what that wrapper returns.
  const setattr = fs.setattr.bind(fs);
  fs.setattr = (ctx, nodeid, req) => setattr(ctx, nodeid, req).then(attrs);
  fs.readdir = (ctx, nodeid, fh, offset, plus, sink) =>
    inner.readdir(ctx, nodeid, fh, offset, plus, (dirent, e) => sink(dirent, e === undefined ? e : entry(e)));
  if (inner.tmpfile) {
    const tmpfile = inner.tmpfile.bind(inner);
    fs.tmpfile = (ctx, parent, mode, flags, umask) => tmpfile(ctx, parent, mode, flags, umask).then((r) => (entry(r.entry), r));
  }
  if (inner.statx) {
    const statx = inner.statx.bind(inner);
    fs.statx = (ctx, nodeid, fh, flags, mask) =>
      statx(ctx, nodeid, fh, flags, mask).then((r) => {
        if (wantsDax(r.statx.readUInt16LE(STATX_MODE), r.statx.readBigUInt64LE(STATX_SIZE))) r.flags |= FUSE_ATTR_DAX;
        return r;
      });
  }
}
