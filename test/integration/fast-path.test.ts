/**
 * The native READ/WRITE fast path (native/fuse_fast_path.cc) against the JS core it shortcuts:
 * the same READ and WRITE requests — well-formed, malformed, on stale or foreign handles, before INIT — go to
 * a daemon with the fast path and to one without it (VIRTIOFSD_TS_FAST_PATH=0), and every
 * reply must be identical. SIGUSR1's statistics show which path answered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, startSession, type RunningDaemon, type Session } from '../helpers/daemon.js';
import { until } from '../helpers/wait.js';
import { VhostUserFrontend } from '../../src/frontend/vhost-user-frontend.js';
import { FuseClient, type FuseReply } from '../../src/frontend/fuse-client.js';
import { InHeader, Opcode } from '../../src/fuse/abi.js';
import { ErrnoError } from '../../src/filesystem/errors.js';

const FILE_SIZE = 300_000;
const content = Buffer.alloc(FILE_SIZE);
for (let i = 0; i < FILE_SIZE; i++) content[i] = (i * 7919 + (i >> 8)) & 0xff;

function readIn(fh: number | bigint, offset: number | bigint, size: number): Buffer {
  const a = Buffer.alloc(40);
  a.writeBigUInt64LE(BigInt(fh), 0);
  a.writeBigUInt64LE(BigInt(offset), 8);
  a.writeUInt32LE(size, 16);
  return a;
}

function writeIn(fh: number | bigint, offset: number | bigint, size: number, writeFlags = 0): Buffer {
  const a = Buffer.alloc(40);
  a.writeBigUInt64LE(BigInt(fh), 0);
  a.writeBigUInt64LE(BigInt(offset), 8);
  a.writeUInt32LE(size, 16);
  a.writeUInt32LE(writeFlags, 20);
  return a;
}

/** What the guest sees of a reply: error, body bytes, used length. */
function seen(r: FuseReply): { error: number; body: string; usedLen: number } {
  return { error: r.error, body: r.body.toString('base64'), usedLen: r.usedLen };
}

async function stats(d: RunningDaemon): Promise<{ requests: Record<string, number>; errors: Record<string, number>; fastPath?: { reads: number; writes: number; passed: number; pooled: number; handles: number } }> {
  const before = d.stderr().length;
  d.child.kill('SIGUSR1');
  // The pretty log format: `... statistics stats={...}`, one whole line.
  const line = /statistics stats=(\{.*\})\s*$/m;
  await until(() => line.test(d.stderr().slice(before)), 'the statistics line').catch((e: Error) => {
    throw new Error(`${e.message}; stderr:\n${d.stderr().slice(before)}`);
  });
  return JSON.parse(line.exec(d.stderr().slice(before))![1]) as never;
}

