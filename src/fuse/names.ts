/**
 * Validation of the names the guest sends. The FileSystem contract says the core does this, so
 * the passthrough can rely on it (and still resolves beneath the share as defence in depth —
 * GHSA-2gv2-cffp-j227: `..`- or `/`-bearing names escaped a peer when its sandbox was off).
 *
 * Errno choices:
 * - missing NUL, empty name, '/' inside, '.' or '..'   → EINVAL (a malformed request; the C and
 *   Rust peers' path-component validators answer EINVAL for the same inputs)
 * - name longer than NAME_MAX, target longer than 4095 → ENAMETOOLONG (what the syscall would say)
 *
 * '.' and '..' are refused for every name-carrying opcode, LOOKUP included. The kernel sends
 * LOOKUP of "." / ".." only for NFS export (fuse_get_parent / fuse_get_dentry), and only when
 * the server offered FUSE_EXPORT_SUPPORT — which we do not (see init.ts). The Rust virtiofsd
 * accepts them and resolves ".." clamped at the share root (openat2 RESOLVE_IN_ROOT); with no
 * export support negotiated we have no legitimate sender, so we refuse them as malformed.
 */
import { E } from '../filesystem/errors.js';
import { NAME_MAX, SYMLINK_TARGET_MAX } from './abi.js';
import { DecodeError, type ByteReader } from './codec.js';

const SLASH = 0x2f;
const DOT = 0x2e;

/** 0 when `name` is a valid single path component, else the errno to answer. */
export function checkName(name: Buffer): number {
  const n = name.length;
  if (n === 0) return E.EINVAL;
  if (n > NAME_MAX) return E.ENAMETOOLONG;
  if (name.indexOf(SLASH) >= 0) return E.EINVAL;
  if (name.indexOf(0) >= 0) return E.EINVAL; // cannot happen after cstring(); checked for direct callers
  if (name[0] === DOT && (n === 1 || (n === 2 && name[1] === DOT))) return E.EINVAL;
  return 0;
}

/** 0 when `target` is an acceptable symlink target, else the errno. Slashes are fine here. */
export function checkSymlinkTarget(target: Buffer): number {
  if (target.length === 0) return E.EINVAL; // the VFS never sends an empty target (ENOENT there)
  if (target.length > SYMLINK_TARGET_MAX) return E.ENAMETOOLONG;
  if (target.indexOf(0) >= 0) return E.EINVAL;
  return 0;
}

/**
 * Whether a name from the file system may go into a fuse_dirent. The guest kernel rejects a
 * whole READDIR reply (EIO) when any entry has namelen 0, namelen > 1024 or a '/', so a bad
 * host name must be skipped rather than sent. "." and ".." are fine in directory listings.
 */
export function isValidDirentName(name: Buffer): boolean {
  return name.length > 0 && name.length <= NAME_MAX && name.indexOf(SLASH) < 0 && name.indexOf(0) < 0;
}

/** Reads a NUL-terminated name component; throws DecodeError with the errno above. */
export function readName(r: ByteReader, what = 'name'): Buffer {
  const name = r.cstring(what);
  const errno = checkName(name);
  if (errno !== 0) throw new DecodeError(`invalid ${what}`, errno);
  return name;
}

/** Reads a NUL-terminated symlink target; throws DecodeError with the errno above. */
export function readSymlinkTarget(r: ByteReader): Buffer {
  const target = r.cstring('symlink target');
  const errno = checkSymlinkTarget(target);
  if (errno !== 0) throw new DecodeError('invalid symlink target', errno);
  return target;
}
