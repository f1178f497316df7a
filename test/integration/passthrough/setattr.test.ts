// SETATTR, field by field, by path (O_PATH fd) and through a handle (FATTR_FH).
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { constants as osc } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StatField } from '../../../src/filesystem/filesystem.js';
import { FATTR } from '../../../src/filesystem/filesystem.js';
import { C } from '../../../src/native/syscalls.js';
import { makeShare, name, root, setattrReq, type Share } from './helpers.js';

const E = osc.errno;
let s: Share;
let file: string;
let id: number;

beforeEach(async () => {
  s = await makeShare();
  file = join(s.dir, 'f');
  nfs.writeFileSync(file, '0123456789');
  id = (await s.fs.lookup(root, 1, name('f'))).nodeid;
});
afterEach(async () => {
  await s.cleanup();
});

describe('setattr', () => {
  it('mode', async () => {
    const r = await s.fs.setattr(root, id, setattrReq({ valid: FATTR.MODE, mode: 0o102751 }));
    expect(nfs.statSync(file).mode & 0o7777).toBe(0o2751);
    expect(r.attr.readUInt32LE(StatField.mode)).toBe(0o102751);
    expect(r.attrTimeout).toBe(1);
  });

  it('uid and gid, each alone and together', async () => {
    await s.fs.setattr(root, id, setattrReq({ valid: FATTR.UID, uid: 1234, gid: 999 }));
    let st = nfs.statSync(file);
    expect([st.uid, st.gid]).toEqual([1234, 0]);
    await s.fs.setattr(root, id, setattrReq({ valid: FATTR.GID, uid: 5, gid: 4321 }));
    st = nfs.statSync(file);
    expect([st.uid, st.gid]).toEqual([1234, 4321]);
    const r = await s.fs.setattr(root, id, setattrReq({ valid: FATTR.UID | FATTR.GID, uid: 7, gid: 8 }));
    expect([r.attr.readUInt32LE(StatField.uid), r.attr.readUInt32LE(StatField.gid)]).toEqual([7, 8]);
  });

  it('size by path and through a handle', async () => {
    const r = await s.fs.setattr(root, id, setattrReq({ valid: FATTR.SIZE, size: 4n }));
    expect(nfs.readFileSync(file, 'utf8')).toBe('0123');
    expect(r.attr.readBigUInt64LE(StatField.size)).toBe(4n);
    const o = await s.fs.open(root, id, C.O_RDWR);
    await s.fs.setattr(root, id, setattrReq({ valid: FATTR.SIZE | FATTR.FH, fh: o.fh, size: 1n << 20n }));
    expect(nfs.statSync(file).size).toBe(1 << 20);
    await expect(s.fs.setattr(root, id, setattrReq({ valid: FATTR.SIZE | FATTR.FH, fh: o.fh + 100, size: 0n }))).rejects.toMatchObject({
      errno: E.EBADF,
    });
    await s.fs.release(root, id, o.fh, 0);
  });

  it('size of a directory or FIFO is refused without opening it', async () => {
    nfs.mkdirSync(join(s.dir, 'd'));
    nfs.mkdirSync(join(s.dir, 'p'));
    const d = await s.fs.lookup(root, 1, name('d'));
    await expect(s.fs.setattr(root, d.nodeid, setattrReq({ valid: FATTR.SIZE, size: 0n }))).rejects.toMatchObject({ errno: E.EISDIR });
    await s.fs.mknod(root, 1, name('fifo'), 0o010644, 0, 0);
    const f = await s.fs.lookup(root, 1, name('fifo'));
    // Opening a FIFO for writing without a reader would block: we must not even try.
    await expect(s.fs.setattr(root, f.nodeid, setattrReq({ valid: FATTR.SIZE, size: 0n }))).rejects.toMatchObject({ errno: E.EINVAL });
  });

  it('atime and mtime: explicit, NOW, and one without the other', async () => {
    await s.fs.setattr(root, id, setattrReq({ valid: FATTR.ATIME | FATTR.MTIME, atime: 1000n, atimensec: 1, mtime: 2000n, mtimensec: 2 }));
    let st = nfs.statSync(file, { bigint: true });
    expect([st.atimeNs, st.mtimeNs]).toEqual([1000_000_000_001n, 2000_000_000_002n]);
    await s.fs.setattr(root, id, setattrReq({ valid: FATTR.MTIME, mtime: 3000n }));
    st = nfs.statSync(file, { bigint: true });
    expect([st.atimeNs, st.mtimeNs]).toEqual([1000_000_000_001n, 3000_000_000_000n]);
    const r = await s.fs.setattr(root, id, setattrReq({ valid: FATTR.ATIME | FATTR.ATIME_NOW, atime: 5n }));
    st = nfs.statSync(file, { bigint: true });
    expect(st.atimeNs > 1_600_000_000_000_000_000n).toBe(true);
    expect(st.mtimeNs).toBe(3000_000_000_000n);
    expect(r.attr.readBigUInt64LE(StatField.atime)).toBe(st.atimeNs / 1_000_000_000n);
    await s.fs.setattr(root, id, setattrReq({ valid: FATTR.MTIME | FATTR.MTIME_NOW }));
    expect(nfs.statSync(file, { bigint: true }).mtimeNs > 1_600_000_000_000_000_000n).toBe(true);
    // Negative (pre-1970) seconds arrive as a u64 from the guest.
    await s.fs.setattr(root, id, setattrReq({ valid: FATTR.MTIME, mtime: BigInt.asUintN(64, -10n) }));
    expect(nfs.statSync(file, { bigint: true }).mtimeNs).toBe(-10_000_000_000n);
  });

  it('times and mode through a handle', async () => {
    const o = await s.fs.open(root, id, C.O_RDONLY);
    await s.fs.setattr(root, id, setattrReq({ valid: FATTR.FH | FATTR.MTIME | FATTR.MODE, fh: o.fh, mtime: 77n, mode: 0o600 }));
    const st = nfs.statSync(file, { bigint: true });
    expect(st.mtimeNs).toBe(77_000_000_000n);
    expect(st.mode & 0o7777n).toBe(0o600n);
    await s.fs.release(root, id, o.fh, 0);
  });

  it('ignores FATTR_CTIME and returns fresh attributes', async () => {
    const r = await s.fs.setattr(root, id, setattrReq({ valid: FATTR.CTIME, ctime: 1n }));
    expect(r.attr.readBigUInt64LE(StatField.ctime)).toBeGreaterThan(1n);
    expect(r.attr.readBigUInt64LE(StatField.size)).toBe(10n);
  });

  it('on a symlink: owner changes the link, not its target', async () => {
    nfs.symlinkSync('/etc/passwd', join(s.dir, 'ln'));
    const passwd = nfs.statSync('/etc/passwd');
    const l = await s.fs.lookup(root, 1, name('ln'));
    await s.fs.setattr(root, l.nodeid, setattrReq({ valid: FATTR.UID | FATTR.GID, uid: 4242, gid: 4242 }));
    expect(nfs.lstatSync(join(s.dir, 'ln')).uid).toBe(4242);
    expect(nfs.statSync('/etc/passwd').uid).toBe(passwd.uid);
    await expect(s.fs.setattr(root, l.nodeid, setattrReq({ valid: FATTR.MODE, mode: 0o777 }))).rejects.toMatchObject({
      errno: E.EOPNOTSUPP,
    });
    expect(nfs.statSync('/etc/passwd').mode).toBe(passwd.mode);
    await expect(s.fs.setattr(root, l.nodeid, setattrReq({ valid: FATTR.SIZE, size: 0n }))).rejects.toMatchObject({ errno: E.EINVAL });
    expect(nfs.statSync('/etc/passwd').size).toBe(passwd.size);
  });

  it('unknown node → ESTALE', async () => {
    await expect(s.fs.setattr(root, 9999, setattrReq({ valid: FATTR.MODE, mode: 0o600 }))).rejects.toMatchObject({ errno: E.ESTALE });
  });
});
