/**
 * Checks of guest-controlled input done by the passthrough itself, whatever the FUSE core
 * already validated (defence in depth: GHSA-2gv2-cffp-j227, and O_CREAT smuggled into OPEN).
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import { C } from '../native/syscalls.js';

const NAME_MAX = 255;
const SLASH = 0x2f;
const DOT = 0x2e;

/**
 * A single path component: not empty, no '/', no NUL, not '.' or '..', at most NAME_MAX bytes.
 * Anything else could walk out of the parent directory when the sandbox is off.
 */
export function checkName(name: Buffer): void {
  const n = name.length;
  if (n === 0 || name.indexOf(SLASH) !== -1 || name.indexOf(0) !== -1) {
    throw new ErrnoError(E.EINVAL, 'invalid name');
  }
  if (name[0] === DOT && (n === 1 || (n === 2 && name[1] === DOT))) {
    throw new ErrnoError(E.EINVAL, 'invalid name');
  }
  if (n > NAME_MAX) throw new ErrnoError(E.ENAMETOOLONG);
}

/** A symlink target: stored verbatim (never resolved by us), so only NUL and size matter. */
export function checkSymlinkTarget(target: Buffer): void {
  if (target.length === 0) throw new ErrnoError(E.ENOENT, 'empty symlink target');
  if (target.indexOf(0) !== -1) throw new ErrnoError(E.EINVAL, 'NUL in symlink target');
  if (target.length >= 4096) throw new ErrnoError(E.ENAMETOOLONG);
}

/** open(2) flags a guest may pass through to the host; everything else is dropped. */
const PASSED_THROUGH = C.O_ACCMODE | C.O_APPEND | C.O_NONBLOCK | C.O_SYNC | C.O_DSYNC | C.O_TRUNC | C.O_DIRECTORY;

export interface OpenFlagPolicy {
  /** --allow-direct-io: keep O_DIRECT. */
  allowDirectIo: boolean;
  /** --preserve-noatime: keep O_NOATIME. */
  preserveNoatime: boolean;
  /** FUSE_WRITEBACK_CACHE negotiated: O_WRONLY becomes O_RDWR, O_APPEND is dropped. */
  writeback: boolean;
}

/**
 * The guest's OPEN/CREATE flags reduced to what we honour: O_CREAT, O_EXCL, O_NOCTTY,
 * O_TMPFILE, O_PATH, O_NOFOLLOW, O_ASYNC, O_CLOEXEC and unknown bits are stripped (we add
 * O_CLOEXEC ourselves).
 * - O_DIRECT only with allowDirectIo: the transport reads and writes at guest buffer addresses
 *   after the FUSE header, which O_DIRECT's alignment rules may turn into EINVAL (the Rust
 *   virtiofsd drops it by default too).
 * - O_NOATIME only with preserveNoatime (the Rust virtiofsd's default: it fails with EPERM for
 *   a daemon that is not the owner and lacks CAP_FOWNER).
 * - With the writeback cache the guest reads pages of files it opened write-only and computes
 *   append offsets itself: O_WRONLY → O_RDWR, O_APPEND dropped (as virtiofsd does).
 */
export function openFlags(guestFlags: number, p: OpenFlagPolicy): number {
  let f = guestFlags & (PASSED_THROUGH | (p.allowDirectIo ? C.O_DIRECT : 0) | (p.preserveNoatime ? C.O_NOATIME : 0));
  if (p.writeback) {
    if ((f & C.O_ACCMODE) === C.O_WRONLY) f = (f & ~C.O_ACCMODE) | C.O_RDWR;
    f &= ~C.O_APPEND;
  }
  return f;
}

/** The guest's uid/gid become fsuid/fsgid: they must be real ids (not (u32)-1). */
export function checkIds(ctx: { uid: number; gid: number }): void {
  const { uid, gid } = ctx;
  if (!(Number.isInteger(uid) && uid >= 0 && uid < 0xffffffff && Number.isInteger(gid) && gid >= 0 && gid < 0xffffffff)) {
    throw new ErrnoError(E.EINVAL, 'invalid uid/gid');
  }
}
