// GETLK / SETLK / SETLKW on the passthrough: POSIX locks as OFD locks per (inode, owner), flock
// locks per open file, blocking waits on their own thread (interruptible), FLUSH and RELEASE
// dropping locks, and conflicts with host processes on the share.
import { spawn, spawnSync } from 'node:child_process';
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { constants as osc } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { FileLock, RequestContext } from '../../../src/filesystem/filesystem.js';
import { C, sys } from '../../../src/native/syscalls.js';
import { untilBlockedOnLock, type LockKind } from '../../helpers/wait.js';
import { makeShare, name, root, type Share } from './helpers.js';

const E = osc.errno;
const OFFSET_MAX = 0x7fff_ffff_ffff_ffffn;
const FUSE_LK_FLOCK = 1;
let s: Share | undefined;

afterEach(async () => {
  await s?.cleanup();
  s = undefined;
});

const lk = (type: number, start = 0n, end = OFFSET_MAX, pid = 100): FileLock => ({ start, end, type, pid });

/** A request context whose FUSE_INTERRUPT the test can fire. */
function interruptible(pid = 7): RequestContext & { fire(): void } {
  let listeners: (() => void)[] = [];
  let fired = false;
  return {
    uid: 0,
    gid: 0,
    pid,
    onInterrupt(l: () => void) {
      if (fired) {
        l();
        return () => {};
      }
      listeners.push(l);
      return () => (listeners = listeners.filter((x) => x !== l));
    },
    fire() {
      fired = true;
      for (const l of listeners) l();
    },
  };
}

async function setup(opts: { posixLocks?: boolean; flockLocks?: boolean } = { posixLocks: true, flockLocks: true }) {
  s = await makeShare(opts);
  nfs.writeFileSync(join(s.dir, 'f'), '0123456789');
  const e = await s.fs.lookup(root, 1, name('f'));
  const a = await s.fs.open(root, e.nodeid, C.O_RDWR);
  const b = await s.fs.open(root, e.nodeid, C.O_RDWR);
  return { fs: s.fs, node: e.nodeid, a: a.fh, b: b.fh };
}

/**
 * Until `n` waits sleep on a lock of the share's `f`: the kernel's list of blocked waiters, not
 * a pause after which a wait is assumed to have started (on a loaded machine it may not have).
 */
const blocked = (n: number, kind: LockKind): Promise<void> => untilBlockedOnLock(nfs.statSync(join(s!.dir, 'f')).ino, `${n} lock wait(s) to block`, n, kind);

