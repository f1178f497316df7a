/**
 * Names and the inodes they lead to, on the host: LOOKUP (also without a promise), UNLINK, RMDIR,
 * RENAME, LINK, READLINK. Every name is checked again here and resolved as one component beneath
 * its parent's descriptor; nothing is followed. (MKNOD, MKDIR and SYMLINK create: create.ts.)
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import type { Entry, NodeId, RequestContext } from '../filesystem/filesystem.js';
import { C } from '../native/syscalls.js';
import { type PtCore, check } from './core.js';
import { checkName } from './guest-input.js';
import { S_IFLNK } from './inode-table.js';
import * as sys from '../native/syscalls.js';

const PATH_MAX = 4096;

export async function lookup(core: PtCore, _ctx: RequestContext, parent: NodeId, name: Buffer): Promise<Entry> {
  checkName(name);
  const p = core.inodes.acquire(parent);
  try {
    return await core.lookupIn(p, name);
  } finally {
    core.inodes.release(p);
  }
}

/** LOOKUP without a promise when the core can (core.lookupInSync); undefined otherwise. */
export function lookupSync(core: PtCore, _ctx: RequestContext, parent: NodeId, name: Buffer): Entry | undefined {
  if (!sys.inline()) return undefined;
  checkName(name);
  const p = core.inodes.acquire(parent);
  try {
    return core.lookupInSync(p, name);
  } finally {
    core.inodes.release(p);
  }
}

export async function unlink(core: PtCore, _ctx: RequestContext, parent: NodeId, name: Buffer): Promise<void> {
  await remove(core, parent, name, 0);
}

export async function rmdir(core: PtCore, _ctx: RequestContext, parent: NodeId, name: Buffer): Promise<void> {
  await remove(core, parent, name, C.AT_REMOVEDIR);
}

export async function rename(core: PtCore, _ctx: RequestContext, parent: NodeId, name: Buffer, newParent: NodeId, newName: Buffer, flags: number): Promise<void> {
  checkName(name);
  checkName(newName);
  if ((flags & ~(C.RENAME_NOREPLACE | C.RENAME_EXCHANGE | C.RENAME_WHITEOUT)) !== 0) {
    throw new ErrnoError(E.EINVAL, 'rename flags');
  }
  const p = core.inodes.acquire(parent);
  try {
    const np = core.inodes.acquire(newParent);
    try {
      // RENAME_WHITEOUT makes a 0:0 character device: the daemon has CAP_MKNOD (as root).
      check(await sys.renameat2(p.fd, name, np.fd, newName, flags), 'renameat2');
    } finally {
      core.inodes.release(np);
    }
  } finally {
    core.inodes.release(p);
  }
}

export async function link(core: PtCore, _ctx: RequestContext, nodeid: NodeId, newParent: NodeId, newName: Buffer): Promise<Entry> {
  checkName(newName);
  const c = core;
  const d = c.inodes.acquire(nodeid);
  try {
    const np = c.inodes.acquire(newParent);
    try {
      // linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH; the /proc link needs nothing (and
      // also links an O_TMPFILE file into the tree, unless it was made with O_EXCL).
      check(await sys.linkat(c.procSelfFd, d.procName, np.fd, newName, C.AT_SYMLINK_FOLLOW), 'linkat');
      return await c.lookupIn(np, newName);
    } finally {
      c.inodes.release(np);
    }
  } finally {
    c.inodes.release(d);
  }
}

export async function readlink(core: PtCore, _ctx: RequestContext, nodeid: NodeId): Promise<Buffer> {
  const d = core.inodes.acquire(nodeid);
  try {
    // readlinkat(fd, "") on anything else says ENOENT; readlink(2) says EINVAL.
    if (d.type !== S_IFLNK) throw new ErrnoError(E.EINVAL, 'not a symlink');
    const buf = Buffer.allocUnsafe(PATH_MAX);
    const n = check(await sys.readlinkat(d.fd, null, buf), 'readlinkat');
    return Buffer.from(buf.subarray(0, n));
  } finally {
    core.inodes.release(d);
  }
}

async function remove(core: PtCore, parent: NodeId, name: Buffer, flags: number): Promise<void> {
  checkName(name);
  const p = core.inodes.acquire(parent);
  try {
    check(await sys.unlinkat(p.fd, name, flags), flags ? 'rmdir' : 'unlink');
  } finally {
    core.inodes.release(p);
  }
}
