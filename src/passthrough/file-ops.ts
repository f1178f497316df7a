/**
 * Data and file-system operations beyond read/write: FALLOCATE, LSEEK, COPY_FILE_RANGE, SYNCFS,
 * STATX. Each is the host system call on the guest's handle (or inode), errno passed through.
 *
 * - FALLOCATE: every mode the host file system supports (KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE,
 *   COLLAPSE_RANGE, INSERT_RANGE, UNSHARE_RANGE); the host answers EOPNOTSUPP for the others.
 * - LSEEK: the guest only sends SEEK_DATA / SEEK_HOLE (it does SET/CUR/END itself).
 * - COPY_FILE_RANGE: copy_file_range(2) between the two handles (reflink or in-kernel copy).
 * - SYNCFS: with announced submounts the guest sends one per submount and we sync the file
 *   system of that inode; otherwise it sends one for its root, and we sync every host mount the
 *   guest ever reached through us (PtCore.noteMount), so nothing it wrote stays unsynced.
 * - STATX (7.39): statx(2) of the inode, uid/gid translated, host device numbers withheld.
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import type { RequestContext, StatxReply } from '../filesystem/filesystem.js';
import * as sys from '../native/syscalls.js';
import { C } from '../native/syscalls.js';
import { check, type PtCore } from './core.js';

/** AT_STATX_SYNC_TYPE (FORCE_SYNC | DONT_SYNC): the only statx flags a guest may pass. */
const AT_STATX_SYNC_TYPE = 0x6000;
const STATX_BASIC_STATS = 0x7ff;
/** struct statx offsets. */
const SX_UID = 20;
const SX_GID = 24;
const SX_DEV_MAJOR = 136;
const SX_DEV_MINOR = 140;
const SX_MNT_ID = 144;

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
