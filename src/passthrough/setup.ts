/**
 * From the daemon's configuration to a serving file system: the passthrough with every
 * file-system option of the command line, wrapped read-only for --readonly, plus the
 * RLIMIT_NOFILE policy. Used by both the vhost-user daemon and the host mount.
 */
import { readFileSync } from 'node:fs';
import type { DaemonConfig } from '../cli/config.js';
import type { FileSystem } from '../filesystem/filesystem.js';
import type { FuseServerOptions } from '../fuse/server.js';
import { PassthroughFs, type PassthroughLogger, type PassthroughOptions } from './passthrough.js';
import { readOnly } from './read-only.js';

/** PassthroughOptions for `config` (root given separately: it moves under a sandbox). */
export function passthroughOptions(config: DaemonConfig, root: string, log?: PassthroughLogger, procSelfFd?: number): PassthroughOptions {
  return {
    root,
    procSelfFd,
    cache: config.cache,
    announceSubmounts: config.announceSubmounts,
    logger: log,
    xattr: config.xattr,
    xattrmap: config.xattrmap,
    posixAcl: config.posixAcl,
    securityLabel: config.securityLabel,
    killprivV2: config.killprivV2,
    posixLocks: config.posixLock,
    flockLocks: config.flock,
    inodeFileHandles: config.inodeFileHandles,
    writeback: config.writeback,
    readdirplus: config.readdirplus,
    allowDirectIo: config.allowDirectIo,
    allowMmap: config.allowMmap,
    preserveNoatime: config.preserveNoatime,
    translateUid: config.translateUid,
    translateGid: config.translateGid,
  };
}

export interface ServedFileSystem {
  /** What the FUSE server serves (read-only view with --readonly). */
  fs: FileSystem;
  /** The passthrough itself (close() at exit). */
  passthrough: PassthroughFs;
}

/** Opens the share as configured. Throws (one-line message) when it cannot be served. */
export async function createFileSystem(config: DaemonConfig, root: string, log?: PassthroughLogger, procSelfFd?: number): Promise<ServedFileSystem> {
  const passthrough = await PassthroughFs.create(passthroughOptions(config, root, log, procSelfFd));
  return { fs: config.readonly === true ? readOnly(passthrough) : passthrough, passthrough };
}

/** FuseServer options the configuration implies. */
export function fuseServerOptions(config: DaemonConfig): Pick<FuseServerOptions, 'announceSubmounts'> {
  return { announceSubmounts: config.announceSubmounts };
}

const MAX_DEFAULT_NOFILE = 1_000_000;
/** Descriptors left to the rest of the host when we size our limit from fs.file-max. */
const FILE_MAX_RESERVE = 16_384;

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The RLIMIT_NOFILE to set: --rlimit-nofile N (0: leave the limit), else
 * min(1 000 000, fs.nr_open, fs.file-max − 16384) — the Rust virtiofsd's default, kept below
 * the system-wide table so that a guest holding many files cannot exhaust the host
 * (CVE-2020-10717). undefined: leave it.
 */
export function nofileTarget(config: DaemonConfig, procSys = '/proc/sys/fs'): number | undefined {
  if (config.rlimitNofile !== undefined) return config.rlimitNofile === 0 ? undefined : config.rlimitNofile;
  let n = MAX_DEFAULT_NOFILE;
  const nrOpen = readNumber(`${procSys}/nr_open`);
  if (nrOpen !== undefined) n = Math.min(n, nrOpen);
  const fileMax = readNumber(`${procSys}/file-max`);
  if (fileMax !== undefined) n = Math.min(n, Math.max(1024, fileMax - FILE_MAX_RESERVE));
  return n;
}

/**
 * Applies nofileTarget(): both limits set to it (raising the hard limit needs CAP_SYS_RESOURCE;
 * without it, or when the target is below the current soft limit for the default, the soft limit
 * is raised to the hard one instead). `setNofileLimit` is native.setNofileLimit.
 */
export function applyNofileLimit(config: DaemonConfig, setNofileLimit: (n: number) => number, log: { warn(msg: string): void; info(msg: string): void }): void {
  const target = nofileTarget(config);
  if (target === undefined) return;
  const r = setNofileLimit(target);
  if (r >= 0) {
    log.info(`open-file limit: ${r}`);
    return;
  }
  if (config.rlimitNofile !== undefined) throw new Error(`cannot set the open-file limit to ${target}: errno ${-r}`);
  const fallback = setNofileLimit(0);
  if (fallback < 0) log.warn(`cannot raise the open-file limit: errno ${-fallback}`);
  else log.warn(`cannot set the open-file limit to ${target} (errno ${-r}); using ${fallback}`);
}
