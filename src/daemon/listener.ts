/**
 * The vhost-user listening socket: an inherited one (--fd, checked) or one created at
 * --socket-path (and chgrp'ed to --socket-group). Kept apart from daemon.ts so that the sandbox's
 * outer stage (src/sandbox/supervisor.ts) can create it without loading the whole daemon.
 */
import { chownSync } from 'node:fs';
import type { DaemonConfig } from '../cli/config.js';
import { native } from '../native/binding.js';

export function openListener(config: DaemonConfig): number {
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
