/**
 * The JS side of the native READ/WRITE fast path (native/fuse_fast_path.cc): keeps the native
 * handle table equal to the file system's open regular-file handles and the session state, and
 * folds the requests served natively into the daemon's statistics.
 *
 * Wiring (src/daemon/daemon.ts): the passthrough's handle table reports handles (`handles`),
 * the FUSE server reports when it starts and stops serving (`serving`), and the virtio-fs
 * device hands `native` to each request queue. Set VIRTIOFSD_TS_FAST_PATH=0 to serve every
 * READ and WRITE in JS (for comparisons).
 */
import { native, type FastPathCounters, type FuseFastPath } from '../native/binding.js';

export interface FastPathOptions {
  /** The FUSE server's max_read and max_write. */
  maxRead: number;
  maxWrite: number;
  /**
   * Whether a WRITE needs nothing from the file system but pwritev on the handle: false with
   * --readonly (EROFS) or when security.capability is remapped (the passthrough removes it
   * before each write, CVE-2021-20263). WRITEs asking to kill suid/sgid always go to JS.
   */
  writesOk: boolean;
}

export class FastPath {
  readonly native: FuseFastPath = new native.FuseFastPath();

  /** The passthrough's HandleObserver: register on OPEN/CREATE, unregister before close. */
  readonly handles = {
    added: (fh: number, nodeid: number, fd: number): void => this.native.register(fh, nodeid, fd),
    removed: (fh: number): void => this.native.unregister(fh),
  };

  constructor(private readonly options: FastPathOptions) {}

  /** FuseServer's onServing: requests are served natively only while the session is up. */
  serving(up: boolean): void {
    const o = this.options;
    this.native.setSession(up, o.maxRead, o.maxWrite, o.writesOk);
  }

  counters(): FastPathCounters {
    return this.native.counters();
  }
}

/** Whether the environment asks for the fast path (default on). */
export function fastPathEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.VIRTIOFSD_TS_FAST_PATH !== '0';
}
