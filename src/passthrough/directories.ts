/**
 * READDIR / READDIRPLUS over a directory handle: continue from the previous reply's leftovers when
 * the guest asks for exactly that cookie, else lseek to it; getdents64 into the
 * handle's buffer, parse struct linux_dirent64 here, hand each entry to the core's sink.
 *
 *   struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
 *
 * Readdirs on one handle are serialised (the fd offset is shared state). For PLUS each name but
 * '.' and '..' is looked up (one lookup reference each, handed to the core with the entry: the
 * core drops it if the guest does not get the entry); when the sink refuses an entry nothing
 * further is read.
 */
import { E, ErrnoError, errnoOf } from '../filesystem/errors.js';
import { RecordsStatus, type DirEntry, type DirEntrySink, type Entry } from '../filesystem/filesystem.js';
import { C, getdents64, lseek } from '../native/syscalls.js';
import type { HandleData } from './handle-table.js';
import type { Inode } from './inode-table.js';
import type { HandleId, NodeId, OpenReply, RequestContext } from '../filesystem/filesystem.js';
import type { PtCore } from './core.js';
import { fsync } from './files.js';

/** getdents64 buffer per open directory. */
export const DIR_BUFFER_SIZE = 16 * 1024;

const DIRENT_HEADER = 19; // d_ino 8 + d_off 8 + d_reclen 2 + d_type 1

export interface ReaddirHost {
  /**
   * Looks `name` (whose d_ino is `ino`) up in directory `dir` (+1 lookup reference on the
   * result); the entry itself when it could be had without waiting (inline system calls).
   */
  lookupChild(dir: Inode, name: Buffer, ino: bigint): Entry | Promise<Entry>;
}

function isDotOrDotDot(name: Buffer): boolean {
  return name[0] === 0x2e && (name.length === 1 || (name.length === 2 && name[1] === 0x2e));
}

function remember(h: HandleData, cursor: bigint, pos: number, len: number): void {
  h.dirCursor = cursor;
  h.dirPos = pos;
  h.dirLen = len;
}

/** `dir` is the directory's inode, pinned by the caller for the duration of the call. */
export async function readDirectory(
  h: HandleData,
  dir: Inode,
  offset: bigint,
  plus: boolean,
  sink: DirEntrySink,
  host: ReaddirHost,
): Promise<void> {
  const lock = h.dirLock;
  if (lock === undefined) throw new ErrnoError(E.ENOTDIR);
  await lock.lock();
  try {
    const buf = (h.dirBuf ??= Buffer.allocUnsafe(DIR_BUFFER_SIZE));
    let n = 0;
    let pos = 0;
    if (h.dirCursor === offset) {
      // The guest continues where the last reply ended: use what is left in the buffer.
      n = h.dirLen;
      pos = h.dirPos;
    } else {
      const s = await lseek(h.fd, offset, C.SEEK_SET);
      if (s < 0) throw new ErrnoError(-s, 'lseek');
    }
    h.dirCursor = undefined; // valid again only once this call has stopped cleanly
    let sent = 0;
    let cursor = offset;
    // A plain READDIR hands getdents64's records to the sink whole when it takes them.
    const records = plus ? undefined : sink.records;
    for (;;) {
      if (pos + DIRENT_HEADER > n) {
        n = await getdents64(h.fd, buf);
        if (n < 0) throw new ErrnoError(-n, 'getdents64');
        pos = 0;
        if (n === 0) {
          remember(h, cursor, 0, 0);
          return;
        }
      }
      if (records !== undefined) {
        const r = records(buf, pos, n);
        if (r.count > 0) {
          cursor = buf.readBigUInt64LE(r.last + 8); // the last record's d_off, as the per-entry path reads it
          sent += r.count;
        }
        pos = r.pos;
        if (r.status === RecordsStatus.Consumed) continue;
        if (r.status === RecordsStatus.Full) {
          remember(h, cursor, pos, n);
          return;
        }
        // PerEntry: the record at pos goes through the sink below.
      }
      const start = pos;
      const reclen = buf.readUInt16LE(pos + 16);
      if (reclen < DIRENT_HEADER + 1 || pos + reclen > n) throw new ErrnoError(E.EIO, 'malformed dirent');
      const end = pos + reclen;
      let nameEnd = buf.indexOf(0, pos + DIRENT_HEADER);
      if (nameEnd === -1 || nameEnd > end) nameEnd = end;
      // `name` views the handle's buffer: valid until the next getdents64 on this handle,
      // which cannot happen before this loop is done (the lock is held).
      const dirent: DirEntry = {
        ino: buf.readBigUInt64LE(pos),
        off: buf.readBigUInt64LE(pos + 8),
        type: buf[pos + 18],
        name: buf.subarray(pos + DIRENT_HEADER, nameEnd),
      };
      pos = end;
      let entry: Entry | undefined;
      if (plus && !isDotOrDotDot(dirent.name)) {
        try {
          const found = host.lookupChild(dir, dirent.name, dirent.ino);
          entry = found instanceof Promise ? await found : found;
        } catch (err) {
          if (errnoOf(err) === E.ENOENT) {
            cursor = dirent.off;
            continue; // removed since getdents64: skip it
          }
          if (sent === 0) throw err;
          return; // the guest gets what we have; it will ask again from the last cookie
        }
      }
      if (!sink(dirent, entry)) {
        // The entry did not fit: it is the first one the next call returns.
        remember(h, cursor, start, n);
        return;
      }
      cursor = dirent.off;
      sent++;
    }
  } finally {
    lock.unlock();
  }
}

export async function opendir(core: PtCore, _ctx: RequestContext, nodeid: NodeId, _flags: number): Promise<OpenReply> {
  const d = core.inodes.acquire(nodeid);
  try {
    if (!d.isDir) throw new ErrnoError(E.ENOTDIR);
    return await core.openInode(d, C.O_RDONLY | C.O_DIRECTORY);
  } finally {
    core.inodes.release(d);
  }
}

export async function readdir(core: PtCore, host: ReaddirHost, _ctx: RequestContext, nodeid: NodeId, fh: HandleId, offset: bigint, plus: boolean, sink: DirEntrySink): Promise<void> {
  const c = core;
  const h = c.handles.acquire(fh, nodeid);
  try {
    const d = c.inodes.acquire(nodeid);
    try {
      await readDirectory(h, d, offset, plus, sink, host);
    } finally {
      c.inodes.release(d);
    }
  } finally {
    c.handles.release(h);
  }
}

export async function releasedir(core: PtCore, _ctx: RequestContext, nodeid: NodeId, fh: HandleId): Promise<void> {
  core.handles.remove(fh, nodeid);
}

export async function fsyncdir(core: PtCore, ctx: RequestContext, nodeid: NodeId, fh: HandleId, datasync: boolean): Promise<void> {
  await fsync(core, ctx, nodeid, fh, datasync);
}
