// With --thread-pool-size=1 (own file: the pool cannot shrink): a SETLKW wait must not take the
// one worker, or the request that would release the lock could never run. Also: xattrs and the
// guest's groups on pool threads.
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { constants as osc } from 'node:os';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { C, sys } from '../../../src/native/syscalls.js';
import { untilBlockedOnLock } from '../../helpers/wait.js';
import { makeShare, name, root, user, type Share } from './helpers.js';

const E = osc.errno;
const OFFSET_MAX = 0x7fff_ffff_ffff_ffffn;
let s: Share | undefined;

beforeAll(() => sys.setPoolSize(1));
afterEach(async () => {
  await s?.cleanup();
  s = undefined;
});

describe('locks and credentials on a pool of one thread', () => {
  it('waiting SETLKWs leave the worker free; the unlock gets through and wakes them', async () => {
    s = await makeShare({ posixLocks: true, flockLocks: true, xattr: true });
    expect(sys.getPoolSize()).toBe(1);
    nfs.writeFileSync(join(s.dir, 'f'), 'x');
    const e = await s.fs.lookup(root, 1, name('f'));
    const a = await s.fs.open(root, e.nodeid, C.O_RDWR);
    const b = await s.fs.open(root, e.nodeid, C.O_RDWR);
    const lock = (type: number) => ({ start: 0n, end: OFFSET_MAX, type, pid: 1 });
    await s.fs.setlk(root, e.nodeid, a.fh, 1n, lock(C.F_WRLCK), 0, false);
    await s.fs.setlk(root, e.nodeid, a.fh, 0n, lock(C.F_WRLCK), 1, false);
    const waits = [2n, 3n, 4n].map((owner) => s!.fs.setlk(root, e.nodeid, b.fh, owner, lock(C.F_RDLCK), 0, true));
    const flockWait = s.fs.setlk(root, e.nodeid, b.fh, 0n, lock(C.F_WRLCK), 1, true);
    // All four asleep on the lock (the kernel's list of blocked waiters), however long the
    // waiter threads take to start on a loaded machine.
    const ino = nfs.statSync(join(s.dir, 'f')).ino;
    await untilBlockedOnLock(ino, 'the three SETLKW waits', 3, 'OFDLCK');
    await untilBlockedOnLock(ino, 'the flock wait', 1, 'FLOCK');
    expect(sys.sys_lock_waiters()).toBe(4);
    // The worker still runs other requests...
    await s.fs.setxattr(root, e.nodeid, name('user.k'), Buffer.from('v'), 0, 0);
    expect(await s.fs.getxattr(root, e.nodeid, name('user.k'), 0)).toBe(1);
    // ...including the unlocks.
    await s.fs.setlk(root, e.nodeid, a.fh, 1n, lock(C.F_UNLCK), 0, false);
    await Promise.all(waits);
    await s.fs.release(root, e.nodeid, a.fh, 0, 2);
    await flockWait;
    await expect(s.fs.setlk(root, e.nodeid, a.fh, 9n, lock(C.F_WRLCK), 0, false)).rejects.toMatchObject({ errno: E.EBADF });
  });

  it('the guest\'s supplementary group applies on the worker thread and only for that call', async () => {
    s = await makeShare();
    nfs.mkdirSync(join(s.dir, 'team'));
    nfs.chownSync(join(s.dir, 'team'), 0, 3000);
    nfs.chmodSync(join(s.dir, 'team'), 0o775);
    const team = await s.fs.lookup(root, 1, name('team'));
    await s.fs.mkdir({ ...user(1000, 1000), supplementaryGroups: [3000] }, team.nodeid, name('a'), 0o755, 0);
    await expect(s.fs.mkdir(user(1000, 1000), team.nodeid, name('b'), 0o755, 0)).rejects.toMatchObject({ errno: E.EACCES });
  });
});
