// The daemon's configuration as the command line resolved it: plain data, every default filled
// in, every value already validated (see options.ts). Nothing here does I/O.

/** FUSE cache policy (virtiofsd's `--cache`; the legacy value `none` is stored as `never`). */
export type CachePolicy = 'auto' | 'always' | 'never' | 'metadata';

/** virtiofsd's log levels (`--log-level`); `off` disables logging. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'off';

export interface DaemonConfig {
  /** Path of the vhost-user socket to create and listen on. Exactly one of socketPath / fd. */
  socketPath?: string;
  /** An inherited, already *listening* Unix socket (Kata passes 3). Exactly one of socketPath / fd. */
  fd?: number;
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
  /** Only `none` is implemented at this stage. */
  sandbox: 'none';
  /** Only `none` is implemented at this stage. */
  seccomp: 'none';
}
