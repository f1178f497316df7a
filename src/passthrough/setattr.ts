/**
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
import { S_IFDIR, S_IFREG, type InodeData } from './inode-table.js';

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

async function truncateInode(c: PtCore, d: InodeData, size: bigint, kill: boolean): Promise<void> {
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
