/**
 * Prerequisites of the privileged tests. CI runs as root with a working /dev/fuse, so a test
 * never skips itself over one of these: it calls requireRoot() / requireFuse() (in a beforeAll,
 * or at its top) and fails with a one-line message saying what is missing.
 */
import { accessSync, constants } from 'node:fs';

/** Throws unless this process is root; `why` says what the test needs root for. */
export function requireRoot(why = 'namespaces, capabilities, chown'): void {
  if (process.getuid?.() !== 0) throw new Error(`test needs root (${why}); CI runs as root: run the suite as root`);
}

/** Throws unless this process can mount through /dev/fuse: root, and the device read-write. */
export function requireFuse(): void {
  requireRoot('mounting through /dev/fuse');
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch (e) {
    throw new Error(`test needs a read-write /dev/fuse (${(e as Error).message}); CI has one: load the fuse module`, { cause: e });
  }
}
