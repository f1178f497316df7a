/**
 * The FUSE wire ABI we speak: include/uapi/linux/fuse.h at protocol 7.38. Little-endian
 * throughout (virtio-fs is little-endian by definition; /dev/fuse is host-endian and we only run
 * on little-endian hosts).
 *
 * Each struct is declared once, under its kernel name, as a table of byte offsets plus SIZE,
 * with the C layout beside it. Code reads and writes fields as `buf.readUInt32LE(base + X.field)`.
 * Nothing here allocates or decodes; codec.ts does that with bounds checks.
 */

/** Version negotiation (fuse.h "Version negotiation"). */
export const FUSE_KERNEL_VERSION = 7;
/**
 * The minor we answer with; the kernel uses min(its minor, ours). 7.39 adds FUSE_STATX (sent only
 * for fields beyond the basic stats, e.g. btime) and nothing a 7.38 server must do differently.
 */
export const FUSE_KERNEL_MINOR_VERSION = 39;
/** Oldest minor we accept (the Rust virtiofsd's floor too). */
export const FUSE_MIN_MINOR_VERSION = 27;
export const FUSE_ROOT_ID = 1;

/** Longest name component (NAME_MAX) and symlink target (PATH_MAX - 1) we accept. */
export const NAME_MAX = 255;
export const SYMLINK_TARGET_MAX = 4095;

/** enum fuse_opcode */
export const Opcode = {
  LOOKUP: 1,
  FORGET: 2, // no reply
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36, // no reply
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42, // no reply
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
} as const;

/** Size of the opcode-indexed dispatch table and of the per-opcode counters. */
export const OPCODE_TABLE_SIZE = 64;

const opcodeNames: string[] = [];
for (const [name, value] of Object.entries(Opcode)) opcodeNames[value] = name;

/** "LOOKUP", or "OP_<n>" for opcodes we do not know. */
export function opcodeName(opcode: number): string {
  return opcodeNames[opcode] ?? `OP_${opcode}`;
}

/**
 * INIT flags (fuse_init_in/out.flags, and bits 32..63 in flags2 when FUSE_INIT_EXT is set).
 * 64-bit, hence bigint; only INIT touches them.
 */
export const InitFlag = {
  ASYNC_READ: 1n << 0n,
  POSIX_LOCKS: 1n << 1n,
  FILE_OPS: 1n << 2n,
  ATOMIC_O_TRUNC: 1n << 3n,
  EXPORT_SUPPORT: 1n << 4n,
  BIG_WRITES: 1n << 5n,
  DONT_MASK: 1n << 6n,
  SPLICE_WRITE: 1n << 7n,
  SPLICE_MOVE: 1n << 8n,
  SPLICE_READ: 1n << 9n,
  FLOCK_LOCKS: 1n << 10n,
  HAS_IOCTL_DIR: 1n << 11n,
  AUTO_INVAL_DATA: 1n << 12n,
  DO_READDIRPLUS: 1n << 13n,
  READDIRPLUS_AUTO: 1n << 14n,
  ASYNC_DIO: 1n << 15n,
  WRITEBACK_CACHE: 1n << 16n,
  NO_OPEN_SUPPORT: 1n << 17n,
  PARALLEL_DIROPS: 1n << 18n,
  HANDLE_KILLPRIV: 1n << 19n,
  POSIX_ACL: 1n << 20n,
  ABORT_ERROR: 1n << 21n,
  MAX_PAGES: 1n << 22n,
  CACHE_SYMLINKS: 1n << 23n,
  NO_OPENDIR_SUPPORT: 1n << 24n,
  EXPLICIT_INVAL_DATA: 1n << 25n,
  MAP_ALIGNMENT: 1n << 26n,
  SUBMOUNTS: 1n << 27n,
  HANDLE_KILLPRIV_V2: 1n << 28n,
  SETXATTR_EXT: 1n << 29n,
  INIT_EXT: 1n << 30n,
  INIT_RESERVED: 1n << 31n,
  // flags2 (shifted up by 32)
  SECURITY_CTX: 1n << 32n,
  HAS_INODE_DAX: 1n << 33n,
  CREATE_SUPP_GROUP: 1n << 34n,
  HAS_EXPIRE_ONLY: 1n << 35n,
  DIRECT_IO_ALLOW_MMAP: 1n << 36n,
} as const;

