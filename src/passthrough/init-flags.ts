/**
 * Which FUSE INIT capabilities the passthrough accepts. The core hands init() the bits both
 * sides could agree on; we clear those we do not implement (or must not have), e.g.:
 * - DONT_MASK: the guest kernel applies the umask, so CREATE/MKNOD/MKDIR modes are final;
 * - POSIX_LOCKS / FLOCK_LOCKS: no lock support yet, the guest keeps locks local;
 * - WRITEBACK_CACHE, HANDLE_KILLPRIV(_V2), POSIX_ACL, SETXATTR_EXT, SECURITY_CTX,
 *   CREATE_SUPP_GROUP, DIRECT_IO_ALLOW_MMAP: not implemented (the Rust virtiofsd's defaults);
 * - EXPORT_SUPPORT: it needs LOOKUP of '.' and '..', which we refuse;
 * - SUBMOUNTS unless --announce-submounts; READDIRPLUS with cache=never.
 */
export const FUSE_POSIX_LOCKS = 1n << 1n;
export const FUSE_EXPORT_SUPPORT = 1n << 4n;
export const FUSE_DONT_MASK = 1n << 6n;
export const FUSE_FLOCK_LOCKS = 1n << 10n;
export const FUSE_DO_READDIRPLUS = 1n << 13n;
export const FUSE_READDIRPLUS_AUTO = 1n << 14n;
export const FUSE_WRITEBACK_CACHE = 1n << 16n;
export const FUSE_HANDLE_KILLPRIV = 1n << 19n;
export const FUSE_POSIX_ACL = 1n << 20n;
export const FUSE_SUBMOUNTS = 1n << 27n;
export const FUSE_HANDLE_KILLPRIV_V2 = 1n << 28n;
export const FUSE_SETXATTR_EXT = 1n << 29n;
export const FUSE_SECURITY_CTX = 1n << 32n;
export const FUSE_CREATE_SUPP_GROUP = 1n << 34n;
export const FUSE_DIRECT_IO_ALLOW_MMAP = 1n << 36n;

const ALWAYS_VETOED =
  FUSE_POSIX_LOCKS |
  FUSE_EXPORT_SUPPORT |
  FUSE_DONT_MASK |
  FUSE_FLOCK_LOCKS |
  FUSE_WRITEBACK_CACHE |
  FUSE_HANDLE_KILLPRIV |
  FUSE_POSIX_ACL |
  FUSE_HANDLE_KILLPRIV_V2 |
  FUSE_SETXATTR_EXT |
  FUSE_SECURITY_CTX |
  FUSE_CREATE_SUPP_GROUP |
  FUSE_DIRECT_IO_ALLOW_MMAP;

/** `offered` minus what we turn down. */
export function acceptedInitFlags(offered: bigint, announceSubmounts: boolean, readdirplus: boolean): bigint {
  let veto = ALWAYS_VETOED;
  if (!announceSubmounts) veto |= FUSE_SUBMOUNTS;
  if (!readdirplus) veto |= FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO;
  return offered & ~veto;
}
