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

/**
 * Told about every open regular-file handle (the native READ/WRITE fast path keeps a copy:
 * src/transport/fast-path.ts). removed() runs when the handle is dropped, before its descriptor
 * can be closed, so an observer never holds a closed descriptor.
 */
export interface HandleObserver {
  added(fh: number, nodeid: number, fd: number): void;
  removed(fh: number): void;
}

export class HandleTable {
  private readonly byFh = new Map<number, HandleData>();
  private nextFh = 1;
  private observer: HandleObserver | undefined = undefined;

  constructor(private readonly closeFd: (fd: number) => void) {}

  get size(): number {
    return this.byFh.size;
  }

  add(nodeid: number, fd: number, isDir: boolean): HandleData {
    const h = new HandleData(this.nextFh++, nodeid, fd, isDir);
    this.byFh.set(h.fh, h);
    if (!isDir) this.observer?.added(h.fh, nodeid, fd);
    return h;
  }

  /** Reports the open file handles now and every change after (one observer). */
  observe(observer: HandleObserver | undefined): void {
    this.observer = observer;
    if (observer === undefined) return;
    for (const h of this.byFh.values()) if (!h.isDir) observer.added(h.fh, h.nodeid, h.fd);
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
    if (!h.isDir) this.observer?.removed(h.fh);
    if (h.pins === 0) this.closeFd(h.fd);
  }
}
