// FORGET / BATCH_FORGET with a guest-chosen lookup count: a count larger than the inode's (up
// to 2^64-1), a nodeid never handed out, the root, a BATCH_FORGET whose count field promises
// more records than the message holds, and FORGET of an inode that still has an open handle.
// A peer freed inodes still in use this way; we must forget at most what we counted, never
// the root, keep open handles working, and keep serving.
import { readdirSync, writeFileSync } from 'node:fs';
import { constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSession, type Session } from '../../helpers/daemon.js';
import { requireRoot } from '../../helpers/prerequisites.js';
import { Opcode } from '../../../src/fuse/abi.js';
import { servingPid } from './helpers.js';

const MAX = (1n << 64n) - 1n;
let session: Session | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
});

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

describe('FORGET with a huge count', () => {
  // CI runs as root: a missing prerequisite is a failure, never a skip.
  beforeAll(() => requireRoot('the namespace sandbox'));

  it('forgets at most what was counted, never the root; open handles survive; fds return to baseline', async () => {
    session = await startSession();
    const { fuse, daemon } = session;
    const pid = servingPid(daemon.child.pid!);
    for (const n of ['a', 'b', 'c']) writeFileSync(join(daemon.shareDir, n), `file ${n}\n`);
    await fuse.getattr(1);
    const baseline = fdCount(pid);

    const a = await fuse.lookup(1, 'a');
    await fuse.lookup(1, 'a');
    await fuse.lookup(1, 'a');
    const b = await fuse.lookup(1, 'b');
    const c = await fuse.lookup(1, 'c');
    const { fh } = await fuse.open(c.nodeid, fsc.O_RDONLY);

    await fuse.forget(a.nodeid, MAX);
    await fuse.forget(1, MAX); // the root cannot be forgotten
    await fuse.forget(0, MAX);
    await fuse.forget(0x7fffffff, MAX); // never handed out
    await fuse.forget(c.nodeid, MAX); // still open
    await expect(fuse.getattr(a.nodeid)).rejects.toMatchObject({ errno: expect.any(Number) });
    expect((await fuse.getattr(1)).mode & 0o170000).toBe(0o040000);
    expect((await fuse.read(c.nodeid, fh, 0, 100)).toString()).toBe('file c\n');
    await fuse.release(c.nodeid, fh);

    // BATCH_FORGET whose count claims 2^32-1 records but carries two, with huge counts.
    const body = Buffer.alloc(8 + 32);
    body.writeUInt32LE(0xffffffff, 0);
    body.writeBigUInt64LE(BigInt(b.nodeid), 8);
    body.writeBigUInt64LE(MAX, 16);
    body.writeBigUInt64LE(1n, 24); // the root again
    body.writeBigUInt64LE(MAX, 32);
    await fuse.raw(fuse.build(Opcode.BATCH_FORGET, 0, [body]), 0, fuse.frontend.queues[0]);
    await fuse.batchForget([[b.nodeid, MAX], [1, MAX], [123456789, MAX]]);

    expect((await fuse.getattr(1)).mode & 0o170000).toBe(0o040000);
    for (const n of ['a', 'b', 'c']) {
      const e = await fuse.lookup(1, n);
      expect(Number(e.attr.size)).toBe(7);
      await fuse.forget(e.nodeid, 1);
    }
    await fuse.getattr(1);
    expect(fdCount(pid)).toBe(baseline);
  });
});
