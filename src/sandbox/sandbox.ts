/**
 * Confining the serving process (docs/sandbox.md): two calls from runDaemon.
 *
 *   enterSandbox  at start, once the listening socket exists: drop supplementary groups
 *                 (CVE-2022-0358), then per --sandbox
 *                   namespace  (inner stage only) slave mounts, fresh /proc, /proc/self/fd kept,
 *                              the share bind-mounted and pivot_root'ed into, old root detached;
 *                   chroot     chroot(2) into the share, no namespaces;
 *                   none       nothing more: paths still resolve beneath the share (openat2).
 *                 Returns where the share now is ('/' when confined) and /proc/self/fd.
 *   lockDown      after the share is open and before the readiness line: capabilities cut to
 *                 what the passthrough needs (every thread, --modcaps applies), then the seccomp
 *                 filter (every thread, --seccomp action).
 *
 * Everything the daemon loads from disk must be loaded before enterSandbox: after it, with
 * `namespace` or `chroot`, only the share is reachable.
 */
import { closeSync, constants as fsc, openSync, unlinkSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { sandbox } from '../native/sandbox.js';
import { C, sys } from '../native/syscalls.js';
import { errnoName } from '../filesystem/errors.js';
import { capabilityMask, keptCapabilities, parseModcaps } from './capabilities.js';
import type { Logger } from '../logger.js';

/** Records instead of filtering (docs/seccomp.md): the file every daemon appends to. */
export const SECCOMP_LEARN_ENV = 'VIRTIOFSD_TS_SECCOMP_LEARN';

/** The sandbox settings runDaemon passes (the CLI's DaemonConfig has them). */
export interface SandboxConfig {
  /** The share: the new root. */
  sharedDir: string;
  /** The --socket-path socket, removed at exit. */
  socketPath?: string;
  sandbox: 'namespace' | 'chroot' | 'none';
  seccomp: 'kill' | 'log' | 'trap' | 'none';
  /** `--modcaps` as given; validated at parse time. */
  modcaps?: string;
  /** --inode-file-handles other than never: keep CAP_DAC_READ_SEARCH. */
  fileHandles?: boolean;
}

/** How this process was started, as the daemon's two-stage start-up tells it (src/daemon/stage.ts). */
export interface SandboxStage {
  /** This is the inner stage: new mount, pid and net namespaces already exist. */
  inner: true;
}

export interface Jail {
  mode: SandboxConfig['sandbox'];
  /** The share as this process now names it: '/' once confined. */
  root: string;
  /** /proc/self/fd opened before /proc became unreachable (undefined with `none`). */
  procSelfFd?: number;
  /** Removes the --socket-path socket at exit (a no-op where the supervisor does it). */
  unlinkSocket: () => void;
  /** Internal: /proc/self/task and the seccomp learning file, closed or used by lockDown. */
  taskFd: number;
  learnFd: number;
}

function isRoot(): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0;
}

function fail(what: string, error: unknown): never {
  const e = error as { code?: string; syscall?: string; message?: string };
  const detail = e.code !== undefined ? `${e.syscall ?? 'failed'}: ${e.code}` : (e.message ?? String(error));
  throw new Error(`sandbox: ${what}: ${detail}`);
}

/** Step 1; see the top of this file. `stage` is set only in the supervisor's child. */
export function enterSandbox(config: SandboxConfig, log: Logger, stage?: SandboxStage): Jail {
  if (isRoot()) {
    const r = sandbox.sandboxDropGroups();
    if (r < 0) throw new Error(`sandbox: cannot drop supplementary groups: ${errnoName(-r)}`);
  }
  const learnPath = config.seccomp === 'none' ? undefined : process.env[SECCOMP_LEARN_ENV];
  const learnFd = learnPath ? openSync(learnPath, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT, 0o644) : -1;
  if (learnPath) log.warn(`${SECCOMP_LEARN_ENV} is set: seccomp records system calls instead of filtering them`);

  if (config.sandbox === 'namespace') {
    if (stage?.inner !== true || process.pid !== 1) {
      // pivot_root here would move the *host's* root: only the supervisor's child may do this.
      throw new Error('sandbox: --sandbox=namespace must be entered through the supervisor (internal error)');
    }
    let fds;
    try {
      fds = sandbox.sandboxEnterNamespace(config.sharedDir);
    } catch (error) {
      fail('cannot set up the namespace sandbox', error);
    }
    log.info(`sandbox: namespace (pivot_root into ${config.sharedDir})`);
    // The supervisor, outside, unlinks the socket: its path is not visible from here.
    return { mode: 'namespace', root: '/', procSelfFd: fds.procSelfFd, taskFd: fds.taskFd, learnFd, unlinkSocket: () => {} };
  }

  if (config.sandbox === 'chroot') {
    // The socket's directory, kept open to unlink the socket by name after chroot.
    let socketDir = -1;
    if (config.socketPath !== undefined) {
      const r = sys.sys_openat2(C.AT_FDCWD, Buffer.from(dirname(config.socketPath)), C.O_PATH | C.O_DIRECTORY, 0, 0, -1, -1)!;
      if (r >= 0) socketDir = r;
    }
    let fds;
    try {
      fds = sandbox.sandboxEnterChroot(config.sharedDir);
    } catch (error) {
      fail('cannot chroot into the shared directory', error);
    }
    log.info(`sandbox: chroot into ${config.sharedDir}`);
    const name = config.socketPath === undefined ? undefined : Buffer.from(basename(config.socketPath));
    return {
      mode: 'chroot',
      root: '/',
      procSelfFd: fds.procSelfFd,
      taskFd: fds.taskFd,
      learnFd,
      unlinkSocket: () => {
        if (socketDir >= 0 && name !== undefined) sys.sys_unlinkat(socketDir, name, 0);
      },
    };
  }

  const taskFd = openSync('/proc/self/task', fsc.O_RDONLY | fsc.O_DIRECTORY);
  return {
    mode: 'none',
    root: config.sharedDir,
    taskFd,
    learnFd,
    unlinkSocket: () => {
      if (config.socketPath === undefined) return;
      try {
        unlinkSync(config.socketPath);
      } catch {
        /* already gone */
      }
    },
  };
}

/** Step 2; see the top of this file. */
export function lockDown(config: SandboxConfig, log: Logger, jail: Jail): void {
  try {
    if (isRoot()) {
      const keep = keptCapabilities(config.modcaps === undefined ? undefined : parseModcaps(config.modcaps), config.fileHandles ?? false);
      const mask = capabilityMask(keep);
      let result;
      try {
        result = sandbox.sandboxDropCapabilities(mask.lo, mask.hi, jail.taskFd);
      } catch (error) {
        fail('cannot drop capabilities', error);
      }
      log.info(`capabilities: kept ${keep.join(', ') || 'none'} in ${result.threads} threads`);
    }
  } finally {
    if (jail.taskFd >= 0) closeSync(jail.taskFd);
    jail.taskFd = -1;
  }
  if (config.seccomp === 'none') return;
  let n;
  try {
    n = sandbox.sandboxInstallSeccomp(config.seccomp, jail.learnFd);
  } catch (error) {
    fail('cannot install the seccomp filter', error);
  }
  if (jail.learnFd < 0) log.info(`seccomp: ${n} system calls allowed, action '${config.seccomp}' for the rest`);
}
