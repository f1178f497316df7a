/**
 * SETXATTR / GETXATTR / LISTXATTR / REMOVEXATTR (--xattr, implied by --xattrmap, --posix-acl and
 * --security-label; without it every one answers ENOSYS, and the guest stops asking).
 *
 * - Every inode type is reached through the /proc/self/fd directory (the f*xattr calls refuse
 *   O_PATH descriptors): files and directories are reopened read-only, anything else is named
 *   by its magic link (native/syscalls_ext.h).
 * - Names go through --xattrmap: a `bad` rule answers EPERM (GETXATTR: ENODATA, so the guest sees
 *   "no such attribute", as the Rust virtiofsd answers), `unsupported` ENOTSUP; LISTXATTR hides
 *   and renames accordingly.
 * - Without --posix-acl the ACL attributes (system.posix_acl_access / _default) are refused
 *   (EOPNOTSUPP) and hidden: the guest would not enforce them, the host would (on the daemon).
 * - With --posix-acl, FUSE_SETXATTR_ACL_KILL_SGID on an access ACL clears S_ISGID first, which the
 *   host kernel does not do for the daemon (it has CAP_FSETID).
 * - The guest's permission checks already ran (default_permissions); the daemon acts as root.
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import type { RequestContext } from '../filesystem/filesystem.js';
import * as sys from '../native/syscalls.js';
import { check, type PtCore } from './core.js';

const ACL_ACCESS = Buffer.from('system.posix_acl_access');
const ACL_DEFAULT = Buffer.from('system.posix_acl_default');
const FUSE_SETXATTR_ACL_KILL_SGID = 1;
const XATTR_LIST_MAX = 65536;

function isAclName(name: Buffer): boolean {
  return name.equals(ACL_ACCESS) || name.equals(ACL_DEFAULT);
}

/** The host name for a guest name; throws the errno the guest must get. */
export function mapClientName(core: PtCore, name: Buffer): Buffer {
  if (!core.posixAcl && isAclName(name)) throw new ErrnoError(E.EOPNOTSUPP, 'POSIX ACLs are off (--posix-acl)');
  const map = core.s.xattrmap;
  if (map === undefined) return name;
  const m = map.mapClient(name);
  if ('name' in m) return m.name;
  throw new ErrnoError(m.errno === 'EPERM' ? E.EPERM : E.EOPNOTSUPP, '--xattrmap');
}

function enabled(core: PtCore): void {
  if (!core.s.xattr) throw new ErrnoError(E.ENOSYS, 'extended attributes are off (--xattr)');
}

export async function setxattr(
  core: PtCore,
  _ctx: RequestContext,
  nodeid: number,
  name: Buffer,
  value: Buffer,
  flags: number,
  setxattrFlags: number,
): Promise<void> {
  enabled(core);
  const host = mapClientName(core, name);
  const d = core.inodes.acquire(nodeid);
  try {
    if (core.posixAcl && (setxattrFlags & FUSE_SETXATTR_ACL_KILL_SGID) !== 0 && host.equals(ACL_ACCESS)) await core.killSgid(d);
    check(await sys.setxattr(core.procSelfFd, d.fd, core.xattrHow(d), host, value, flags), 'setxattr');
  } finally {
    core.inodes.release(d);
  }
}

export async function getxattr(core: PtCore, _ctx: RequestContext, nodeid: number, name: Buffer, size: number): Promise<Buffer | number> {
  enabled(core);
  let host: Buffer;
  try {
    host = mapClientName(core, name);
  } catch (err) {
    if (err instanceof ErrnoError && err.errno === E.EPERM) throw new ErrnoError(E.ENODATA, 'hidden by --xattrmap');
    throw err;
  }
  const d = core.inodes.acquire(nodeid);
  try {
    const how = core.xattrHow(d);
    if (size === 0) return check(await sys.getxattr(core.procSelfFd, d.fd, how, host, null), 'getxattr');
    const buf = Buffer.allocUnsafe(size);
    const n = check(await sys.getxattr(core.procSelfFd, d.fd, how, host, buf), 'getxattr');
    return buf.subarray(0, n);
  } finally {
    core.inodes.release(d);
  }
}

/** The host's list, filtered and renamed for the guest. */
function filterList(core: PtCore, list: Buffer): Buffer {
  const map = core.s.xattrmap;
  if (map === undefined && core.posixAcl) return list;
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    if (list[i] !== 0) continue;
    const name = list.subarray(start, i);
    start = i + 1;
    if (name.length === 0 || (!core.posixAcl && isAclName(name))) continue;
    const shown = map === undefined ? name : map.mapServer(name);
    if (shown !== undefined && shown.length > 0) out.push(shown, Buffer.alloc(1));
  }
  return Buffer.concat(out);
}

export async function listxattr(core: PtCore, _ctx: RequestContext, nodeid: number, size: number): Promise<Buffer | number> {
  enabled(core);
  const d = core.inodes.acquire(nodeid);
  try {
    const how = core.xattrHow(d);
    const filtered = core.s.xattrmap !== undefined || !core.posixAcl;
    if (size === 0 && !filtered) return check(await sys.listxattr(core.procSelfFd, d.fd, how, null), 'listxattr');
    // The whole host list (it may grow between the size query and the read: retry).
    for (let attempt = 0; ; attempt++) {
      const need = check(await sys.listxattr(core.procSelfFd, d.fd, how, null), 'listxattr');
      const buf = Buffer.allocUnsafe(Math.min(Math.max(need, 1), XATTR_LIST_MAX));
      const n = await sys.listxattr(core.procSelfFd, d.fd, how, buf);
      if (n === -E.ERANGE && attempt < 3) continue;
      const list = filterList(core, buf.subarray(0, check(n, 'listxattr')));
      if (size === 0) return list.length;
      if (list.length > size) throw new ErrnoError(E.ERANGE);
      return list;
    }
  } finally {
    core.inodes.release(d);
  }
}

export async function removexattr(core: PtCore, _ctx: RequestContext, nodeid: number, name: Buffer): Promise<void> {
  enabled(core);
  const host = mapClientName(core, name);
  const d = core.inodes.acquire(nodeid);
  try {
    check(await sys.removexattr(core.procSelfFd, d.fd, core.xattrHow(d), host), 'removexattr');
  } finally {
    core.inodes.release(d);
  }
}