/** A battery of READs; returns what the guest saw for each. */
async function battery(s: Session): Promise<unknown[]> {
  writeFileSync(join(s.daemon.shareDir, 'data'), content);
  mkdirSync(join(s.daemon.shareDir, 'dir'));
  const f = await s.fuse.lookup(1, 'data');
  const d = await s.fuse.lookup(1, 'dir');
  const { fh } = await s.fuse.open(f.nodeid, 0);
  const { fh: dfh } = await s.fuse.opendir(d.nodeid);
  const out: unknown[] = [];
  const send = async (req: Buffer, cap: number): Promise<void> => {
    out.push(seen(await s.fuse.raw(req, cap)));
  };
  const read = (nodeid: number, h: number | bigint, off: number | bigint, size: number): Buffer => s.fuse.build(Opcode.READ, nodeid, [readIn(h, off, size)]);
  // Well-formed: small, large, across EOF, at EOF, past EOF, size 0.
  for (const [off, size] of [[0, 4096], [12345, 1], [0, FILE_SIZE], [FILE_SIZE - 100, 4096], [FILE_SIZE, 4096], [FILE_SIZE + 1e6, 10], [7, 0]] as const) {
    await send(read(f.nodeid, fh, off, size), 16 + Math.max(size, 1));
  }
  // Reply buffer smaller than the size asked: clamped to the buffer.
  await send(read(f.nodeid, fh, 0, 1 << 20), 16 + 100);
  // Reply buffer of exactly the header, and one too small for it.
  await send(read(f.nodeid, fh, 0, 4096), 16);
  await send(read(f.nodeid, fh, 0, 4096), 8);
  // Bigger than max_read (1 MiB) with a buffer that could hold it.
  await send(read(f.nodeid, fh, 0, 2 << 20), 16 + (2 << 20));
  // Unknown handle, a handle of another node, a huge handle, a directory handle.
  await send(read(f.nodeid, 9999, 0, 10), 100);
  await send(read(d.nodeid, fh, 0, 10), 100);
  await send(read(f.nodeid, 2n ** 64n - 1n, 0, 10), 100);
  await send(read(d.nodeid, dfh, 0, 10), 100);
  // Offsets past INT64_MAX.
  await send(read(f.nodeid, fh, 2n ** 63n, 10), 100);
  await send(read(f.nodeid, fh, 2n ** 64n - 1n, 10), 100);
  // fuse_in_header.len disagreeing with the chain, both ways.
  const bad = read(f.nodeid, fh, 0, 10);
  bad.writeUInt32LE(bad.length + 8, InHeader.len);
  await send(bad, 100);
  bad.writeUInt32LE(bad.length - 8, InHeader.len);
  await send(bad, 100);
  // A truncated fuse_read_in; trailing bytes after it; extensions claimed.
  await send(read(f.nodeid, fh, 0, 10).subarray(0, 70), 100);
  const longer = s.fuse.build(Opcode.READ, f.nodeid, [readIn(fh, 0, 10), Buffer.alloc(8)]);
  await send(longer, 100);
  const ext = read(f.nodeid, fh, 0, 10);
  ext.writeUInt16LE(1, InHeader.totalExtlen);
  await send(ext, 100);
  // A handle opened for writing only: preadv fails (EBADF) and the error is the reply.
  const { fh: wfh } = await s.fuse.open(f.nodeid, 1 /* O_WRONLY */);
  await send(read(f.nodeid, wfh, 0, 10), 100);
  await s.fuse.release(f.nodeid, wfh);
  // After RELEASE the handle is gone: EBADF, from whichever path.
  await s.fuse.release(f.nodeid, fh);
  await send(read(f.nodeid, fh, 0, 10), 100);
  // WRITEs: well-formed (small, 1 MiB, empty), then malformed or unusual ones.
  const w = await s.fuse.create(1, 'out', 0o644, 2 /* O_RDWR */);
  const wr = (h: number | bigint, off: number | bigint, data: Buffer, size = data.length, flags = 0): Buffer =>
    s.fuse.build(Opcode.WRITE, w.entry.nodeid, [writeIn(h, off, size, flags), data]);
  await send(wr(w.fh, 0, content.subarray(0, 4096)), 24);
  await send(wr(w.fh, 4096, content.subarray(0, 1 << 18)), 24);
  await send(wr(w.fh, 1e6, Buffer.alloc(1 << 20, 0x5a)), 24);
  await send(wr(w.fh, 10, Buffer.alloc(0)), 24);
  await send(wr(w.fh, 0, Buffer.alloc(10), 11), 24); // size beyond the payload
  await send(wr(w.fh, 0, Buffer.alloc(10), 9), 24); // payload beyond size
  await send(wr(w.fh, 0, Buffer.alloc((1 << 20) + 4096), (1 << 20) + 4096), 24); // above max_write
  await send(wr(w.fh, 0, Buffer.alloc(10)), 16); // no room for fuse_write_out
  await send(wr(9999, 0, Buffer.alloc(10)), 24); // unknown handle
  await send(wr(w.fh, 2n ** 63n, Buffer.alloc(10)), 24); // offset past INT64_MAX
  await send(wr(w.fh, 0, Buffer.from('killed'), 6, 1 << 2), 24); // FUSE_WRITE_KILL_SUIDGID
  const { fh: rofh } = await s.fuse.open(w.entry.nodeid, 0 /* O_RDONLY */);
  await send(wr(rofh, 0, Buffer.alloc(10)), 24); // EBADF from pwritev
  const wlen = s.fuse.build(Opcode.WRITE, w.entry.nodeid, [writeIn(w.fh, 0, 4), Buffer.alloc(4)]);
  wlen.writeUInt32LE(wlen.length + 4, InHeader.len);
  await send(wlen, 24);
  await s.fuse.release(w.entry.nodeid, rofh);
  await s.fuse.release(w.entry.nodeid, w.fh);
  await send(wr(w.fh, 0, Buffer.alloc(10)), 24); // after RELEASE
  out.push(readFileSync(join(s.daemon.shareDir, 'out')).toString('base64'));
  // Many at once (one kick, one batch), then the session keeps serving.
  const { fh: fh2 } = await s.fuse.open(f.nodeid, 0);
  const many = await Promise.all(Array.from({ length: 48 }, (_, i) => s.fuse.raw(read(f.nodeid, fh2, i * 4096, 4096), 16 + 4096)));
  out.push(many.map(seen));
  out.push((await s.fuse.getattr(f.nodeid)).size);
  return out;
}

