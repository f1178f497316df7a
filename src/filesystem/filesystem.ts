/**
 * The seam between the FUSE core (src/fuse) and a file system implementation (src/passthrough,
 * and wrappers over it). The core decodes and validates a request, calls exactly one method
 * here, and encodes what it returns; the file system never sees wire bytes and the core never
 * sees a host path or descriptor.
 *
 * Conventions:
 * - Inode and handle numbers are NodeId and HandleId: numbers the file system hands out (so
 *   they fit in 2^53), branded so that one cannot be passed for the other. A u64 from the guest
 *   that does not fit is refused by the core (ESTALE / EBADF) and never arrives here; a number
 *   that fits but was never handed out must be refused by the implementation (EBADF for
 *   handles, ESTALE for inodes). "No handle" is `undefined`, never a sentinel number.
 * - Failures are thrown as ErrnoError (errors.ts); anything else thrown becomes EIO.
 * - Every method that is optional may be left undefined: the core answers ENOSYS for it, as the
 *   kernel expects for operations a file system does not support.
 * - Names are validated by the core before they get here (no '/', no NUL, not empty; '.' and
 *   '..' refused where the protocol forbids them). Implementations must still resolve every
 *   name beneath the share (defence in depth).
 */

declare const idBrand: unique symbol;
/**
 * An inode number (fuse_in_header.nodeid, fuse_entry_out.nodeid); 1 is the root. The brand is
 * optional so literals and plain numbers still convert (tests, tables keyed by number), while a
 * HandleId passed where a NodeId belongs — or the reverse — does not compile.
 */
export type NodeId = number & { readonly [idBrand]?: 'NodeId' };
/** An open file or directory (fuse_open_out.fh), as the file system numbered it. */
export type HandleId = number & { readonly [idBrand]?: 'HandleId' };
/** FUSE_ROOT_ID. */
export const ROOT_NODE_ID: NodeId = 1;

/** A security context the guest's LSM computed for a new inode (FUSE_SECURITY_CTX). */
export interface SecurityContext {
  /** The xattr name, e.g. "security.selinux" (no NUL). */
  readonly name: Buffer;
  readonly value: Buffer;
}

/** Who is asking: from fuse_in_header, plus the request's extensions. */
export interface RequestContext {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
  /** Set while the request can be interrupted (FUSE_INTERRUPT); checked by long waits. */
  readonly interrupted?: () => boolean;
  /**
   * Runs `listener` once when a FUSE_INTERRUPT names this request (at once if one already
   * did). Returns a function that unregisters it. For waits that cannot poll interrupted().
   */
  readonly onInterrupt?: (listener: () => void) => () => void;
  /**
   * CREATE, MKNOD, MKDIR, SYMLINK, TMPFILE with FUSE_CREATE_SUPP_GROUP: the one supplementary
   * group of the caller the new inode's permission check needs (the parent's group).
   */
  readonly supplementaryGroups?: readonly number[];
  /** The same operations with FUSE_SECURITY_CTX: the label to give the new inode. */
  readonly securityContext?: SecurityContext;
}

/**
 * File attributes in a 104-byte record whose first 88 bytes are laid out as struct fuse_attr
 * (the native stat calls fill it in that layout so the reply path is a single copy):
 *
 *   0 ino u64 | 8 size u64 | 16 blocks u64 | 24 atime u64 | 32 mtime u64 | 40 ctime u64
 *   48 atimensec u32 | 52 mtimensec u32 | 56 ctimensec u32 | 60 mode u32 | 64 nlink u32
 *   68 uid u32 | 72 gid u32 | 76 rdev u32 | 80 blksize u32 | 84 flags u32
 *   88 dev u64 (host st_dev, not sent) | 96 mnt_id u64 (host mount id, not sent)
 *
 * `flags` carries FUSE_ATTR_* bits (SUBMOUNT, DAX) set by the file system.
 */