/** fuse_open_out.open_flags (set by the file system in OpenReply.openFlags) */
export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_NONSEEKABLE = 1 << 2;
export const FOPEN_CACHE_DIR = 1 << 3;
export const FOPEN_STREAM = 1 << 4;
export const FOPEN_NOFLUSH = 1 << 5;
export const FOPEN_PARALLEL_DIRECT_WRITES = 1 << 6;

/** fuse_getattr_in.getattr_flags */
export const FUSE_GETATTR_FH = 1 << 0;
/** fuse_release_in.release_flags */
export const FUSE_RELEASE_FLUSH = 1 << 0;
export const FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;
/** fuse_write_in.write_flags */
export const FUSE_WRITE_CACHE = 1 << 0;
export const FUSE_WRITE_LOCKOWNER = 1 << 1;
export const FUSE_WRITE_KILL_SUIDGID = 1 << 2;
/** fuse_read_in.read_flags */
export const FUSE_READ_LOCKOWNER = 1 << 1;
/** fuse_fsync_in.fsync_flags */
export const FUSE_FSYNC_FDATASYNC = 1 << 0;
/** fuse_open_in.open_flags / fuse_create_in.open_flags */
export const FUSE_OPEN_KILL_SUIDGID = 1 << 0;
/** fuse_attr.flags */
/** fuse_lk_in.lk_flags: the lock is a flock(2) lock, not a POSIX one. */
export const FUSE_LK_FLOCK = 1 << 0;
/** fuse_setxattr_in.setxattr_flags (with FUSE_SETXATTR_EXT): clear SGID when setting an ACL. */
export const FUSE_SETXATTR_ACL_KILL_SGID = 1 << 0;
/** The largest lock offset (OFFSET_MAX): an `end` of this value means "to the end of the file". */
export const OFFSET_MAX = 0x7fff_ffff_ffff_ffffn;
/** XATTR_NAME_MAX and XATTR_SIZE_MAX (include/uapi/linux/limits.h). */
export const XATTR_NAME_MAX = 255;
export const XATTR_SIZE_MAX = 65536;

/** renameat2(2) flags carried by fuse_rename2_in.flags */
export const RENAME_NOREPLACE = 1 << 0;
export const RENAME_EXCHANGE = 1 << 1;
export const RENAME_WHITEOUT = 1 << 2;
export const RENAME_FLAGS_ALL = RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT;

// ---------------------------------------------------------------------------------------------
// Headers

/**
 * struct fuse_in_header {            // 40 bytes
 *   u32 len; u32 opcode; u64 unique; u64 nodeid;
 *   u32 uid; u32 gid; u32 pid;
 *   u16 total_extlen;                // 7.38: extension bytes at the end, in 8-byte units
 *   u16 padding;
 * };
 */
export const InHeader = {
  len: 0,
  opcode: 4,
  unique: 8,
  nodeid: 16,
  uid: 24,
  gid: 28,
  pid: 32,
  totalExtlen: 36,
  padding: 38,
  SIZE: 40,
} as const;

/**
 * struct fuse_out_header {           // 16 bytes
 *   u32 len; s32 error;              // error is -errno or 0
 *   u64 unique;
 * };
 */
export const OutHeader = { len: 0, error: 4, unique: 8, SIZE: 16 } as const;

// ---------------------------------------------------------------------------------------------
// Attributes and entries

/**
 * struct fuse_attr (88 bytes) is a StatRecord's first 88 bytes: declared once, with the seam's
 * StatRecord (src/filesystem/filesystem.ts: FUSE_ATTR_SIZE, StatField).
 */

