// MKDIR / MKNOD / SYMLINK / READLINK / LINK / UNLINK / RMDIR / RENAME(2), ownership of what
// the guest creates, and names that must never be resolved.
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { constants as osc } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StatField } from '../../../src/filesystem/filesystem.js';
import { C } from '../../../src/native/syscalls.js';
import { makeShare, name, root, user, type Share } from './helpers.js';

const E = osc.errno;
let s: Share;

beforeEach(async () => {
  s = await makeShare();
  nfs.chmodSync(s.dir, 0o777);
});
afterEach(async () => {
  await s.cleanup();
});

describe('creating names', () => {
  it('new inodes are owned by the requesting uid/gid', async () => {
    const g = user(1500, 2500);
    const d = await s.fs.mkdir(g, 1, name('dir'), 0o750, 0o022);
    const n = await s.fs.mknod(g, 1, name('fifo'), 0o010600, 0, 0o022);
    const l = await s.fs.symlink(g, 1, name('link'), name('dir'));
    const c = await s.fs.create(g, 1, name('file'), 0o100640, C.O_WRONLY, 0o022);
    for (const [e, p] of [[d, 'dir'], [n, 'fifo'], [l, 'link'], [c.entry, 'file']] as const) {
      const st = nfs.lstatSync(join(s.dir, p));
      expect([st.uid, st.gid], p).toEqual([1500, 2500]);
      expect(e.attr.readUInt32LE(StatField.uid)).toBe(1500);
      expect(e.attr.readUInt32LE(StatField.gid)).toBe(2500);
    }
    expect(nfs.statSync(join(s.dir, 'dir')).mode & 0o7777).toBe(0o750);
    expect(nfs.statSync(join(s.dir, 'file')).mode & 0o7777).toBe(0o640);
    expect(nfs.lstatSync(join(s.dir, 'fifo')).isFIFO()).toBe(true);
    await s.fs.release(g, c.entry.nodeid, c.fh, 0);
  });

  it('a guest user cannot create where it has no write permission', async () => {
    const d = await s.fs.mkdir(root, 1, name('private'), 0o755, 0);
    await expect(s.fs.mkdir(user(1000, 1000), d.nodeid, name('x'), 0o755, 0)).rejects.toMatchObject({ errno: E.EACCES });
    await expect(s.fs.create(user(1000, 1000), d.nodeid, name('x'), 0o100644, C.O_RDWR, 0)).rejects.toMatchObject({
      errno: E.EACCES,
    });
    await s.fs.mkdir(root, d.nodeid, name('x'), 0o755, 0);
  });

  it('SGID directories pass their group on (kernel rules, applied to the guest ids)', async () => {
    const d = await s.fs.mkdir(root, 1, name('sgid'), 0o777, 0);
    nfs.chownSync(join(s.dir, 'sgid'), 0, 777);
    nfs.chmodSync(join(s.dir, 'sgid'), 0o2777);
    const c = await s.fs.create(user(1000, 1000), d.nodeid, name('f'), 0o102755, C.O_RDWR, 0);
    const st = nfs.statSync(join(s.dir, 'sgid', 'f'));
    expect(st.gid).toBe(777);
    // Not a member of group 777 and no CAP_FSETID under fsuid 1000: SGID is dropped.
    expect(st.mode & 0o2000).toBe(0);
    await s.fs.release(root, c.entry.nodeid, c.fh, 0);
  });

  it('refuses (u32)-1 as a guest id instead of creating as root', async () => {
    await expect(s.fs.mkdir(user(0xffffffff, 0), 1, name('x'), 0o755, 0)).rejects.toMatchObject({ errno: E.EINVAL });
    await expect(s.fs.create(user(0, 0xffffffff), 1, name('x'), 0o100644, C.O_RDWR, 0)).rejects.toMatchObject({ errno: E.EINVAL });
    expect(nfs.readdirSync(s.dir)).toEqual([]);
  });

  it('mknod of a device node needs a privileged guest', async () => {
    await expect(s.fs.mknod(user(1000, 1000), 1, name('null'), 0o020666, (1 << 8) | 3, 0)).rejects.toMatchObject({ errno: E.EPERM });
  });

  it('symlink stores any target verbatim; readlink returns it', async () => {
    for (const target of ['/etc/passwd', '../../../../etc/shadow', 'a/b/c', 'x'.repeat(1000)]) {
      const nm = `l${target.length}`;
      const e = await s.fs.symlink(root, 1, name(nm), name(target));
      expect((await s.fs.readlink(root, e.nodeid)).toString()).toBe(target);
      expect(nfs.readlinkSync(join(s.dir, nm))).toBe(target);
    }
    const f = await s.fs.mkdir(root, 1, name('d'), 0o755, 0);
    await expect(s.fs.readlink(root, f.nodeid)).rejects.toMatchObject({ errno: E.EINVAL });
    await expect(s.fs.symlink(root, 1, name('bad'), Buffer.from([0x61, 0]))).rejects.toMatchObject({ errno: E.EINVAL });
    await expect(s.fs.symlink(root, 1, name('bad'), Buffer.alloc(0))).rejects.toMatchObject({ errno: E.ENOENT });
    await expect(s.fs.symlink(root, 1, name('d'), name('x'))).rejects.toMatchObject({ errno: E.EEXIST });
  });

  it('refuses names that are not a single component', async () => {
    const bad = ['', '.', '..', 'a/b', '/etc', '../x', 'x\0y', 'x'.repeat(256)];
    for (const n of bad) {
      const buf = Buffer.from(n);
      const expected = n.length > 255 ? E.ENAMETOOLONG : E.EINVAL;
      await expect(s.fs.lookup(root, 1, buf), JSON.stringify(n)).rejects.toMatchObject({ errno: expected });
      await expect(s.fs.mkdir(root, 1, buf, 0o755, 0)).rejects.toMatchObject({ errno: expected });
      await expect(s.fs.mknod(root, 1, buf, 0o100644, 0, 0)).rejects.toMatchObject({ errno: expected });
      await expect(s.fs.symlink(root, 1, buf, name('t'))).rejects.toMatchObject({ errno: expected });
      await expect(s.fs.create(root, 1, buf, 0o100644, C.O_RDWR, 0)).rejects.toMatchObject({ errno: expected });
      await expect(s.fs.unlink(root, 1, buf)).rejects.toMatchObject({ errno: expected });
      await expect(s.fs.rmdir(root, 1, buf)).rejects.toMatchObject({ errno: expected });
      await expect(s.fs.rename(root, 1, buf, 1, name('z'), 0)).rejects.toMatchObject({ errno: expected });
      await expect(s.fs.rename(root, 1, name('z'), 1, buf, 0)).rejects.toMatchObject({ errno: expected });
      await expect(s.fs.link(root, 1, 1, buf)).rejects.toMatchObject({ errno: expected });
    }
    expect(nfs.readdirSync(s.dir)).toEqual([]);
    expect(nfs.existsSync('/etc/t')).toBe(false);
  });
});

