/**
 * Typed view of native/dev_fuse.cc: /dev/fuse and mount(2) for the host-mount transport.
 * Same result convention as binding.ts: numbers ≥ 0 are success, negative numbers -errno; the
 * set-up calls (devFuseOpen, fuseMount) throw an Error with `code` and `errno` fields.
 */
import { addon } from './load.js';

export interface DevFuseConstants {
  readonly MS_NOSUID: number;
  readonly MS_NODEV: number;
  readonly MS_NOEXEC: number;
  readonly MS_NOATIME: number;
  readonly MS_RDONLY: number;
  readonly MNT_FORCE: number;
  readonly MNT_DETACH: number;
  readonly UMOUNT_NOFOLLOW: number;
}

export interface DevFuseAddon {
  /** open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK); throws. */
  devFuseOpen: () => number;
  /** mount(2); throws. */
  fuseMount: (source: string, target: string, fstype: string, flags: number, data: string) => void;
  /** umount2(2) on a thread of its own (unmounting may wait for our own replies). */
  umountAsync: (target: string, flags: number, cb: (result: number) => void) => void;
  /** Reads one whole request into buf[off, off + len): bytes, -EAGAIN, -ENODEV, ... */
  devFuseRead: (fd: number, buf: Uint8Array, off: number, len: number) => number;
  /** writev of head[off, off + len) then body[bodyOff, bodyOff + bodyLen): bytes or -errno. */
  devFuseWrite: (fd: number, head: Uint8Array, off: number, len: number, body: Uint8Array | null, bodyOff: number, bodyLen: number) => number;
  readonly devFuseConstants: DevFuseConstants;
}

export const devFuse = addon as DevFuseAddon;
