// Regression tests for the peers' security history: symlink escapes with the sandbox off
// (GHSA-2gv2-cffp-j227), OPEN of device nodes / FIFOs (CVE-2020-35517), O_CREAT inside OPEN,
// fd exhaustion (CVE-2020-10717) failing one request instead of the daemon.
import { execFileSync } from 'node:child_process';
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { constants as osc } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StatField } from '../../../src/filesystem/filesystem.js';
import { FATTR } from '../../../src/filesystem/filesystem.js';
import { C } from '../../../src/native/syscalls.js';
import { BufferReader, BufferWriter, fdCount, makeShare, name, root, setattrReq, type Share } from './helpers.js';

const E = osc.errno;
let s: Share;
let outside: string;

beforeEach(async () => {
  s = await makeShare();
  outside = nfs.mkdtempSync(join(s.dir, '..', 'vfs-outside-'));
  nfs.writeFileSync(join(outside, 'secret'), 'top secret');
});
afterEach(async () => {
  await s.cleanup();
  nfs.rmSync(outside, { recursive: true, force: true });
});

describe('symlinks never lead out of the share', () => {
  it('a link to /etc/passwd is looked up as the link itself and cannot be opened', async () => {
    nfs.symlinkSync('/etc/passwd', join(s.dir, 'passwd'));
    const e = await s.fs.lookup(root, 1, name('passwd'));
    expect(e.attr.readUInt32LE(StatField.mode) & 0o170000).toBe(0o120000);
    expect(e.attr.readBigUInt64LE(StatField.ino)).toBe(nfs.lstatSync(join(s.dir, 'passwd'), { bigint: true }).ino);
    await expect(s.fs.open(root, e.nodeid, C.O_RDONLY)).rejects.toMatchObject({ errno: E.EBADF });
    await expect(s.fs.opendir(root, e.nodeid, 0)).rejects.toMatchObject({ errno: E.ENOTDIR });
    await expect(s.fs.lookup(root, e.nodeid, name('x'))).rejects.toMatchObject({ errno: E.ENOTDIR });
  });

  it('a link to a directory outside cannot be walked through', async () => {
    nfs.symlinkSync(outside, join(s.dir, 'out'));
    nfs.symlinkSync('..', join(s.dir, 'up'));
    for (const l of ['out', 'up']) {
      const e = await s.fs.lookup(root, 1, name(l));
      await expect(s.fs.lookup(root, e.nodeid, name('secret'))).rejects.toMatchObject({ errno: E.ENOTDIR });
      await expect(s.fs.create(root, e.nodeid, name('planted'), 0o100644, C.O_RDWR, 0)).rejects.toMatchObject({ errno: E.ENOTDIR });
      await expect(s.fs.mkdir(root, e.nodeid, name('planted'), 0o755, 0)).rejects.toMatchObject({ errno: E.ENOTDIR });
    }
    expect(nfs.readdirSync(outside)).toEqual(['secret']);
  });

  it('CREATE on a dangling link pointing outside does not create the target', async () => {
    nfs.symlinkSync(join(outside, 'created'), join(s.dir, 'dangling'));
    await expect(s.fs.create(root, 1, name('dangling'), 0o100644, C.O_RDWR, 0)).rejects.toMatchObject({ errno: E.EBADF });
    await expect(s.fs.create(root, 1, name('dangling'), 0o100644, C.O_RDWR | C.O_EXCL, 0)).rejects.toMatchObject({
      errno: E.EEXIST,
    });
    expect(nfs.existsSync(join(outside, 'created'))).toBe(false);
  });

  it('CREATE / OPEN on a link to a file outside never touch the file', async () => {
    nfs.symlinkSync(join(outside, 'secret'), join(s.dir, 'ln'));
    await expect(s.fs.create(root, 1, name('ln'), 0o100644, C.O_RDWR | C.O_TRUNC, 0)).rejects.toMatchObject({ errno: E.EBADF });
    const e = await s.fs.lookup(root, 1, name('ln'));
    await expect(s.fs.open(root, e.nodeid, C.O_RDWR | C.O_TRUNC)).rejects.toMatchObject({ errno: E.EBADF });
    await expect(s.fs.setattr(root, e.nodeid, setattrReq({ valid: FATTR.SIZE, size: 0n }))).rejects.toMatchObject({ errno: E.EINVAL });
    await s.fs.setattr(root, e.nodeid, setattrReq({ valid: FATTR.MTIME, mtime: 5n }));
    expect(nfs.readFileSync(join(outside, 'secret'), 'utf8')).toBe('top secret');
    expect(nfs.statSync(join(outside, 'secret')).mtimeMs).toBeGreaterThan(5000);
  });

  it('a directory moved out of the share stays reachable only as what it was (no path walk)', async () => {
    // The rename happens on the host, outside the guest's control: the inode we hold is moved
    // out. Names are still resolved relative to it, never through '..'.
    nfs.mkdirSync(join(s.dir, 'd'));
    const d = await s.fs.lookup(root, 1, name('d'));
    nfs.renameSync(join(s.dir, 'd'), join(outside, 'd'));
    await expect(s.fs.lookup(root, d.nodeid, name('..'))).rejects.toMatchObject({ errno: E.EINVAL });
    await expect(s.fs.lookup(root, d.nodeid, name('../secret'))).rejects.toMatchObject({ errno: E.EINVAL });
  });
});

