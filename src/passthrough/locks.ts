/**
 * GETLK / SETLK / SETLKW: POSIX byte-range locks (-o posix_lock) and flock(2) locks (-o flock).
 *
 * POSIX locks belong to a lock owner (the guest process), are merged and split per owner, and
 * are all dropped when the owner closes any descriptor of the file. We give every (inode,
 * owner) pair its own open file description on the host and take open-file-description locks
 * (F_OFD_*) on it: OFD locks have exactly the per-owner semantics POSIX locks have per process,
 * without the daemon's threads or its pid getting in the way (the C virtiofsd's design too).
 * FLUSH with the owner closes that description, which drops the owner's locks, as close(2) in
 * the guest would. Not preserved: deadlock detection (EDEADLK) — OFD locks have none — and the
 * pid in a GETLK answer is the guest pid of the conflicting owner only when one other owner
 * holds locks on the file, else 0 (holders on the host or several guest owners: unknown).
 *
 * flock locks belong to the open file: they are taken on the descriptor of the guest's handle,
 * so one guest open file = one host open file description, as in the guest.
 *
 * SETLKW: first a non-blocking attempt (inline or on the pool); on conflict, a wait on a
 * dedicated native thread (lock_waiter.h), never on the event loop or a pool worker, so a
 * waiting guest stalls nothing else. FUSE_INTERRUPT of the request (or the end of the session)
 * ends the wait with EINTR.
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import type { FileLock, RequestContext } from '../filesystem/filesystem.js';
import * as sys from '../native/syscalls.js';
import { C } from '../native/syscalls.js';
import type { PtCore } from './core.js';
import type { HandleData } from './handle-table.js';
import type { Inode } from './inode-table.js';

const FUSE_LK_FLOCK = 1;
const OFFSET_MAX = 0x7fff_ffff_ffff_ffffn;
const KIND_OFD = 0;
const KIND_FLOCK = 1;
/** Interval at which an interrupted wait is signalled again (lock_waiter.h explains why). */
const CANCEL_RETRY_MS = 10;

/** The open file description of one POSIX lock owner on one inode. */
interface OwnerFile {
  owner: bigint;
  fd: number;
  /** Guest pid of the last lock taken (for GETLK answers). */
  pid: number;
  /** Holds (or may hold) a lock. */
  held: boolean;
  /** Waits using `fd`; it is closed only when this is 0. */
  busy: number;
  /** FLUSH or eviction asked for it to be closed. */
  closing: boolean;
}

export class LockTable {
  private readonly byInode = new Map<number, Map<bigint, OwnerFile>>();

  constructor(private readonly core: PtCore) {}

  /** Open owner descriptions (tests). */
  get size(): number {
    let n = 0;
    for (const m of this.byInode.values()) n += m.size;
    return n;
  }

  async getlk(_ctx: RequestContext, nodeid: number, fh: number, owner: bigint, lock: FileLock, lkFlags: number): Promise<FileLock> {
    if ((lkFlags & FUSE_LK_FLOCK) !== 0) throw new ErrnoError(E.EINVAL, 'GETLK of a flock lock');
    this.checkPosix();
    this.checkType(lock.type, false);
    const h = this.core.handles.acquire(fh, nodeid);
    const d = this.core.inodes.acquire(nodeid);
    try {
      // The owner's own description (its locks never conflict with themselves), else a fresh one.
      const mine = this.byInode.get(nodeid)?.get(owner);
      if (mine !== undefined) mine.busy++;
      const fd = mine !== undefined ? mine.fd : await this.openFor(d, h);
      try {
        const out = Buffer.alloc(24);
        check(await sys.ofdLock(fd, C.F_OFD_GETLK, lock.type, lock.start, lenOf(lock), out), 'fcntl(F_OFD_GETLK)');
        const type = out.readInt32LE(0);
        if (type === C.F_UNLCK) return { start: lock.start, end: lock.end, type: C.F_UNLCK, pid: 0 };
        const start = out.readBigInt64LE(8);
        const len = out.readBigInt64LE(16);
        return { start, end: len === 0n ? OFFSET_MAX : start + len - 1n, type, pid: this.holderPid(nodeid, owner) };
      } finally {
        if (mine === undefined) this.core.closeQuietly(fd);
        else if (--mine.busy === 0 && mine.closing) this.core.closeQuietly(fd);
      }
    } finally {
      this.core.inodes.release(d);
      this.core.handles.release(h);
    }
  }

  async setlk(ctx: RequestContext, nodeid: number, fh: number, owner: bigint, lock: FileLock, lkFlags: number, wait: boolean): Promise<void> {
    const flock = (lkFlags & FUSE_LK_FLOCK) !== 0;
    if (flock) {
      if (!this.core.s.flockLocks) throw new ErrnoError(E.ENOSYS, 'flock locks are off');
    } else {
      this.checkPosix();
    }
    this.checkType(lock.type, true);
    const h = this.core.handles.acquire(fh, nodeid);
    try {
      if (flock) return await this.flock(ctx, h, lock.type, wait);
      const d = this.core.inodes.acquire(nodeid);
      try {
        await this.posix(ctx, d, h, owner, lock, wait);
      } finally {
        this.core.inodes.release(d);
      }
    } finally {
      this.core.handles.release(h);
    }
  }

  /** FLUSH: the owner closed a descriptor of the file; its POSIX locks go. */
  releaseOwner(nodeid: number, owner: bigint): void {
    const m = this.byInode.get(nodeid);
    const o = m?.get(owner);
    if (m === undefined || o === undefined) return;
    m.delete(owner);
    if (m.size === 0) this.byInode.delete(nodeid);
    o.closing = true;
    if (o.busy === 0) this.core.closeQuietly(o.fd);
  }

