/**
 * The transport's direct I/O: the native READ/WRITE fast path (native/fuse_fast_path.cc) as the
 * FUSE core's DirectIoRegistry. It decides nothing: the file system grants direct I/O per open
 * handle (src/filesystem/filesystem.ts DirectIo), the FUSE core registers the grants and the
 * session's state here (src/fuse/direct-io.ts), and the virtio-fs device hands `native` to each
 * request queue, which answers matching READs/WRITEs while popping them.
 *
 * Set VIRTIOFSD_TS_FAST_PATH=0 to serve every READ and WRITE in JS (for comparisons).
 */
import type { DirectIoLimits, DirectIoRegistry } from '../fuse/direct-io.js';
import { native, type FastPathCounters, type FuseFastPath } from '../native/binding.js';

export class FastPath implements DirectIoRegistry {
  readonly native: FuseFastPath = new native.FuseFastPath();

  register(fh: number, nodeid: number, fd: number, read: boolean, write: boolean): void {
    this.native.register(fh, nodeid, fd, read, write);
  }

  unregister(fh: number): void {
    this.native.unregister(fh);
  }

  whenIdle(nodeid: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.native.whenIdle(nodeid, resolve)) resolve();
    });
  }

  clear(): void {
    this.native.clear();
  }

  serving(up: boolean, limits: DirectIoLimits): void {
    this.native.setSession(up, limits.maxRead, limits.maxWrite, limits.maxErrno);
  }

  counters(): FastPathCounters {
    return this.native.counters();
  }
}

/** Whether the environment asks for the fast path (default on). */
export function fastPathEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.VIRTIOFSD_TS_FAST_PATH !== '0';
}
