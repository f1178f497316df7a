// Credentials on the passthrough: --translate-uid/--translate-gid both ways, the supplementary
// group extension, SGID inheritance and stripping as the kernel does them (CVE-2022-0358: the
// daemon's own groups never count), KILLPRIV_V2, DONT_MASK with --posix-acl, --security-label.
import { execFileSync } from 'node:child_process';
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { constants as osc } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { StatField, type RequestContext } from '../../../src/filesystem/filesystem.js';
import { C } from '../../../src/native/syscalls.js';
import { parseIdMapRule } from '../../../src/passthrough/idmap.js';
import { FATTR } from '../../../src/filesystem/filesystem.js';
import { parseXattrMap } from '../../../src/passthrough/xattrmap.js';
import { BufferReader, makeShare, name, root, setattrReq, user, type Share } from './helpers.js';

const E = osc.errno;
const KILLPRIV_V2 = 1n << 28n;
const ACL_FLAGS = (1n << 20n) | (1n << 6n) | (1n << 29n);
const SECURITY_CTX = 1n << 32n;
let s: Share | undefined;

afterEach(async () => {
  await s?.cleanup();
  s = undefined;
});

const mode = (a: Buffer): number => a.readUInt32LE(StatField.mode) & 0o7777;
const owner = (a: Buffer): [number, number] => [a.readUInt32LE(StatField.uid), a.readUInt32LE(StatField.gid)];
const withGroups = (ctx: RequestContext, groups: number[]): RequestContext => ({ ...ctx, supplementaryGroups: groups });

describe('--translate-uid / --translate-gid', () => {
  it('maps the caller to the host for new files, and the host back to the guest in attributes', async () => {
    s = await makeShare({
      translateUid: [parseIdMapRule('map:1000:101000:100'), parseIdMapRule('forbid-guest:5000:10')],
      translateGid: [parseIdMapRule('squash-guest:0:4242:65536'), parseIdMapRule('squash-host:4242:100:1')],
    });
    nfs.chmodSync(s.dir, 0o777);
    const c = await s.fs.create(user(1005, 777), 1, name('f'), 0o100644, C.O_RDWR, 0);
    const host = nfs.statSync(join(s.dir, 'f'));
    expect([host.uid, host.gid]).toEqual([101005, 4242]);
    expect(owner(c.entry.attr)).toEqual([1005, 100]);
    expect(owner((await s.fs.getattr(root, c.entry.nodeid, undefined)).attr)).toEqual([1005, 100]);
    const d = await s.fs.mkdir(user(1001, 5), 1, name('d'), 0o755, 0);
    expect(owner(d.attr)).toEqual([1001, 100]);
    // Unmapped host ids pass through unchanged.
    nfs.writeFileSync(join(s.dir, 'plain'), '');
    nfs.chownSync(join(s.dir, 'plain'), 7, 8);
    expect(owner((await s.fs.lookup(root, 1, name('plain'))).attr)).toEqual([7, 8]);
    // SETATTR's new owner goes guest → host.
    const a = await s.fs.setattr(root, c.entry.nodeid, setattrReq({ valid: FATTR.UID | FATTR.GID, uid: 1050, gid: 9 }));
    expect([nfs.statSync(join(s.dir, 'f')).uid, nfs.statSync(join(s.dir, 'f')).gid]).toEqual([101050, 4242]);
    expect(owner(a.attr)).toEqual([1050, 100]);
    // forbid-guest: EPERM for the caller and as a new owner.
    await expect(s.fs.mkdir(user(5003, 0), 1, name('x'), 0o755, 0)).rejects.toMatchObject({ errno: E.EPERM });
    await expect(s.fs.setattr(root, c.entry.nodeid, setattrReq({ valid: FATTR.UID, uid: 5009 }))).rejects.toMatchObject({ errno: E.EPERM });
    // STATX and READDIRPLUS entries are translated too.
    const sx = await s.fs.statx(root, c.entry.nodeid, undefined, 0, 0);
    expect([sx.statx.readUInt32LE(20), sx.statx.readUInt32LE(24)]).toEqual([1050, 100]);
  });

  it('--posix-acl cannot be combined with a translation', async () => {
    await expect(makeShare({ posixAcl: true, translateUid: [parseIdMapRule('map:0:1000:1')] })).rejects.toThrow(/posix-acl/);
  });
});

