/**
 * The creating requests: MKNOD, MKDIR, SYMLINK, CREATE, TMPFILE.
 *
 * - The inode is made in the thread that makes the call with the guest's (translated) fsuid and
 *   fsgid, no supplementary groups but the one the guest sent (FUSE_CREATE_SUPP_GROUP): the host
 *   kernel then applies its own permission, SGID-inheritance and SGID-stripping rules to the
 *   guest's user (guest_creds.h; CVE-2022-0358).
 * - Modes: the guest kernel applied the umask already, unless --posix-acl negotiated DONT_MASK:
 *   then we apply it, except where the parent has a default ACL (which replaces the umask).
 *   The daemon's own umask is 0.
 * - --security-label: the guest's security context (FUSE_SECURITY_CTX) is set on the new inode
 *   (name through --xattrmap); if that fails the inode is removed again and the error returned.
 * - CREATE uses O_CREAT | O_EXCL first and, when the name exists and the guest did not ask for
 *   O_EXCL, opens it through the checked OPEN path (CVE-2020-35517).
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import type { CreateReply, Entry, OpenReply, RequestContext } from '../filesystem/filesystem.js';
import * as sys from '../native/syscalls.js';
import { C } from '../native/syscalls.js';
import { BENEATH, check, LOOKUP_FLAGS, type PtCore } from './core.js';
import { checkName, checkSymlinkTarget, openFlags } from './guest-input.js';
import type { Inode } from './inode-table.js';
import { mapClientName } from './xattr.js';

const R_OK = 4;
const W_OK = 2;
const ACL_DEFAULT = Buffer.from('system.posix_acl_default');
/** fuse_open_in / fuse_create_in open_flags: the caller lacks CAP_FSETID (KILLPRIV_V2). */
export const FUSE_OPEN_KILL_SUIDGID = 1 << 0;

export type NodeKind = 'mknod' | 'mkdir' | 'symlink';

/** The guest's OPEN/CREATE flags as this session honours them. */
export function sessionOpenFlags(core: PtCore, flags: number): number {
  return openFlags(flags, { allowDirectIo: core.s.allowDirectIo, preserveNoatime: core.s.preserveNoatime, writeback: core.writeback });
}

/** The creation mode: with DONT_MASK, the umask applies unless the parent has a default ACL. */
async function creationMode(core: PtCore, parent: Inode, mode: number, umask: number): Promise<number> {
  if (!core.posixAcl) return mode;
  const r = await sys.getxattr(core.procSelfFd, parent.fd, C.XATTR_VIA_REOPEN, ACL_DEFAULT, null);
  return r >= 0 ? mode : mode & ~(umask & 0o777);
}

/** Sets the guest's security context on a new inode (`how`: see syscalls_ext.h). */
async function setSecurityContext(core: PtCore, ctx: RequestContext, fd: number, how: number): Promise<void> {
  const sc = ctx.securityContext;
  if (!core.securityLabel || sc === undefined) return;
  const name = mapClientName(core, sc.name);
  check(await sys.setxattr(core.procSelfFd, fd, how, name, sc.value, 0), 'setxattr (security context)');
}

/** MKNOD, MKDIR, SYMLINK: makes the node as the guest, labels it, looks it up. */
export async function createNode(
  core: PtCore,
  ctx: RequestContext,
  parent: number,
  name: Buffer,
  kind: NodeKind,
  mode: number,
  rdev: number,
  umask: number,
  target?: Buffer,
): Promise<Entry> {
  checkName(name);
  if (kind === 'symlink') checkSymlinkTarget(target!);
  const ids = core.hostIds(ctx);
  const p = core.inodes.acquire(parent);
  try {
    let r: number;
    if (kind === 'symlink') {
      r = await sys.symlinkat(target!, p.fd, name, ids.uid, ids.gid, ids.supp);
    } else {
      const m = await creationMode(core, p, mode, umask);
      r = kind === 'mkdir' ? await sys.mkdirat(p.fd, name, m, ids.uid, ids.gid, ids.supp) : await sys.mknodat(p.fd, name, m, rdev, ids.uid, ids.gid, ids.supp);
    }
    check(r, kind === 'symlink' ? 'symlinkat' : kind === 'mkdir' ? 'mkdirat' : 'mknodat');
    if (core.securityLabel && ctx.securityContext !== undefined) {
      const fd = await sys.openat2(p.fd, name, LOOKUP_FLAGS, 0, BENEATH);
      try {
        check(fd, 'openat2');
        await setSecurityContext(core, ctx, fd, kind === 'mkdir' ? C.XATTR_VIA_REOPEN : C.XATTR_VIA_PATH);
      } catch (err) {
        await sys.unlinkat(p.fd, name, kind === 'mkdir' ? C.AT_REMOVEDIR : 0);
        throw err;
      } finally {
        if (fd >= 0) core.closeQuietly(fd);
      }
    }
    return await core.lookupIn(p, name, true);
  } finally {
    core.inodes.release(p);
  }
}

