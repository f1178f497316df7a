// SETXATTR / GETXATTR / LISTXATTR / REMOVEXATTR on the passthrough: --xattr, --xattrmap,
// --posix-acl's attribute rules, and the security.capability remap (CVE-2021-20263).
import { execFileSync } from 'node:child_process';
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { constants as osc } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { C } from '../../../src/native/syscalls.js';
import { FATTR } from '../../../src/filesystem/filesystem.js';
import { parseXattrMap } from '../../../src/passthrough/xattrmap.js';
import { BufferReader, makeShare, name, root, setattrReq, type Share } from './helpers.js';

const E = osc.errno;
const FUSE_POSIX_ACL = 1n << 20n;
const FUSE_DONT_MASK = 1n << 6n;
const FUSE_SETXATTR_EXT = 1n << 29n;
let s: Share | undefined;

afterEach(async () => {
  await s?.cleanup();
  s = undefined;
});

/** getfattr without the attr package: the host's view of an xattr. */
function hostGet(path: string, attr: string): string | undefined {
  const out = execFileSync('python3', ['-c', `import os,sys\ntry: sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).hex())\nexcept OSError: pass`, path, attr]).toString();
  return out === '' ? undefined : Buffer.from(out, 'hex').toString('latin1');
}

function hostList(path: string): string[] {
  return JSON.parse(execFileSync('python3', ['-c', 'import os,sys,json; print(json.dumps(sorted(os.listxattr(sys.argv[1], follow_symlinks=False))))', path]).toString()) as string[];
}

const list = (b: Buffer | number): string[] =>
  (b as Buffer)
    .toString('latin1')
    .split('\0')
    .filter((x) => x !== '')
    .sort();

