/**
 * The daemon's life: prepare the process, open the share, wait for the one front-end
 * connection, serve it, and exit 0 when it goes away (as virtiofsd does: the VMM restarts us
 * for the next VM). Signals end the daemon cleanly.
 */
import { unlinkSync } from 'node:fs';
import type { DaemonConfig } from '../cli/config.js';
import { native, type FdWatcher } from '../native/binding.js';
import { FuseServer } from '../fuse/server.js';
import { applyNofileLimit } from '../passthrough/nofile-limit.js';
import { openPassthrough, servedFileSystem } from './file-system.js';
import { VhostUserBackend } from '../vhost/backend.js';
import { VirtioFsDevice } from '../transport/virtio-fs-device.js';
import { FastPath, fastPathEnabled } from '../transport/fast-path.js';
import type { Logger } from '../logger.js';
import { statsSnapshot } from './stats-dump.js';
import { writeFully } from './write-fully.js';
import type { DaxManager, DaxProtocol } from '../dax/dax-manager.js';
import type { ForeignMemoryIo } from '../transport/foreign-memory.js';
import { ProtocolFeature } from '../vhost/protocol.js';
import { enterSandbox, lockDown } from '../sandbox/sandbox.js';
import { openListener } from '../vhost/listener.js';
import { openIdleTrim, trimWhenIdle } from './idle-trim.js';
import type { StartStage } from './stage.js';

/** The readiness line Kata's runtime-rs waits for on stderr (it has no timeout). */
export const READY_LINE = 'Waiting for vhost-user socket connection...';

/**
 * DAX mappings allowed at once with SHMEM: each is a region in our memory table, which we told
 * the front-end holds 509 (GET_MAX_MEM_SLOTS); keep 32 for guest RAM and hot-plug.
 */
const MAX_DAX_SHMEM_MAPPINGS = 509 - 32;

/** Which DAX message family to speak: forced by --dax, else what the front-end negotiated. */
function daxProtocol(config: DaemonConfig, backend: VhostUserBackend | undefined): DaxProtocol {
  if (config.dax === 'kata' || config.dax === 'shmem') return config.dax;
  return backend !== undefined && (backend.protocolFeatures & ProtocolFeature.SHMEM) !== 0n ? 'shmem' : 'kata';
}

/** The DAX window's modules (--dax-window). */
async function loadDax(): Promise<
  typeof import('../dax/dax-manager.js') & typeof import('../dax/dax-filesystem.js') & typeof import('../dax/inode-dax.js') & typeof import('../dax/fs-io.js')
> {
  const [manager, filesystem, inodeDax, io] = await Promise.all([
    import('../dax/dax-manager.js'),
    import('../dax/dax-filesystem.js'),
    import('../dax/inode-dax.js'),
    import('../dax/fs-io.js'),
  ]);
  return { ...manager, ...filesystem, ...inodeDax, ...io };
}

/** Request queues we offer; QEMU's vhost-user-fs-pci defaults to one. */
const REQUEST_QUEUES = 8;

const EAGAIN = 11;

/**
 * `stage` is set when this process is the sandbox supervisor's child (src/daemon/stage.ts):
 * it builds the namespace sandbox itself, and tells a launcher once it listens.
 */