export const STAT_RECORD_SIZE = 104;
export const FUSE_ATTR_SIZE = 88;
export type StatRecord = Buffer;

/** StatRecord `flags` bits (fuse_attr.flags: FUSE_ATTR_* in include/uapi/linux/fuse.h). */
export const FUSE_ATTR_SUBMOUNT = 1 << 0;
export const FUSE_ATTR_DAX = 1 << 1;

/** Offsets into a StatRecord, for the few fields TS code reads. */
export const StatField = {
  ino: 0,
  size: 8,
  blocks: 16,
  atime: 24,
  mtime: 32,
  ctime: 40,
  atimensec: 48,
  mtimensec: 52,
  ctimensec: 56,
  mode: 60,
  nlink: 64,
  uid: 68,
  gid: 72,
  rdev: 76,
  blksize: 80,
  flags: 84,
  dev: 88,
  mntId: 96,
} as const;

/** Result of LOOKUP/MKNOD/MKDIR/SYMLINK/LINK/CREATE: one new lookup reference on `nodeid`. */
export interface Entry {
  nodeid: NodeId;
  generation: number;
  attr: StatRecord;
  /** Seconds the kernel may cache the name → inode binding / the attributes. */
  entryTimeout: number;
  attrTimeout: number;
}

export interface AttrReply {
  attr: StatRecord;
  attrTimeout: number;
}

/**
 * Direct I/O: a grant, per open file handle, that lets the transport serve READ and/or WRITE
 * on that handle itself — a preadv/pwritev on `fd` between the file and the guest's buffers,
 * never entering the file system (native/fuse_fast_path.cc). A file system grants only what
 * it would do the same way: nothing before or after the read or write (no write-back of a
 * cache, no xattr to drop first, no refusal). A wrapper that needs to see every READ or WRITE
 * of the handle removes the grant from the reply (or suspends it later through
 * DirectIoControl). The FUSE core registers what the outermost file system returned.
 *
 * Contract: `fd` stays open until the core has called release() for this handle or the
 * session ended (destroy(), or init() of a new session); the core withdraws the grant before
 * either. A WRITE asking to clear suid/sgid (FUSE_WRITE_KILL_SUIDGID) is never served
 * directly: it asks for more than a pwritev.
 */
export interface DirectIo {
  readonly fd: number;
  readonly read: boolean;
  readonly write: boolean;
}

/**
 * Given to the file system at init(): suspends direct I/O on every handle of an inode (open
 * now or opened later) until resumed — for state that makes READ/WRITE on the inode more than
 * a preadv/pwritev for a while (DAX range copies). Suspensions nest (a count per inode).
 * suspend() takes effect before it returns for requests not yet taken off the ring; the promise it
 * returns resolves once the requests on the inode already being served directly (on worker
 * threads) have finished — only then does the file hold everything they wrote.
 */
export interface DirectIoControl {
  suspend(nodeid: NodeId): Promise<void>;
  resume(nodeid: NodeId): void;
}

/** FOPEN_* bits the file system asks for on open (DIRECT_IO, KEEP_CACHE, ...). */
export interface OpenReply {
  fh: HandleId;
  openFlags: number;
  /** Regular files: what the transport may serve on this handle without the file system. */
  directIo?: DirectIo;
}

export interface CreateReply extends OpenReply {
  entry: Entry;
}

/** SetattrRequest.valid bits: fuse_setattr_in.valid (FATTR_* in include/uapi/linux/fuse.h). */
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

/** Which SETATTR fields are valid (FATTR bits) and their values. */
export interface SetattrRequest {
  valid: number;
  /** Set when valid & FATTR.FH: the handle to change the file through. */
  fh: HandleId | undefined;
  size: bigint;
  mode: number;
  uid: number;
  gid: number;
  atime: bigint;
  atimensec: number;
  mtime: bigint;
  mtimensec: number;
  ctime: bigint;
  ctimensec: number;
}

