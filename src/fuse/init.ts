/**
 * FUSE_INIT: decoding fuse_init_in, deciding what to offer, and encoding fuse_init_out. Pure
 * functions; the server owns the session state and calls FileSystem.init() in between.
 *
 * Version rules (fuse.h "Version negotiation", and the Rust virtiofsd):
 * - major < 7             → EPROTO
 * - major > 7             → reply with just our major/minor and wait for a 7.x INIT
 * - major 7, minor < 27   → EPROTO (the oldest minor we handle)
 * - major 7, minor ≥ 27   → accept; we answer minor 39 and both sides use min(guest, 39)
 */
import { E } from '../filesystem/errors.js';
import { FUSE_KERNEL_MINOR_VERSION, FUSE_KERNEL_VERSION, FUSE_MIN_MINOR_VERSION, InitFlag, InitIn, InitOut } from './abi.js';
import type { ByteReader } from './codec.js';

/** Decoded fuse_init_in. `flags` is 64-bit: flags | flags2 << 32 when FUSE_INIT_EXT is set. */
export interface InitRequest {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: bigint;
}

/** Reads fuse_init_in; the 64-byte form is required when the guest sets FUSE_INIT_EXT. */
export function decodeInitIn(r: ByteReader): InitRequest {
  const off = r.struct(InitIn.COMPAT_SIZE, 'fuse_init_in');
  const b = r.buf;
  const major = b.readUInt32LE(off + InitIn.major);
  const minor = b.readUInt32LE(off + InitIn.minor);
  const maxReadahead = b.readUInt32LE(off + InitIn.maxReadahead);
  let flags = BigInt(b.readUInt32LE(off + InitIn.flags));
  // A major other than 7 may use another layout entirely: read nothing more.
  if (major === FUSE_KERNEL_VERSION && (flags & InitFlag.INIT_EXT) !== 0n) {
    r.need(InitIn.SIZE - InitIn.COMPAT_SIZE, 'fuse_init_in (FUSE_INIT_EXT)');
    const flags2 = b.readUInt32LE(off + InitIn.flags2);
    flags |= BigInt(flags2) << 32n;
  }
  return { major, minor, maxReadahead, flags };
}