/** CREATE. */
export async function createFile(
  core: PtCore,
  ctx: RequestContext,
  parent: number,
  name: Buffer,
  mode: number,
  flags: number,
  umask: number,
  kill: boolean,
  open: (d: Inode, flags: number, kill: boolean) => Promise<OpenReply>,
): Promise<CreateReply> {
  checkName(name);
  const ids = core.hostIds(ctx);
  const f = sessionOpenFlags(core, flags) & ~C.O_DIRECTORY;
  const p = core.inodes.acquire(parent);
  try {
    // O_EXCL: never open something that already exists (a FIFO, a device, a symlink) as part of
    // creating; O_NOFOLLOW + RESOLVE_*: never leave the directory.
    const created = f | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
    const m = await creationMode(core, p, mode & 0o7777, umask);
    const fd = await sys.openat2(p.fd, name, created, m, BENEATH, ids.uid, ids.gid, ids.supp);
    if (fd >= 0) {
      let entry: Entry;
      try {
        await setSecurityContext(core, ctx, fd, C.XATTR_VIA_FD);
        entry = await core.lookupIn(p, name, true);
      } catch (err) {
        core.closeQuietly(fd);
        if (core.securityLabel && ctx.securityContext !== undefined) await sys.unlinkat(p.fd, name, 0);
        throw err;
      }
      return { ...core.addFileHandle(entry.nodeid, fd, created), entry };
    }
    if (fd !== -E.EEXIST || (flags & C.O_EXCL) !== 0) throw new ErrnoError(-fd, 'openat2');
    // It exists and the guest did not insist on creating it: open it like OPEN would. The guest
    // kernel believed the name was free, so it checked no permission on the file: we check,
    // with the guest's ids, before opening as root.
    const entry = await core.lookupIn(p, name);
    const d = core.inodes.acquire(entry.nodeid);
    try {
      if (d.isDir) throw new ErrnoError(E.EISDIR);
      if (d.isOpenable) {
        const acc = flags & C.O_ACCMODE;
        const mask = (acc === C.O_WRONLY ? 0 : R_OK) | (acc === C.O_RDONLY && !(flags & C.O_TRUNC) ? 0 : W_OK);
        check(await sys.faccessat(d.fd, null, mask, C.AT_EACCESS | C.AT_SYMLINK_NOFOLLOW, ids.uid, ids.gid, ids.supp), 'faccessat2');
      }
      return { ...(await open(d, f, kill)), entry };
    } catch (err) {
      core.inodes.forget(entry.nodeid, 1);
      throw err;
    } finally {
      core.inodes.release(d);
    }
  } finally {
    core.inodes.release(p);
  }
}

/** TMPFILE: an unnamed regular file in `parent` (O_TMPFILE), opened for the guest. */
export async function createTmpfile(core: PtCore, ctx: RequestContext, parent: number, mode: number, flags: number, umask: number): Promise<CreateReply> {
  const ids = core.hostIds(ctx);
  const acc = flags & C.O_ACCMODE;
  if (acc !== C.O_WRONLY && acc !== C.O_RDWR) throw new ErrnoError(E.EINVAL, 'O_TMPFILE needs write access');
  const f = (sessionOpenFlags(core, flags) & ~(C.O_DIRECTORY | C.O_TRUNC)) | C.O_TMPFILE | (flags & C.O_EXCL);
  const p = core.inodes.acquire(parent);
  try {
    if (!p.isDir) throw new ErrnoError(E.ENOTDIR);
    const m = await creationMode(core, p, mode & 0o7777, umask);
    const fd = check(await sys.openat2(p.fd, Buffer.from('.'), f, m, BENEATH, ids.uid, ids.gid, ids.supp), 'openat2 (O_TMPFILE)');
    let entry: Entry;
    try {
      await setSecurityContext(core, ctx, fd, C.XATTR_VIA_FD);
      // An O_PATH descriptor of the new inode for the table; it has no name to look up.
      const pathFd = check(await sys.reopen(core.procSelfFd, fd, C.O_PATH), 'open (O_PATH)');
      entry = await core.adoptFd(p, pathFd);
    } catch (err) {
      core.closeQuietly(fd);
      throw err;
    }
    return { ...core.addFileHandle(entry.nodeid, fd, f), entry };
  } finally {
    core.inodes.release(p);
  }
}