let sessions: Session[] = [];
let daemons: RunningDaemon[] = [];
afterEach(async () => {
  for (const s of sessions) await s.close();
  for (const d of daemons) await d.stop();
  sessions = [];
  daemons = [];
});

for (const pool of [0, 2]) {
  describe(`native READ fast path (--thread-pool-size=${pool})`, () => {
    it('answers exactly as the JS core does, for good and malformed READs', async () => {
      const fast = await startSession({ args: [`--thread-pool-size=${pool}`, '--sandbox=none', '--seccomp=none'] });
      const slow = await startSession({ args: [`--thread-pool-size=${pool}`, '--sandbox=none', '--seccomp=none'], env: { VIRTIOFSD_TS_FAST_PATH: '0' } });
      sessions.push(fast, slow);
      const a = await battery(fast);
      const b = await battery(slow);
      expect(a).toEqual(b);
      // Spot checks of the bytes themselves.
      const first = a[0] as { error: number; body: string };
      expect(first.error).toBe(0);
      expect(Buffer.from(first.body, 'base64').equals(content.subarray(0, 4096))).toBe(true);
      const whole = a[2] as { body: string };
      expect(Buffer.from(whole.body, 'base64').equals(content)).toBe(true);

      // The fast daemon answered the well-formed READs natively and left the rest to JS —
      // READs on a write-only handle and WRITEs on a read-only one too: the passthrough grants
      // direct I/O per access mode (the JS core then answers EBADF, as preadv/pwritev would).
      const st = await stats(fast.daemon);
      expect(st.fastPath!.reads).toBeGreaterThanOrEqual(48 + 10);
      expect(st.fastPath!.passed).toBeGreaterThanOrEqual(5);
      expect(st.fastPath!.writes).toBeGreaterThanOrEqual(4);
      expect(st.fastPath!.handles).toBe(1);
      // With a worker pool the large reads ran there (on a duplicate of the descriptor).
      if (pool > 0) expect(st.fastPath!.pooled).toBeGreaterThan(0);
      else expect(st.fastPath!.pooled).toBe(0);
      const slowSt = await stats(slow.daemon);
      expect(slowSt.fastPath).toBeUndefined();
      // Both count every READ and every error reply alike.
      expect(st.requests.READ).toBe(slowSt.requests.READ);
      expect(st.requests.WRITE).toBe(slowSt.requests.WRITE);
      expect(st.errors).toEqual(slowSt.errors);
    });

    it('leaves WRITEs to the JS core on a read-only share (EROFS)', async () => {
      const ro = await startSession({ args: [`--thread-pool-size=${pool}`, '--readonly'] });
      sessions.push(ro);
      writeFileSync(join(ro.daemon.shareDir, 'data'), content);
      const f = await ro.fuse.lookup(1, 'data');
      const { fh } = await ro.fuse.open(f.nodeid, 0);
      const r = await ro.fuse.raw(ro.fuse.build(Opcode.WRITE, f.nodeid, [writeIn(fh, 0, 4), Buffer.from('abcd')]), 24);
      expect(r.error).toBe(-30);
      expect((await ro.fuse.read(f.nodeid, fh, 0, 4)).equals(content.subarray(0, 4))).toBe(true);
    });

    it('leaves READs before INIT to the JS core (EIO) and serves after it', async () => {
      const d = await startDaemon({ args: [`--thread-pool-size=${pool}`] });
      daemons.push(d);
      writeFileSync(join(d.shareDir, 'data'), content);
      const fe = VhostUserFrontend.connect({ socketPath: d.socketPath });
      try {
        const fuse = new FuseClient(fe);
        const early = await fuse.raw(fuse.build(Opcode.READ, 2, [readIn(1, 0, 10)]), 100);
        expect(early.error).toBe(-5);
        await fuse.init();
        const f = await fuse.lookup(1, 'data');
        const { fh } = await fuse.open(f.nodeid, 0);
        expect((await fuse.read(f.nodeid, fh, 100, 50)).equals(content.subarray(100, 150))).toBe(true);
        // DESTROY ends the session: the handle is gone and READs get EIO again.
        await fuse.destroy();
        const late = await fuse.raw(fuse.build(Opcode.READ, f.nodeid, [readIn(fh, 0, 10)]), 100);
        expect(late.error).toBe(-5);
        await fuse.init();
        await expect(fuse.read(f.nodeid, fh, 0, 10)).rejects.toThrow(ErrnoError);
      } finally {
        fe.close();
      }
    });
  });
}