/**
 * What we offer, each bit a deliberate choice. The guest's flags are ANDed with this, then the
 * file system may veto bits through FileSystem.init()'s mask.
 *
 * Offered:
 * - ASYNC_READ: reads (incl. readahead) may be concurrent; every handler is async.
 * - PARALLEL_DIROPS: concurrent LOOKUP/READDIR in one directory; the passthrough uses *at()
 *   calls on per-inode descriptors and has no per-directory state to protect.
 * - BIG_WRITES: writes larger than 4 KiB (obsolete in new kernels, harmless).
 * - AUTO_INVAL_DATA: the guest drops cached pages when it sees mtime/size change; nothing to do
 *   on our side, and it keeps guests coherent with host-side changes under cache=auto.
 * - DO_READDIRPLUS + READDIRPLUS_AUTO: READDIRPLUS is implemented (dirents.ts); the file system
 *   vetoes both when readdirplus is disabled.
 * - ASYNC_DIO: the guest may split O_DIRECT I/O into concurrent requests; fine for pread/pwrite.
 * - ATOMIC_O_TRUNC: the guest passes O_TRUNC inside OPEN instead of sending SETATTR(size=0)
 *   first. The passthrough MUST then honour O_TRUNC in open() (and clear security.capability
 *   like a truncate would) or veto this bit.
 * - MAX_PAGES: max_pages in fuse_init_out is valid (max_write / 4 KiB pages).
 * - INIT_EXT: we read flags2 and answer flags2 (needed for any bit ≥ 32 later: DAX, SECURITY_CTX).
 * - SUBMOUNTS (only with announceSubmounts): FUSE_ATTR_SUBMOUNT in attr.flags makes the guest
 *   auto-mount host mount points as separate superblocks (Kata's --announce-submounts).
 *
 * Offered so that the file system can accept them (FileSystem.init() vetoes what its
 * configuration does not enable; the passthrough's defaults veto all of these):
 * - POSIX_LOCKS, FLOCK_LOCKS: GETLK/SETLK/SETLKW (--posix-lock / -o posix_lock, -o flock).
 * - WRITEBACK_CACHE (--writeback): the guest caches writes; the file system opens O_WRONLY files
 *   O_RDWR and drops O_APPEND (the guest sends the right offsets).
 * - POSIX_ACL, DONT_MASK, SETXATTR_EXT (--posix-acl): the guest enforces ACLs, leaves the umask
 *   to us (a default ACL overrides it), and says when setting an ACL must clear SGID.
 * - HANDLE_KILLPRIV_V2 (--killpriv-v2): the file system clears suid/sgid on write, truncate,
 *   chown and O_TRUNC as the flags in those requests say.
 * - SECURITY_CTX (--security-label), CREATE_SUPP_GROUP (always accepted): request extensions
 *   of the creating opcodes (extensions.ts).
 * - DIRECT_IO_ALLOW_MMAP (--allow-mmap): shared mmap of files opened with FOPEN_DIRECT_IO.
 *
 * Not offered:
 * - EXPORT_SUPPORT: would make the guest LOOKUP "." and ".." (NFS re-export of the share); we
 *   refuse those names (names.ts) and do not support open-by-handle from the guest.
 * - HANDLE_KILLPRIV (v1): V2 carries the caller's CAP_FSETID per request; v1 does not.
 * - MAP_ALIGNMENT and HAS_INODE_DAX: only with a DAX window (--dax-window), with map_alignment
 *   = 21 (2 MiB); with HAS_INODE_DAX a dax=inode guest maps the files whose attributes carry
 *   FUSE_ATTR_DAX (src/dax/inode-dax.ts).
 * - CACHE_SYMLINKS, NO_OPEN(DIR)_SUPPORT, EXPLICIT_INVAL_DATA, ABORT_ERROR, HAS_IOCTL_DIR,
 *   SPLICE_*, HAS_EXPIRE_ONLY: cache policies or features we do not implement (yet); offering
 *   them would change guest behaviour we have not tested.
 */
export const SUPPORTED_INIT_FLAGS: bigint =
  InitFlag.ASYNC_READ |
  InitFlag.PARALLEL_DIROPS |
  InitFlag.BIG_WRITES |
  InitFlag.AUTO_INVAL_DATA |
  InitFlag.DO_READDIRPLUS |
  InitFlag.READDIRPLUS_AUTO |
  InitFlag.ASYNC_DIO |
  InitFlag.ATOMIC_O_TRUNC |
  InitFlag.MAX_PAGES |
  InitFlag.INIT_EXT |
  InitFlag.POSIX_LOCKS |
  InitFlag.FLOCK_LOCKS |
  InitFlag.WRITEBACK_CACHE |
  InitFlag.POSIX_ACL |
  InitFlag.DONT_MASK |
  InitFlag.SETXATTR_EXT |
  InitFlag.HANDLE_KILLPRIV_V2 |
  InitFlag.SECURITY_CTX |
  InitFlag.CREATE_SUPP_GROUP |
  InitFlag.DIRECT_IO_ALLOW_MMAP;

export interface InitConfig {
  announceSubmounts: boolean;
  /** log2 of the DAX mapping alignment when a DAX window is served (offers MAP_ALIGNMENT). */
  mapAlignment?: number;
}

export type InitDecision =
  | { kind: 'error'; errno: number; reason: string }
  /** major > 7: answer with our version only and wait for another INIT. */
  | { kind: 'retry' }
  /** Proceed: `offered` = guest flags ∩ what we support; `minor` = min(guest, ours). */
  | { kind: 'accept'; minor: number; offered: bigint };

