/**
 * From the daemon's configuration to the file system the FUSE core serves, as a stack of
 * wrappers over the passthrough (each one concept, src/filesystem/delegating.ts):
 *
 *   ReadOnlyFileSystem (--readonly)            refuses every change with EROFS
 *     InodeDaxFileSystem (--dax-window)        FUSE_ATTR_DAX for dax=inode guests
 *       DaxFileSystem (--dax-window)           SETUPMAPPING/REMOVEMAPPING, range-copy coherence
 *         PassthroughFs                        the share
 *
 * --readonly is outermost so that nothing beneath it, a writable DAX mapping included, is
 * reached by a modifying request. Used by the vhost-user daemon and the host mount.
 */
import type { DaemonConfig } from '../cli/config.js';
import type { FileSystem } from '../filesystem/filesystem.js';
import type { DaxManager } from '../dax/dax-manager.js';
import type { Logger } from '../logger.js';
import { PassthroughFs, type PassthroughOptions } from '../passthrough/passthrough.js';
import { readOnly } from '../passthrough/read-only.js';

/** PassthroughOptions for `config` (root given separately: it moves under a sandbox). */
export function passthroughOptions(config: DaemonConfig, root: string, log?: Logger, procSelfFd?: number): PassthroughOptions {
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

/** Opens the share as configured. Throws (one-line message) when it cannot be served. */
export function openPassthrough(config: DaemonConfig, root: string, log?: Logger, procSelfFd?: number): Promise<PassthroughFs> {
  return PassthroughFs.create(passthroughOptions(config, root, log, procSelfFd));
}

/** The DAX wrappers' modules, loaded only with a DAX window (start-up compiles what it loads). */
export interface DaxWrappers {
  DaxFileSystem: typeof import('../dax/dax-filesystem.js').DaxFileSystem;
  InodeDaxFileSystem: typeof import('../dax/inode-dax.js').InodeDaxFileSystem;
}

/** The stack the FUSE core serves (see the header). */
export function servedFileSystem(config: DaemonConfig, passthrough: PassthroughFs, dax?: { manager: DaxManager; wrappers: DaxWrappers }): FileSystem {
  let fs: FileSystem = passthrough;
  if (dax !== undefined) {
    fs = new dax.wrappers.DaxFileSystem(fs, dax.manager);
    fs = new dax.wrappers.InodeDaxFileSystem(fs, { minSize: BigInt(config.daxInodeMinSize ?? 0) });
  }
  return config.readonly === true ? readOnly(fs) : fs;
}