/**
 * struct fuse_entry_out {            // 128 bytes
 *   u64 nodeid; u64 generation;
 *   u64 entry_valid; u64 attr_valid;             // seconds
 *   u32 entry_valid_nsec; u32 attr_valid_nsec;
 *   struct fuse_attr attr;
 * };
 */
export const EntryOut = {
  nodeid: 0,
  generation: 8,
  entryValid: 16,
  attrValid: 24,
  entryValidNsec: 32,
  attrValidNsec: 36,
  attr: 40,
  SIZE: 128,
} as const;

/**
 * struct fuse_attr_out {             // 104 bytes
 *   u64 attr_valid; u32 attr_valid_nsec; u32 dummy;
 *   struct fuse_attr attr;
 * };
 */
export const AttrOut = { attrValid: 0, attrValidNsec: 8, dummy: 12, attr: 16, SIZE: 104 } as const;

/** struct fuse_getattr_in { u32 getattr_flags; u32 dummy; u64 fh; };   // 16 bytes */
export const GetattrIn = { getattrFlags: 0, dummy: 4, fh: 8, SIZE: 16 } as const;

/**
 * struct fuse_setattr_in {           // 88 bytes
 *   u32 valid; u32 padding; u64 fh; u64 size; u64 lock_owner;
 *   u64 atime; u64 mtime; u64 ctime;               // seconds, really s64
 *   u32 atimensec; u32 mtimensec; u32 ctimensec;
 *   u32 mode; u32 unused4; u32 uid; u32 gid; u32 unused5;
 * };
 */
export const SetattrIn = {
  valid: 0,
  padding: 4,
  fh: 8,
  size: 16,
  lockOwner: 24,
  atime: 32,
  mtime: 40,
  ctime: 48,
  atimensec: 56,
  mtimensec: 60,
  ctimensec: 64,
  mode: 68,
  unused4: 72,
  uid: 76,
  gid: 80,
  unused5: 84,
  SIZE: 88,
} as const;

// ---------------------------------------------------------------------------------------------
// Lookup counts

/** struct fuse_forget_in { u64 nlookup; };                            // 8 bytes */
export const ForgetIn = { nlookup: 0, SIZE: 8 } as const;
/** struct fuse_batch_forget_in { u32 count; u32 dummy; };             // 8 bytes, then count × fuse_forget_one */
export const BatchForgetIn = { count: 0, dummy: 4, SIZE: 8 } as const;
/** struct fuse_forget_one { u64 nodeid; u64 nlookup; };               // 16 bytes */
export const ForgetOne = { nodeid: 0, nlookup: 8, SIZE: 16 } as const;

// ---------------------------------------------------------------------------------------------
// Directory operations (each is followed by NUL-terminated name(s))

/** struct fuse_mknod_in { u32 mode; u32 rdev; u32 umask; u32 padding; };   // 16 bytes, then name */
export const MknodIn = { mode: 0, rdev: 4, umask: 8, padding: 12, SIZE: 16 } as const;
/** struct fuse_mkdir_in { u32 mode; u32 umask; };                     // 8 bytes, then name */
export const MkdirIn = { mode: 0, umask: 4, SIZE: 8 } as const;
/** struct fuse_rename_in { u64 newdir; };                             // 8 bytes, then oldname, newname */
export const RenameIn = { newdir: 0, SIZE: 8 } as const;
/** struct fuse_rename2_in { u64 newdir; u32 flags; u32 padding; };    // 16 bytes, then oldname, newname */
export const Rename2In = { newdir: 0, flags: 8, padding: 12, SIZE: 16 } as const;
/** struct fuse_link_in { u64 oldnodeid; };                            // 8 bytes, then newname */
export const LinkIn = { oldnodeid: 0, SIZE: 8 } as const;
// SYMLINK: no struct; "name\0target\0". LOOKUP/UNLINK/RMDIR: "name\0".