describe('POSIX locks (OFD per owner)', () => {
  it('conflict between owners, none within one owner; GETLK names the holder', async () => {
    const { fs, node, a, b } = await setup();
    await fs.setlk(root, node, a, 1n, lk(C.F_WRLCK, 0n, 4n, 501), 0, false);
    // The same owner through another handle re-locks and splits freely (POSIX semantics).
    await fs.setlk(root, node, b, 1n, lk(C.F_RDLCK, 2n, 3n, 501), 0, false);
    await expect(fs.setlk(root, node, b, 2n, lk(C.F_RDLCK, 0n, 0n), 0, false)).rejects.toMatchObject({ errno: E.EAGAIN });
    await fs.setlk(root, node, b, 2n, lk(C.F_WRLCK, 5n, 9n, 502), 0, false); // disjoint
    const q = await fs.getlk(root, node, b, 2n, lk(C.F_WRLCK, 0n, OFFSET_MAX), 0);
    expect(q).toMatchObject({ type: C.F_WRLCK, start: 0n, pid: 501 });
    expect(q.end).toBeLessThanOrEqual(4n);
    expect(await fs.getlk(root, node, a, 1n, lk(C.F_WRLCK, 0n, 4n), 0)).toMatchObject({ type: C.F_UNLCK });
    // Unlocking part of the range lets the other owner in there.
    await fs.setlk(root, node, a, 1n, lk(C.F_UNLCK, 0n, 1n), 0, false);
    await fs.setlk(root, node, b, 2n, lk(C.F_RDLCK, 0n, 1n, 502), 0, false);
    expect(s!.fs.moreStats.lockOwners).toBe(2);
  });

  it('FLUSH with the owner drops its locks (close(2) semantics); RELEASE_FLUSH too', async () => {
    const { fs, node, a, b } = await setup();
    await fs.setlk(root, node, a, 1n, lk(C.F_WRLCK), 0, false);
    await expect(fs.setlk(root, node, b, 2n, lk(C.F_WRLCK), 0, false)).rejects.toMatchObject({ errno: E.EAGAIN });
    await fs.flush(root, node, b, 9n); // another owner's close: nothing changes
    await expect(fs.setlk(root, node, b, 2n, lk(C.F_WRLCK), 0, false)).rejects.toMatchObject({ errno: E.EAGAIN });
    await fs.flush(root, node, a, 1n);
    await fs.setlk(root, node, b, 2n, lk(C.F_WRLCK), 0, false);
    await fs.release(root, node, b, 0, 1 /* FUSE_RELEASE_FLUSH */, 2n);
    await fs.setlk(root, node, a, 3n, lk(C.F_WRLCK), 0, false);
    expect(s!.fs.moreStats.lockOwners).toBe(1);
  });

  it('SETLKW waits on its own thread (other requests go on) and gets the lock when released', async () => {
    const { fs, node, a, b } = await setup();
    await fs.setlk(root, node, a, 1n, lk(C.F_WRLCK), 0, false);
    let done = false;
    const waiting = fs.setlk(root, node, b, 2n, lk(C.F_WRLCK), 0, true).then(() => (done = true));
    await blocked(1, 'OFDLCK');
    expect(done).toBe(false);
    expect(sys.sys_lock_waiters()).toBe(1);
    // The event loop (and the file system) still serve.
    expect((await fs.getattr(root, node, undefined)).attr.length).toBeGreaterThan(0);
    await fs.setlk(root, node, a, 1n, lk(C.F_UNLCK), 0, false);
    await waiting;
    expect(done).toBe(true);
    expect(sys.sys_lock_waiters()).toBe(0);
    await expect(fs.setlk(root, node, a, 1n, lk(C.F_RDLCK), 0, false)).rejects.toMatchObject({ errno: E.EAGAIN });
  });

  it('FUSE_INTERRUPT ends a SETLKW wait with EINTR; the lock stays with its holder', async () => {
    const { fs, node, a, b } = await setup();
    await fs.setlk(root, node, a, 1n, lk(C.F_WRLCK), 0, false);
    const ctx = interruptible();
    const waiting = fs.setlk(ctx, node, b, 2n, lk(C.F_WRLCK), 0, true);
    await blocked(1, 'OFDLCK');
    ctx.fire();
    await expect(waiting).rejects.toMatchObject({ errno: E.EINTR });
    expect(sys.sys_lock_waiters()).toBe(0);
    await expect(fs.setlk(root, node, b, 2n, lk(C.F_WRLCK), 0, false)).rejects.toMatchObject({ errno: E.EAGAIN });
    // Interrupted before the wait even started: EINTR at once.
    const early = interruptible();
    early.fire();
    await expect(fs.setlk(early, node, b, 2n, lk(C.F_WRLCK), 0, true)).rejects.toMatchObject({ errno: E.EINTR });
  });

  it('many waiters at once, each interrupted or granted in turn', async () => {
    const { fs, node, a } = await setup();
    await fs.setlk(root, node, a, 1n, lk(C.F_WRLCK), 0, false);
    const ctxs = Array.from({ length: 20 }, () => interruptible());
    const waits = ctxs.map((ctx, i) => fs.setlk(ctx, node, a, BigInt(100 + i), lk(C.F_RDLCK), 0, true).then(() => 'ok', (e: { errno: number }) => e.errno));
    await blocked(20, 'OFDLCK');
    expect(sys.sys_lock_waiters()).toBe(20);
    for (const ctx of ctxs.slice(0, 10)) ctx.fire();
    await fs.setlk(root, node, a, 1n, lk(C.F_UNLCK), 0, false);
    const results = await Promise.all(waits);
    expect(results.slice(0, 10).every((r) => r === E.EINTR || r === 'ok')).toBe(true);
    expect(results.slice(10)).toEqual(Array(10).fill('ok')); // read locks: all granted together
  });

  it('conflicts with a host process locking the shared file', async () => {
    const { fs, node, a } = await setup();
    const path = join(s!.dir, 'f');
    // A host process takes a POSIX lock and holds it until its stdin closes (not for a fixed
    // while, which a loaded machine could use up before the checks below).
    const holder = spawn('python3', ['-c', `import fcntl,sys\nf=open(sys.argv[1],'r+')\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint('held', flush=True)\nsys.stdin.read()`, path]);
    await new Promise<void>((r) => holder.stdout.once('data', () => r()));
    await expect(fs.setlk(root, node, a, 1n, lk(C.F_WRLCK), 0, false)).rejects.toMatchObject({ errno: E.EAGAIN });
    const q = await fs.getlk(root, node, a, 1n, lk(C.F_RDLCK), 0);
    expect(q.type).toBe(C.F_WRLCK);
    expect(q.pid).toBe(0); // a host holder has no guest pid
    const waiting = fs.setlk(root, node, a, 1n, lk(C.F_WRLCK), 0, true); // waits for the holder's exit
    await blocked(1, 'OFDLCK');
    holder.stdin.end();
    await waiting;
    // And the other way round: the host cannot lock what the guest holds.
    const r = spawnSync('python3', ['-c', `import fcntl,sys\nf=open(sys.argv[1],'r+')\ntry:\n  fcntl.lockf(f, fcntl.LOCK_EX|fcntl.LOCK_NB); print('got')\nexcept OSError as e: print('busy', e.errno)`, path]);
    expect(r.stdout.toString().trim()).toBe(`busy ${E.EAGAIN}`);
  });

  it('off without posix_lock: ENOSYS; bad types and GETLK of flock are EINVAL', async () => {
    const { fs, node, a } = await setup({ flockLocks: true });
    await expect(fs.setlk(root, node, a, 1n, lk(C.F_WRLCK), 0, false)).rejects.toMatchObject({ errno: E.ENOSYS });
    await expect(fs.getlk(root, node, a, 1n, lk(C.F_WRLCK), 0)).rejects.toMatchObject({ errno: E.ENOSYS });
    await expect(fs.getlk(root, node, a, 1n, lk(C.F_WRLCK), FUSE_LK_FLOCK)).rejects.toMatchObject({ errno: E.EINVAL });
    await expect(fs.setlk(root, node, a, 1n, lk(77), FUSE_LK_FLOCK, false)).rejects.toMatchObject({ errno: E.EINVAL });
    await expect(fs.setlk(root, node, 999, 1n, lk(C.F_WRLCK), FUSE_LK_FLOCK, false)).rejects.toMatchObject({ errno: E.EBADF });
  });
});

