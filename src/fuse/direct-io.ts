/**
 * Direct I/O grants, kept by the FUSE core. A file system may answer OPEN / CREATE / TMPFILE
 * with a DirectIo grant (src/filesystem/filesystem.ts): READs and WRITEs on that handle may
 * then be served by the transport itself (native/fuse_fast_path.cc) without entering the file
 * system. This table is the only thing that tells the transport which handles those are, so
 * what is served natively is exactly what the whole file-system stack (wrappers included)
 * granted — nothing is decided beside the seam.
 *
 * Descriptor safety is kept here: a grant is withdrawn before the core asks the file system to
 * release the handle, and all grants before the session ends (the file system closes
 * descriptors only then). Between the end of one session and the start of the next the table
 * is closed: an OPEN still finishing while the core drains gets no grant, so nothing registered
 * can outlive the session's descriptors. Everything runs on the one JS thread the transport's native pop
 * runs on, so a withdrawal takes effect before the next request is taken off a ring.
 */
import type { DirectIo, DirectIoControl, HandleId, NodeId } from '../filesystem/filesystem.js';

/** The transport's side: what it serves natively (implemented over native/fuse_fast_path.cc). */
export interface DirectIoRegistry {
  register(fh: HandleId, nodeid: NodeId, fd: number, read: boolean, write: boolean): void;
  unregister(fh: HandleId): void;
  clear(): void;
  /** Resolves once no request of `nodeid` the transport took off a ring is still being served (a pooled preadv/pwritev). */
  whenIdle(nodeid: NodeId): Promise<void>;
  /**
   * The session starts (`up`) or stops serving; the limits are the core's: READ and WRITE
   * sizes as the core caps them, and the largest errno a reply may carry (larger → EIO).
   */
  serving(up: boolean, limits: DirectIoLimits): void;
}

export interface DirectIoLimits {
  maxRead: number;
  maxWrite: number;
  maxErrno: number;
}

interface Grant {
  nodeid: NodeId;
  fd: number;
  read: boolean;
  write: boolean;
}

export class DirectIoTable implements DirectIoControl {
  private readonly grants = new Map<number, Grant>();
  /** Suspensions per inode (DirectIoControl): its handles stay unregistered meanwhile. */
  private readonly suspended = new Map<number, number>();
  /** Grants are taken only while a session serves (open() … clear()). */
  private accepting = false;

  constructor(private readonly registry: DirectIoRegistry) {}

  /** Handles with a grant (registered or suspended). */
  get size(): number {
    return this.grants.size;
  }

  /** After a successful OPEN / CREATE / TMPFILE reply: register what the file system granted. */
  grant(nodeid: NodeId, fh: HandleId, io: DirectIo | undefined): void {
    if (!this.accepting || io === undefined || !(io.read || io.write)) return;
    if (!Number.isSafeInteger(io.fd) || io.fd < 0 || !Number.isSafeInteger(fh) || fh < 0) return;
    const g: Grant = { nodeid, fd: io.fd, read: io.read === true, write: io.write === true };
    this.grants.set(fh, g);
    if (!this.suspended.has(nodeid)) this.registry.register(fh, nodeid, g.fd, g.read, g.write);
  }

  /**
   * Before RELEASE of handle `fh` of `nodeid` reaches the file system. A RELEASE naming another
   * inode's handle is refused by the file system (which then closes nothing): the grant stays.
   */
  revoke(fh: HandleId, nodeid: NodeId): void {
    if (this.grants.get(fh)?.nodeid !== nodeid) return;
    this.grants.delete(fh);
    this.registry.unregister(fh);
  }

  /** The session serves: grants may be registered. */
  open(): void {
    this.accepting = true;
  }

  /** Before the session ends: no descriptor of the old session stays registered, none is added. */
  clear(): void {
    this.accepting = false;
    this.grants.clear();
    this.suspended.clear();
    this.registry.clear();
  }

  suspend(nodeid: NodeId): Promise<void> {
    const n = this.suspended.get(nodeid) ?? 0;
    this.suspended.set(nodeid, n + 1);
    if (n === 0) for (const [fh, g] of this.grants) if (g.nodeid === nodeid) this.registry.unregister(fh);
    return this.registry.whenIdle(nodeid);
  }

  resume(nodeid: NodeId): void {
    const n = this.suspended.get(nodeid);
    if (n === undefined) return;
    if (n > 1) {
      this.suspended.set(nodeid, n - 1);
      return;
    }
    this.suspended.delete(nodeid);
    for (const [fh, g] of this.grants) if (g.nodeid === nodeid) this.registry.register(fh, nodeid, g.fd, g.read, g.write);
  }
}