export interface StatfsReply {
  blocks: bigint;
  bfree: bigint;
  bavail: bigint;
  files: bigint;
  ffree: bigint;
  bsize: number;
  namelen: number;
  frsize: number;
}

/** One directory entry as getdents64 reports it. `off` is the cookie for the next entry. */
export interface DirEntry {
  ino: bigint;
  off: bigint;
  type: number; // DT_* (d_type)
  name: Buffer; // raw bytes, no NUL
}

/**
 * Called by the file system for each directory entry, in order; for READDIRPLUS `entry` carries
 * one lookup reference, which from then on is the core's: it is the guest's once sent, and the
 * core drops it when the entry is not sent. Returns false when the reply buffer is full (the
 * entry was NOT sent): stop there. The file system never forgets on the sink's behalf.
 *
 * For a plain READDIR the sink may also take getdents64's records whole (`records`): a file
 * system reading a host directory hands its buffer over instead of one call per entry.
 */
export interface DirEntrySink {
  (dirent: DirEntry, entry: Entry | undefined): boolean;
  records?: DirentRecordSink;
}

/** What DirentRecordSink did with a run of linux_dirent64 records. */
export const RecordsStatus = {
  /** Every whole record was taken. */
  Consumed: 0,
  /** The reply is full: the record at `pos` was not sent (stop there, as when the sink says false). */
  Full: 1,
  /** The record at `pos` must go through the per-entry call (the sink validates and logs it). */
  PerEntry: 2,
} as const;
export type RecordsStatus = (typeof RecordsStatus)[keyof typeof RecordsStatus];

export interface RecordsProgress {
  status: RecordsStatus;
  /** Position of the first record not taken. */
  pos: number;
  /** Records sent. */
  count: number;
  /** Position of the last record sent (its d_off is the next cookie), -1 if none. */
  last: number;
}

/**
 * Takes the linux_dirent64 records of buf[pos, end) (READDIR only). Throws ErrnoError(EIO) on a
 * malformed record. The progress object is reused by the next call.
 */
export type DirentRecordSink = (buf: Buffer, pos: number, end: number) => RecordsProgress;

/** Moves file data straight between a descriptor and the transport's buffers (guest memory). */
export interface ZeroCopyWriter {
  /** Reads up to `len` bytes of `fd` at `offset` into the reply; resolves to bytes read. */
  writeFromFile(fd: number, offset: bigint, len: number): Promise<number>;
}

export interface ZeroCopyReader {
  /** Bytes of write payload available. */
  readonly length: number;
  /** Writes `len` payload bytes to `fd` at `offset`; resolves to bytes written. */
  readToFile(fd: number, offset: bigint, len: number): Promise<number>;
}

/**
 * A byte-range lock (struct fuse_file_lock): [start, end] inclusive, end = OFFSET_MAX for "to
 * the end of the file"; type F_RDLCK / F_WRLCK / F_UNLCK; pid is the guest's lock holder.
 */
export interface FileLock {
  start: bigint;
  end: bigint;
  type: number;
  pid: number;
}

/** STATX reply: the kernel's struct statx (256 bytes; uid/gid already the guest's). */
export interface StatxReply {
  statx: Buffer;
  /** FUSE_ATTR_* bits (SUBMOUNT, DAX). */
  flags: number;
  attrTimeout: number;
}

/** What INIT negotiated, for the file system's information. */
export interface SessionInfo {
  /** FUSE minor version the guest speaks. */
  minor: number;
  /** Capability bits both sides agreed on (FUSE_* init flags, 64-bit). */
  flags: bigint;
  /** Present when a transport serves direct I/O grants (OpenReply.directIo) in this session. */
  directIo?: DirectIoControl;
}

export interface FileSystem {
  /** INIT: the file system may veto capability bits by clearing them in the returned mask. */
  init(session: SessionInfo): Promise<bigint>;
  /** DESTROY, or the session ends: drop every inode except the root and every handle. */
  destroy(): Promise<void>;

