/**
 * Open files on the host: OPEN, READ, WRITE, FLUSH, RELEASE, FSYNC, FALLOCATE, LSEEK,
 * COPY_FILE_RANGE, SYNCFS (CREATE and TMPFILE make the file first: create.ts). Each is the host
 * system call on the guest's handle (or inode), errno passed through.
 *
 * - OPEN: the guest's flags reduced (sessionOpenFlags); O_TRUNC drops a remapped
 *   security.capability and, with KILLPRIV_V2, suid/sgid. The reply grants direct I/O
 *   (core.ts addFileHandle).
 * - READ / WRITE move data between the descriptor and the guest's buffers (zero-copy); WRITE
 *   first drops a remapped security.capability (CVE-2021-20263) and, when asked, suid/sgid.
 * - FLUSH: what close(2) of one of the guest's descriptors does on the host: close a duplicate,
 *   drop the closing owner's POSIX locks.
 * - FALLOCATE: every mode the host file system supports (KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE,
 *   COLLAPSE_RANGE, INSERT_RANGE, UNSHARE_RANGE); the host answers EOPNOTSUPP for the others.
 * - LSEEK: the guest only sends SEEK_DATA / SEEK_HOLE (it does SET/CUR/END itself).
 * - COPY_FILE_RANGE: copy_file_range(2) between the two handles (reflink or in-kernel copy).
 * - SYNCFS: with announced submounts the guest sends one per submount and we sync the file
 *   system of that inode; otherwise it sends one for its root, and we sync every host mount the
 *   guest ever reached through us (PtCore.noteMount), so nothing it wrote stays unsynced.
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import * as sys from '../native/syscalls.js';
import { C } from '../native/syscalls.js';
import { check, type PtCore } from './core.js';
import type { HandleId, NodeId, OpenReply, RequestContext, ZeroCopyReader, ZeroCopyWriter } from '../filesystem/filesystem.js';
import { FUSE_OPEN_KILL_SUIDGID, sessionOpenFlags } from './create.js';
import { type Inode, S_IFREG } from './inode-table.js';
import type { LockTable } from './locks.js';

/** fuse_write_in.write_flags: the writer lacks CAP_FSETID (KILLPRIV_V2). */
const FUSE_WRITE_KILL_SUIDGID = 1 << 2;
/** fuse_release_in.release_flags: flush too; drop the flock lock of this open file. */
const FUSE_RELEASE_FLUSH = 1 << 0;
const FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;


export async function fallocate(core: PtCore, _ctx: RequestContext, nodeid: number, fh: number, mode: number, offset: bigint, length: bigint): Promise<void> {
  const h = core.handles.acquire(fh, nodeid);
  try {
    if (h.isDir) throw new ErrnoError(E.EISDIR);
    check(await sys.fallocate(h.fd, mode, offset, length), 'fallocate');
  } finally {
    core.handles.release(h);
  }
}

export async function lseek(core: PtCore, _ctx: RequestContext, nodeid: number, fh: number, offset: bigint, whence: number): Promise<bigint> {
  const h = core.handles.acquire(fh, nodeid);
  try {
    // Directory handles keep their offset for getdents64; the guest never seeks them this way.
    if (h.isDir) throw new ErrnoError(E.EINVAL, 'LSEEK on a directory handle');
    return BigInt(check(await sys.lseek(h.fd, offset, whence), 'lseek'));
  } finally {
    core.handles.release(h);
  }
}

export async function copyFileRange(
  core: PtCore,
  _ctx: RequestContext,
  nodeidIn: number,
  fhIn: number,
  offIn: bigint,
  nodeidOut: number,
  fhOut: number,
  offOut: bigint,
  len: bigint,
  flags: bigint,
): Promise<number> {
  if (flags !== 0n) throw new ErrnoError(E.EINVAL, 'copy_file_range flags');
  const hIn = core.handles.acquire(fhIn, nodeidIn);
  try {
    const hOut = core.handles.acquire(fhOut, nodeidOut);
    try {
      if (hIn.isDir || hOut.isDir) throw new ErrnoError(E.EISDIR);
      await core.dropCapability(hOut.fd);
      return check(await sys.copyFileRange(hIn.fd, offIn, hOut.fd, offOut, len, 0), 'copy_file_range');
    } finally {
      core.handles.release(hOut);
    }
  } finally {
    core.handles.release(hIn);
  }
}

