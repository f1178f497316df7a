/**
 * Preparation of the share for `vufs load` (before anything is measured): the data file of the
 * read/write workloads and the directories of the lookup, create and readdir workloads — made
 * through the daemon, or directly in the host directory it shares (`--share DIR`). What an
 * earlier run left is reused, so repeated runs pay for preparation once.
 */
import { mkdirSync, closeSync, openSync, ftruncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ErrnoError } from '../filesystem/errors.js';
import type { FuseClient } from './fuse-client.js';
import type { LoadOptions, Workload } from './load.js';
import { Prng } from './prng.js';

export const O_RDWR = 2;
export const S_IFREG = 0o100000;
const DATA_FILE = 'vufs-data.bin';
const LOOKUP_DIR = 'vufs-lookup';
const CREATE_DIR = 'vufs-create';
const READDIR_DIR = 'vufs-readdir';

/** What the measured loop works on. */
export interface Prepared {
  nodeid: number;
  /** Open file handle of the data file, -1 if none. */
  fh: number;
  dirFhs: number[];
}

type Entry = Awaited<ReturnType<FuseClient['lookup']>>;

/**
 * Writes `prefix` + n as `width` decimal digits + NUL, without allocating. Returns bytes written.
 * The fixture's names as the hot path writes them into requests; `nameOf` gives the same as a string.
 */
export function writeName(buf: Buffer, off: number, prefix: number, n: number, width: number): number {
  buf[off] = prefix;
  for (let i = width; i >= 1; i--) {
    buf[off + i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  buf[off + width + 1] = 0;
  return width + 2;
}

function nameOf(prefix: string, n: number, width: number): string {
  return prefix + String(n).padStart(width, '0');
}

export async function lookupOrNull(fuse: FuseClient, parent: number, name: string): Promise<Entry | null> {
  try {
    return await fuse.lookup(parent, name);
  } catch (e) {
    if (e instanceof ErrnoError && e.errno === 2) return null;
    throw e;
  }
}

async function ensureDir(fuse: FuseClient, name: string, share: string | undefined): Promise<number> {
  if (share !== undefined) mkdirSync(join(share, name), { recursive: true });
  const e = await lookupOrNull(fuse, 1, name);
  if (e !== null) return e.nodeid;
  return (await fuse.mkdir(1, name, 0o755)).nodeid;
}

/**
 * Makes `name` in the share root hold `size` bytes of `chunk` repeated: written directly in
 * `share` when given (then looked up afresh, dropping `existing`'s reference), else through the
 * daemon (CREATE or OPEN, WRITEs 8 in flight, RELEASE). Returns the file's entry.
 */
export async function writeDataFile(
  fuse: FuseClient,
  name: string,
  size: number,
  chunk: Buffer,
  share: string | undefined,
  existing: Entry | null,
): Promise<Entry> {
  if (share !== undefined) {
    const fd = openSync(join(share, name), 'w');
    for (let off = 0; off < size; off += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, size - off), off);
    ftruncateSync(fd, size);
    closeSync(fd);
    if (existing !== null) await fuse.forget(existing.nodeid, 1);
    return (await lookupOrNull(fuse, 1, name))!;
  }
  let e = existing;
  let fh: number;
  if (e === null) {
    const c = await fuse.create(1, name, 0o644, O_RDWR);
    e = c.entry;
    fh = c.fh;
  } else {
    fh = (await fuse.open(e.nodeid, O_RDWR)).fh;
  }
  const step = Math.min(chunk.length, fuse.maxWrite);
  const node = e.nodeid;
  await parallel(Math.ceil(size / step), 8, async (i) => {
    const off = i * step;
    await fuse.write(node, fh, off, chunk.subarray(0, Math.min(step, size - off)));
  });
  await fuse.release(node, fh);
  return e;
}

/** Runs `task(i)` for i in [0, n) with at most `width` in flight. */
async function parallel(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

/** Makes `count` empty regular files named prefix+digits in dir (skipping existing ones). */
async function populateDir(fuse: FuseClient, dirName: string, dirNode: number, prefix: string, count: number, share: string | undefined, log: (m: string) => void): Promise<void> {
  const last = await lookupOrNull(fuse, dirNode, nameOf(prefix, count - 1, 6));
  if (last !== null) {
    await fuse.forget(last.nodeid, 1);
    return;
  }
  log(`preparing ${count} entries in ${dirName}`);
  if (share !== undefined) {
    for (let i = 0; i < count; i++) closeSync(openSync(join(share, dirName, nameOf(prefix, i, 6)), 'a'));
    return;
  }
  const forgets: [number, number][] = [];
  await parallel(count, 64, async (i) => {
    try {
      const e = await fuse.mknod(dirNode, nameOf(prefix, i, 6), S_IFREG | 0o644);
      forgets.push([e.nodeid, 1]);
    } catch (e) {
      if (!(e instanceof ErrnoError && e.errno === 17)) throw e; // EEXIST is fine
    }
  });
  await fuse.batchForget(forgets);
}

export async function prepare(fuse: FuseClient, w: Workload, opts: LoadOptions, qd: number, log: (m: string) => void): Promise<Prepared> {
  const share = opts.shareDir;
  const prep: Prepared = { nodeid: 0, fh: -1, dirFhs: [] };
  switch (w) {
    case 'randread4k':
    case 'randwrite4k':
    case 'seqread1m':
    case 'seqwrite1m': {
      const size = opts.fileSize ?? 64 << 20;
      let e = await lookupOrNull(fuse, 1, DATA_FILE);
      if (e === null || e.attr.size < BigInt(size)) {
        log(`preparing ${DATA_FILE} (${size} bytes)`);
        const chunk = Buffer.alloc(1 << 20);
        new Prng(opts.seed ?? 1).fill(chunk);
        e = await writeDataFile(fuse, DATA_FILE, size, chunk, share, e);
      }
      prep.nodeid = e.nodeid;
      prep.fh = (await fuse.open(e.nodeid, O_RDWR)).fh;
      break;
    }
    case 'lookup': {
      const n = opts.lookupFiles ?? 1000;
      prep.nodeid = await ensureDir(fuse, LOOKUP_DIR, share);
      await populateDir(fuse, LOOKUP_DIR, prep.nodeid, 'f', n, share, log);
      break;
    }
    case 'create':
      prep.nodeid = await ensureDir(fuse, CREATE_DIR, share);
      break;
    case 'readdir':
    case 'readdirplus': {
      const n = opts.readdirEntries ?? 10000;
      prep.nodeid = await ensureDir(fuse, READDIR_DIR, share);
      await populateDir(fuse, READDIR_DIR, prep.nodeid, 'e', n, share, log);
      for (let i = 0; i < qd; i++) prep.dirFhs.push((await fuse.opendir(prep.nodeid)).fh);
      break;
    }
  }
  return prep;
}