  lookup(ctx: RequestContext, parent: NodeId, name: Buffer): Promise<Entry>;
  /** Drops `count` lookup references; never fails, never replies. */
  forget(nodeid: NodeId, count: bigint): void;
  /** Whether `nodeid` is still known (its lookup count has not dropped to zero). */
  knows?(nodeid: NodeId): boolean;
  getattr(ctx: RequestContext, nodeid: NodeId, fh: HandleId | undefined): Promise<AttrReply>;
  /**
   * Optional synchronous LOOKUP / GETATTR, same semantics, no promise: the core tries them
   * first (the hot metadata path). `undefined` means "cannot now" — returned before doing
   * anything — and the core calls the async method instead.
   */
  lookupSync?(ctx: RequestContext, parent: NodeId, name: Buffer): Entry | undefined;
  getattrSync?(ctx: RequestContext, nodeid: NodeId, fh: HandleId | undefined): AttrReply | undefined;
  setattr(ctx: RequestContext, nodeid: NodeId, req: SetattrRequest): Promise<AttrReply>;
  readlink(ctx: RequestContext, nodeid: NodeId): Promise<Buffer>;
  symlink(ctx: RequestContext, parent: NodeId, name: Buffer, target: Buffer): Promise<Entry>;
  mknod(ctx: RequestContext, parent: NodeId, name: Buffer, mode: number, rdev: number, umask: number): Promise<Entry>;
  mkdir(ctx: RequestContext, parent: NodeId, name: Buffer, mode: number, umask: number): Promise<Entry>;
  unlink(ctx: RequestContext, parent: NodeId, name: Buffer): Promise<void>;
  rmdir(ctx: RequestContext, parent: NodeId, name: Buffer): Promise<void>;
  /** RENAME and RENAME2; `flags` are RENAME_NOREPLACE / EXCHANGE / WHITEOUT. */
  rename(ctx: RequestContext, parent: NodeId, name: Buffer, newParent: NodeId, newName: Buffer, flags: number): Promise<void>;
  link(ctx: RequestContext, nodeid: NodeId, newParent: NodeId, newName: Buffer): Promise<Entry>;

  /**
   * `flags` are the guest's open(2) flags; the file system strips what it must not honour.
   * `openFlags` is fuse_open_in.open_flags (FUSE_OPEN_KILL_SUIDGID with HANDLE_KILLPRIV_V2).
   */
  open(ctx: RequestContext, nodeid: NodeId, flags: number, openFlags?: number): Promise<OpenReply>;
  create(ctx: RequestContext, parent: NodeId, name: Buffer, mode: number, flags: number, umask: number, openFlags?: number): Promise<CreateReply>;
  read(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, size: number, out: ZeroCopyWriter): Promise<number>;
  write(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, data: ZeroCopyReader, writeFlags: number): Promise<number>;
  flush(ctx: RequestContext, nodeid: NodeId, fh: HandleId, lockOwner: bigint): Promise<void>;
  /**
   * `flags`: the open flags; `releaseFlags`: FUSE_RELEASE_FLUSH (also flush: drop `lockOwner`'s
   * POSIX locks), FUSE_RELEASE_FLOCK_UNLOCK (drop the file's flock lock).
   */
  release(ctx: RequestContext, nodeid: NodeId, fh: HandleId, flags: number, releaseFlags?: number, lockOwner?: bigint): Promise<void>;
  fsync(ctx: RequestContext, nodeid: NodeId, fh: HandleId, datasync: boolean): Promise<void>;

  opendir(ctx: RequestContext, nodeid: NodeId, flags: number): Promise<OpenReply>;
  /** Calls `sink` for entries from cookie `offset`; `plus` asks for an Entry per name. */
  readdir(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, plus: boolean, sink: DirEntrySink): Promise<void>;
  releasedir(ctx: RequestContext, nodeid: NodeId, fh: HandleId): Promise<void>;
  fsyncdir(ctx: RequestContext, nodeid: NodeId, fh: HandleId, datasync: boolean): Promise<void>;

