// Scale (issue 13): a guest that walks a million files and keeps them all in its dentry cache
// must see every one of them, and the daemon, with its default options, must hold them in
// bounded descriptors (inodes by file handle, a small cache of open ones). The memory it takes
// per inode is printed, not asserted: an absolute figure is a benchmark's (bench/scale.mjs
// compares it with the Rust and C daemons').
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTree, walkTree } from '../../src/frontend/walk.js';
import { startSession, type Session } from '../helpers/daemon.js';
import { children, rssKiB, servingPid } from './sandbox/helpers.js';

const DIRS = 1000;
const FILES = 1000;

let s: Session | undefined;
let mnt: string | undefined;

afterAll(async () => {
  await s?.close();
  if (mnt !== undefined) {
    execFileSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
});

/** VmRSS summed over a process and its descendants, in KiB. */
function treeRssKiB(pid: number): number {
  return children(pid).reduce((kib, c) => kib + treeRssKiB(c), rssKiB(pid));
}

describe('a million inodes held by the guest', () => {
  it('are all served, from at most 1000 descriptors', { timeout: 600_000 }, async () => {
    // A tmpfs of its own: fast to fill, gone at once afterwards (and it has file handles).
    mnt = mkdtempSync(join(tmpdir(), 'vfs-scale-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=256m,nr_inodes=${DIRS * FILES + DIRS + 16}`, 'scale', mnt]);
    const share = join(mnt, 'share');
    mkdirSync(share);
    makeTree(share, DIRS, FILES);

    s = await startSession({ shareDir: share }); // the defaults: namespace sandbox, file handles where possible
    const pid = servingPid(s.daemon.child.pid!);
    const rssBefore = treeRssKiB(s.daemon.child.pid!);
    const fdsBefore = readdirSync(`/proc/${pid}/fd`).length;

    const r = await walkTree(s.fuse, 1, { getattr: false, parallel: 8 });
    expect(r.errors).toEqual({});
    expect(r.entries).toBe(DIRS * FILES + DIRS);
    expect(r.directories).toBe(DIRS + 1);

    const fds = readdirSync(`/proc/${pid}/fd`).length;
    const rss = treeRssKiB(s.daemon.child.pid!);
    expect(fds).toBeLessThanOrEqual(1000);
    // The daemon still answers, and still knows an inode from the start of the walk.
    expect((await s.fuse.lookup(1, 'd0')).attr.mode & 0o170000).toBe(0o040000);
    console.log(
      `scale: ${r.entries} inodes held after a ${r.seconds.toFixed(1)} s walk; descriptors ${fdsBefore} → ${fds}; ` +
        `RSS of all processes ${(rssBefore / 1024).toFixed(0)} → ${(rss / 1024).toFixed(0)} MiB ` +
        `(${Math.round(((rss - rssBefore) * 1024) / r.entries)} bytes per inode)`,
    );
  });
});
