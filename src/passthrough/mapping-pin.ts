/**
 * Descriptors for DAX mappings (src/dax/dax-manager.ts MappingSource): what the front-end maps
 * into the window, pinned until the manager lets go.
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import { StatField, STAT_RECORD_SIZE, type HandleId, type NodeId } from '../filesystem/filesystem.js';
import { native } from '../native/binding.js';
import * as sys from '../native/syscalls.js';
import { C } from '../native/syscalls.js';
import { check, type PtCore } from './core.js';
import { S_IFREG } from './inode-table.js';

export interface PinnedFile {
  fd: number;
  size: bigint;
  unpin: () => void;
}

/**
 * DAX (src/dax/dax-manager.ts MappingSource): a descriptor for the front-end to map, pinned
 * until unpin(). Linux's DAX code sends no handle (fh undefined): then the inode itself is opened
 * for the mapping (read-only or read-write as asked) and closed at unpin — the front-end's
 * mapping keeps its own reference. With a handle, a writable mapping needs one open for
 * writing.
 */
export async function pinForMapping(c: PtCore, nodeid: NodeId, fh: HandleId | undefined, write: boolean): Promise<PinnedFile> {
  if (fh === undefined) {
    const d = c.inodes.acquire(nodeid);
    try {
      if (d.type !== S_IFREG) throw new ErrnoError(E.EINVAL, 'only regular files can be mapped');
      const fd = await c.reopen(d, write ? C.O_RDWR : C.O_RDONLY);
      let open = true;
      return {
        fd,
        size: await sizeOf(fd).catch((err: unknown) => {
          void sys.close(fd);
          throw err;
        }),
        unpin: () => {
          if (open) void sys.close(fd);
          open = false;
        },
      };
    } finally {
      c.inodes.release(d);
    }
  }
  const h = c.handles.acquire(fh, nodeid);
  if (h.isDir || (write && native.fdAccessMode(h.fd) === 0 /* O_RDONLY */)) {
    c.handles.release(h);
    throw new ErrnoError(h.isDir ? E.EISDIR : E.EACCES, 'handle cannot back this mapping');
  }
  let pinned = true;
  const unpin = (): void => {
    if (pinned) c.handles.release(h);
    pinned = false;
  };
  try {
    return { fd: h.fd, size: await sizeOf(h.fd), unpin };
  } catch (err) {
    unpin();
    throw err;
  }
}

/** Current size of an open file (front-ends that cannot map past EOF need it). */
async function sizeOf(fd: number): Promise<bigint> {
  const rec = Buffer.alloc(STAT_RECORD_SIZE);
  check(await sys.statx(fd, null, C.AT_SYMLINK_NOFOLLOW, rec), 'statx');
  return rec.readBigUInt64LE(StatField.size);
}