  statfs(ctx: RequestContext, nodeid: NodeId): Promise<StatfsReply>;
  access(ctx: RequestContext, nodeid: NodeId, mask: number): Promise<void>;

  // ---- optional: each one left undefined answers ENOSYS ----------------------------------

  /** SETXATTR; `flags` XATTR_CREATE/REPLACE, `setxattrFlags` FUSE_SETXATTR_ACL_KILL_SGID. */
  setxattr?(ctx: RequestContext, nodeid: NodeId, name: Buffer, value: Buffer, flags: number, setxattrFlags: number): Promise<void>;
  /** GETXATTR: `size` 0 asks for the value's size (a number); else the value (ERANGE if larger). */
  getxattr?(ctx: RequestContext, nodeid: NodeId, name: Buffer, size: number): Promise<Buffer | number>;
  /** LISTXATTR: NUL-terminated names; `size` 0 asks for the list's size. */
  listxattr?(ctx: RequestContext, nodeid: NodeId, size: number): Promise<Buffer | number>;
  removexattr?(ctx: RequestContext, nodeid: NodeId, name: Buffer): Promise<void>;

  /** GETLK: the first lock that would conflict with `lock` (type F_UNLCK when none). */
  getlk?(ctx: RequestContext, nodeid: NodeId, fh: HandleId, owner: bigint, lock: FileLock, lkFlags: number): Promise<FileLock>;
  /**
   * SETLK / SETLKW (`wait`). `lkFlags` FUSE_LK_FLOCK: a flock(2) lock of the open file `fh`;
   * else a POSIX lock of `owner`. A waiting SETLKW ends with EINTR when interrupted.
   */
  setlk?(ctx: RequestContext, nodeid: NodeId, fh: HandleId, owner: bigint, lock: FileLock, lkFlags: number, wait: boolean): Promise<void>;

  fallocate?(ctx: RequestContext, nodeid: NodeId, fh: HandleId, mode: number, offset: bigint, length: bigint): Promise<void>;
  /** LSEEK (the kernel sends SEEK_DATA / SEEK_HOLE): the resulting offset. */
  lseek?(ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, whence: number): Promise<bigint>;
  /** COPY_FILE_RANGE: bytes copied (at most 2^32 - 4096 per call). */
  copyFileRange?(
    ctx: RequestContext,
    nodeidIn: NodeId,
    fhIn: HandleId,
    offIn: bigint,
    nodeidOut: NodeId,
    fhOut: HandleId,
    offOut: bigint,
    len: bigint,
    flags: bigint,
  ): Promise<number>;
  /** SYNCFS of the file system (or submount) `nodeid` lives on. */
  syncfs?(ctx: RequestContext, nodeid: NodeId): Promise<void>;
  /** TMPFILE: an unnamed file in directory `parent`, opened (O_TMPFILE). */
  tmpfile?(ctx: RequestContext, parent: NodeId, mode: number, flags: number, umask: number): Promise<CreateReply>;
  /** STATX (7.39): `mask` STATX_*, `flags` AT_STATX_* sync flags. */
  statx?(ctx: RequestContext, nodeid: NodeId, fh: HandleId | undefined, flags: number, mask: number): Promise<StatxReply>;

  /**
   * FUSE_SETUPMAPPING (DAX): map [foffset, foffset + len) of the file open as `fh` (Linux sends
   * no handle: undefined, then the inode itself is opened for the mapping) at offset
   * `moffset` of the DAX window; `flags` are FUSE_SETUPMAPPING_FLAG_READ / _WRITE.
   */
  setupmapping?(ctx: RequestContext, nodeid: NodeId, fh: HandleId | undefined, foffset: bigint, len: bigint, flags: number, moffset: bigint): Promise<void>;
  /** FUSE_REMOVEMAPPING (DAX): unmap window ranges. */
  removemapping?(ctx: RequestContext, ranges: { moffset: bigint; len: bigint }[]): Promise<void>;
}
