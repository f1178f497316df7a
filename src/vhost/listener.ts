/**
 * The vhost-user listening socket: an inherited one (--fd, checked) or one created at
 * --socket-path (and chgrp'ed to --socket-group). A module of its own so that the sandbox's
 * outer stage (src/daemon/supervisor.ts) can create it without loading the whole daemon.
 */
import { chownSync } from 'node:fs';
import { native } from '../native/binding.js';

export interface ListenerOptions {
  /** An inherited, already listening Unix socket (--fd). */
  fd?: number;
  /** Else: create and listen on this path (--socket-path)... */
  socketPath?: string;
  /** ...owned by this group (--socket-group, resolved). */
  socketGid?: number;
}

export function openListener(config: ListenerOptions): number {
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