export function negotiateInit(req: InitRequest, cfg: InitConfig): InitDecision {
  if (req.major < FUSE_KERNEL_VERSION) {
    return { kind: 'error', errno: E.EPROTO, reason: `unsupported FUSE major ${req.major}` };
  }
  if (req.major > FUSE_KERNEL_VERSION) return { kind: 'retry' };
  if (req.minor < FUSE_MIN_MINOR_VERSION) {
    return {
      kind: 'error',
      errno: E.EPROTO,
      reason: `FUSE 7.${req.minor} is older than 7.${FUSE_MIN_MINOR_VERSION}`,
    };
  }
  let supported = SUPPORTED_INIT_FLAGS;
  if (cfg.announceSubmounts) supported |= InitFlag.SUBMOUNTS;
  // A DAX window: the guest asks for MAP_ALIGNMENT when its device has a cache region.
  if (cfg.mapAlignment !== undefined) supported |= InitFlag.MAP_ALIGNMENT | InitFlag.HAS_INODE_DAX;
  return {
    kind: 'accept',
    minor: Math.min(req.minor, FUSE_KERNEL_MINOR_VERSION),
    offered: req.flags & supported,
  };
}

/**
 * Bytes of fuse_init_out a guest of `guestMinor` reads: the kernel sizes its reply buffer from
 * its own struct (out_argvar), so old kernels must not get the 64-byte form.
 */
export function initOutSize(guestMinor: number): number {
  if (guestMinor < 5) return InitOut.COMPAT_SIZE;
  if (guestMinor < 23) return InitOut.COMPAT_22_SIZE;
  return InitOut.SIZE;
}

/**
 * max_background / congestion_threshold: as the Rust virtiofsd. The virtqueue size already
 * bounds requests in flight, so we do not throttle the guest's background (readahead, async
 * direct I/O) requests further.
 */
export const MAX_BACKGROUND = 0xffff;
export const CONGESTION_THRESHOLD = Math.floor(0xffff / 4) * 3;

export interface InitOutParams {
  maxReadahead: number;
  /** Enabled flags, 64-bit. Bits ≥ 32 go to flags2 (only meaningful with INIT_EXT). */
  flags: bigint;
  maxWrite: number;
  maxPages: number;
  /** log2 alignment of DAX mappings, sent when MAP_ALIGNMENT is among `flags`. */
  mapAlignment?: number;
}

/**
 * Encodes fuse_init_out into a zeroed buf[off, off + size). Returns `size`. For `params`
 * undefined only major/minor are filled in (the major > 7 answer).
 */
export function encodeInitOut(buf: Buffer, off: number, size: number, params?: InitOutParams): number {
  buf.fill(0, off, off + size);
  buf.writeUInt32LE(FUSE_KERNEL_VERSION, off + InitOut.major);
  buf.writeUInt32LE(FUSE_KERNEL_MINOR_VERSION, off + InitOut.minor);
  if (params === undefined || size < InitOut.COMPAT_22_SIZE) return size;
  buf.writeUInt32LE(params.maxReadahead >>> 0, off + InitOut.maxReadahead);
  buf.writeUInt32LE(Number(params.flags & 0xffff_ffffn), off + InitOut.flags);
  buf.writeUInt16LE(MAX_BACKGROUND, off + InitOut.maxBackground);
  buf.writeUInt16LE(CONGESTION_THRESHOLD, off + InitOut.congestionThreshold);
  buf.writeUInt32LE(params.maxWrite >>> 0, off + InitOut.maxWrite);
  if (size < InitOut.SIZE) return size;
  buf.writeUInt32LE(1, off + InitOut.timeGran); // nanosecond timestamps
  buf.writeUInt16LE(params.maxPages, off + InitOut.maxPages);
  buf.writeUInt16LE((params.flags & InitFlag.MAP_ALIGNMENT) !== 0n ? (params.mapAlignment ?? 0) : 0, off + InitOut.mapAlignment);
  buf.writeUInt32LE(Number((params.flags >> 32n) & 0xffff_ffffn), off + InitOut.flags2);
  return size;
}

