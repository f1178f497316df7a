/**
 * The daemon's life: prepare the process, open the share, wait for the one front-end
 * connection, serve it, and exit 0 when it goes away (as virtiofsd does: the VMM restarts us
 * for the next VM). Signals end the daemon cleanly.
 */
import { unlinkSync, chownSync } from 'node:fs';
import type { DaemonConfig } from '../cli/config.js';
import { native, type FdWatcher } from '../native/binding.js';
import { FuseServer } from '../fuse/server.js';
import { PassthroughFs } from '../passthrough/passthrough.js';
import { VhostUserBackend } from '../vhost/backend.js';
import { VirtioFsDevice } from '../transport/virtio-fs-device.js';
import type { Logger } from './log.js';

/** The readiness line Kata's runtime-rs waits for on stderr (it has no timeout). */
export const READY_LINE = 'Waiting for vhost-user socket connection...';

/** Request queues we offer; QEMU's vhost-user-fs-pci defaults to one. */
const REQUEST_QUEUES = 8;

const EAGAIN = 11;

export async function runDaemon(config: DaemonConfig, log: Logger): Promise<number> {
  // The guest's umask was applied by its kernel already (we do not negotiate DONT_MASK);
  // ours must not strip permission bits a second time.
  process.umask(0);
  const nofile = native.setNofileLimit(0);
  if (nofile < 0) log.warn(`cannot raise the open-file limit: errno ${-nofile}`);
  native.setPoolSize(config.threadPoolSize);

  const fs = await PassthroughFs.create({
    root: config.sharedDir,
    cache: config.cache,
    announceSubmounts: config.announceSubmounts,
    logger: log,
  });
  const server = new FuseServer(fs, { logger: log, announceSubmounts: config.announceSubmounts });

  const listenFd = openListener(config);
  const cleanupSocket = (): void => {
    if (config.socketPath === undefined) return;
    try {
      unlinkSync(config.socketPath);
    } catch {
      /* already gone */
    }
  };

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

    const device = new VirtioFsDevice({
      requestQueues: REQUEST_QUEUES,
      handler: server,
      log,
      onReset: () => server.reset(),
    });

    process.stderr.write(`${READY_LINE}\n`);
    if (config.syslog) log.info(READY_LINE);
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
    });
  });
}

function openListener(config: DaemonConfig): number {
  if (config.fd !== undefined) {
    if (!native.socketIsListening(config.fd)) {
      throw new Error(`--fd=${config.fd} is not a listening Unix stream socket`);
    }
    native.setBlocking(config.fd, false);
    return config.fd;
  }
  if (config.socketPath === undefined) throw new Error('no --socket-path or --fd given');
  const fd = native.socketListen(config.socketPath);
  if (config.socketGid !== undefined) chownSync(config.socketPath, -1, config.socketGid);
  return fd;
}
