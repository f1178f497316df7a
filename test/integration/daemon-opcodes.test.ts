// Every opcode the core issue implements, through the real daemon process, over a real
// vhost-user socket, with our frontend playing QEMU and the guest driver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, statSync, lstatSync, readlinkSync, existsSync, symlinkSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import { startSession, type Session } from '../helpers/daemon.js';
import { ErrnoError } from '../../src/filesystem/errors.js';
import { Opcode } from '../../src/fuse/abi.js';
import { cstr } from '../../src/frontend/fuse-client.js';

const E = constants.errno;
const O_RDWR = 2;

async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ErrnoError) return e.errno;
    throw e;
  }
  return 0;
}

for (const pool of [0, 2]) {
  describe(`daemon opcodes (--thread-pool-size=${pool})`, () => {
    let s: Session;
    beforeAll(async () => {
      s = await startSession({ args: [`--thread-pool-size=${pool}`, '--cache=never'] });
    });
    afterAll(async () => {
      await s?.close();
    });

    it('negotiates INIT with max_write 1 MiB', () => {
      const out = s.fuse.initOut!;
      expect(out.readUInt32LE(0)).toBe(7);
      expect(out.readUInt32LE(20)).toBe(1 << 20);
    });

    it('creates, writes, reads back and sees it on the host', async () => {
      const { entry, fh } = await s.fuse.create(1, 'hello.txt', 0o644, O_RDWR);
      const data = Buffer.from('hello, virtio-fs\n'.repeat(1000));
      expect(await s.fuse.write(entry.nodeid, fh, 0, data)).toBe(data.length);
      const back = await s.fuse.read(entry.nodeid, fh, 0, 1 << 20);
      expect(back.equals(data)).toBe(true);
      expect(readFileSync(join(s.daemon.shareDir, 'hello.txt')).equals(data)).toBe(true);
      await s.fuse.flush(entry.nodeid, fh);
      await s.fuse.fsync(entry.nodeid, fh);
      await s.fuse.release(entry.nodeid, fh);
      const attr = await s.fuse.getattr(entry.nodeid);
      expect(attr.size).toBe(BigInt(data.length));
      expect(attr.mode & 0o777).toBe(0o644);
    });

    it('moves 1 MiB in one READ and one WRITE (straight through guest memory)', async () => {
      const { entry, fh } = await s.fuse.create(1, 'big.bin', 0o600, O_RDWR);
      const data = Buffer.alloc(1 << 20);
      for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i * 2654435761 >>> 0, i);
      expect(await s.fuse.write(entry.nodeid, fh, 4096, data)).toBe(data.length);
      const back = await s.fuse.read(entry.nodeid, fh, 4096, 1 << 20);
      expect(back.equals(data)).toBe(true);
      const eof = await s.fuse.read(entry.nodeid, fh, 4096 + (1 << 20), 4096);
      expect(eof.length).toBe(0);
      await s.fuse.release(entry.nodeid, fh);
    });

    it('looks up, and refuses names with / or dot-dot', async () => {
      writeFileSync(join(s.daemon.shareDir, 'existing'), 'x');
      const e = await s.fuse.lookup(1, 'existing');
      expect(e.attr.size).toBe(1n);
      expect(await errnoOf(s.fuse.lookup(1, 'missing'))).toBe(E.ENOENT);
      expect(await errnoOf(s.fuse.mkdir(1, 'a/b'))).not.toBe(0);
      expect(await errnoOf(s.fuse.mkdir(1, '..'))).not.toBe(0);
      expect(existsSync(join(s.daemon.shareDir, '..', 'b'))).toBe(false);
    });

    it('mkdir, rename (file and dir), link, symlink, readlink, unlink, rmdir', async () => {
      const d = await s.fuse.mkdir(1, 'dir', 0o750);
      expect(statSync(join(s.daemon.shareDir, 'dir')).mode & 0o777).toBe(0o750);
      const { entry, fh } = await s.fuse.create(d.nodeid, 'f', 0o640, O_RDWR);
      await s.fuse.release(entry.nodeid, fh);
      await s.fuse.rename(d.nodeid, 'f', 1, 'moved');
      expect(existsSync(join(s.daemon.shareDir, 'moved'))).toBe(true);
      await s.fuse.rename(1, 'dir', 1, 'dir2');
      expect(existsSync(join(s.daemon.shareDir, 'dir2'))).toBe(true);
      const l = await s.fuse.link(entry.nodeid, 1, 'hardlink');
      expect(l.attr.nlink).toBe(2);
      const sl = await s.fuse.symlink(1, 'sym', 'moved');
      expect(await s.fuse.readlink(sl.nodeid)).toBe('moved');
      expect(readlinkSync(join(s.daemon.shareDir, 'sym'))).toBe('moved');
      await s.fuse.unlink(1, 'sym');
      await s.fuse.unlink(1, 'hardlink');
      await s.fuse.unlink(1, 'moved');
      await s.fuse.rmdir(1, 'dir2');
      expect(existsSync(join(s.daemon.shareDir, 'dir2'))).toBe(false);
      expect(await errnoOf(s.fuse.rmdir(1, 'dir2'))).toBe(E.ENOENT);
    });

    it('RENAME2 NOREPLACE refuses to clobber', async () => {
      writeFileSync(join(s.daemon.shareDir, 'r1'), '1');
      writeFileSync(join(s.daemon.shareDir, 'r2'), '2');
      expect(await errnoOf(s.fuse.rename(1, 'r1', 1, 'r2', 1))).toBe(E.EEXIST);
      await s.fuse.rename(1, 'r1', 1, 'r2', 2 /* EXCHANGE */);
      expect(readFileSync(join(s.daemon.shareDir, 'r2'), 'utf8')).toBe('1');
    });

    it('setattr: mode, owner, size, times', async () => {
      const { entry, fh } = await s.fuse.create(1, 'attrs', 0o600, O_RDWR);
      await s.fuse.release(entry.nodeid, fh);
      const a = Buffer.alloc(88);
      a.writeUInt32LE(1 | 2 | 4 | 8 | 16 | 32, 0); // MODE UID GID SIZE ATIME MTIME
      a.writeBigUInt64LE(12345n, 16); // size
      a.writeBigUInt64LE(1000000n, 32); // atime
      a.writeBigUInt64LE(2000000n, 40); // mtime
      a.writeUInt32LE(0o100751, 68); // mode
      a.writeUInt32LE(1234, 76); // uid
      a.writeUInt32LE(5678, 80); // gid
      const attr = await s.fuse.setattr(entry.nodeid, a);
      expect(attr.size).toBe(12345n);
      expect(attr.mode & 0o7777).toBe(0o751);
      const st = statSync(join(s.daemon.shareDir, 'attrs'));
      expect([st.uid, st.gid, st.size, st.mode & 0o777]).toEqual([1234, 5678, 12345, 0o751]);
      expect(Math.round(st.mtimeMs / 1000)).toBe(2000000);
    });

    it('new files belong to the requesting guest uid/gid', async () => {
      const dir = join(s.daemon.shareDir, 'open');
      mkdirSync(dir);
      chmodSync(dir, 0o777); // mkdirSync's mode is filtered by the test's umask
      const d = await s.fuse.lookup(1, 'open');
      s.fuse.caller = { uid: 4242, gid: 4343, pid: 99 };
      try {
        const { entry, fh } = await s.fuse.create(d.nodeid, 'mine', 0o644, O_RDWR);
        await s.fuse.release(entry.nodeid, fh);
        await s.fuse.mkdir(d.nodeid, 'mydir');
      } finally {
        s.fuse.caller = { uid: 0, gid: 0, pid: 1 };
      }
      const st = statSync(join(dir, 'mine'));
      expect([st.uid, st.gid]).toEqual([4242, 4343]);
      const sd = statSync(join(dir, 'mydir'));
      expect([sd.uid, sd.gid]).toEqual([4242, 4343]);
    });

    it('readdir and readdirplus list a 1000-entry directory', async () => {
      const d = await s.fuse.mkdir(1, 'many');
      for (let i = 0; i < 1000; i++) writeFileSync(join(s.daemon.shareDir, 'many', `f${i}`), '');
      const names = (await s.fuse.listDir(d.nodeid)).map((e) => e.name).filter((n) => n !== '.' && n !== '..');
      expect(names.length).toBe(1000);
      const plus = (await s.fuse.listDir(d.nodeid, true)).filter((e) => e.name !== '.' && e.name !== '..');
      expect(plus.length).toBe(1000);
      expect(plus.every((e) => e.entry !== undefined && e.entry.nodeid > 1)).toBe(true);
      for (const e of plus) await s.fuse.forget(e.entry!.nodeid, 1);
    });

    it('statfs and access', async () => {
      const st = await s.fuse.statfs();
      expect(st.bsize).toBeGreaterThan(0);
      expect(st.namelen).toBe(255);
      await s.fuse.access(1, 4);
    });

    it('a symlink to /etc/passwd never leads out of the share', async () => {
      symlinkSync('/etc/passwd', join(s.daemon.shareDir, 'escape'));
      const e = await s.fuse.lookup(1, 'escape');
      expect(e.attr.mode & 0o170000).toBe(0o120000);
      expect(await errnoOf(s.fuse.open(e.nodeid, 0))).not.toBe(0);
      expect(lstatSync(join(s.daemon.shareDir, 'escape')).isSymbolicLink()).toBe(true);
    });

    it('answers malformed requests with errors and keeps serving', async () => {
      // Header length larger than what was sent.
      const bad = s.fuse.build(Opcode.LOOKUP, 1, [cstr('existing')]);
      bad.writeUInt32LE(bad.length + 100, 0);
      const r1 = await s.fuse.raw(bad, 256);
      expect(r1.error).toBe(-E.EINVAL);
      // Name without NUL.
      const r2 = await s.fuse.raw(s.fuse.build(Opcode.LOOKUP, 1, [Buffer.from('existing')]), 256);
      expect(r2.error).toBeLessThan(0);
      // Unknown opcode.
      const r3 = await s.fuse.raw(s.fuse.build(4000, 1, []), 256);
      expect(r3.error).toBe(-E.ENOSYS);
      // Short header: no reply, but the buffer comes back.
      const r4 = await s.fuse.raw(Buffer.alloc(10), 256);
      expect(r4.usedLen).toBe(0);
      // Unknown node id.
      expect(await errnoOf(s.fuse.getattr(999999))).not.toBe(0);
      // Still alive.
      expect((await s.fuse.lookup(1, 'existing')).attr.size).toBe(1n);
    });

    it('DESTROY ends the session; a new INIT starts another', async () => {
      await s.fuse.destroy();
      expect(await errnoOf(s.fuse.lookup(1, 'existing'))).toBe(E.EIO);
      await s.fuse.init();
      expect((await s.fuse.lookup(1, 'existing')).attr.size).toBe(1n);
    });
  });
}

describe('daemon life cycle', () => {
  it('exits 0 when the frontend disconnects', async () => {
    const s = await startSession();
    s.frontend.close();
    expect(await s.daemon.exited).toBe(0);
    await s.daemon.stop();
  });
});