describe('removing and renaming', () => {
  it('unlink and rmdir', async () => {
    nfs.writeFileSync(join(s.dir, 'f'), '');
    nfs.mkdirSync(join(s.dir, 'd'));
    nfs.writeFileSync(join(s.dir, 'd', 'inner'), '');
    await expect(s.fs.unlink(root, 1, name('d'))).rejects.toMatchObject({ errno: E.EISDIR });
    await expect(s.fs.rmdir(root, 1, name('f'))).rejects.toMatchObject({ errno: E.ENOTDIR });
    await expect(s.fs.rmdir(root, 1, name('d'))).rejects.toMatchObject({ errno: E.ENOTEMPTY });
    await s.fs.unlink(root, 1, name('f'));
    nfs.unlinkSync(join(s.dir, 'd', 'inner'));
    await s.fs.rmdir(root, 1, name('d'));
    expect(nfs.readdirSync(s.dir)).toEqual([]);
    await expect(s.fs.unlink(root, 1, name('f'))).rejects.toMatchObject({ errno: E.ENOENT });
  });

  it('an unlinked but looked-up file stays usable through its node id', async () => {
    nfs.writeFileSync(join(s.dir, 'f'), 'abc');
    const e = await s.fs.lookup(root, 1, name('f'));
    await s.fs.unlink(root, 1, name('f'));
    const a = await s.fs.getattr(root, e.nodeid, undefined);
    expect(a.attr.readUInt32LE(StatField.nlink)).toBe(0);
    const o = await s.fs.open(root, e.nodeid, C.O_RDONLY);
    await s.fs.release(root, e.nodeid, o.fh, 0);
  });

  it('rename, across directories, with NOREPLACE and EXCHANGE', async () => {
    nfs.writeFileSync(join(s.dir, 'a'), 'A');
    nfs.writeFileSync(join(s.dir, 'b'), 'B');
    const d = await s.fs.mkdir(root, 1, name('d'), 0o755, 0);
    await expect(s.fs.rename(root, 1, name('a'), 1, name('b'), C.RENAME_NOREPLACE)).rejects.toMatchObject({ errno: E.EEXIST });
    await s.fs.rename(root, 1, name('a'), 1, name('b'), C.RENAME_EXCHANGE);
    expect(nfs.readFileSync(join(s.dir, 'a'), 'utf8')).toBe('B');
    expect(nfs.readFileSync(join(s.dir, 'b'), 'utf8')).toBe('A');
    await s.fs.rename(root, 1, name('a'), d.nodeid, name('moved'), C.RENAME_NOREPLACE);
    expect(nfs.readFileSync(join(s.dir, 'd', 'moved'), 'utf8')).toBe('B');
    await s.fs.rename(root, d.nodeid, name('moved'), 1, name('b'), 0); // replaces
    expect(nfs.readFileSync(join(s.dir, 'b'), 'utf8')).toBe('B');
    await expect(s.fs.rename(root, 1, name('nope'), 1, name('x'), 0)).rejects.toMatchObject({ errno: E.ENOENT });
    await expect(s.fs.rename(root, 1, name('b'), 1, name('x'), C.RENAME_EXCHANGE)).rejects.toMatchObject({ errno: E.ENOENT });
    await expect(s.fs.rename(root, 1, name('b'), 1, name('x'), 8)).rejects.toMatchObject({ errno: E.EINVAL });
    await expect(s.fs.rename(root, 1, name('b'), 777, name('x'), 0)).rejects.toMatchObject({ errno: E.ESTALE });
  });

  it('link: same inode, +1 reference, nlink 2; symlinks link as themselves', async () => {
    nfs.writeFileSync(join(s.dir, 'f'), 'x');
    const e = await s.fs.lookup(root, 1, name('f'));
    const d = await s.fs.mkdir(root, 1, name('d'), 0o755, 0);
    const l = await s.fs.link(root, e.nodeid, d.nodeid, name('hard'));
    expect(l.nodeid).toBe(e.nodeid);
    expect(l.attr.readUInt32LE(StatField.nlink)).toBe(2);
    s.fs.forget(e.nodeid, 1n);
    expect((await s.fs.getattr(root, e.nodeid, undefined)).attr.readUInt32LE(StatField.nlink)).toBe(2);
    await expect(s.fs.link(root, e.nodeid, 1, name('f'))).rejects.toMatchObject({ errno: E.EEXIST });
    await expect(s.fs.link(root, d.nodeid, 1, name('dirlink'))).rejects.toMatchObject({ errno: E.EPERM });

    nfs.symlinkSync('/etc/passwd', join(s.dir, 'sl'));
    const sl = await s.fs.lookup(root, 1, name('sl'));
    const sl2 = await s.fs.link(root, sl.nodeid, 1, name('sl2'));
    expect(sl2.nodeid).toBe(sl.nodeid);
    expect(nfs.lstatSync(join(s.dir, 'sl2')).isSymbolicLink()).toBe(true);
    expect(nfs.readlinkSync(join(s.dir, 'sl2'))).toBe('/etc/passwd');
  });
});
