// Identity, limits and credentials options through the real daemon: --rlimit-nofile (EMFILE
// reaches the guest as an errno, the daemon keeps serving), --readonly, --inode-file-handles,
// --translate-uid/--translate-gid, and the INIT flags of the caching options.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { DAEMON_BIN, startSession, type Session } from '../../helpers/daemon.js';
import { startHostMount } from '../hostmount/helpers.js';
import { until } from '../../helpers/wait.js';
import { InitFlag } from '../../../src/fuse/abi.js';
import { DEFAULT_OPEN_CACHE } from '../../../src/passthrough/inode-table.js';
import { errnoOf, fdsOf, GUEST_FLAGS, reinit } from './helpers.js';

const E = constants.errno;
const O_RDONLY = 0;
const O_RDWR = 2;
let s: Session | undefined;

afterEach(async () => {
  await s?.close();
  s = undefined;
});

function populate(dir: string, n: number): void {
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `f${i}`), `${i}`);
}

describe('--rlimit-nofile', () => {
  it('a full descriptor table is EMFILE for the guest; the daemon lives on and recovers after FORGET', async () => {
    const share = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'vfs-nofile-'));
    populate(share, 400);
    s = await startSession({ shareDir: share, args: ['--rlimit-nofile=256', '--sandbox=none'] });
    const limits = readFileSync(`/proc/${s.daemon.child.pid}/limits`, 'utf8');
    expect(limits).toMatch(/Max open files\s+256\s+256/);
    const got: number[] = [];
    let emfile = 0;
    for (let i = 0; i < 400; i++) {
      try {
        got.push((await s.fuse.lookup(1, `f${i}`)).nodeid);
      } catch (e) {
        expect((e as { errno: number }).errno).toBe(E.EMFILE);
        emfile++;
      }
    }
    expect(emfile).toBeGreaterThan(0);
    expect((await s.fuse.statfs()).bsize).toBeGreaterThan(0); // still serving
    // FORGET has no reply and travels on another queue than LOOKUP: the recovery is an event
    // to wait for — each forgotten inode's descriptor closed — not a pause.
    const pid = s.daemon.child.pid!;
    const atLimit = await fdsOf(pid);
    await s.fuse.batchForget(got.map((n) => [n, 1] as const));
    await until(async () => (await fdsOf(pid)) <= atLimit - got.length, "the forgotten inodes' descriptors to close");
    expect((await s.fuse.lookup(1, 'f399')).nodeid).toBeGreaterThan(1);
    (await import('node:fs')).rmSync(share, { recursive: true, force: true });
  });

  it('defaults to min(1000000, nr_open, file-max - 16384)', async () => {
    s = await startSession({ args: ['--sandbox=none'] });
    const nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8'));
    const fileMax = Number(readFileSync('/proc/sys/fs/file-max', 'utf8'));
    const want = Math.min(1_000_000, nrOpen, Math.max(1024, fileMax - 16384));
    const limits = readFileSync(`/proc/${s.daemon.child.pid}/limits`, 'utf8');
    if (/cannot set the open-file limit/.test(s.daemon.stderr())) {
      // No CAP_SYS_RESOURCE (a container): the soft limit is raised to the hard one instead.
      const hard = /Max open files\s+\d+\s+(\d+)/.exec(limits)![1];
      expect(limits).toMatch(new RegExp(`Max open files\\s+${hard}\\s+${hard}`));
    } else {
      expect(limits).toMatch(new RegExp(`Max open files\\s+${want}\\s+${want}`));
    }
  });
});

describe('--inode-file-handles=mandatory', () => {
  it('holds looked-up inodes without a descriptor each', async () => {
    s = await startSession({ args: ['--inode-file-handles=mandatory', '--sandbox=none'] });
    const n = DEFAULT_OPEN_CACHE * 3;
    populate(s.daemon.shareDir, n);
    const pid = s.daemon.child.pid!;
    const before = await fdsOf(pid);
    for (let i = 0; i < n; i++) await s.fuse.lookup(1, `f${i}`);
    // Only the cache of recently used inodes' descriptors, and a mount descriptor.
    expect(await fdsOf(pid)).toBeLessThan(before + DEFAULT_OPEN_CACHE + 10);
    const e = await s.fuse.lookup(1, 'f123');
    const { fh } = await s.fuse.open(e.nodeid, O_RDONLY);
    expect((await s.fuse.read(e.nodeid, fh, 0, 16)).toString()).toBe('123');
  });

  it('works inside the namespace sandbox too (CAP_DAC_READ_SEARCH kept)', async () => {
    s = await startSession({ args: ['--inode-file-handles=prefer'] });
    populate(s.daemon.shareDir, 3);
    const e = await s.fuse.lookup(1, 'f2');
    const { fh } = await s.fuse.open(e.nodeid, O_RDONLY);
    expect((await s.fuse.read(e.nodeid, fh, 0, 16)).toString()).toBe('2');
  });
});

