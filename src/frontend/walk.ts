/**
 * A tree walk the way `find -ls` (or `ls -lR`) runs in a guest: READDIRPLUS every directory,
 * GETATTR every entry, and keep every inode looked up (a guest's dentry cache holds them until
 * memory pressure; the daemon must too). `vufs walk` and the scale bench and test use it to
 * drive a daemon to a million inodes and see what it holds for them.
 */
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { DirEntryInfo, FuseClient } from './fuse-client.js';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

export interface WalkOptions {
  /** Directories read at once (default 8). */
  parallel?: number;
  /** GETATTR every entry after READDIRPLUS, as `find -ls` does (default true). */
  getattr?: boolean;
  /** READDIRPLUS buffer size (default 64 KiB). */
  bufferSize?: number;
  /** FORGET everything at the end (default false: keep it, as a guest's dentry cache would). */
  forget?: boolean;
}

export interface WalkResult {
  /** Entries with an inode (every name but '.' and '..'). */
  entries: number;
  directories: number;
  seconds: number;
  /** Errors (errno → count): a daemon out of descriptors answers EMFILE here. */
  errors: Record<string, number>;
}

/** Walks the tree under node `root` (1: the share). */
export async function walkTree(fuse: FuseClient, root = 1, opts: WalkOptions = {}): Promise<WalkResult> {
  const parallel = Math.max(1, opts.parallel ?? 8);
  const getattr = opts.getattr ?? true;
  const size = opts.bufferSize ?? 64 * 1024;
  const lookups = new Map<number, number>();
  const errors: Record<string, number> = {};
  const fail = (e: unknown): void => {
    const key = typeof e === 'object' && e !== null && 'errno' in e ? String(e.errno) : String(e);
    errors[key] = (errors[key] ?? 0) + 1;
  };
  const queue: number[] = [root];
  let entries = 0;
  let directories = 0;
  const started = process.hrtime.bigint();

  async function readDir(dir: number): Promise<void> {
    directories++;
    let fh: number;
    try {
      fh = (await fuse.opendir(dir)).fh;
    } catch (e) {
      fail(e);
      return;
    }
    try {
      for (let off = 0n; ; ) {
        let batch: DirEntryInfo[];
        try {
          batch = await fuse.readdir(dir, fh, off, true, size);
        } catch (e) {
          fail(e);
          return;
        }
        if (batch.length === 0) return;
        off = batch[batch.length - 1].off;
        const stats: Promise<void>[] = [];
        for (const d of batch) {
          if (d.entry === undefined) continue;
          const id = d.entry.nodeid;
          entries++;
          lookups.set(id, (lookups.get(id) ?? 0) + 1);
          if ((d.entry.attr.mode & S_IFMT) === S_IFDIR) queue.push(id);
          if (getattr) stats.push(fuse.getattr(id).then(() => undefined, fail));
        }
        await Promise.all(stats);
      }
    } finally {
      await fuse.release(dir, fh, true).catch(fail);
    }
  }

  // `parallel` workers take directories off the queue until it is empty and none is being read
  // (a directory being read may still add more).
  let busy = 0;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (busy < parallel && queue.length > 0) {
        busy++;
        void readDir(queue.pop()!)
          .catch(fail)
          .then(() => {
          busy--;
          pump();
        });
      }
      if (busy === 0 && queue.length === 0) resolve();
    };
    pump();
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (opts.forget) await fuse.batchForget([...lookups]);
  return { entries, directories, seconds, errors };
}

/**
 * Creates `dirs` directories d0… of `files` empty files f0… each under `share` (on the host,
 * before or while a daemon serves it); a tree already there is kept (its last file is checked).
 */
export function makeTree(share: string, dirs: number, files: number): void {
  for (let d = 0; d < dirs; d++) {
    const dir = join(share, `d${d}`);
    if (files > 0 && existsSync(join(dir, `f${files - 1}`))) continue;
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < files; f++) closeSync(openSync(join(dir, `f${f}`), 'a'));
  }
}
