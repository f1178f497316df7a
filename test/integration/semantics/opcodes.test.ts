// The opcodes of the semantics issue through the real daemon (sandboxed, as by default), over
// vhost-user, with our frontend as the guest: INIT flags per option, xattrs, locks with a
// blocking SETLKW that FUSE_INTERRUPT ends, FALLOCATE, LSEEK, COPY_FILE_RANGE, SYNCFS, TMPFILE,
// STATX, RENAME2 WHITEOUT, the deliberate answers, and CREATE's request extensions.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSession, type Session } from '../../helpers/daemon.js';
import { untilBlockedOnLock } from '../../helpers/wait.js';
import { EntryOut, InHeader, InitFlag, Opcode } from '../../../src/fuse/abi.js';
import { cstr } from '../../../src/frontend/fuse-client.js';
import { errnoOf, GUEST_FLAGS, interrupt, lkIn, prepared, reinit, send, u32s, u64 } from './helpers.js';

const E = constants.errno;
const O_RDWR = 2;
const F_RDLCK = 0;
const F_WRLCK = 1;
const F_UNLCK = 2;

for (const pool of [0, 2]) {
  describe(`semantics opcodes through the daemon (--thread-pool-size=${pool})`, () => {
    let s: Session;
    let flags: bigint;
    beforeAll(async () => {
      s = await startSession({ args: [`--thread-pool-size=${pool}`, '--xattr', '--posix-lock', '-o', 'flock', '--security-label'] });
      flags = await reinit(s, GUEST_FLAGS);
    });
    afterAll(async () => {
      await s?.close();
    });

    it('negotiates what the options ask for, and 7.39', () => {
      expect(s.fuse.initOut!.readUInt32LE(4)).toBe(39);
      for (const f of [InitFlag.POSIX_LOCKS, InitFlag.FLOCK_LOCKS, InitFlag.SECURITY_CTX, InitFlag.CREATE_SUPP_GROUP]) expect(flags & f).toBe(f);
      for (const f of [InitFlag.WRITEBACK_CACHE, InitFlag.POSIX_ACL, InitFlag.HANDLE_KILLPRIV_V2, InitFlag.EXPORT_SUPPORT]) expect(flags & f).toBe(0n);
    });

    it('SETXATTR / GETXATTR / LISTXATTR / REMOVEXATTR', async () => {
      const { entry, fh } = await s.fuse.create(1, 'x.txt', 0o644, O_RDWR);
      await s.fuse.release(entry.nodeid, fh);
      const value = Buffer.alloc(3000, 'v');
      // SETXATTR_EXT is only negotiated with --posix-acl: the 8-byte fuse_setxattr_in.
      expect(flags & InitFlag.SETXATTR_EXT).toBe(0n);
      await s.fuse.call(Opcode.SETXATTR, entry.nodeid, [u32s(value.length, 0), cstr('user.big'), value], 0);
      const size = await s.fuse.call(Opcode.GETXATTR, entry.nodeid, [u32s(0, 0), cstr('user.big')], 8);
      expect(size.readUInt32LE(0)).toBe(3000);
      expect((await s.fuse.call(Opcode.GETXATTR, entry.nodeid, [u32s(4096, 0), cstr('user.big')], 4096)).equals(value)).toBe(true);
      expect((await s.fuse.call(Opcode.LISTXATTR, entry.nodeid, [u32s(4096, 0)], 4096)).toString()).toBe('user.big\0');
      await s.fuse.call(Opcode.REMOVEXATTR, entry.nodeid, [cstr('user.big')], 0);
      expect(await errnoOf(s.fuse.call(Opcode.GETXATTR, entry.nodeid, [u32s(0, 0), cstr('user.big')], 8))).toBe(E.ENODATA);
    });

    it('POSIX locks: a SETLKW waits without stalling the queue, and FUSE_INTERRUPT ends it with EINTR', async () => {
      const { entry, fh } = await s.fuse.create(1, 'lock.txt', 0o644, O_RDWR);
      const n = entry.nodeid;
      await s.fuse.call(Opcode.SETLK, n, [lkIn(fh, 1n, F_WRLCK)], 0);
      expect(await errnoOf(s.fuse.call(Opcode.SETLK, n, [lkIn(fh, 2n, F_RDLCK)], 0))).toBe(E.EAGAIN);
      const lk = await s.fuse.call(Opcode.GETLK, n, [lkIn(fh, 2n, F_RDLCK, 0n, 0x7fff_ffff_ffff_ffffn, 0, 77)], 24);
      expect(lk.readUInt32LE(16)).toBe(F_WRLCK);
      expect(lk.readUInt32LE(20)).toBe(1); // the holder's pid as the guest gave it
      const w = prepared(s, Opcode.SETLKW, n, [lkIn(fh, 2n, F_WRLCK)]);
      const waiting = send(s, w.bytes, 0);
      let settled = false;
      void waiting.then(
        () => (settled = true),
        () => (settled = true),
      );
      // Waiting, not merely unanswered yet: the daemon's F_OFD_SETLKW sleeps on the share's file.
      const ino = statSync(join(s.daemon.shareDir, 'lock.txt')).ino;
      await untilBlockedOnLock(ino, 'the SETLKW to wait on the share', 1, 'OFDLCK');
      expect(settled).toBe(false);
      expect((await s.fuse.getattr(n)).size).toBe(0n); // other requests go on meanwhile
      await interrupt(s, w.unique);
      expect(await errnoOf(waiting)).toBe(E.EINTR);
      // A second waiter is granted when the holder unlocks.
      const w2 = prepared(s, Opcode.SETLKW, n, [lkIn(fh, 3n, F_RDLCK)]);
      const granted = send(s, w2.bytes, 0);
      await untilBlockedOnLock(ino, 'the second SETLKW to wait', 1, 'OFDLCK');
      await s.fuse.call(Opcode.SETLK, n, [lkIn(fh, 1n, F_UNLCK)], 0);
      await granted;
      // FLUSH (the guest closing a descriptor) drops the owner's locks.
      const flush = Buffer.concat([u64(fh), u32s(0, 0), u64(3n)]);
      await s.fuse.call(Opcode.FLUSH, n, [flush], 0);
      await s.fuse.call(Opcode.SETLK, n, [lkIn(fh, 1n, F_WRLCK)], 0);
      await s.fuse.release(n, fh);
    });

    it('flock locks per open file', async () => {
      const { entry, fh } = await s.fuse.create(1, 'flock.txt', 0o644, O_RDWR);
      const b = await s.fuse.open(entry.nodeid, O_RDWR);
      await s.fuse.call(Opcode.SETLK, entry.nodeid, [lkIn(fh, 0n, F_WRLCK, 0n, 0x7fff_ffff_ffff_ffffn, 1)], 0);
      expect(await errnoOf(s.fuse.call(Opcode.SETLK, entry.nodeid, [lkIn(b.fh, 0n, F_RDLCK, 0n, 0x7fff_ffff_ffff_ffffn, 1)], 0))).toBe(E.EAGAIN);
      const rel = Buffer.concat([u64(fh), u32s(0, 2 /* FLOCK_UNLOCK */), u64(0)]);
      await s.fuse.call(Opcode.RELEASE, entry.nodeid, [rel], 0);
      await s.fuse.call(Opcode.SETLK, entry.nodeid, [lkIn(b.fh, 0n, F_RDLCK, 0n, 0x7fff_ffff_ffff_ffffn, 1)], 0);
      await s.fuse.release(entry.nodeid, b.fh);
    });

    it('FALLOCATE, LSEEK SEEK_HOLE, COPY_FILE_RANGE, SYNCFS', async () => {
      const { entry, fh } = await s.fuse.create(1, 'data.bin', 0o644, O_RDWR);
      const n = entry.nodeid;
      await s.fuse.call(Opcode.FALLOCATE, n, [u64(fh), u64(0), u64(2 << 20), u32s(0, 0)], 0);
      expect(statSync(join(s.daemon.shareDir, 'data.bin')).size).toBe(2 << 20);
      await s.fuse.write(n, fh, 0, Buffer.alloc(1 << 20, 1));
      await s.fuse.write(n, fh, 1 << 20, Buffer.alloc(1 << 20, 1));
      await s.fuse.call(Opcode.FALLOCATE, n, [u64(fh), u64(1 << 20), u64(1 << 20), u32s(3 /* KEEP_SIZE|PUNCH_HOLE */, 0)], 0);
      const hole = await s.fuse.call(Opcode.LSEEK, n, [u64(fh), u64(0), u32s(4 /* SEEK_HOLE */, 0)], 8);
      expect(hole.readBigUInt64LE(0)).toBe(1n << 20n);
      const dst = await s.fuse.create(1, 'copy.bin', 0o644, O_RDWR);
      const cfr = Buffer.concat([u64(fh), u64(4096), u64(dst.entry.nodeid), u64(dst.fh), u64(0), u64(8192), u64(0)]);
      expect((await s.fuse.call(Opcode.COPY_FILE_RANGE, n, [cfr], 8)).readUInt32LE(0)).toBe(8192);
      expect(readFileSync(join(s.daemon.shareDir, 'copy.bin')).equals(Buffer.alloc(8192, 1))).toBe(true);
      await s.fuse.call(Opcode.SYNCFS, 1, [u64(0)], 0);
      await s.fuse.release(n, fh);
      await s.fuse.release(dst.entry.nodeid, dst.fh);
    });

    it('TMPFILE, then LINK names it; STATX answers btime', async () => {
      const t = await s.fuse.call(Opcode.TMPFILE, 1, [u32s(O_RDWR, 0o100600, 0, 0), cstr('/')], EntryOut.SIZE + 16);
      const nodeid = Number(t.readBigUInt64LE(0));
      const fh = Number(t.readBigUInt64LE(EntryOut.SIZE));
      await s.fuse.write(nodeid, fh, 0, Buffer.from('from tmpfile'));
      await s.fuse.link(nodeid, 1, 'was-tmp');
      expect(readFileSync(join(s.daemon.shareDir, 'was-tmp'), 'utf8')).toBe('from tmpfile');
      const sx = await s.fuse.call(Opcode.STATX, nodeid, [u32s(0, 0), u64(0), u32s(0, 0x800)], 288);
      expect(sx.readUInt32LE(32) & 0x800).toBe(0x800);
      expect(sx.readBigUInt64LE(32 + 40)).toBe(12n);
      await s.fuse.release(nodeid, fh);
    });

    it('RENAME2 WHITEOUT leaves a 0:0 character device', async () => {
      writeFileSync(join(s.daemon.shareDir, 'lower'), 'l');
      await s.fuse.rename(1, 'lower', 1, 'moved', 4);
      const st = statSync(join(s.daemon.shareDir, 'lower'));
      expect(st.isCharacterDevice() && st.rdev === 0).toBe(true);
    });

    it('deliberate answers: IOCTL ENOTTY; BMAP, POLL, SETUPMAPPING ENOSYS', async () => {
      expect(await errnoOf(s.fuse.call(Opcode.IOCTL, 1, [Buffer.alloc(32)], 0))).toBe(E.ENOTTY);
      for (const op of [Opcode.BMAP, Opcode.POLL, Opcode.SETUPMAPPING]) expect(await errnoOf(s.fuse.call(op, 1, [Buffer.alloc(40)], 16))).toBe(E.ENOSYS);
    });

    it('CREATE with a security context and a supplementary group (7.38 extensions)', async () => {
      const dir = await s.fuse.mkdir(1, 'team', 0o775);
      await s.fuse.setattr(dir.nodeid, setattrOwner(0, 3000));
      const sec = Buffer.concat([u32s(8, 0), cstr('security.selinux'), Buffer.from('label_t\0')]);
      const secPadded = Buffer.concat([sec, Buffer.alloc((8 - (sec.length % 8)) % 8)]);
      const ext = Buffer.concat([u32s(8 + secPadded.length, 1), secPadded, u32s(16, 32), u32s(1, 3000)]);
      s.fuse.caller = { uid: 1000, gid: 1000, pid: 9 };
      try {
        const bytes = s.fuse.build(Opcode.CREATE, dir.nodeid, [u32s(O_RDWR, 0o100644, 0, 0), cstr('labelled'), ext]);
        bytes.writeUInt16LE(ext.length / 8, InHeader.totalExtlen);
        const body = await send(s, bytes, EntryOut.SIZE + 16);
        expect(body.readUInt32LE(EntryOut.attr + 68)).toBe(1000);
        // Without the group the guest may not create there.
        expect(await errnoOf(s.fuse.create(dir.nodeid, 'denied', 0o644, O_RDWR))).toBe(E.EACCES);
      } finally {
        s.fuse.caller = { uid: 0, gid: 0, pid: 1 };
      }
      const path = join(s.daemon.shareDir, 'team', 'labelled');
      const { execFileSync } = await import('node:child_process');
      const label = execFileSync('python3', ['-c', `import os; print(os.getxattr('${path}', 'security.selinux'))`]).toString();
      expect(label.trim()).toBe("b'label_t\\x00'");
    });
  });
}

function setattrOwner(uid: number, gid: number): Buffer {
  const b = Buffer.alloc(88);
  b.writeUInt32LE(2 | 4, 0); // FATTR_UID | FATTR_GID
  b.writeUInt32LE(uid, 76);
  b.writeUInt32LE(gid, 80);
  return b;
}