describe('extended attributes', () => {
  it('are off without --xattr: ENOSYS (the guest then stops asking)', async () => {
    s = await makeShare();
    nfs.writeFileSync(join(s.dir, 'f'), '');
    const e = await s.fs.lookup(root, 1, name('f'));
    await expect(s.fs.getxattr(root, e.nodeid, name('user.a'), 0)).rejects.toMatchObject({ errno: E.ENOSYS });
    await expect(s.fs.setxattr(root, e.nodeid, name('user.a'), Buffer.from('1'), 0, 0)).rejects.toMatchObject({ errno: E.ENOSYS });
    await expect(s.fs.listxattr(root, e.nodeid, 0)).rejects.toMatchObject({ errno: E.ENOSYS });
    await expect(s.fs.removexattr(root, e.nodeid, name('user.a'))).rejects.toMatchObject({ errno: E.ENOSYS });
  });

  it('round-trip on files and directories; size queries, ERANGE, CREATE/REPLACE, ENODATA', async () => {
    s = await makeShare({ xattr: true });
    nfs.writeFileSync(join(s.dir, 'f'), '');
    nfs.mkdirSync(join(s.dir, 'd'));
    for (const n of ['f', 'd']) {
      const e = await s.fs.lookup(root, 1, name(n));
      await s.fs.setxattr(root, e.nodeid, name('user.one'), Buffer.from('value-1'), 0, 0);
      await s.fs.setxattr(root, e.nodeid, name('user.two'), Buffer.alloc(0), 0, 0);
      expect(hostGet(join(s.dir, n), 'user.one')).toBe('value-1');
      expect(await s.fs.getxattr(root, e.nodeid, name('user.one'), 0)).toBe(7);
      expect((await s.fs.getxattr(root, e.nodeid, name('user.one'), 64)).toString()).toBe('value-1');
      await expect(s.fs.getxattr(root, e.nodeid, name('user.one'), 3)).rejects.toMatchObject({ errno: E.ERANGE });
      await expect(s.fs.getxattr(root, e.nodeid, name('user.none'), 64)).rejects.toMatchObject({ errno: E.ENODATA });
      await expect(s.fs.setxattr(root, e.nodeid, name('user.one'), Buffer.from('x'), C.XATTR_CREATE, 0)).rejects.toMatchObject({ errno: E.EEXIST });
      await expect(s.fs.setxattr(root, e.nodeid, name('user.new'), Buffer.from('x'), C.XATTR_REPLACE, 0)).rejects.toMatchObject({ errno: E.ENODATA });
      expect(list(await s.fs.listxattr(root, e.nodeid, 4096))).toEqual(['user.one', 'user.two']);
      expect(await s.fs.listxattr(root, e.nodeid, 0)).toBe('user.one\0user.two\0'.length);
      await expect(s.fs.listxattr(root, e.nodeid, 5)).rejects.toMatchObject({ errno: E.ERANGE });
      await s.fs.removexattr(root, e.nodeid, name('user.two'));
      await expect(s.fs.removexattr(root, e.nodeid, name('user.two'))).rejects.toMatchObject({ errno: E.ENODATA });
      expect(hostList(join(s.dir, n))).toEqual(['user.one']);
    }
  });

  it('reach symlinks and special files through their O_PATH descriptor, never following or opening them', async () => {
    s = await makeShare({ xattr: true });
    nfs.writeFileSync(join(s.dir, 'target'), '');
    nfs.symlinkSync('target', join(s.dir, 'ln'));
    execFileSync('mkfifo', [join(s.dir, 'fifo')]);
    for (const n of ['ln', 'fifo']) {
      const e = await s.fs.lookup(root, 1, name(n));
      // user.* is refused on symlinks and FIFOs by the host kernel itself; trusted.* is root's.
      await expect(s.fs.setxattr(root, e.nodeid, name('user.x'), Buffer.from('1'), 0, 0)).rejects.toMatchObject({ errno: E.EPERM });
      await s.fs.setxattr(root, e.nodeid, name('trusted.x'), Buffer.from(n), 0, 0);
      expect((await s.fs.getxattr(root, e.nodeid, name('trusted.x'), 16)).toString()).toBe(n);
      expect(list(await s.fs.listxattr(root, e.nodeid, 256))).toContain('trusted.x');
      expect(hostGet(join(s.dir, n), 'trusted.x')).toBe(n);
      await s.fs.removexattr(root, e.nodeid, name('trusted.x'));
    }
    expect(hostGet(join(s.dir, 'target'), 'trusted.x')).toBeUndefined(); // the link was not followed
  });

  it('ACL attributes are refused and hidden without --posix-acl', async () => {
    s = await makeShare({ xattr: true });
    nfs.writeFileSync(join(s.dir, 'f'), '');
    execFileSync('python3', ['-c', `import os; os.setxattr('${join(s.dir, 'f')}', 'system.posix_acl_access', bytes.fromhex('02000000' '01000600ffffffff' '02000400d2040000' '04000400ffffffff' '10000400ffffffff' '20000400ffffffff'))`], { stdio: 'ignore' });
    const e = await s.fs.lookup(root, 1, name('f'));
    await expect(s.fs.getxattr(root, e.nodeid, name('system.posix_acl_access'), 0)).rejects.toMatchObject({ errno: E.EOPNOTSUPP });
    await expect(s.fs.setxattr(root, e.nodeid, name('system.posix_acl_default'), Buffer.from('x'), 0, 0)).rejects.toMatchObject({ errno: E.EOPNOTSUPP });
    expect(hostList(join(s.dir, 'f'))).toContain('system.posix_acl_access');
    expect(list(await s.fs.listxattr(root, e.nodeid, 4096))).not.toContain('system.posix_acl_access');
    expect(await s.fs.listxattr(root, e.nodeid, 0)).toBe(0);
  });

  it('--posix-acl: ACLs pass, and an access ACL set with ACL_KILL_SGID clears S_ISGID first', async () => {
    s = await makeShare({ posixAcl: true });
    const mask = await s.fs.init({ minor: 39, flags: FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT });
    expect(mask & (FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT)).toBe(FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT);
    nfs.writeFileSync(join(s.dir, 'f'), '');
    nfs.chmodSync(join(s.dir, 'f'), 0o2775);
    const e = await s.fs.lookup(root, 1, name('f'));
    // user::rwx user:1234:r-- group::r-x mask::r-x other::r-x (stored as an xattr: not minimal)
    const acl = Buffer.from('02000000' + '01000700ffffffff' + '02000400d2040000' + '04000500ffffffff' + '10000500ffffffff' + '20000500ffffffff', 'hex');
    await s.fs.setxattr(root, e.nodeid, name('system.posix_acl_access'), acl, 0, 1);
    expect(nfs.statSync(join(s.dir, 'f')).mode & 0o7777).toBe(0o755);
    expect(await s.fs.getxattr(root, e.nodeid, name('system.posix_acl_access'), 0)).toBeGreaterThan(0);
  });

  it('--xattrmap: prefix, bad (EPERM; GETXATTR ENODATA), unsupported (ENOTSUP), and the listing', async () => {
    const rules = parseXattrMap(`
      /prefix/all/trusted./user.virtiofs./
      /bad/server//trusted./
      /bad/client/user.virtiofs.//
      /unsupported/all/security./security./
      /ok/all///`);
    s = await makeShare({ xattrmap: rules });
    nfs.writeFileSync(join(s.dir, 'f'), '');
    const e = await s.fs.lookup(root, 1, name('f'));
    await s.fs.setxattr(root, e.nodeid, name('trusted.guest'), Buffer.from('g'), 0, 0);
    expect(hostGet(join(s.dir, 'f'), 'user.virtiofs.trusted.guest')).toBe('g');
    expect((await s.fs.getxattr(root, e.nodeid, name('trusted.guest'), 8)).toString()).toBe('g');
    await expect(s.fs.setxattr(root, e.nodeid, name('user.virtiofs.x'), Buffer.from('g'), 0, 0)).rejects.toMatchObject({ errno: E.EPERM });
    await expect(s.fs.getxattr(root, e.nodeid, name('user.virtiofs.x'), 8)).rejects.toMatchObject({ errno: E.ENODATA });
    await expect(s.fs.setxattr(root, e.nodeid, name('security.selinux'), Buffer.from('x'), 0, 0)).rejects.toMatchObject({ errno: E.EOPNOTSUPP });
    await s.fs.setxattr(root, e.nodeid, name('user.plain'), Buffer.from('p'), 0, 0);
    execFileSync('python3', ['-c', `import os; os.setxattr('${join(s.dir, 'f')}', 'trusted.host', b'h')`]);
    // Host: user.virtiofs.trusted.guest, user.plain, trusted.host (hidden). Guest sees:
    expect(list(await s.fs.listxattr(root, e.nodeid, 4096))).toEqual(['trusted.guest', 'user.plain']);
    expect(await s.fs.listxattr(root, e.nodeid, 0)).toBe('trusted.guest\0user.plain\0'.length);
    await s.fs.removexattr(root, e.nodeid, name('trusted.guest'));
    expect(hostGet(join(s.dir, 'f'), 'user.virtiofs.trusted.guest')).toBeUndefined();
  });

  it('a map without a catch-all: unmatched names are EPERM for the guest and hidden in lists', async () => {
    s = await makeShare({ xattrmap: parseXattrMap(':ok:all:user.:user.:') });
    nfs.writeFileSync(join(s.dir, 'f'), '');
    const e = await s.fs.lookup(root, 1, name('f'));
    await expect(s.fs.setxattr(root, e.nodeid, name('trusted.t'), Buffer.from('1'), 0, 0)).rejects.toMatchObject({ errno: E.EPERM });
    execFileSync('python3', ['-c', `import os; os.setxattr('${join(s.dir, 'f')}', 'trusted.t', b'1'); os.setxattr('${join(s.dir, 'f')}', 'user.u', b'1')`]);
    expect(list(await s.fs.listxattr(root, e.nodeid, 4096))).toEqual(['user.u']);
  });

  it('a remapped security.capability is removed on write, truncate and chown (CVE-2021-20263)', async () => {
    s = await makeShare({ xattrmap: parseXattrMap(':map:security.capability:user.virtiofs.:') });
    const cap = Buffer.from('01000002' + '00000000' + '00000000' + '00000000' + '00000000', 'hex');
    nfs.writeFileSync(join(s.dir, 'f'), 'data');
    const e = await s.fs.lookup(root, 1, name('f'));
    const hostName = 'user.virtiofs.security.capability';
    const setCap = (): Promise<void> => s!.fs.setxattr(root, e.nodeid, name('security.capability'), cap, 0, 0);

    await setCap();
    expect(hostGet(join(s.dir, 'f'), hostName)).toBeDefined();
    const o = await s.fs.open(root, e.nodeid, C.O_RDWR);
    await s.fs.write(root, e.nodeid, o.fh, 0n, new BufferReader(Buffer.from('x')), 0);
    expect(hostGet(join(s.dir, 'f'), hostName)).toBeUndefined();

    await setCap();
    await s.fs.setattr(root, e.nodeid, setattrReq({ valid: FATTR.SIZE, size: 1n }));
    expect(hostGet(join(s.dir, 'f'), hostName)).toBeUndefined();

    await setCap();
    await s.fs.setattr(root, e.nodeid, setattrReq({ valid: FATTR.UID, uid: 123 }));
    expect(hostGet(join(s.dir, 'f'), hostName)).toBeUndefined();

    await setCap();
    const t = await s.fs.open(root, e.nodeid, C.O_WRONLY | C.O_TRUNC);
    expect(hostGet(join(s.dir, 'f'), hostName)).toBeUndefined();
    await s.fs.release(root, e.nodeid, t.fh, 0);
    await s.fs.release(root, e.nodeid, o.fh, 0);
  });
});
