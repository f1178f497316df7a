// Faults, with the default sandbox (namespace + seccomp kill) unless a case needs the host's
// view: the front-end vanishing mid-request, a guest reboot, ENOSPC and EIO from the host file
// system, the share removed or unmounted under the daemon, SIGTERM during heavy I/O.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { constants as fsc } from 'node:fs';
import { constants as osc, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, startSession, type RunningDaemon, type Session } from '../../helpers/daemon.js';
import { requireRoot } from '../../helpers/prerequisites.js';
import { VhostUserFrontend } from '../../../src/frontend/vhost-user-frontend.js';
import { FuseClient } from '../../../src/frontend/fuse-client.js';
import { Req, u64Payload, vringStatePayload } from '../../../src/vhost/protocol.js';
import { Opcode } from '../../../src/fuse/abi.js';
import { alive, servingPid, waitFor } from './helpers.js';

const E = osc.errno;
let session: Session | undefined;
let daemon: RunningDaemon | undefined;
const mounts: string[] = [];
const procs: ChildProcess[] = [];
afterEach(async () => {
  await session?.close().catch(() => {});
  session = undefined;
  await daemon?.stop();
  daemon = undefined;
  for (const m of mounts.splice(0)) {
    try {
      execFileSync('umount', ['-l', m]);
    } catch {
      /* already gone */
    }
  }
  for (const p of procs.splice(0)) p.kill('SIGKILL');
});

function unmountAndRemove(dir: string): void {
  const at = mounts.indexOf(dir);
  if (at >= 0) mounts.splice(at, 1);
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  } catch {
    /* not mounted (any more) */
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Gone, or a zombie nobody reaped yet. */
function dead(pid: number): boolean {
  if (!alive(pid)) return true;
  try {
    return /State:\s+Z/.test(execFileSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }));
  } catch {
    return true;
  }
}