export async function runDaemon(config: DaemonConfig, log: Logger, stage?: StartStage): Promise<number> {
  // --mount: the same FUSE core, served through /dev/fuse on this host (no socket, no VM).
  // Its modules, like DAX's below, are loaded only when asked for: the sandboxed daemon's
  // start-up reads and compiles every module it loads, before it can answer (issue 7).
  if (config.mount !== undefined) return (await import('./host-mount.js')).runHostMount(config, log);
  // The guest's umask was applied by its kernel already (we do not negotiate DONT_MASK);
  // ours must not strip permission bits a second time.
  process.umask(0);
  applyNofileLimit(config, native.setNofileLimit, log);
  native.setPoolSize(config.threadPoolSize);

  // The socket first: after chroot / pivot_root its path is out of reach (src/sandbox).
  const listenFd = openListener(config);
  stage?.listening?.(config.socketPath);
  let cleanupSocket = (): void => {
    if (config.socketPath === undefined) return;
    try {
      unlinkSync(config.socketPath);
    } catch {
      /* already gone */
    }
  };
  let server: FuseServer;
  let fastPath: FastPath | undefined;
  let dax: DaxManager | undefined;
  let backendForDax: VhostUserBackend | undefined;
  const backendRef = (): VhostUserBackend | undefined => backendForDax;
  let kataFsIo: ForeignMemoryIo | undefined;
  try {
    // Before the sandbox: afterwards only the share is reachable.
    const daxModules = config.daxWindow !== undefined && config.dax !== 'never' ? await loadDax() : undefined;
    kataFsIo = daxModules?.fsIo(() => backendRef()?.channel);
    openIdleTrim(log);
    const jail = enterSandbox(config, log, stage);
    cleanupSocket = jail.unlinkSocket;
    const passthrough = await openPassthrough(config, jail.root, log, jail.procSelfFd);
    if (daxModules !== undefined && config.daxWindow !== undefined) {
      dax = new daxModules.DaxManager({
        windowBytes: BigInt(config.daxWindow),
        protocol: () => daxProtocol(config, backendRef()),
        channel: () => backendRef()?.channel,
        source: passthrough,
        log,
        // Each SHMEM mapping becomes a region of our memory table: keep room for guest RAM.
        maxMappings: () => (daxProtocol(config, backendRef()) === 'shmem' ? MAX_DAX_SHMEM_MAPPINGS : Number.MAX_SAFE_INTEGER),
        writable: config.readonly !== true,
        // A read-write descriptor for a read-only range gives the guest nothing FUSE WRITE does
        // not: only where guest root is host root and the share is writable (docs/dax.md).
        shareReadOnlyRanges:
          config.daxReadonlyCopies !== true && config.readonly !== true && !(config.translateUid?.length ?? 0) && !(config.translateGid?.length ?? 0),
      });
    }
    // READ/WRITE on handles the file-system stack grants direct I/O are answered natively
    // (src/fuse/direct-io.ts); VIRTIOFSD_TS_FAST_PATH=0 serves them all in JS, for comparisons.
    fastPath = fastPathEnabled() ? new FastPath() : undefined;
    const fs = servedFileSystem(config, passthrough, dax && daxModules ? { manager: dax, wrappers: daxModules } : undefined);
    server = new FuseServer(fs, {
      logger: log,
      maxRead: 1024 * 1024,
      maxWrite: 1024 * 1024,
      announceSubmounts: config.announceSubmounts,
      mapAlignment: dax ? daxModules?.MAP_ALIGNMENT_LOG2 : undefined,
      directIo: fastPath,
    });
    // dac_read_search only while handles are in use: the start-up probe may have turned them off.
    lockDown({ ...config, fileHandles: passthrough.fileHandles }, log, jail);
  } catch (error) {
    cleanupSocket();
    throw error;
  }

  return new Promise<number>((resolve) => {
    let backend: VhostUserBackend | undefined;
    let acceptWatcher: FdWatcher | undefined;
    let finished = false;

    const finish = (code: number, why: string, error = false): void => {
      if (finished) return;
      finished = true;
      if (error) log.error(why);
      else log.info(why);
      acceptWatcher?.close();
      backend?.close();
      cleanupSocket();
      resolve(code);
    };

    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.on(sig, () => finish(0, `${sig} received, exiting`));
    }
    process.on('SIGHUP', () => log.info('SIGHUP ignored'));
    process.on('SIGUSR1', () => {
      try {
        log.info({ stats: statsSnapshot({ fuse: server.stats, queues: () => device.queueStats(), dax: dax ? () => dax.snapshot() : undefined, fastPath: fastPath ? () => fastPath.counters() : undefined }) }, 'statistics');
      } catch (err) {
        log.warn({ err }, 'cannot gather statistics');
      }
    });

    const device = new VirtioFsDevice({
      requestQueues: REQUEST_QUEUES,
      handler: server,
      log,
      // reset() settles once the session is down; the device does not wait for it.
      onReset: () => void server.reset(),
      tag: config.tag,
      daxWindow: config.daxWindow === undefined ? undefined : BigInt(config.daxWindow),
      // Kata's QEMU keeps the DAX window out of our memory table: I/O there goes through FS_IO.
      foreignIo: () => (dax !== undefined && daxProtocol(config, backendRef()) === 'kata' && backendRef()?.channel !== undefined ? kataFsIo : undefined),
      fastPath: fastPath?.native,
    });

    writeFully(2, `${READY_LINE}\n`);
    if (config.syslog) log.info(READY_LINE);
    trimWhenIdle(
      log,
      () => {
        // What was served: vhost-user messages, FUSE requests through the core, and those the
        // fast path answered.
        let n = backend?.stats.messages ?? 0;
        for (const count of server.stats.requests) n += count;
        const fast = fastPath?.counters();
        return fast === undefined ? n : n + fast.reads + fast.writes;
      },
      () => server.initialized,
    );
    acceptWatcher = new native.FdWatcher(listenFd, () => {
      const fd = native.socketAccept(listenFd);
      if (fd === -EAGAIN) return;
      acceptWatcher?.close();
      acceptWatcher = undefined;
      native.closeFd(listenFd);
      if (fd < 0) {
        log.error(`accept failed: errno ${-fd}`);
        finish(1, 'cannot accept the front-end connection', true);
        return;
      }
      log.info('front-end connected');
      backend = new VhostUserBackend(fd, device, log, (reason) => {
        // Exit 0 either way, as virtiofsd does: the VMM decides what happens next.
        if (reason === undefined) finish(0, 'front-end disconnected, exiting');
        else finish(0, `closing the connection: ${reason}`, true);
      });
      backendForDax = backend;
    });
  });
}
