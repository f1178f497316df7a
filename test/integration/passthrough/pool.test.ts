// The passthrough with a worker pool of 2 (own file: the pool cannot shrink). Everything runs
// on pool threads, so operations interleave: concurrent lookups of one name, FORGET racing
// with operations, ownership switched per thread.
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { constants as osc } from 'node:os';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StatField } from '../../../src/filesystem/filesystem.js';
import { FATTR } from '../../../src/filesystem/filesystem.js';
import { C, sys } from '../../../src/native/syscalls.js';
import { until } from '../../helpers/wait.js';
import { BufferReader, BufferWriter, fdCount, makeShare, name, root, setattrReq, user, type Share } from './helpers.js';

const E = osc.errno;
let s: Share;

beforeAll(() => {
  sys.setPoolSize(2);
});
beforeEach(async () => {
  s = await makeShare();
  nfs.chmodSync(s.dir, 0o777);
});
afterEach(async () => {
  await s.cleanup();
});

describe('passthrough on a pool of 2', () => {
  it('really uses the pool', () => {
    expect(sys.getPoolSize()).toBe(2);
    expect(sys.sys_close(-1, () => {})).toBeUndefined();
  });

  it('create / write / read / setattr / release', async () => {
    const c = await s.fs.create(user(1200, 1300), 1, name('f'), 0o100644, C.O_RDWR, 0);
    expect(await s.fs.write(root, c.entry.nodeid, c.fh, 0n, new BufferReader(Buffer.from('pool!')), 0)).toBe(5);
    const out = new BufferWriter();
    expect(await s.fs.read(root, c.entry.nodeid, c.fh, 0n, 64, out)).toBe(5);
    expect(out.data.toString()).toBe('pool!');
    const a = await s.fs.setattr(root, c.entry.nodeid, setattrReq({ valid: FATTR.SIZE | FATTR.MODE, size: 2n, mode: 0o600 }));
    expect(a.attr.readBigUInt64LE(StatField.size)).toBe(2n);
    await s.fs.release(root, c.entry.nodeid, c.fh, 0);
    const st = nfs.statSync(join(s.dir, 'f'));
    expect([st.uid, st.gid, st.size, st.mode & 0o777]).toEqual([1200, 1300, 2, 0o600]);
  });

  it('concurrent lookups of one name share one inode and one fd', async () => {
    nfs.writeFileSync(join(s.dir, 'same'), '');
    const before = await fdCount();
    const entries = await Promise.all(Array.from({ length: 32 }, () => s.fs.lookup(root, 1, name('same'))));
    expect(new Set(entries.map((e) => e.nodeid)).size).toBe(1);
    expect(s.fs.stats.inodes).toBe(2);
    // The closes of the duplicate fds run on pool threads: wait for them to land.
    await until(async () => (await fdCount()) === before + 1, 'the duplicate descriptors to be closed');
    s.fs.forget(entries[0].nodeid, 31n);
    expect(s.fs.stats.inodes).toBe(2);
    s.fs.forget(entries[0].nodeid, 1n);
    expect(s.fs.stats.inodes).toBe(1);
  });

  it('many guests create at once, each owning its files', async () => {
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const g = user(3000 + i, 4000 + i);
        const c = await s.fs.create(g, 1, name(`f${i}`), 0o100644, C.O_WRONLY, 0);
        await s.fs.release(g, c.entry.nodeid, c.fh, 0);
        await s.fs.mkdir(g, 1, name(`d${i}`), 0o755, 0);
      }),
    );
    for (let i = 0; i < 40; i++) {
      for (const p of [`f${i}`, `d${i}`]) {
        const st = nfs.statSync(join(s.dir, p));
        expect([st.uid, st.gid]).toEqual([3000 + i, 4000 + i]);
      }
    }
  });

  it('FORGET and RELEASE racing with in-flight operations', async () => {
    nfs.mkdirSync(join(s.dir, 'd'));
    for (let i = 0; i < 20; i++) nfs.writeFileSync(join(s.dir, 'd', `x${i}`), 'x');
    const before = await fdCount();
    for (let round = 0; round < 20; round++) {
      const d = await s.fs.lookup(root, 1, name('d'));
      const o = await s.fs.opendir(root, d.nodeid, 0);
      const ops = [
        s.fs.readdir(root, d.nodeid, o.fh, 0n, true, (_, e) => {
          if (e) s.fs.forget(e.nodeid, 1n);
          return true;
        }),
        s.fs.getattr(root, d.nodeid, undefined),
        s.fs.lookup(root, d.nodeid, name('x1')).then((e) => s.fs.forget(e.nodeid, 1n)),
      ];
      s.fs.forget(d.nodeid, 1n);
      await s.fs.releasedir(root, d.nodeid, o.fh);
      const results = await Promise.allSettled(ops);
      for (const r of results) expect(r.status).toBe('fulfilled');
    }
    expect(s.fs.stats).toEqual({ inodes: 1, handles: 0 });
    await until(async () => (await fdCount()) === before, 'every descriptor to be closed');
  });

  it('errors still carry the host errno', async () => {
    await expect(s.fs.lookup(root, 1, name('missing'))).rejects.toMatchObject({ errno: E.ENOENT });
    nfs.symlinkSync('/etc/passwd', join(s.dir, 'pw'));
    const l = await s.fs.lookup(root, 1, name('pw'));
    await expect(s.fs.open(root, l.nodeid, C.O_RDONLY)).rejects.toMatchObject({ errno: E.EBADF });
    expect((await s.fs.readlink(root, l.nodeid)).toString()).toBe('/etc/passwd');
    await expect(s.fs.access(user(9, 9), 1, 2)).resolves.toBeUndefined(); // share is 0777
  });
});