// ---------------------------------------------------------------------------------------------
// Files

/** struct fuse_open_in { u32 flags; u32 open_flags; };                // 8 bytes (OPEN, OPENDIR) */
export const OpenIn = { flags: 0, openFlags: 4, SIZE: 8 } as const;
/** struct fuse_create_in { u32 flags; u32 mode; u32 umask; u32 open_flags; };  // 16 bytes, then name */
export const CreateIn = { flags: 0, mode: 4, umask: 8, openFlags: 12, SIZE: 16 } as const;
/** struct fuse_open_out { u64 fh; u32 open_flags; u32 padding; };     // 16 bytes */
export const OpenOut = { fh: 0, openFlags: 8, padding: 12, SIZE: 16 } as const;

/**
 * struct fuse_read_in {              // 40 bytes (READ, READDIR, READDIRPLUS)
 *   u64 fh; u64 offset; u32 size; u32 read_flags; u64 lock_owner; u32 flags; u32 padding;
 * };
 */
export const ReadIn = {
  fh: 0,
  offset: 8,
  size: 16,
  readFlags: 20,
  lockOwner: 24,
  flags: 32,
  padding: 36,
  SIZE: 40,
} as const;

/**
 * struct fuse_write_in {             // 40 bytes, then `size` bytes of data
 *   u64 fh; u64 offset; u32 size; u32 write_flags; u64 lock_owner; u32 flags; u32 padding;
 * };
 */
export const WriteIn = {
  fh: 0,
  offset: 8,
  size: 16,
  writeFlags: 20,
  lockOwner: 24,
  flags: 32,
  padding: 36,
  SIZE: 40,
} as const;
/** Where WRITE data starts, counted from the start of fuse_in_header. */
export const WRITE_DATA_OFFSET = InHeader.SIZE + WriteIn.SIZE;

/** struct fuse_write_out { u32 size; u32 padding; };                  // 8 bytes */
export const WriteOut = { size: 0, padding: 4, SIZE: 8 } as const;

/** struct fuse_release_in { u64 fh; u32 flags; u32 release_flags; u64 lock_owner; };  // 24 bytes */
export const ReleaseIn = { fh: 0, flags: 8, releaseFlags: 12, lockOwner: 16, SIZE: 24 } as const;
/** struct fuse_flush_in { u64 fh; u32 unused; u32 padding; u64 lock_owner; };         // 24 bytes */
export const FlushIn = { fh: 0, unused: 8, padding: 12, lockOwner: 16, SIZE: 24 } as const;
/** struct fuse_fsync_in { u64 fh; u32 fsync_flags; u32 padding; };    // 16 bytes (FSYNC, FSYNCDIR) */
export const FsyncIn = { fh: 0, fsyncFlags: 8, padding: 12, SIZE: 16 } as const;
/** struct fuse_access_in { u32 mask; u32 padding; };                  // 8 bytes */
export const AccessIn = { mask: 0, padding: 4, SIZE: 8 } as const;
/** struct fuse_interrupt_in { u64 unique; };                          // 8 bytes */
export const InterruptIn = { unique: 0, SIZE: 8 } as const;

// ---------------------------------------------------------------------------------------------
// Extended attributes

/**
 * struct fuse_setxattr_in {          // 16 bytes with FUSE_SETXATTR_EXT, else 8
 *   u32 size; u32 flags;             // value size; XATTR_CREATE / XATTR_REPLACE
 *   u32 setxattr_flags; u32 padding; // FUSE_SETXATTR_ACL_KILL_SGID
 * };                                 // then "name\0" and `size` bytes of value
 */
