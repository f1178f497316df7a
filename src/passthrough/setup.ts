/**
 * From the daemon's configuration to a serving file system: the passthrough with every
 * file-system option of the command line, wrapped read-only for --readonly, plus the
 * RLIMIT_NOFILE policy. Used by both the vhost-user daemon and the host mount.
 */
import type { DaemonConfig } from '../cli/config.js';
import type { FileSystem } from '../filesystem/filesystem.js';
import type { FuseServerOptions } from '../fuse/server.js';
import { PassthroughFs, type PassthroughLogger, type PassthroughOptions } from './passthrough.js';
import { readOnly } from './read-only.js';

export { applyNofileLimit, nofileTarget } from './nofile-limit.js';

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

