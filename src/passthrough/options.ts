/**
 * The passthrough's configuration: what the caller may ask for (PassthroughOptions, every
 * field but the first three optional) and the resolved, validated form the modules read.
 * Defaults are the Rust virtiofsd's: no xattrs, no locks, no writeback, O_DIRECT and O_NOATIME
 * dropped, READDIRPLUS on (except with cache=never), inodes held by O_PATH descriptors.
 */
import type { Logger } from '../logger.js';
import type { CacheMode } from './cache-policy.js';
import { IdMapper, type IdMapRule } from './idmap.js';
import { XattrMap, type XattrRule } from './xattrmap.js';
import { DEFAULT_OPEN_CACHE } from './inode-table.js';

export type InodeFileHandles = 'never' | 'prefer' | 'mandatory';

export interface PassthroughOptions {
  /** The shared directory. */
  root: string;
  cache: CacheMode;
  /** Set FUSE_ATTR_SUBMOUNT on directories that are mount points (if the guest agreed). */
  announceSubmounts: boolean;
  logger?: Logger;
  /** Honour the guest's O_DIRECT (--allow-direct-io). Default false: dropped. */
  allowDirectIo?: boolean;
  /** Keep the guest's O_NOATIME (--preserve-noatime). Default false: dropped. */
  preserveNoatime?: boolean;
  /** Offer FUSE_WRITEBACK_CACHE (--writeback). */
  writeback?: boolean;
  /** READDIRPLUS (--no-readdirplus turns it off; never offered with cache=never). Default true. */
  readdirplus?: boolean;
  /** Offer FUSE_DIRECT_IO_ALLOW_MMAP (--allow-mmap). */
  allowMmap?: boolean;
  /** SETXATTR/GETXATTR/LISTXATTR/REMOVEXATTR (--xattr; implied by the next three). */
  xattr?: boolean;
  /** --xattrmap rules. */
  xattrmap?: readonly XattrRule[];
  /** FUSE_POSIX_ACL (--posix-acl). */
  posixAcl?: boolean;
  /** FUSE_SECURITY_CTX (--security-label). */
  securityLabel?: boolean;
  /** FUSE_HANDLE_KILLPRIV_V2 (--killpriv-v2). */
  killprivV2?: boolean;
  /** POSIX byte-range locks as OFD locks (-o posix_lock / --posix-lock). */
  posixLocks?: boolean;
  /** flock(2) locks (-o flock / --flock). */
  flockLocks?: boolean;
  /**
   * --inode-file-handles. Not given: prefer, and a share where handles do not work (or a
   * process that may not open them) falls back to descriptors with an info line, not a warning.
   */
  inodeFileHandles?: InodeFileHandles;
  /**
   * Descriptors of unused handle-backed inodes kept open (inode-table.ts; not a command-line
   * option: tests make it small). Default DEFAULT_OPEN_CACHE.
   */
  handleDescriptorCache?: number;
  /** --translate-uid / --translate-gid rules. */
  translateUid?: readonly IdMapRule[];
  translateGid?: readonly IdMapRule[];
  /**
   * An O_PATH descriptor of /proc/self/fd opened by the sandbox before /proc became unreachable
   * (pivot_root / chroot, src/sandbox); the file system owns it from then on. Default: open
   * '/proc/self/fd' by path.
   */
  procSelfFd?: number;
}

export interface Settings {
  readonly root: string;
  /** PassthroughOptions.procSelfFd. */
  readonly procSelfFd: number | undefined;
  readonly cache: CacheMode;
  readonly announceSubmounts: boolean;
  readonly allowDirectIo: boolean;
  readonly preserveNoatime: boolean;
  readonly writeback: boolean;
  readonly readdirplus: boolean;
  readonly allowMmap: boolean;
  readonly xattr: boolean;
  readonly xattrmap: XattrMap | undefined;
  /** The host name `security.capability` is remapped to, when --xattrmap remaps it. */
  readonly capabilityXattr: Buffer | undefined;
  readonly posixAcl: boolean;
  readonly securityLabel: boolean;
  readonly killprivV2: boolean;
  readonly posixLocks: boolean;
  readonly flockLocks: boolean;
  inodeFileHandles: InodeFileHandles;
  /** inodeFileHandles is the default, not the user's choice. */
  readonly inodeFileHandlesDefault: boolean;
  readonly handleDescriptorCache: number;
  readonly uidMap: IdMapper;
  readonly gidMap: IdMapper;
}

const CAPABILITY = Buffer.from('security.capability');

/** Validates and fills in defaults. Throws Error for contradictory options. */
export function resolveOptions(o: PassthroughOptions): Settings {
  const xattrmap = o.xattrmap !== undefined ? new XattrMap(o.xattrmap) : undefined;
  let capabilityXattr: Buffer | undefined;
  if (xattrmap !== undefined) {
    const m = xattrmap.mapClient(CAPABILITY);
    if ('name' in m && !m.name.equals(CAPABILITY)) capabilityXattr = m.name;
  }
  const uidMap = new IdMapper(o.translateUid ?? []);
  const gidMap = new IdMapper(o.translateGid ?? []);
  const posixAcl = o.posixAcl ?? false;
  if (posixAcl && !(uidMap.identity && gidMap.identity)) {
    throw new Error('--posix-acl cannot be combined with --translate-uid/--translate-gid (ACLs name host ids)');
  }
  const securityLabel = o.securityLabel ?? false;
  return {
    root: o.root,
    procSelfFd: o.procSelfFd,
    cache: o.cache,
    announceSubmounts: o.announceSubmounts,
    allowDirectIo: o.allowDirectIo ?? false,
    preserveNoatime: o.preserveNoatime ?? false,
    writeback: o.writeback ?? false,
    readdirplus: (o.readdirplus ?? true) && o.cache !== 'never',
    allowMmap: o.allowMmap ?? false,
    xattr: (o.xattr ?? false) || posixAcl || securityLabel || xattrmap !== undefined,
    xattrmap,
    capabilityXattr,
    posixAcl,
    securityLabel,
    killprivV2: o.killprivV2 ?? false,
    posixLocks: o.posixLocks ?? false,
    flockLocks: o.flockLocks ?? false,
    inodeFileHandles: o.inodeFileHandles ?? 'prefer',
    inodeFileHandlesDefault: o.inodeFileHandles === undefined,
    handleDescriptorCache: o.handleDescriptorCache ?? DEFAULT_OPEN_CACHE,
    uidMap,
    gidMap,
  };
}
