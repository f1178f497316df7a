/**
 * The JS side of the native READ fast path (native/fuse_fast_path.cc): keeps the native handle
 * table equal to the file system's open regular-file handles and the session state, and folds
 * the requests served natively into the daemon's statistics.
 *
 * Wiring (src/daemon/daemon.ts): the passthrough's handle table reports handles (`handles`),
 * the FUSE server reports when it starts and stops serving (`serving`), and the virtio-fs
 * device hands `native` to each request queue. Set VIRTIOFSD_TS_FAST_PATH=0 to serve every
 * READ in JS (for comparisons).
 */
import { native, type FastPathCounters, type FuseFastPath } from '../native/binding.js';

export class FastReadPath {
  readonly native: FuseFastPath = new native.FuseFastPath();

  /** The passthrough's HandleObserver: register on OPEN/CREATE, unregister before close. */
  readonly handles = {
    added: (fh: number, nodeid: number, fd: number): void => this.native.register(fh, nodeid, fd),
    removed: (fh: number): void => this.native.unregister(fh),
  };

  constructor(private readonly maxRead: number) {}

  /** FuseServer's onServing: READs are served natively only while the session is up. */
  serving(up: boolean): void {
    this.native.setSession(up, this.maxRead);
  }

  counters(): FastPathCounters {
    return this.native.counters();
  }
}

/** Whether the environment asks for the fast path (default on). */
export function fastPathEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.VIRTIOFSD_TS_FAST_PATH !== '0';
}