export const SetxattrIn = { size: 0, flags: 4, setxattrFlags: 8, padding: 12, COMPAT_SIZE: 8, SIZE: 16 } as const;
/** struct fuse_getxattr_in { u32 size; u32 padding; };  // 8 bytes (GETXATTR: then "name\0"; LISTXATTR) */
export const GetxattrIn = { size: 0, padding: 4, SIZE: 8 } as const;
/** struct fuse_getxattr_out { u32 size; u32 padding; }; // 8 bytes: the answer to a size query (size 0) */
export const GetxattrOut = { size: 0, padding: 4, SIZE: 8 } as const;

// ---------------------------------------------------------------------------------------------
// Locks

/** struct fuse_file_lock { u64 start; u64 end; u32 type; u32 pid; };  // 24 bytes; end inclusive */
export const FileLock = { start: 0, end: 8, type: 16, pid: 20, SIZE: 24 } as const;
/**
 * struct fuse_lk_in {                // 48 bytes (GETLK, SETLK, SETLKW)
 *   u64 fh; u64 owner; struct fuse_file_lock lk; u32 lk_flags; u32 padding;
 * };
 */
export const LkIn = { fh: 0, owner: 8, lk: 16, lkFlags: 40, padding: 44, SIZE: 48 } as const;
/** struct fuse_lk_out { struct fuse_file_lock lk; };                 // 24 bytes */
export const LkOut = { lk: 0, SIZE: 24 } as const;

// ---------------------------------------------------------------------------------------------
// Data operations on open files

/** struct fuse_fallocate_in { u64 fh; u64 offset; u64 length; u32 mode; u32 padding; };  // 32 bytes */
export const FallocateIn = { fh: 0, offset: 8, length: 16, mode: 24, padding: 28, SIZE: 32 } as const;
/** struct fuse_lseek_in { u64 fh; u64 offset; u32 whence; u32 padding; };  // 24 bytes */
export const LseekIn = { fh: 0, offset: 8, whence: 16, padding: 20, SIZE: 24 } as const;
/** struct fuse_lseek_out { u64 offset; };                              // 8 bytes */
export const LseekOut = { offset: 0, SIZE: 8 } as const;
/**
 * struct fuse_copy_file_range_in {   // 56 bytes; reply: fuse_write_out
 *   u64 fh_in; u64 off_in; u64 nodeid_out; u64 fh_out; u64 off_out; u64 len; u64 flags;
 * };
 */
export const CopyFileRangeIn = { fhIn: 0, offIn: 8, nodeidOut: 16, fhOut: 24, offOut: 32, len: 40, flags: 48, SIZE: 56 } as const;
/** struct fuse_syncfs_in { u64 padding; };                            // 8 bytes */
export const SyncfsIn = { padding: 0, SIZE: 8 } as const;

// ---------------------------------------------------------------------------------------------
// STATX (7.39)

/** struct fuse_statx_in { u32 getattr_flags; u32 reserved; u64 fh; u32 sx_flags; u32 sx_mask; };  // 24 bytes */
export const StatxIn = { getattrFlags: 0, reserved: 4, fh: 8, sxFlags: 16, sxMask: 20, SIZE: 24 } as const;
/**
 * struct fuse_statx_out {            // 288 bytes
 *   u64 attr_valid; u32 attr_valid_nsec; u32 flags; u64 spare[2];
 *   struct fuse_statx stat;          // 256 bytes; its first 144 bytes are laid out as the
 * };                                 // kernel's struct statx (mask ... dev_minor), then spare
 */
export const StatxOut = { attrValid: 0, attrValidNsec: 8, flags: 12, spare: 16, stat: 32, SIZE: 288 } as const;
/** Bytes of struct fuse_statx that mirror struct statx (everything up to dev_minor). */
export const FUSE_STATX_USED = 144;
export const FUSE_STATX_SIZE = 256;

// ---------------------------------------------------------------------------------------------
// Request extensions (7.38: fuse_in_header.total_extlen; before that, SECURITY_CTX appended its
// block after the name(s) the same way)

