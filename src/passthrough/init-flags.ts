/**
 * Which FUSE INIT capabilities the passthrough accepts. The core hands init() the bits both
 * sides could agree on; we keep those our configuration enables and clear the rest:
 * - POSIX_LOCKS / FLOCK_LOCKS only with posix_lock / flock: without them the guest keeps locks
 *   local (what -o no_posix_lock / no_flock mean, and both peers' default);
 * - WRITEBACK_CACHE with --writeback; DIRECT_IO_ALLOW_MMAP with --allow-mmap;
 * - POSIX_ACL + DONT_MASK + SETXATTR_EXT with --posix-acl (all three, or none: the guest must
 *   leave the umask to us exactly when it enforces ACLs);
 * - HANDLE_KILLPRIV_V2 with --killpriv-v2; SECURITY_CTX with --security-label;
 * - CREATE_SUPP_GROUP always (we honour the extension: the creating thread gets that group);
 * - SUBMOUNTS with --announce-submounts; READDIRPLUS unless disabled (or cache=never);
 * - never: EXPORT_SUPPORT (it needs LOOKUP of '.' and '..', which we refuse), HANDLE_KILLPRIV
 *   (v1), DAX bits.
 */
import type { Settings } from './options.js';

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

const ACL_FLAGS = FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT;

/** Bits a configuration may enable; everything else the core offers passes unchanged. */
const OPTIONAL =
  FUSE_POSIX_LOCKS |
  FUSE_FLOCK_LOCKS |
  FUSE_WRITEBACK_CACHE |
  FUSE_DIRECT_IO_ALLOW_MMAP |
  ACL_FLAGS |
  FUSE_HANDLE_KILLPRIV_V2 |
  FUSE_SECURITY_CTX |
  FUSE_SUBMOUNTS |
  FUSE_DO_READDIRPLUS |
  FUSE_READDIRPLUS_AUTO;

const ALWAYS_VETOED = FUSE_EXPORT_SUPPORT | FUSE_HANDLE_KILLPRIV;

export interface AcceptedFlags {
  flags: bigint;
  /** Options the guest could not be given (for a warning). */
  missing: string[];
}

/** `offered` minus what the configuration does not enable. */
export function acceptedInitFlags(offered: bigint, s: Settings): AcceptedFlags {
  let want = FUSE_CREATE_SUPP_GROUP;
  const missing: string[] = [];
  const need = (enabled: boolean, bits: bigint, name: string): void => {
    if (!enabled) return;
    if ((offered & bits) === bits) want |= bits;
    else missing.push(name);
  };
  need(s.posixLocks, FUSE_POSIX_LOCKS, 'posix_lock');
  need(s.flockLocks, FUSE_FLOCK_LOCKS, 'flock');
  need(s.writeback, FUSE_WRITEBACK_CACHE, '--writeback');
  need(s.allowMmap, FUSE_DIRECT_IO_ALLOW_MMAP, '--allow-mmap');
  need(s.posixAcl, ACL_FLAGS, '--posix-acl');
  need(s.killprivV2, FUSE_HANDLE_KILLPRIV_V2, '--killpriv-v2');
  need(s.securityLabel, FUSE_SECURITY_CTX, '--security-label');
  need(s.announceSubmounts, FUSE_SUBMOUNTS, '--announce-submounts');
  if (s.readdirplus) want |= offered & (FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO);
  return { flags: offered & ~ALWAYS_VETOED & (~OPTIONAL | want), missing };
}