describe('special files are never opened (CVE-2020-35517)', () => {
  it('OPEN of a FIFO is refused without blocking', async () => {
    await s.fs.mknod(root, 1, name('fifo'), 0o010666, 0, 0);
    const e = await s.fs.lookup(root, 1, name('fifo'));
    await expect(s.fs.open(root, e.nodeid, C.O_RDONLY)).rejects.toMatchObject({ errno: E.EBADF });
    await expect(s.fs.open(root, e.nodeid, C.O_WRONLY)).rejects.toMatchObject({ errno: E.EBADF });
    // CREATE without O_EXCL on an existing FIFO goes through the same check.
    await expect(s.fs.create(root, 1, name('fifo'), 0o100644, C.O_WRONLY, 0)).rejects.toMatchObject({ errno: E.EBADF });
    expect(s.fs.stats.handles).toBe(0);
  });

  it('OPEN of a device node is refused', async () => {
    try {
      await s.fs.mknod(root, 1, name('null'), 0o020666, (1 << 8) | 3, 0);
    } catch {
      return; // no CAP_MKNOD here
    }
    const e = await s.fs.lookup(root, 1, name('null'));
    expect(e.attr.readUInt32LE(StatField.rdev)).toBe((1 << 8) | 3);
    await expect(s.fs.open(root, e.nodeid, C.O_RDWR)).rejects.toMatchObject({ errno: E.EBADF });
    await expect(s.fs.create(root, 1, name('null'), 0o100644, C.O_RDWR, 0)).rejects.toMatchObject({ errno: E.EBADF });
  });

  it('a socket in the share is refused too', async () => {
    await s.fs.mknod(root, 1, name('sock'), 0o140666, 0, 0);
    const e = await s.fs.lookup(root, 1, name('sock'));
    await expect(s.fs.open(root, e.nodeid, C.O_RDWR)).rejects.toMatchObject({ errno: E.EBADF });
  });
});

describe('OPEN flags', () => {
  it('O_CREAT / O_TMPFILE in OPEN create nothing', async () => {
    const d = await s.fs.mkdir(root, 1, name('d'), 0o755, 0);
    const o = await s.fs.open(root, d.nodeid, C.O_RDONLY | C.O_CREAT | C.O_EXCL);
    await s.fs.release(root, d.nodeid, o.fh, 0);
    await expect(s.fs.open(root, d.nodeid, C.O_TMPFILE | C.O_RDWR)).rejects.toMatchObject({ errno: E.EISDIR });
    expect(nfs.readdirSync(join(s.dir, 'd'))).toEqual([]);
  });
});

describe('descriptor exhaustion', () => {
  it('EMFILE fails the request, the file system keeps working', async () => {
    nfs.writeFileSync(join(s.dir, 'f'), 'data');
    nfs.writeFileSync(join(s.dir, 'g'), 'data');
    const e = await s.fs.lookup(root, 1, name('f'));
    // Lower our own soft RLIMIT_NOFILE to a little above what is open now, with prlimit(1) (Node
    // has no setrlimit). A soft limit at or below the hard one, same user: that always works
    // while descriptors are free to spawn prlimit, so a failure fails the test, never skips it.
    const limits = /Max open files\s+(\d+)\s+(\d+)/.exec(nfs.readFileSync('/proc/self/limits', 'utf8'));
    const [soft, hard] = [Number(limits![1]), Number(limits![2])];
    const setSoft = (n: number): void => {
      if (n > hard) throw new Error(`soft RLIMIT_NOFILE ${n} wanted, above the hard limit ${hard}`);
      try {
        execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${n}:${hard}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (err) {
        throw new Error(`prlimit --pid ${process.pid} --nofile=${n}:${hard} failed: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || String(err)}`, { cause: err });
      }
    };
    setSoft((await fdCount()) + 40);
    const hog: number[] = [];
    let errno = 0;
    try {
      for (let i = 0; i < 1000; i++) {
        const r = await s.fs.open(root, e.nodeid, C.O_RDONLY).catch((err: { errno: number }) => err.errno);
        if (typeof r === 'number') {
          errno = r;
          break;
        }
        hog.push(r.fh);
      }
      expect(errno).toBe(E.EMFILE);
      const inodes = s.fs.stats.inodes;
      // A new inode needs a descriptor; a known one is found by statx of its name.
      await expect(s.fs.lookup(root, 1, name('g'))).rejects.toMatchObject({ errno: E.EMFILE });
      await expect(s.fs.opendir(root, 1, 0)).rejects.toMatchObject({ errno: E.EMFILE });
      expect(s.fs.stats.inodes).toBe(inodes);
      expect((await s.fs.lookup(root, 1, name('f'))).nodeid).toBe(e.nodeid); // needs no new fd
      s.fs.forget(e.nodeid, 1n);
      await s.fs.getattr(root, e.nodeid, undefined); // needs no new fd
    } finally {
      // Hand the descriptors back first: prlimit(1) is a child process, and spawning it needs
      // pipes, which with every descriptor taken fails with EMFILE (and left the limit lowered).
      for (const fh of hog) await s.fs.release(root, e.nodeid, fh, 0);
      setSoft(soft);
    }
    expect(s.fs.stats.handles).toBe(0);
    const o = await s.fs.open(root, e.nodeid, C.O_RDWR);
    await s.fs.write(root, e.nodeid, o.fh, 4n, new BufferReader(Buffer.from('!')), 0);
    const out = new BufferWriter();
    await s.fs.read(root, e.nodeid, o.fh, 0n, 10, out);
    expect(out.data.toString()).toBe('data!');
  }, 60_000);
});