export async function syncfs(core: PtCore, _ctx: RequestContext, nodeid: number): Promise<void> {
  if (core.submounts) {
    const d = core.inodes.acquire(nodeid);
    try {
      if (!d.isOpenable) throw new ErrnoError(E.EBADF, 'SYNCFS of a special file');
      const fd = await core.reopen(d, C.O_RDONLY | C.O_NONBLOCK | (d.isDir ? C.O_DIRECTORY : 0));
      try {
        check(await sys.syncfs(fd), 'syncfs');
      } finally {
        core.closeQuietly(fd);
      }
    } finally {
      core.inodes.release(d);
    }
    return;
  }
  core.inodes.release(core.inodes.acquire(nodeid)); // ESTALE for unknown ids, like every request
  let first: ErrnoError | undefined;
  for (const [pathFd, isDir] of core.mounts()) {
    const fd = await sys.reopen(core.procSelfFd, pathFd, C.O_RDONLY | C.O_NONBLOCK | (isDir ? C.O_DIRECTORY : 0));
    const r = fd < 0 ? fd : await sys.syncfs(fd);
    if (fd >= 0) core.closeQuietly(fd);
    if (r < 0) first ??= new ErrnoError(-r, 'syncfs');
  }
  if (first !== undefined) throw first;
}


export async function open(core: PtCore, _ctx: RequestContext, nodeid: NodeId, flags: number, openFlags = 0): Promise<OpenReply> {
  const d = core.inodes.acquire(nodeid);
  try {
    return await openFile(core, d, sessionOpenFlags(core, flags), (openFlags & FUSE_OPEN_KILL_SUIDGID) !== 0);
  } finally {
    core.inodes.release(d);
  }
}

/** OPEN after the flags were reduced: O_TRUNC drops capabilities and, with KILLPRIV_V2, suid/sgid. */
export async function openFile(core: PtCore, d: Inode, flags: number, kill: boolean): Promise<OpenReply> {
  const c = core;
  const reply = await c.openInode(d, flags);
  if ((flags & C.O_TRUNC) !== 0 && d.type === S_IFREG) {
    const h = c.handles.acquire(reply.fh, d.nodeid);
    try {
      await c.dropCapability(h.fd);
      if (kill && c.killprivV2) await c.killSuidSgid(h.fd);
    } catch (err) {
      c.handles.remove(reply.fh, d.nodeid);
      throw err;
    } finally {
      c.handles.release(h);
    }
  }
  return reply;
}

export async function read(core: PtCore, _ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, size: number, out: ZeroCopyWriter): Promise<number> {
  const h = core.handles.acquire(fh, nodeid);
  try {
    return await out.writeFromFile(h.fd, offset, size);
  } finally {
    core.handles.release(h);
  }
}

export async function write(core: PtCore, _ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, data: ZeroCopyReader, writeFlags: number): Promise<number> {
  const c = core;
  const h = c.handles.acquire(fh, nodeid);
  try {
    await c.dropCapability(h.fd);
    if (c.killprivV2 && (writeFlags & FUSE_WRITE_KILL_SUIDGID) !== 0) await c.killSuidSgid(h.fd);
    return await data.readToFile(h.fd, offset, data.length);
  } finally {
    c.handles.release(h);
  }
}

export async function flush(core: PtCore, locks: LockTable, _ctx: RequestContext, nodeid: NodeId, fh: HandleId, lockOwner: bigint): Promise<void> {
  // What close(2) of one of the guest's descriptors would do on the host: close a duplicate,
  // and drop the closing process's POSIX locks on the file.
  const h = core.handles.acquire(fh, nodeid);
  try {
    locks.releaseOwner(nodeid, lockOwner);
    const dupFd = check(await sys.dup(h.fd), 'dup');
    check(await sys.close(dupFd), 'close');
  } finally {
    core.handles.release(h);
  }
}

export async function release(core: PtCore, locks: LockTable, _ctx: RequestContext, nodeid: NodeId, fh: HandleId, _flags: number, releaseFlags = 0, lockOwner = 0n): Promise<void> {
  if ((releaseFlags & FUSE_RELEASE_FLUSH) !== 0) locks.releaseOwner(nodeid, lockOwner);
  if ((releaseFlags & FUSE_RELEASE_FLOCK_UNLOCK) !== 0) {
    const h = core.handles.acquire(fh, nodeid);
    try {
      await sys.flock(h.fd, C.LOCK_UN);
    } finally {
      core.handles.release(h);
    }
  }
  core.handles.remove(fh, nodeid);
}

export async function fsync(core: PtCore, _ctx: RequestContext, nodeid: NodeId, fh: HandleId, datasync: boolean): Promise<void> {
  const h = core.handles.acquire(fh, nodeid);
  try {
    check(await sys.fsync(h.fd, datasync), datasync ? 'fdatasync' : 'fsync');
  } finally {
    core.handles.release(h);
  }
}