/**
 * struct fuse_ext_header { u32 size; u32 type; };  // size includes the header; 8-byte aligned
 * Types 0..31 are a struct fuse_secctx_header { u32 size; u32 nr_secctx; } (type = nr_secctx),
 * each context being struct fuse_secctx { u32 size; u32 padding; } + "name\0" + value[size].
 * FUSE_EXT_GROUPS: struct fuse_supp_groups { u32 nr_groups; u32 groups[]; }.
 */
export const ExtHeader = { size: 0, type: 4, SIZE: 8 } as const;
export const Secctx = { size: 0, padding: 4, SIZE: 8 } as const;
export const FUSE_MAX_NR_SECCTX = 31;
export const FUSE_EXT_GROUPS = 32;

/**
 * struct fuse_kstatfs {              // 80 bytes; struct fuse_statfs_out is exactly this
 *   u64 blocks, bfree, bavail, files, ffree;
 *   u32 bsize; u32 namelen; u32 frsize; u32 padding; u32 spare[6];
 * };
 */
export const StatfsOut = {
  blocks: 0,
  bfree: 8,
  bavail: 16,
  files: 24,
  ffree: 32,
  bsize: 40,
  namelen: 44,
  frsize: 48,
  padding: 52,
  spare: 56,
  SIZE: 80,
} as const;

// ---------------------------------------------------------------------------------------------
// INIT

/**
 * struct fuse_init_in {              // 16 bytes before 7.36, 64 bytes with FUSE_INIT_EXT
 *   u32 major; u32 minor; u32 max_readahead; u32 flags;
 *   u32 flags2;                      // 7.36, valid only when flags has FUSE_INIT_EXT
 *   u32 unused[11];
 * };
 */
export const InitIn = {
  major: 0,
  minor: 4,
  maxReadahead: 8,
  flags: 12,
  flags2: 16,
  COMPAT_SIZE: 16,
  SIZE: 64,
} as const;

/**
 * struct fuse_init_out {             // 64 bytes; 24 for minors 5..22 (FUSE_COMPAT_22_INIT_OUT_SIZE)
 *   u32 major; u32 minor; u32 max_readahead; u32 flags;
 *   u16 max_background; u16 congestion_threshold; u32 max_write;
 *   u32 time_gran;                   // 7.23
 *   u16 max_pages;                   // 7.28
 *   u16 map_alignment;               // 7.31
 *   u32 flags2;                      // 7.36
 *   u32 unused[7];
 * };
 */
export const InitOut = {
  major: 0,
  minor: 4,
  maxReadahead: 8,
  flags: 12,
  maxBackground: 16,
  congestionThreshold: 18,
  maxWrite: 20,
  timeGran: 24,
  maxPages: 28,
  mapAlignment: 30,
  flags2: 32,
  COMPAT_SIZE: 8, // FUSE_COMPAT_INIT_OUT_SIZE, minors < 5
  COMPAT_22_SIZE: 24, // FUSE_COMPAT_22_INIT_OUT_SIZE, minors < 23
  SIZE: 64,
} as const;

// ---------------------------------------------------------------------------------------------
// Directory entries (READDIR / READDIRPLUS payloads)

/**
 * struct fuse_dirent {               // 24 bytes + name, padded to 8 (FUSE_DIRENT_ALIGN)
 *   u64 ino; u64 off; u32 namelen; u32 type; char name[];
 * };
 */
export const Dirent = { ino: 0, off: 8, namelen: 16, type: 20, name: 24, SIZE: 24 } as const;

/**
 * struct fuse_direntplus {           // 152 bytes + name, padded to 8
 *   struct fuse_entry_out entry_out; struct fuse_dirent dirent;
 * };
 */
export const DirentPlus = { entryOut: 0, dirent: EntryOut.SIZE, SIZE: EntryOut.SIZE + Dirent.SIZE } as const;

/** FUSE_REC_ALIGN / FUSE_DIRENT_ALIGN: round up to a multiple of 8. */
export function recAlign(n: number): number {
  return (n + 7) & ~7;
}
