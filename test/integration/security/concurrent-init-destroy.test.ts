// INIT and DESTROY racing each other and in-flight requests (a peer crashed on such
// interleavings): many requests in flight on several queues while DESTROY and new INITs
// arrive; a second INIT on a live session; requests before INIT. The daemon must answer every
// chain (an errno is fine), never crash, and serve a fresh session afterwards.
import { writeFileSync } from 'node:fs';
import { constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSession, type Session } from '../../helpers/daemon.js';
import { requireRoot } from '../../helpers/prerequisites.js';
import { Opcode, FUSE_KERNEL_VERSION, FUSE_KERNEL_MINOR_VERSION, InitOut } from '../../../src/fuse/abi.js';
import type { FuseClient, FuseReply } from '../../../src/frontend/fuse-client.js';

let session: Session | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
});

function initRequest(fuse: FuseClient): Buffer {
  const a = Buffer.alloc(64);
  a.writeUInt32LE(FUSE_KERNEL_VERSION, 0);
  a.writeUInt32LE(FUSE_KERNEL_MINOR_VERSION, 4);
  a.writeUInt32LE(128 * 1024, 8);
  a.writeUInt32LE(0xffffffff, 12);
  return fuse.build(Opcode.INIT, 0, [a]);
}

describe('concurrent INIT / DESTROY', () => {
  // CI runs as root: a missing prerequisite is a failure, never a skip.
  beforeAll(() => requireRoot('the namespace sandbox'));

  it('every chain is answered, the daemon survives, a new session works', async () => {
    session = await startSession({ args: ['--thread-pool-size=4'], frontend: { requestQueues: 4 } });
    const { fuse, daemon } = session;
    writeFileSync(join(daemon.shareDir, 'data'), Buffer.alloc(256 * 1024, 7));
    const e = await fuse.lookup(1, 'data');
    const { fh } = await fuse.open(e.nodeid, fsc.O_RDONLY);

    for (let round = 0; round < 5; round++) {
      const inflight: Promise<FuseReply>[] = [];
      for (let i = 0; i < 64; i++) {
        const a = Buffer.alloc(40);
        a.writeBigUInt64LE(BigInt(fh), 0);
        a.writeBigUInt64LE(BigInt(i * 4096), 8);
        a.writeUInt32LE(65536, 16);
        inflight.push(fuse.raw(fuse.build(Opcode.READ, e.nodeid, [a]), 16 + 65536));
        inflight.push(fuse.raw(fuse.build(Opcode.GETATTR, 1, [Buffer.alloc(16)]), 16 + 104));
        if (i % 16 === 0) {
          inflight.push(fuse.raw(fuse.build(Opcode.DESTROY, 0, []), 16));
          inflight.push(fuse.raw(initRequest(fuse), 16 + InitOut.SIZE));
        }
      }
      const replies = await Promise.all(inflight);
      for (const r of replies) {
        expect(r.usedLen).toBeGreaterThanOrEqual(16);
        expect(r.error).toBeLessThanOrEqual(0);
        expect(r.error).toBeGreaterThanOrEqual(-4095);
      }
    }
    // A second INIT on a live session starts a new one (a guest that kexec'ed or rebooted
    // without DESTROY), with the old session's state dropped.
    await fuse.raw(fuse.build(Opcode.DESTROY, 0, []), 16);
    await fuse.init();
    const again = await fuse.raw(initRequest(fuse), 16 + InitOut.SIZE);
    expect(again.error).toBe(0);
    await expect(fuse.read(e.nodeid, fh, 0, 16)).rejects.toMatchObject({ errno: expect.any(Number) });
    expect((await fuse.getattr(1)).mode & 0o170000).toBe(0o040000);

    // DESTROY, then requests before INIT: errors, not crashes; then a fresh session serves.
    await fuse.raw(fuse.build(Opcode.DESTROY, 0, []), 16);
    const early = await fuse.raw(fuse.build(Opcode.GETATTR, 1, [Buffer.alloc(16)]), 16 + 104);
    expect(early.error).toBeLessThan(0);
    await fuse.init();
    const d = await fuse.lookup(1, 'data');
    const o = await fuse.open(d.nodeid, fsc.O_RDONLY);
    expect((await fuse.read(d.nodeid, o.fh, 0, 16)).equals(Buffer.alloc(16, 7))).toBe(true);
    expect(daemon.child.exitCode).toBeNull();
  });
});
