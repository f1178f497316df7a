// The daemon's configuration as the command line resolved it: plain data, every default filled
// in, every value already validated (see options.ts). Nothing here does I/O.

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
  /** `--dax`: protocol choice; 'never' when no window is configured. */
  dax?: DaxMode;
}

export type SandboxMode = 'namespace' | 'chroot' | 'none';
export type SeccompMode = 'kill' | 'log' | 'trap' | 'none';