describe('faults', () => {
  // CI runs as root: a missing prerequisite is a failure, never a skip.
  beforeAll(() => requireRoot('the namespace sandbox, mounts under the share'));

  it('the front-end disconnects mid-request: exit 0, socket and processes gone', async () => {
    daemon = await startDaemon({ args: ['--thread-pool-size=4'] });
    writeFileSync(join(daemon.shareDir, 'big'), Buffer.alloc(8 << 20, 1));
    const sup = daemon.child.pid!;
    const pid = servingPid(sup);
    const fe = VhostUserFrontend.connect({ socketPath: daemon.socketPath });
    const fuse = new FuseClient(fe);
    await fuse.init();
    const e = await fuse.lookup(1, 'big');
    const { fh } = await fuse.open(e.nodeid, fsc.O_RDWR);
    for (let i = 0; i < 64; i++) {
      void fuse.read(e.nodeid, fh, i * 65536, 65536).catch(() => {});
      void fuse.write(e.nodeid, fh, i * 65536, Buffer.alloc(65536, 2)).catch(() => {});
    }
    fe.close(); // with requests in flight
    expect(await daemon.exited).toBe(0);
    expect(existsSync(daemon.socketPath)).toBe(false);
    await waitFor(() => dead(pid), 5000, 'the serving process to be gone');
    expect(daemon.stderr()).toMatch(/front-end disconnected, exiting|closing the connection/);
  });

  it('a guest reboot (rings stopped with GET_VRING_BASE, re-initialised) keeps serving', async () => {
    daemon = await startDaemon();
    writeFileSync(join(daemon.shareDir, 'f'), 'before reboot');
    const fe = VhostUserFrontend.connect({ socketPath: daemon.socketPath, queueSize: 64 });
    const fuse = new FuseClient(fe);
    for (let boot = 0; boot < 3; boot++) {
      await fuse.init();
      const e = await fuse.lookup(1, 'f');
      const { fh } = await fuse.open(e.nodeid, fsc.O_RDONLY);
      expect((await fuse.read(e.nodeid, fh, 0, 64)).toString()).toBe('before reboot');
      const bases = fe.queues.map((q) => fe.getVringBase(q.index));
      for (const q of fe.queues) {
        fe.sendChecked(Req.SET_VRING_BASE, vringStatePayload(q.index, bases[q.index]));
        fe.sendChecked(Req.SET_VRING_KICK, u64Payload(BigInt(q.index)), [q.kickFd]);
      }
    }
    await fuse.init();
    expect((await fuse.getattr(1)).mode & 0o170000).toBe(0o040000);
    fe.close();
    expect(await daemon.exited).toBe(0);
  });

  it('ENOSPC from a full host file system reaches the guest as an errno', async () => {
    const work = mkdtempSync(join(tmpdir(), 'vfs-enospc-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'vfs-enospc', work]);
      mounts.push(work);
      session = await startSession({ shareDir: work });
      const { fuse } = session;
      const c = await fuse.create(1, 'fill', 0o100644, fsc.O_RDWR);
      let error: unknown;
      for (let off = 0; off < 4 << 20; off += 128 << 10) {
        try {
          await fuse.write(c.entry.nodeid, c.fh, off, Buffer.alloc(128 << 10, 3));
        } catch (e) {
          error = e;
          break;
        }
      }
      expect(error).toMatchObject({ errno: E.ENOSPC });
      await expect(fuse.mkdir(1, 'more')).resolves.toBeDefined(); // inodes are not the limit
      await expect(fuse.create(1, 'another', 0o100644, fsc.O_RDWR)).resolves.toBeDefined();
      expect((await fuse.statfs()).blocks).toBeGreaterThan(0n);
      await fuse.release(c.entry.nodeid, c.fh);
    } finally {
      await session?.close();
      session = undefined;
      unmountAndRemove(work);
    }
  });

  it('EIO from the host reaches the guest as an errno (a /proc/PID/mem read of an unmapped address)', async () => {
    // A process without capabilities, so the daemon (no CAP_SYS_PTRACE) may read its memory.
    const victim = spawn('setpriv', ['--bounding-set=-all', '--inh-caps=-all', 'sleep', '120'], { stdio: 'ignore' });
    procs.push(victim);
    await waitFor(() => existsSync(`/proc/${victim.pid}/mem`) && !/setpriv/.test(execFileSync('cat', [`/proc/${victim.pid}/comm`], { encoding: 'utf8' })), 5000, 'sleep');
    session = await startSession({ args: ['--sandbox=none'] });
    const { fuse, daemon: d } = session;
    const target = join(d.shareDir, 'mem');
    writeFileSync(target, '');
    execFileSync('mount', ['--bind', `/proc/${victim.pid}/mem`, target]);
    mounts.push(target);
    const e = await fuse.lookup(1, 'mem');
    const { fh } = await fuse.open(e.nodeid, fsc.O_RDONLY);
    await expect(fuse.read(e.nodeid, fh, 0, 4096)).rejects.toMatchObject({ errno: E.EIO });
    await fuse.release(e.nodeid, fh);
    expect((await fuse.getattr(1)).mode & 0o170000).toBe(0o040000);
  });

  it('the share removed under the daemon: errnos, no crash, clean exit', async () => {
    session = await startSession();
    const { fuse, daemon: d } = session;
    mkdirSync(join(d.shareDir, 'sub'));
    writeFileSync(join(d.shareDir, 'sub', 'f'), 'x');
    const sub = await fuse.lookup(1, 'sub');
    rmSync(d.shareDir, { recursive: true, force: true });
    await expect(fuse.lookup(1, 'sub')).rejects.toMatchObject({ errno: E.ENOENT });
    await expect(fuse.lookup(sub.nodeid, 'f')).rejects.toMatchObject({ errno: E.ENOENT });
    await expect(fuse.create(1, 'new', 0o100644, fsc.O_RDWR)).rejects.toMatchObject({ errno: E.ENOENT });
    await expect(fuse.mkdir(sub.nodeid, 'new')).rejects.toMatchObject({ errno: E.ENOENT });
    expect((await fuse.getattr(1)).nlink).toBe(0);
    const dir = await fuse.opendir(1).catch((e: unknown) => e);
    expect(dir).toBeDefined();
    session.frontend.close();
    expect(await d.exited).toBe(0);
  });

  it('the share unmounted under the daemon (lazily): still answers, clean exit', async () => {
    const work = mkdtempSync(join(tmpdir(), 'vfs-umount-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'vfs-umount', work]);
    mounts.push(work);
    try {
      writeFileSync(join(work, 'f'), 'on tmpfs');
      session = await startSession({ shareDir: work });
      const { fuse, daemon: d } = session;
      const e = await fuse.lookup(1, 'f');
      execFileSync('umount', ['-l', work]);
      // The daemon's mount lives on (its root holds it); answers are data or errnos.
      const { fh } = await fuse.open(e.nodeid, fsc.O_RDONLY);
      expect((await fuse.read(e.nodeid, fh, 0, 64)).toString()).toBe('on tmpfs');
      await fuse.create(1, 'after-umount', 0o100644, fsc.O_RDWR).catch((err: unknown) => expect(err).toMatchObject({ errno: expect.any(Number) }));
      expect((await fuse.getattr(1)).mode & 0o170000).toBe(0o040000);
      session.frontend.close();
      expect(await d.exited).toBe(0);
    } finally {
      await session?.close().catch(() => {});
      session = undefined;
      unmountAndRemove(work);
    }
  });

  it('SIGTERM during heavy I/O: prompt exit 0, nothing left behind', async () => {
    daemon = await startDaemon({ args: ['--thread-pool-size=4'] });
    const sup = daemon.child.pid!;
    const pid = servingPid(sup);
    const fe = VhostUserFrontend.connect({ socketPath: daemon.socketPath, requestQueues: 2 });
    const fuse = new FuseClient(fe);
    await fuse.init();
    const c = await fuse.create(1, 'load', 0o100644, fsc.O_RDWR);
    let stop = false;
    let completed = 0;
    const workers = Array.from({ length: 16 }, async (_, w) => {
      const data = Buffer.alloc(128 << 10, w);
      for (let i = 0; !stop; i++) {
        try {
          await fuse.write(c.entry.nodeid, c.fh, ((w * 64 + (i % 64)) * data.length), data);
          await fuse.read(c.entry.nodeid, c.fh, w * 64 * data.length, data.length);
          await fuse.call(Opcode.GETATTR, 1, [Buffer.alloc(16)], 104);
          completed++;
        } catch {
          return;
        }
      }
    });
    await waitFor(() => completed > 200, 20_000, 'load');
    const t0 = Date.now();
    process.kill(sup, 'SIGTERM');
    expect(await daemon.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    stop = true;
    fe.close();
    await Promise.race([Promise.all(workers), new Promise((r) => setTimeout(r, 2000))]);
    expect(existsSync(daemon.socketPath)).toBe(false);
    await waitFor(() => dead(pid), 5000, 'the serving process to be gone');
    expect(daemon.stderr()).toContain('SIGTERM received, exiting');
  });
});
