/**
 * Open files and directories: guest handle numbers (fh) → host descriptors opened for I/O.
 *
 * Like inodes, a handle released (RELEASE / RELEASEDIR / DESTROY) while an operation still uses
 * its descriptor (`pins`) is only closed when that operation ends, so a descriptor number is
 * never closed — and possibly reused — under a running read, write or readdir.
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import { Mutex } from './mutex.js';

export class HandleData {
  pins = 0;
  live = true;
  /** Directories: serialises readdir (lseek + getdents64 share the file offset). */
  readonly dirLock: Mutex | undefined;
  /** Directories: the getdents64 buffer, allocated on first readdir. */
  dirBuf: Buffer | undefined = undefined;
  /**
   * Directories: where the previous READDIR stopped. When the guest continues from exactly that
   * cookie, the entries still in dirBuf[dirPos, dirLen) are used and the descriptor's position
   * is already right: no lseek (which resets ext4's hash cursor) and no re-read.
   */
  dirCursor: bigint | undefined = undefined;
  dirPos = 0;
  dirLen = 0;

  constructor(
    readonly fh: number,
    readonly nodeid: number,
    readonly fd: number,
    readonly isDir: boolean,
  ) {
    this.dirLock = isDir ? new Mutex() : undefined;
  }
}

export class HandleTable {
  private readonly byFh = new Map<number, HandleData>();
  private nextFh = 1;

  constructor(private readonly closeFd: (fd: number) => void) {}

  get size(): number {
    return this.byFh.size;
  }

  add(nodeid: number, fd: number, isDir: boolean): HandleData {
    const h = new HandleData(this.nextFh++, nodeid, fd, isDir);
    this.byFh.set(h.fh, h);
    return h;
  }

  /** Pins handle `fh` of `nodeid` for one operation; EBADF if unknown or not that node's. */
  acquire(fh: number, nodeid: number): HandleData {
    const h = this.byFh.get(fh);
    if (h === undefined || h.nodeid !== nodeid) throw new ErrnoError(E.EBADF, `unknown handle ${fh}`);
    h.pins++;
    return h;
  }

  release(h: HandleData): void {
    if (--h.pins === 0 && !h.live) this.closeFd(h.fd);
  }

  /** RELEASE: forgets the handle; its fd is closed now or when the last user releases it. */
  remove(fh: number, nodeid: number): void {
    const h = this.byFh.get(fh);
    if (h === undefined || h.nodeid !== nodeid) throw new ErrnoError(E.EBADF, `unknown handle ${fh}`);
    this.drop(h);
  }

  clear(): void {
    for (const h of [...this.byFh.values()]) this.drop(h);
  }

  private drop(h: HandleData): void {
    if (!h.live) return;
    h.live = false;
    this.byFh.delete(h.fh);
    if (h.pins === 0) this.closeFd(h.fd);
  }
}