describe('groups and SGID', () => {
  it('the supplementary-group extension lets a member create in a group-writable directory', async () => {
    s = await makeShare();
    nfs.mkdirSync(join(s.dir, 'team'));
    nfs.chownSync(join(s.dir, 'team'), 0, 3000);
    nfs.chmodSync(join(s.dir, 'team'), 0o775);
    const team = await s.fs.lookup(root, 1, name('team'));
    await expect(s.fs.mkdir(user(1000, 1000), team.nodeid, name('no'), 0o755, 0)).rejects.toMatchObject({ errno: E.EACCES });
    const e = await s.fs.mkdir(withGroups(user(1000, 1000), [3000]), team.nodeid, name('yes'), 0o755, 0);
    expect(owner(e.attr)).toEqual([1000, 1000]);
    const f = await s.fs.create(withGroups(user(1000, 1000), [3000]), team.nodeid, name('file'), 0o100644, C.O_RDWR, 0);
    expect(owner(f.entry.attr)).toEqual([1000, 1000]);
    // The thread's groups are back to the daemon's afterwards.
    await expect(s.fs.mkdir(user(1000, 1000), team.nodeid, name('no2'), 0o755, 0)).rejects.toMatchObject({ errno: E.EACCES });
  });

  it('inherits the group and SGID of an SGID directory; strips SGID for non-members (CVE-2022-0358)', async () => {
    s = await makeShare();
    // The daemon runs as root, a member of group 0: that membership must not count for the guest.
    nfs.mkdirSync(join(s.dir, 'sgid'));
    nfs.chmodSync(join(s.dir, 'sgid'), 0o2777);
    nfs.chownSync(join(s.dir, 'sgid'), 0, 0);
    const dir = await s.fs.lookup(root, 1, name('sgid'));
    const sub = await s.fs.mkdir(user(1000, 1000), dir.nodeid, name('sub'), 0o755, 0);
    expect(owner(sub.attr)).toEqual([1000, 0]);
    expect(mode(sub.attr) & 0o2000).toBe(0o2000); // directories inherit SGID
    const f = await s.fs.create(user(1000, 1000), dir.nodeid, name('f'), 0o102755, C.O_RDWR, 0);
    expect(owner(f.entry.attr)).toEqual([1000, 0]);
    expect(mode(f.entry.attr)).toBe(0o755); // not a member of group 0: S_ISGID stripped
    const n = await s.fs.mknod(user(1000, 1000), dir.nodeid, name('n'), 0o102755, 0, 0);
    expect(mode(n.attr)).toBe(0o755);
    // A member (through the extension) keeps it.
    const m = await s.fs.create(withGroups(user(1000, 1000), [0]), dir.nodeid, name('m'), 0o102755, C.O_RDWR, 0);
    expect(mode(m.entry.attr)).toBe(0o2755);
    // And the guest's root keeps it anyway.
    const r = await s.fs.create(root, dir.nodeid, name('r'), 0o102755, C.O_RDWR, 0);
    expect(mode(r.entry.attr)).toBe(0o2755);
  });
});

describe('KILLPRIV_V2', () => {
  async function setup(killprivV2: boolean) {
    s = await makeShare({ killprivV2 });
    const mask = await s.fs.init({ minor: 39, flags: KILLPRIV_V2 });
    expect(mask & KILLPRIV_V2).toBe(killprivV2 ? KILLPRIV_V2 : 0n);
    const path = join(s.dir, 'suid');
    const reset = (): void => {
      nfs.writeFileSync(path, 'data');
      nfs.chmodSync(path, 0o6775);
    };
    reset();
    const e = await s.fs.lookup(root, 1, name('suid'));
    return { node: e.nodeid, path, reset, fs: s.fs };
  }
  const m = (p: string): number => nfs.statSync(p).mode & 0o7777;

  it('write, truncate, chown and O_TRUNC clear suid (and sgid when group-executable) as the flags ask', async () => {
    const { node, path, reset, fs } = await setup(true);
    const o = await fs.open(root, node, C.O_RDWR);
    await fs.write(root, node, o.fh, 0n, new BufferReader(Buffer.from('x')), 0);
    expect(m(path)).toBe(0o6775); // no FUSE_WRITE_KILL_SUIDGID: the caller has CAP_FSETID
    await fs.write(root, node, o.fh, 0n, new BufferReader(Buffer.from('x')), 4);
    expect(m(path)).toBe(0o775);
    reset();
    nfs.chmodSync(path, 0o6765); // sgid without group exec: only suid goes
    await fs.setattr(root, node, setattrReq({ valid: FATTR.SIZE | FATTR.KILL_SUIDGID, size: 1n }));
    expect(m(path)).toBe(0o2765);
    reset();
    await fs.setattr(root, node, setattrReq({ valid: FATTR.UID | FATTR.KILL_SUIDGID, uid: 1000 }));
    expect(m(path)).toBe(0o775);
    reset();
    const t = await fs.open(root, node, C.O_WRONLY | C.O_TRUNC, 1 /* FUSE_OPEN_KILL_SUIDGID */);
    expect(m(path)).toBe(0o775);
    expect(nfs.statSync(path).size).toBe(0);
    await fs.release(root, node, t.fh, 0);
    await fs.release(root, node, o.fh, 0);
  });

  it('off by default: the flags are ignored (the guest clears bits itself through SETATTR)', async () => {
    const { node, path, fs } = await setup(false);
    const o = await fs.open(root, node, C.O_RDWR);
    await fs.write(root, node, o.fh, 0n, new BufferReader(Buffer.from('x')), 4);
    expect(m(path)).toBe(0o6775);
    await fs.release(root, node, o.fh, 0);
  });
});

