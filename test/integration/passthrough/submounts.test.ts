// announceSubmounts: a directory on another mount than its parent carries FUSE_ATTR_SUBMOUNT,
// only when the option is on and the guest agreed (FUSE_SUBMOUNTS in INIT). Needs mount(2), so
// root: CI runs as root, so a mount that fails is a failure, never a skip.
import { execFileSync } from 'node:child_process';
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StatField } from '../../../src/filesystem/filesystem.js';
import { FUSE_ATTR_SUBMOUNT } from '../../../src/filesystem/filesystem.js';
import { requireRoot } from '../../helpers/prerequisites.js';
import { makeShare, name, root, type Share } from './helpers.js';

const FUSE_SUBMOUNTS = 1n << 27n;
let s: Share | undefined;
let mounted: string | undefined;

/** Mounts a tmpfs on dir; throws with mount's stderr if that fails. */
function mountTmpfs(dir: string): void {
  requireRoot('mount(2)');
  try {
    execFileSync('mount', ['-t', 'tmpfs', 'none', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`mount -t tmpfs none ${dir} failed: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || String(e)}`, { cause: e });
  }
  mounted = dir;
}

afterEach(async () => {
  await s?.fs.close(); // our O_PATH fds keep the mount busy
  if (mounted) execFileSync('umount', [mounted]);
  mounted = undefined;
  await s?.cleanup();
  s = undefined;
});

describe('submount announcement', () => {
  it('flags a mount point when enabled and negotiated', async () => {
    s = await makeShare({ announceSubmounts: true });
    nfs.mkdirSync(join(s.dir, 'mnt'));
    nfs.mkdirSync(join(s.dir, 'plain'));
    mountTmpfs(join(s.dir, 'mnt'));
    const mask = await s.fs.init({ minor: 38, flags: FUSE_SUBMOUNTS });
    expect(mask & FUSE_SUBMOUNTS).toBe(FUSE_SUBMOUNTS);
    const m = await s.fs.lookup(root, 1, name('mnt'));
    expect(m.attr.readUInt32LE(StatField.flags) & FUSE_ATTR_SUBMOUNT).toBe(FUSE_ATTR_SUBMOUNT);
    const p = await s.fs.lookup(root, 1, name('plain'));
    expect(p.attr.readUInt32LE(StatField.flags)).toBe(0);
    // Inside the submount, directories are on the submount's device again: no flag.
    nfs.mkdirSync(join(s.dir, 'mnt', 'inner'));
    const inner = await s.fs.lookup(root, m.nodeid, name('inner'));
    expect(inner.attr.readUInt32LE(StatField.flags)).toBe(0);
  });

  it('stays silent when the guest did not agree', async () => {
    s = await makeShare({ announceSubmounts: true });
    nfs.mkdirSync(join(s.dir, 'mnt'));
    mountTmpfs(join(s.dir, 'mnt'));
    await s.fs.init({ minor: 38, flags: 0n });
    const m = await s.fs.lookup(root, 1, name('mnt'));
    expect(m.attr.readUInt32LE(StatField.flags)).toBe(0);
  });

  it('stays silent and vetoes FUSE_SUBMOUNTS when disabled', async () => {
    s = await makeShare({ announceSubmounts: false });
    nfs.mkdirSync(join(s.dir, 'mnt'));
    mountTmpfs(join(s.dir, 'mnt'));
    const mask = await s.fs.init({ minor: 38, flags: FUSE_SUBMOUNTS });
    expect(mask & FUSE_SUBMOUNTS).toBe(0n);
    const m = await s.fs.lookup(root, 1, name('mnt'));
    expect(m.attr.readUInt32LE(StatField.flags)).toBe(0);
  });
});