  /** The inode left the table (no guest file is open on it any more). */
  dropInode(nodeid: number): void {
    const m = this.byInode.get(nodeid);
    if (m === undefined) return;
    for (const owner of [...m.keys()]) this.releaseOwner(nodeid, owner);
  }

  clear(): void {
    for (const nodeid of [...this.byInode.keys()]) this.dropInode(nodeid);
  }

  // ---- internals ----------------------------------------------------------------------

  private checkPosix(): void {
    if (!this.core.s.posixLocks) throw new ErrnoError(E.ENOSYS, 'POSIX locks are off');
  }

  private checkType(type: number, unlockOk: boolean): void {
    if (type !== C.F_RDLCK && type !== C.F_WRLCK && !(unlockOk && type === C.F_UNLCK)) throw new ErrnoError(E.EINVAL, `lock type ${type}`);
  }

  private async flock(ctx: RequestContext, h: HandleData, type: number, wait: boolean): Promise<void> {
    const op = type === C.F_RDLCK ? C.LOCK_SH : type === C.F_WRLCK ? C.LOCK_EX : C.LOCK_UN;
    const r = await sys.flock(h.fd, op | C.LOCK_NB);
    if (r === 0) return;
    if (r !== -E.EWOULDBLOCK || !wait) throw new ErrnoError(-r, 'flock');
    await this.wait(ctx, h.fd, KIND_FLOCK, op, 0n, 0n);
  }

  private async posix(ctx: RequestContext, d: Inode, h: HandleData, owner: bigint, lock: FileLock, wait: boolean): Promise<void> {
    let o = this.byInode.get(d.nodeid)?.get(owner);
    if (lock.type === C.F_UNLCK) {
      if (o === undefined) return;
      check(await sys.ofdLock(o.fd, C.F_OFD_SETLK, C.F_UNLCK, lock.start, lenOf(lock), null), 'fcntl(F_OFD_SETLK)');
      if (lock.start === 0n && lock.end === OFFSET_MAX) o.held = false;
      return;
    }
    if (o === undefined) o = await this.ownerFile(d, h, owner);
    o.busy++;
    try {
      const r = await sys.ofdLock(o.fd, C.F_OFD_SETLK, lock.type, lock.start, lenOf(lock), null);
      if (r < 0) {
        if ((r !== -E.EAGAIN && r !== -E.EACCES) || !wait) throw new ErrnoError(-r, 'fcntl(F_OFD_SETLK)');
        await this.wait(ctx, o.fd, KIND_OFD, lock.type, lock.start, lenOf(lock));
      }
      o.held = true;
      o.pid = lock.pid;
    } finally {
      if (--o.busy === 0 && o.closing) this.core.closeQuietly(o.fd);
    }
  }

  /** The owner's description, opened now if it has none. */
  private async ownerFile(d: Inode, h: HandleData, owner: bigint): Promise<OwnerFile> {
    const fd = await this.openFor(d, h);
    // Another request of the same owner may have opened one meanwhile: keep the first.
    let m = this.byInode.get(d.nodeid);
    const existing = m?.get(owner);
    if (existing !== undefined) {
      this.core.closeQuietly(fd);
      return existing;
    }
    if (m === undefined) this.byInode.set(d.nodeid, (m = new Map<bigint, OwnerFile>()));
    const o: OwnerFile = { owner, fd, pid: 0, held: false, busy: 0, closing: false };
    m.set(owner, o);
    return o;
  }

  /**
   * A new open file description of the inode: read-write when possible (a write lock needs
   * it), read-only otherwise (then write locks fail with EBADF, as on a read-only file).
   */
  private async openFor(d: Inode, h: HandleData): Promise<number> {
    if (h.isDir) return this.core.reopen(d, C.O_RDONLY | C.O_DIRECTORY);
    const rw = await sys.reopen(this.core.procSelfFd, d.fd, C.O_RDWR | C.O_NONBLOCK);
    if (rw >= 0) return rw;
    return this.core.reopen(d, C.O_RDONLY | C.O_NONBLOCK);
  }

  private holderPid(nodeid: number, owner: bigint): number {
    let pid = 0;
    let holders = 0;
    for (const o of this.byInode.get(nodeid)?.values() ?? []) {
      if (o.owner === owner || !o.held) continue;
      holders++;
      pid = o.pid;
    }
    return holders === 1 ? pid : 0;
  }

  /** A blocking wait on a dedicated thread, ended with EINTR by FUSE_INTERRUPT. */
  private wait(ctx: RequestContext, fd: number, kind: number, arg: number, start: bigint, len: bigint): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      // The callback runs later, on the JS thread (native/lock_waiter.h): `unsubscribe` is set by then.
      const id = sys.sys.sys_lock_wait(fd, kind, arg, start, len, (r) => {
        if (timer !== undefined) clearInterval(timer);
        unsubscribe?.();
        if (r < 0) reject(new ErrnoError(-r, kind === KIND_FLOCK ? 'flock' : 'fcntl(F_OFD_SETLKW)'));
        else resolve();
      });
      if (id < 0) {
        reject(new ErrnoError(-id, 'lock wait'));
        return;
      }
      const cancel = (): void => {
        if (sys.sys.sys_lock_cancel(id) < 0 && timer !== undefined) {
          clearInterval(timer);
          timer = undefined;
        }
      };
      const unsubscribe = ctx.onInterrupt?.(() => {
        cancel();
        timer ??= setInterval(cancel, CANCEL_RETRY_MS);
      });
    });
  }
}

function lenOf(lock: FileLock): bigint {
  return lock.end === OFFSET_MAX ? 0n : lock.end - lock.start + 1n;
}

function check(r: number, syscall: string): number {
  if (r < 0) throw new ErrnoError(-r, syscall);
  return r;
}
