/**
 * Attributes on the host: GETATTR (also without a promise), STATFS, ACCESS, STATX, and
 * SETATTR: mode, owner, size, times — on the open handle when the guest names one (FATTR_FH),
 * else on the inode (through /proc/self/fd, or a fresh O_WRONLY descriptor to truncate). With
 * KILLPRIV_V2 a chown or truncate drops set-uid/set-gid as the kernel would for the caller.
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import { FATTR, type AttrReply, type SetattrRequest } from '../filesystem/filesystem.js';
import * as sys from '../native/syscalls.js';
import { C } from '../native/syscalls.js';
import { check, type PtCore } from './core.js';
import type { HandleData } from './handle-table.js';
import { S_IFDIR, S_IFREG, type Inode } from './inode-table.js';
import type { NodeId, RequestContext, StatfsReply, StatxReply } from '../filesystem/filesystem.js';

export async function setattr(c: PtCore, nodeid: number, req: SetattrRequest): Promise<AttrReply> {
  const v = req.valid;
  const kill = c.killprivV2 && (v & FATTR.KILL_SUIDGID) !== 0;
  const d = c.inodes.acquire(nodeid);
  let h: HandleData | undefined;
  try {
    if ((v & FATTR.FH) !== 0) {
      if (req.fh === undefined) throw new ErrnoError(E.EBADF, 'FATTR_FH without a handle');
      h = c.handles.acquire(req.fh, nodeid);
    }
    if (v & FATTR.MODE) {
      const r = h ? await sys.fchmodat(h.fd, null, req.mode) : await sys.fchmodat(c.procSelfFd, d.procName, req.mode);
      check(r, 'fchmodat');
    }
    if (v & (FATTR.UID | FATTR.GID)) {
      const uid = v & FATTR.UID ? c.s.uidMap.toHost(req.uid) : -1;
      const gid = v & FATTR.GID ? c.s.gidMap.toHost(req.gid) : -1;
      await c.dropCapability(d.fd, d);
      check(await sys.fchownat(d.fd, null, uid, gid, C.AT_SYMLINK_NOFOLLOW), 'fchownat');
      if (kill && !d.isDir) await c.killSuidSgid(d.fd, d);
    }
    if (v & FATTR.SIZE) {
      if (h) {
        await c.dropCapability(h.fd);
        check(await sys.ftruncate(h.fd, req.size), 'ftruncate');
        if (kill) await c.killSuidSgid(h.fd);
      } else {
        await truncateInode(c, d, req.size, kill);
      }
    }
    if (v & (FATTR.ATIME | FATTR.MTIME | FATTR.ATIME_NOW | FATTR.MTIME_NOW)) {
      let aSec = 0;
      let aNsec = C.UTIME_OMIT;
      let mSec = 0;
      let mNsec = C.UTIME_OMIT;
      if (v & FATTR.ATIME_NOW) aNsec = C.UTIME_NOW;
      else if (v & FATTR.ATIME) [aSec, aNsec] = [Number(BigInt.asIntN(64, req.atime)), req.atimensec];
      if (v & FATTR.MTIME_NOW) mNsec = C.UTIME_NOW;
      else if (v & FATTR.MTIME) [mSec, mNsec] = [Number(BigInt.asIntN(64, req.mtime)), req.mtimensec];
      const r = h
        ? await sys.utimensat(h.fd, null, aSec, aNsec, mSec, mNsec, 0)
        : await sys.utimensat(c.procSelfFd, d.procName, aSec, aNsec, mSec, mNsec, 0);
      check(r, 'utimensat');
    }
    // FATTR_CTIME: the host sets ctime itself; LOCKOWNER: no mandatory locks.
    return { attr: await c.stat(d), attrTimeout: c.policy.attrTimeout };
  } finally {
    if (h) c.handles.release(h);
    c.inodes.release(d);
  }
}

async function truncateInode(c: PtCore, d: Inode, size: bigint, kill: boolean): Promise<void> {
  if (d.type === S_IFDIR) throw new ErrnoError(E.EISDIR);
  if (d.type !== S_IFREG) throw new ErrnoError(E.EINVAL);
  const fd = await c.reopen(d, C.O_WRONLY | C.O_NONBLOCK);
  try {
    await c.dropCapability(fd);
    check(await sys.ftruncate(fd, size), 'ftruncate');
    if (kill) await c.killSuidSgid(fd);
  } finally {
    c.closeQuietly(fd);
  }
}

export async function getattr(core: PtCore, _ctx: RequestContext, nodeid: NodeId, _fh: number | undefined): Promise<AttrReply> {
  const d = core.inodes.acquire(nodeid);
  try {
    return { attr: await core.stat(d), attrTimeout: core.policy.attrTimeout };
  } finally {
    core.inodes.release(d);
  }
}

export function getattrSync(core: PtCore, _ctx: RequestContext, nodeid: NodeId, _fh: number | undefined): AttrReply | undefined {
  if (!sys.inline()) return undefined;
  const d = core.inodes.acquire(nodeid);
  try {
    return { attr: core.statSync(d)!, attrTimeout: core.policy.attrTimeout };
  } finally {
    core.inodes.release(d);
  }
}

export async function statfs(core: PtCore, _ctx: RequestContext, nodeid: NodeId): Promise<StatfsReply> {
  const d = core.inodes.acquire(nodeid);
  try {
    const b = Buffer.allocUnsafe(C.STATVFS_SIZE);
    check(await sys.fstatvfs(d.fd, b), 'fstatvfs');
    return {
      bsize: Number(b.readBigUInt64LE(0)),
      frsize: Number(b.readBigUInt64LE(8)),
      blocks: b.readBigUInt64LE(16),
      bfree: b.readBigUInt64LE(24),
      bavail: b.readBigUInt64LE(32),
      files: b.readBigUInt64LE(40),
      ffree: b.readBigUInt64LE(48),
      namelen: Number(b.readBigUInt64LE(80)),
    };
  } finally {
    core.inodes.release(d);
  }
}

export async function access(core: PtCore, ctx: RequestContext, nodeid: NodeId, mask: number): Promise<void> {
  const d = core.inodes.acquire(nodeid);
  try {
    const m = mask & 7; // R_OK | W_OK | X_OK; F_OK: it exists, we hold it
    if (m === 0) return;
    const ids = core.hostIds(ctx);
    check(await sys.faccessat(d.fd, null, m, C.AT_EACCESS | C.AT_SYMLINK_NOFOLLOW, ids.uid, ids.gid, ids.supp), 'faccessat2');
  } finally {
    core.inodes.release(d);
  }
}

/** AT_STATX_SYNC_TYPE (FORCE_SYNC | DONT_SYNC): the only statx flags a guest may pass. */
const AT_STATX_SYNC_TYPE = 0x6000;
const STATX_BASIC_STATS = 0x7ff;
/** struct statx offsets. */
const SX_UID = 20;
const SX_GID = 24;
const SX_DEV_MAJOR = 136;
const SX_DEV_MINOR = 140;
const SX_MNT_ID = 144;

export async function statx(core: PtCore, _ctx: RequestContext, nodeid: number, _fh: number | undefined, flags: number, mask: number): Promise<StatxReply> {
  const d = core.inodes.acquire(nodeid);
  try {
    const out = Buffer.alloc(C.KERNEL_STATX_SIZE);
    const f = C.AT_SYMLINK_NOFOLLOW | (flags & AT_STATX_SYNC_TYPE);
    check(await sys.statxRaw(d.fd, null, f, (mask | STATX_BASIC_STATS) >>> 0, out), 'statx');
    out.writeUInt32LE(core.s.uidMap.toGuest(out.readUInt32LE(SX_UID)), SX_UID);
    out.writeUInt32LE(core.s.gidMap.toGuest(out.readUInt32LE(SX_GID)), SX_GID);
    out.writeUInt32LE(0, SX_DEV_MAJOR);
    out.writeUInt32LE(0, SX_DEV_MINOR);
    out.fill(0, SX_MNT_ID);
    return { statx: out, flags: 0, attrTimeout: core.policy.attrTimeout };
  } finally {
    core.inodes.release(d);
  }
}
