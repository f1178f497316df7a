// --sandbox=namespace (the default): the serving process sits in its own mount, pid and net
// namespaces with the share as its root, under seccomp, with only the passthrough's
// capabilities and no supplementary groups; a small C supervisor is its parent — the launcher
// itself (one Node start), or vfs-supervisor when Node was started first (the fallback).
import { readFileSync, readdirSync, readlinkSync, realpathSync, statSync, writeFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, startSession, DAEMON_BIN, type RunningDaemon, type Session } from '../../helpers/daemon.js';
import { requireRoot } from '../../helpers/prerequisites.js';
import { native } from '../../../src/native/binding.js';
import { VhostUserFrontend } from '../../../src/frontend/vhost-user-frontend.js';
import { FuseClient } from '../../../src/frontend/fuse-client.js';
import { supervisorPath } from '../../../src/daemon/supervisor.js';
import { DEFAULT_CAPS, alive, children, comm, namespaces, servingPid, status, threadCapabilities, waitFor } from './helpers.js';

let session: Session | undefined;
let daemon: RunningDaemon | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
  await daemon?.stop();
  daemon = undefined;
});

describe('--sandbox=namespace (default)', () => {
  // CI runs as root: a missing prerequisite is a failure, never a skip.
  beforeAll(() => requireRoot('the namespace sandbox'));

  it('serves from new mount, pid and net namespaces, pivoted into the share, with seccomp, cut capabilities, no groups', async () => {
    session = await startSession();
    const { daemon: d, fuse } = session;
    const sup = d.child.pid!;
    expect(comm(sup)).toBe('virtiofsd-ts'); // the launcher supervises: Node started once
    const pid = servingPid(sup);
    expect(comm(pid)).toBe('node');

    // Namespaces distinct from the host's (and the supervisor stays in the host's).
    const host = namespaces('self');
    const inner = namespaces(pid);
    expect(inner.mnt).not.toBe(host.mnt);
    expect(inner.pid).not.toBe(host.pid);
    expect(inner.net).not.toBe(host.net);
    expect(namespaces(sup)).toEqual(host);
    const st = status(pid);
    expect(st.NSpid.split(/\s+/)).toEqual([String(pid), '1']); // PID 1 of its own namespace

    // Root = the share; nothing else mounted in its world.
    const share = statSync(d.shareDir);
    const root = statSync(`/proc/${pid}/root/`);
    expect([root.dev, root.ino]).toEqual([share.dev, share.ino]);
    const mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').trim().split('\n');
    expect(mounts.map((l) => l.split(' ')[4])).toEqual(['/']);

    // Seccomp filter mode, no_new_privs, capabilities, groups — in every thread.
    expect(st.Seccomp).toBe('2');
    expect(st.NoNewPrivs).toBe('1');
    expect(st.Groups).toBe('');
    expect(BigInt(`0x${st.CapEff}`)).toBe(DEFAULT_CAPS);
    const threads = threadCapabilities(pid);
    expect(threads.length).toBeGreaterThan(3);
    for (const t of threads) {
      expect(t.CapEff, `thread ${t.tid}`).toBe(DEFAULT_CAPS);
      expect(t.CapPrm, `thread ${t.tid}`).toBe(DEFAULT_CAPS);
      expect(t.CapBnd, `thread ${t.tid}`).toBe(DEFAULT_CAPS);
      expect(t.CapInh).toBe(0n);
      expect(t.CapAmb).toBe(0n);
      expect(status(`${pid}/task/${t.tid}`).Seccomp).toBe('2');
    }

    // And it serves.
    writeFileSync(join(d.shareDir, 'hello'), 'from the host\n');
    const e = await fuse.lookup(1, 'hello');
    const { fh } = await fuse.open(e.nodeid, 0);
    expect((await fuse.read(e.nodeid, fh, 0, 100)).toString()).toBe('from the host\n');
    await fuse.release(e.nodeid, fh);
    const c = await fuse.create(1, 'made-in-sandbox', 0o644, 2);
    await fuse.write(c.entry.nodeid, c.fh, 0, Buffer.from('guest data'));
    await fuse.release(c.entry.nodeid, c.fh);
    expect(readFileSync(join(d.shareDir, 'made-in-sandbox'), 'utf8')).toBe('guest data');
  });

  for (const [how, args, exe] of [
    ['the launcher (default spelling)', [], DAEMON_BIN],
    ['vfs-supervisor (a spelling the launcher leaves to Node: two Node starts)', ['-o', 'sandbox=namespace'], supervisorPath()],
  ] as const) {
    it(`the supervisor, ${how}, holds no Node heap, no capabilities beyond DAC_OVERRIDE, no listening socket`, async () => {
      daemon = await startDaemon({ args: [...args] });
      const sup = daemon.child.pid!;
      const st = status(sup);
      // No Node heap: the process the test spawned is the C launcher, or has exec'd the C
      // supervisor in place (same pid, still our child), and the one Node process is its child.
      // How much memory that saves is measured by bench/memory.mjs, not asserted here.
      expect(readlinkSync(`/proc/${sup}/exe`)).toBe(realpathSync(exe));
      expect(st.PPid).toBe(String(process.pid));
      const pid = servingPid(sup);
      expect(children(sup)).toEqual([pid]);
      expect(status(pid).PPid).toBe(String(sup));
      expect(readlinkSync(`/proc/${pid}/exe`)).toBe(realpathSync(process.execPath));
      // The launcher drops its capabilities when it reads the child's report, which it does on
      // its own schedule: poll.
      await waitFor(() => status(sup).CapPrm === '0000000000000002', 5000, 'the supervisor to drop its capabilities');
      const dropped = status(sup);
      expect(BigInt(`0x${dropped.CapEff}`)).toBe(1n << 1n);
      expect(dropped.NoNewPrivs).toBe('1');
      // The daemon's open-file limit shows on the pid the starter knows, as with virtiofsd.
      const limit = (p: number): string => /Max open files.*/.exec(readFileSync(`/proc/${p}/limits`, 'utf8'))![0];
      expect(limit(sup)).toBe(limit(pid));
      // Only stdio, the socket's directory (to unlink the socket by name at exit), the signalfd
      // and the pipe whose hang-up tells the child the supervisor died are left open: nothing of
      // the listening socket, nor the launcher's report pipe.
      const extra = readdirSync(`/proc/${sup}/fd`).filter((fd) => Number(fd) > 2).map((fd) => readlinkSync(`/proc/${sup}/fd/${fd}`));
      expect(extra.sort()).toEqual([dirname(daemon.socketPath), 'anon_inode:[signalfd]', expect.stringMatching(/^pipe:/)]);
    });
  }

  it('--fd: an inherited listening socket survives both execs (Kata-style launch)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfs-kata-'));
    const sockPath = join(dir, 'kata.sock');
    const share = join(dir, 'kata-share');
    mkdirSync(share, { recursive: true });
    writeFileSync(join(share, 'from-host.txt'), 'kata\n');
    const listenFd = native.socketListen(sockPath);
    const child = spawn(DAEMON_BIN, ['--syslog', '--cache=auto', `--shared-dir=${share}`, '--fd=3', '--thread-pool-size=1', '--announce-submounts'], {
      stdio: ['ignore', 'ignore', 'pipe', listenFd],
    });
    native.closeFd(listenFd);
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | string>((r) => child.on('close', (c, s) => r(c ?? s ?? -1)));
    try {
      await waitFor(() => err.includes('Waiting for vhost-user socket connection'), 10_000, `readiness line (stderr: ${err})`);
      const fe = VhostUserFrontend.connect({ socketPath: sockPath });
      const fuse = new FuseClient(fe);
      await fuse.init();
      const e = await fuse.lookup(1, 'from-host.txt');
      expect(Number(e.attr.size)).toBe(5);
      const pid = servingPid(child.pid!);
      expect(namespaces(pid).mnt).not.toBe(namespaces('self').mnt);
      fe.close();
      expect(await exited).toBe(0); // front-end gone: exit 0, as virtiofsd
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--socket-path: the socket exists before the sandbox and is removed at exit', async () => {
    daemon = await startDaemon();
    expect(existsSync(daemon.socketPath)).toBe(true);
    const fe = VhostUserFrontend.connect({ socketPath: daemon.socketPath });
    await new FuseClient(fe).init();
    fe.close();
    expect(await daemon.exited).toBe(0);
    expect(existsSync(daemon.socketPath)).toBe(false);
  });

  it('forwards SIGTERM and SIGHUP; returns the exit status; the child dies with the supervisor', async () => {
    daemon = await startDaemon();
    const sup = daemon.child.pid!;
    const pid = servingPid(sup);
    process.kill(sup, 'SIGHUP');
    await waitFor(() => daemon!.stderr().includes('SIGHUP ignored'), 5000, 'SIGHUP forwarded');
    expect(alive(pid)).toBe(true);
    process.kill(sup, 'SIGTERM');
    expect(await daemon.exited).toBe(0);
    expect(daemon.stderr()).toContain('SIGTERM received, exiting');
    expect(existsSync(daemon.socketPath)).toBe(false);

    // SIGKILL of the supervisor (what Kata does): PR_SET_PDEATHSIG takes the daemon along.
    daemon = await startDaemon();
    const sup2 = daemon.child.pid!;
    const pid2 = servingPid(sup2);
    process.kill(sup2, 'SIGKILL');
    expect(await daemon.exited).toBe('SIGKILL');
    await waitFor(() => !existsSync(`/proc/${pid2}/status`) || status(pid2).State.startsWith('Z'), 5000, 'the child to die');

    // A daemon killed by a signal: the supervisor dies of the same signal (SIGKILL is the one
    // signal a host process can force on PID 1 of a namespace without a handler).
    daemon = await startDaemon();
    const pid3 = servingPid(daemon.child.pid!);
    process.kill(pid3, 'SIGKILL');
    expect(await daemon.exited).toBe('SIGKILL');
  });

  it('logging and the readiness line work through the re-exec; start-up warnings are logged once', async () => {
    daemon = await startDaemon({ args: ['-o', 'cache=auto', '-f'] });
    const text = daemon.stderr();
    expect(text.match(/Waiting for vhost-user socket connection\.\.\./g)).toHaveLength(1);
    expect(text.match(/-f has no effect/g)).toHaveLength(1);
    expect(text).toMatch(/sandbox: namespace \(pivot_root into /);
    expect(text).toMatch(/capabilities: kept chown, dac_override, dac_read_search, fowner, fsetid, setgid, setuid, mknod, setfcap in \d+ threads/);
    // (A seccomp learning run — docs/seccomp.md — records instead and says so.)
    if (process.env.VIRTIOFSD_TS_SECCOMP_LEARN === undefined) expect(text).toMatch(/seccomp: \d+ system calls allowed, action 'kill'/);
    expect(children(daemon.child.pid!)).toHaveLength(1);
  });

  it('--modcaps changes the kept set', async () => {
    daemon = await startDaemon({ args: ['--modcaps=+sys_admin:-mknod:-setfcap'] });
    const pid = servingPid(daemon.child.pid!);
    const want = (DEFAULT_CAPS | (1n << 21n)) & ~(1n << 27n) & ~(1n << 31n);
    for (const t of threadCapabilities(pid)) expect(t.CapEff, `thread ${t.tid}`).toBe(want);
  });
});
