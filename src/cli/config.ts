// The daemon's configuration as the command line resolved it: plain data, every default filled
// in, every value already validated (see options.ts). Nothing here does I/O.

import type { IdMapRule } from '../passthrough/idmap.js';
import type { XattrRule } from '../passthrough/xattrmap.js';

/** FUSE cache policy (virtiofsd's `--cache`; the legacy value `none` is stored as `never`). */
export type CachePolicy = 'auto' | 'always' | 'never' | 'metadata';

/** virtiofsd's log levels (`--log-level`); `off` disables logging. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'off';

/** `--dax`: which DAX mapping protocol to speak (`never` also when no window is configured). */
export type DaxMode = 'auto' | 'shmem' | 'kata' | 'never';

export interface DaemonConfig {
  /** Path of the vhost-user socket to create and listen on. Exactly one of socketPath / fd. */
  socketPath?: string;
  /** An inherited, already *listening* Unix socket (Kata passes 3). Exactly one of socketPath / fd. */
  fd?: number;
  /**
   * `--mount MNT`: serve the share on the host at this mount point through /dev/fuse instead of
   * a vhost-user socket (absolute, symlinks resolved, a directory outside the share; checked at
   * parse time). Exclusive with socketPath / fd.
   */
  mount?: string;
  /** `--socket-group` as given (a name or a numeric gid); only with socketPath. */
  socketGroup?: string;
  /** socketGroup resolved to a gid at parse time (via /etc/group; no NSS): chown(socketPath, -1, socketGid). */
  socketGid?: number;
  /** The share: absolute, symlinks resolved, checked to be a directory at parse time. */
  sharedDir: string;
  cache: CachePolicy;
  /** Syscall worker threads; 0 = run every file-system call inline on the JS thread. */
  threadPoolSize: number;
  /**
   * Tell the guest which directories are mount points (FUSE_SUBMOUNTS / FUSE_ATTR_SUBMOUNT).
   * Default true, as in current Rust virtiofsd releases (`--no-announce-submounts` turns it off).
   */
  announceSubmounts: boolean;
  logLevel: LogLevel;
  /** Log through syslog(3) instead of stderr. */
  syslog: boolean;
  /**
   * `--sandbox` (docs/sandbox.md): `namespace` (default) re-executes the daemon into new mount,
   * pid and net namespaces and pivot_roots into the share; `chroot` chroots into it; `none`
   * only resolves paths beneath it. Always `none` with --mount.
   */
  sandbox: SandboxMode;
  /** `--seccomp` action for system calls outside the allow-list (docs/seccomp.md); default kill. */
  seccomp: SeccompMode;
  /** `--modcaps` (`+name:-name`) as given, validated at parse time (src/sandbox/capabilities.ts). */
  modcaps?: string;
  /** `--tag`: the mount tag answered through GET_CONFIG (only generic front-ends ask). */
  tag?: string;
  /** `--dax-window`: bytes of the DAX window (declared as shared memory region 0). */
  daxWindow?: number;
  /** `--dax`: protocol choice; set only with a window (no window = no DAX). */
  dax?: DaxMode;
  /** `--dax-inode-min-size`: regular files smaller than this carry no FUSE_ATTR_DAX (default 0). */
  daxInodeMinSize?: number;
  /** `--dax-readonly-copies`: SHMEM read-only ranges always from copies, never the file. */
  daxReadonlyCopies?: boolean;

  // File-system semantics (src/cli/fs-options.ts). Set only when given; absent = the default.
  /** --xattr / --no-xattr / -o [no_]xattr (default false; --xattrmap, --posix-acl, --security-label imply it). */
  xattr?: boolean;
  /** --xattrmap rules, parsed. */
  xattrmap?: XattrRule[];
  /** --posix-acl / -o posix_acl (default false). */
  posixAcl?: boolean;
  /** --security-label / -o security_label (default false). */
  securityLabel?: boolean;
  /** --killpriv-v2 / --no-killpriv-v2 (default false). */
  killprivV2?: boolean;
  /** -o posix_lock / --posix-lock (default false: the guest keeps POSIX locks local). */
  posixLock?: boolean;
  /** -o flock / --flock (default false). */
  flock?: boolean;
  /**
   * --inode-file-handles; not given: prefer (as the Rust virtiofsd since 1.13.3), falling back
   * to descriptors quietly where handles cannot work, and never when --modcaps drops
   * dac_read_search (open_by_handle_at needs it) or a DAX window is configured (docs/dax.md).
   */
  inodeFileHandles?: 'never' | 'prefer' | 'mandatory';
  /** --rlimit-nofile (default: min(1000000, fs.nr_open, fs.file-max - 16384)); 0 = leave it. */
  rlimitNofile?: number;
  /** --readonly (default false). */
  readonly?: boolean;
  /** --writeback / -o writeback (default false). */
  writeback?: boolean;
  /** false with --no-readdirplus / -o no_readdirplus (default true; never with cache=never). */
  readdirplus?: boolean;
  /** --allow-direct-io / -o allow_direct_io (default false). */
  allowDirectIo?: boolean;
  /** --allow-mmap (default false). */
  allowMmap?: boolean;
  /** --preserve-noatime (default false). */
  preserveNoatime?: boolean;
  /** --translate-uid / --translate-gid rules, in the order given. */
  translateUid?: IdMapRule[];
  translateGid?: IdMapRule[];
}

export type SandboxMode = 'namespace' | 'chroot' | 'none';
export type SeccompMode = 'kill' | 'log' | 'trap' | 'none';