describe('--posix-acl: the umask is ours to apply (DONT_MASK)', () => {
  it('applies the umask, unless the parent has a default ACL', async () => {
    s = await makeShare({ posixAcl: true });
    await s.fs.init({ minor: 39, flags: ACL_FLAGS });
    const a = await s.fs.mkdir(root, 1, name('masked'), 0o777, 0o022);
    expect(mode(a.attr)).toBe(0o755);
    const f = await s.fs.create(root, 1, name('file'), 0o100666, C.O_RDWR, 0o027);
    expect(mode(f.entry.attr)).toBe(0o640);
    nfs.mkdirSync(join(s.dir, 'acl'));
    // default ACL: user::rwx group::rwx other::rwx
    execFileSync('python3', ['-c', `import os; os.setxattr('${join(s.dir, 'acl')}', 'system.posix_acl_default', bytes.fromhex('02000000' '01000700ffffffff' '04000700ffffffff' '20000700ffffffff'))`]);
    const acl = await s.fs.lookup(root, 1, name('acl'));
    const d = await s.fs.mkdir(root, acl.nodeid, name('inherits'), 0o777, 0o077);
    expect(mode(d.attr)).toBe(0o777); // the default ACL, not the umask
  });

  it('without --posix-acl the umask is the guest\'s business', async () => {
    s = await makeShare();
    const a = await s.fs.mkdir(root, 1, name('unmasked'), 0o777, 0o022);
    expect(mode(a.attr)).toBe(0o777);
  });
});

describe('--security-label', () => {
  function hostGet(path: string, attr: string): string {
    return execFileSync('python3', ['-c', `import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())`, path, attr], {
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
  }
  const label = (v: string): RequestContext => ({ ...root, securityContext: { name: Buffer.from('security.selinux'), value: Buffer.from(v) } });

  it('labels every kind of new inode with the guest\'s context (through --xattrmap)', async () => {
    s = await makeShare({ securityLabel: true, xattrmap: parseXattrMap(':map:security.selinux:trusted.virtiofs.:') });
    expect((await s.fs.init({ minor: 39, flags: SECURITY_CTX })) & SECURITY_CTX).toBe(SECURITY_CTX);
    await s.fs.create(label('system_u:object_r:file_t:s0'), 1, name('f'), 0o100644, C.O_RDWR, 0);
    await s.fs.mkdir(label('dir_t'), 1, name('d'), 0o755, 0);
    await s.fs.symlink(label('link_t'), 1, name('l'), Buffer.from('f'));
    await s.fs.mknod(label('fifo_t'), 1, name('p'), 0o10644, 0, 0);
    const t = await s.fs.tmpfile(label('tmp_t'), 1, 0o100600, C.O_RDWR, 0);
    const hostName = 'trusted.virtiofs.security.selinux';
    expect(hostGet(join(s.dir, 'f'), hostName)).toBe('system_u:object_r:file_t:s0');
    expect(hostGet(join(s.dir, 'd'), hostName)).toBe('dir_t');
    expect(hostGet(join(s.dir, 'l'), hostName)).toBe('link_t');
    expect(hostGet(join(s.dir, 'p'), hostName)).toBe('fifo_t');
    expect((await s.fs.getxattr(root, t.entry.nodeid, name('security.selinux'), 64)).toString()).toBe('tmp_t');
  });

  it('a context the map refuses fails the creation and leaves nothing behind', async () => {
    s = await makeShare({ securityLabel: true, xattrmap: parseXattrMap(':bad:all:security.:: :ok:all:::') });
    await s.fs.init({ minor: 39, flags: SECURITY_CTX });
    await expect(s.fs.mkdir(label('x'), 1, name('d'), 0o755, 0)).rejects.toMatchObject({ errno: E.EPERM });
    await expect(s.fs.create(label('x'), 1, name('f'), 0o100644, C.O_RDWR, 0)).rejects.toMatchObject({ errno: E.EPERM });
    expect(nfs.readdirSync(s.dir)).toEqual([]);
  });

  it('without the option (or not negotiated) the context is ignored', async () => {
    s = await makeShare({ xattr: true });
    await s.fs.mkdir(label('ignored'), 1, name('d'), 0o755, 0);
    expect(() => hostGet(join(s!.dir, 'd'), 'security.selinux')).toThrow();
  });
});