describe('flock locks (per open file)', () => {
  it('shared locks coexist, exclusive ones conflict; SETLKW waits; RELEASE with FLOCK_UNLOCK drops', async () => {
    const { fs, node, a, b } = await setup();
    await fs.setlk(root, node, a, 0n, lk(C.F_RDLCK), FUSE_LK_FLOCK, false);
    await fs.setlk(root, node, b, 0n, lk(C.F_RDLCK), FUSE_LK_FLOCK, false);
    await expect(fs.setlk(root, node, b, 0n, lk(C.F_WRLCK), FUSE_LK_FLOCK, false)).rejects.toMatchObject({ errno: E.EAGAIN });
    await fs.setlk(root, node, b, 0n, lk(C.F_UNLCK), FUSE_LK_FLOCK, false);
    await fs.setlk(root, node, a, 0n, lk(C.F_WRLCK), FUSE_LK_FLOCK, false); // upgrade
    const ctx = interruptible();
    let got = false;
    const waiting = fs.setlk(ctx, node, b, 0n, lk(C.F_WRLCK), FUSE_LK_FLOCK, true).then(() => (got = true));
    await blocked(1, 'FLOCK');
    expect(got).toBe(false);
    await fs.release(root, node, a, 0, 2 /* FUSE_RELEASE_FLOCK_UNLOCK */);
    await waiting;
    expect(got).toBe(true);
    // A host flock(1) on the share sees the guest's lock.
    const r = spawnSync('flock', ['-n', join(s!.dir, 'f'), 'true']);
    expect(r.status).toBe(1);
  });

  it('an interrupted flock wait ends with EINTR', async () => {
    const { fs, node, a, b } = await setup();
    await fs.setlk(root, node, a, 0n, lk(C.F_WRLCK), FUSE_LK_FLOCK, false);
    const ctx = interruptible();
    const waiting = fs.setlk(ctx, node, b, 0n, lk(C.F_RDLCK), FUSE_LK_FLOCK, true);
    await blocked(1, 'FLOCK');
    ctx.fire();
    await expect(waiting).rejects.toMatchObject({ errno: E.EINTR });
  });

  it('off without flock: ENOSYS', async () => {
    const { fs, node, a } = await setup({ posixLocks: true });
    await expect(fs.setlk(root, node, a, 0n, lk(C.F_WRLCK), FUSE_LK_FLOCK, false)).rejects.toMatchObject({ errno: E.ENOSYS });
  });
});