describe('file handles by default', () => {
  const mounts: string[] = [];
  afterEach(() => {
    for (const m of mounts.splice(0)) spawnSync('umount', ['-l', m]);
  });

  it('fall back quietly where the share has none, and then keep no CAP_DAC_READ_SEARCH', async () => {
    // overlayfs without nfs_export makes no file handles (name_to_handle_at: EOPNOTSUPP).
    const dir = mkdtempSync(join(tmpdir(), 'vfs-ovl-'));
    for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'lower', 'f'), 'lower');
    const merged = join(dir, 'merged');
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${join(dir, 'lower')},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, merged]);
    mounts.push(merged);
    s = await startSession({ shareDir: merged });
    const log = s.daemon.stderr();
    expect(log).toMatch(/INFO .*file handles do not work for the shared directory/);
    expect(log).not.toMatch(/WARN .*file handles/);
    const kept = /capabilities: kept ([a-z_, ]+) in/.exec(log)?.[1];
    expect(kept).toBeDefined();
    expect(kept).not.toMatch(/dac_read_search/);
    const e = await s.fuse.lookup(1, 'f');
    const { fh } = await s.fuse.open(e.nodeid, O_RDONLY);
    expect((await s.fuse.read(e.nodeid, fh, 0, 16)).toString()).toBe('lower');
  });

  it('are not used on a FUSE share: its handles open only while the kernel caches the inode', async () => {
    // A FUSE mount of our own: virtiofsd-ts --mount serves a directory on this host.
    const m = await startHostMount({ prepare: (share) => writeFileSync(join(share, 'f'), 'fuse') });
    try {
      s = await startSession({ shareDir: m.mnt, args: ['--sandbox=none'] });
      expect(s.daemon.stderr()).toMatch(/file handles do not work for the shared directory/);
      const e = await s.fuse.lookup(1, 'f');
      const { fh } = await s.fuse.open(e.nodeid, O_RDONLY);
      expect((await s.fuse.read(e.nodeid, fh, 0, 16)).toString()).toBe('fuse');
      await s.close();
      s = undefined;
      // Asked for explicitly, handles on FUSE are refused at start-up.
      const r = spawnSync(DAEMON_BIN, ['--socket-path', join(m.mnt, '..', 'x.sock'), '--shared-dir', m.mnt, '--inode-file-handles=mandatory', '--sandbox=none'], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/--inode-file-handles=mandatory: file handles do not work/);
    } finally {
      await m.stop();
    }
  });
});

describe('--readonly', () => {
  it('every change is EROFS; reading works', async () => {
    s = await startSession({ args: ['--readonly', '--xattr'] });
    writeFileSync(join(s.daemon.shareDir, 'f'), 'keep');
    mkdirSync(join(s.daemon.shareDir, 'd'));
    const f = await s.fuse.lookup(1, 'f');
    expect(await errnoOf(s.fuse.create(1, 'new', 0o644, O_RDWR))).toBe(E.EROFS);
    expect(await errnoOf(s.fuse.mkdir(1, 'nd'))).toBe(E.EROFS);
    expect(await errnoOf(s.fuse.unlink(1, 'f'))).toBe(E.EROFS);
    expect(await errnoOf(s.fuse.rmdir(1, 'd'))).toBe(E.EROFS);
    expect(await errnoOf(s.fuse.rename(1, 'f', 1, 'g'))).toBe(E.EROFS);
    expect(await errnoOf(s.fuse.open(f.nodeid, O_RDWR))).toBe(E.EROFS);
    const { fh } = await s.fuse.open(f.nodeid, O_RDONLY);
    expect((await s.fuse.read(f.nodeid, fh, 0, 10)).toString()).toBe('keep');
    expect(readFileSync(join(s.daemon.shareDir, 'f'), 'utf8')).toBe('keep');
  });
});

describe('--translate-uid / --translate-gid', () => {
  it('new files belong to the mapped host ids; attributes come back in guest ids', async () => {
    s = await startSession({ args: ['--translate-uid=map:1000:201000:1000', '--translate-gid=squash-guest:0:4242:65536', '--translate-gid=host:4242:100:1'] });
    const { chmodSync } = await import('node:fs');
    chmodSync(s.daemon.shareDir, 0o777);
    s.fuse.caller = { uid: 1500, gid: 33, pid: 5 };
    const { entry } = await s.fuse.create(1, 'mine', 0o644, O_RDWR);
    s.fuse.caller = { uid: 0, gid: 0, pid: 1 };
    const st = statSync(join(s.daemon.shareDir, 'mine'));
    expect([st.uid, st.gid]).toEqual([201500, 4242]);
    expect([entry.attr.uid, entry.attr.gid]).toEqual([1500, 100]);
  });
});

describe('caching options in INIT', () => {
  it('--writeback, --allow-mmap, --no-readdirplus, --killpriv-v2, --posix-acl', async () => {
    s = await startSession({ args: ['--writeback', '--allow-mmap', '--no-readdirplus', '--killpriv-v2', '--posix-acl'] });
    const f = await reinit(s, GUEST_FLAGS);
    for (const b of [InitFlag.WRITEBACK_CACHE, InitFlag.DIRECT_IO_ALLOW_MMAP, InitFlag.HANDLE_KILLPRIV_V2, InitFlag.POSIX_ACL, InitFlag.DONT_MASK, InitFlag.SETXATTR_EXT]) {
      expect(f & b).toBe(b);
    }
    expect(f & InitFlag.DO_READDIRPLUS).toBe(0n);
  });
});
