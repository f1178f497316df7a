/**
 * DevFuseTransport in this process (no CLI): a real mount served by a FuseServer + PassthroughFs
 * whose transport has a single large buffer, so parallel 1 MiB writes make it pause and resume
 * reading; FUSE_INTERRUPT arriving over /dev/fuse; the end of the session when the mount goes.
 *
 * Everything touching the mount runs in child processes: this process is the daemon, and a
 * synchronous call on the mount from here would wait for itself.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devFuse } from '../../../src/native/dev-fuse.js';
import { native } from '../../../src/native/binding.js';
import { FuseServer } from '../../../src/fuse/server.js';
import { PassthroughFs } from '../../../src/passthrough/passthrough.js';
import { DevFuseTransport } from '../../../src/transport/dev-fuse-transport.js';
import type { FuseRequest, FuseRequestHandler } from '../../../src/fuse/transport.js';
import { silentLogger } from '../../../src/logger.js';
import { until } from '../../helpers/wait.js';
import { assertCanMount, isMounted } from './helpers.js';

const FUSE_LOOKUP = 1;
const FUSE_WRITE = 16;

let work: string;
let share: string;
let mnt: string;
let fd = -1;
let server: FuseServer;
let transport: DevFuseTransport;
let ended: Promise<number>;
/**
 * A LOOKUP of this name is held back before the core sees it, until the test calls `held`:
 * the request is then certainly in flight (read from /dev/fuse, unanswered) for as long as the
 * test needs, whatever the machine's load.
 */
let slowName = '';
let held: (() => void) | undefined;
/**
 * While set, WRITEs are held back too (each keeps its large buffer): the second one read then
 * finds no large buffer free, so reading pauses — whether or not the writers would have
 * overlapped by themselves on this machine at this moment.
 */
let holdWrites = false;
const heldWrites: FuseRequest[] = [];

/**
 * Runs a program in a child process; resolves with its exit status and output. Its working
 * directory is never the mount: Node's spawn() waits synchronously for the child's exec, and a
 * child entering the mount before exec would wait for this very process.
 */
function exec(file: string, args: string[], onSpawn?: (pid: number) => void): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (status) => resolve({ status, out }));
    if (child.pid !== undefined) onSpawn?.(child.pid);
  });
}

/** Runs a bash script in directory `cwd` (entered by the script itself). */
function bash(script: string, cwd: string): Promise<{ status: number | null; out: string }> {
  return exec('bash', ['-c', `cd ${JSON.stringify(cwd)} && ${script}`]);
}

beforeAll(async () => {
  // Root and /dev/fuse are prerequisites CI meets: without them every test here fails.
  assertCanMount();
  work = mkdtempSync(join(tmpdir(), 'vfs-devfuse-'));
  share = join(work, 'share');
  mnt = join(work, 'mnt');
  mkdirSync(share);
  mkdirSync(mnt);
  native.setPoolSize(2);
  const fs = await PassthroughFs.create({ root: share, cache: 'auto', announceSubmounts: false });
  server = new FuseServer(fs, {});
  const core = server;
  const handler: FuseRequestHandler = {
    handle(req: FuseRequest): void {
      const b = req.input;
      const o = req.inputOffset;
      if (slowName !== '' && b.readUInt32LE(o + 4) === FUSE_LOOKUP && b.toString('latin1', o + 40, o + req.inputLength - 1) === slowName) {
        held = () => core.handle(req);
        return;
      }
      if (holdWrites && b.readUInt32LE(o + 4) === FUSE_WRITE) {
        heldWrites.push(req);
        return;
      }
      core.handle(req);
    },
  };
  fd = devFuse.devFuseOpen();
  const K = devFuse.devFuseConstants;
  devFuse.fuseMount(share, mnt, 'fuse.virtiofsd-ts', K.MS_NOSUID | K.MS_NODEV, `fd=${fd},rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions`);
  let initDone!: () => void;
  const init = new Promise<void>((r) => (initDone = r));
  ended = new Promise<number>((resolve) => {
    transport = new DevFuseTransport({ fd, handler, log: silentLogger, maxLargeInFlight: 1, onInit: initDone, onEnd: resolve });
  });
  transport.start();
  await init;
});

afterAll(async () => {
  if (fd < 0) return; // beforeAll failed before opening /dev/fuse
  if (isMounted(mnt)) await bash(`umount -l ${mnt}`, '/');
  transport.close();
  native.closeFd(fd);
  await server.reset();
  rmSync(work, { recursive: true, force: true });
});

describe('DevFuseTransport', () => {
  it('answers INIT and sizes its buffers for max_write', () => {
    expect(server.initialized).toBe(true);
    expect(transport.readBufferSize).toBeGreaterThanOrEqual(80 + server.maxWrite);
    expect(transport.replyCapacity).toBe(16 + server.maxRead);
  });

  it('parallel 1 MiB writes with one large buffer: reading pauses, resumes, and every byte lands', async () => {
    const pausesBefore = transport.stats.pauses;
    holdWrites = true;
    const writers = [0, 1, 2, 3].map((i) =>
      bash(`python3 -c 'import random,sys; sys.stdout.buffer.write(random.Random(${i}).randbytes(24 << 20))' | dd of=w${i} bs=1M iflag=fullblock status=none`, mnt),
    );
    // Two 1 MiB WRITEs in flight (held) and the one large buffer gone: reading must pause...
    await until(() => transport.stats.pauses > pausesBefore, 'reading to pause');
    expect(heldWrites.length).toBeGreaterThanOrEqual(2);
    // ...and resume once they are served; every writer then finishes.
    holdWrites = false;
    for (const req of heldWrites.splice(0)) server.handle(req);
    for (const r of await Promise.all(writers)) expect(r.status, r.out).toBe(0);
    for (let i = 0; i < 4; i++) {
      const want = await bash(`python3 -c 'import random,sys; sys.stdout.buffer.write(random.Random(${i}).randbytes(24 << 20))' | sha256sum`, '/');
      const got = createHash('sha256').update(readFileSync(join(share, `w${i}`))).digest('hex');
      expect(want.out.split(' ')[0]).toBe(got);
    }
    // And read back through the mount (READ replies: pread into a reply buffer + writev).
    const back = await bash('sync; echo 1 > /proc/sys/vm/drop_caches; sha256sum w0 w1 w2 w3', mnt);
    expect(back.status, back.out).toBe(0);
    for (let i = 0; i < 4; i++) {
      expect(back.out).toContain(`${createHash('sha256').update(readFileSync(join(share, `w${i}`))).digest('hex')}  w${i}`);
    }
    expect(transport.stats.failedReplies).toBe(0);
  }, 120_000); // 96 MiB written, hashed and read back through one large buffer: seconds idle, much longer on a loaded runner

  it('a signal to a process waiting on a request reaches the core as FUSE_INTERRUPT; serving goes on', async () => {
    slowName = 'slow-name';
    held = undefined;
    const before = server.stats.interrupts;
    let pid = 0;
    const waiting = exec(
      'python3',
      [
        '-c',
        `import os, signal
signal.signal(signal.SIGUSR1, lambda *a: None)
try:
    os.stat(${JSON.stringify(join(mnt, 'slow-name'))})
except OSError as e:
    print("stat", e.errno)`,
      ],
      (p) => (pid = p),
    );
    // Each step waits for its event: the LOOKUP held back here (so the kernel has sent it and
    // waits for the answer), then the kernel's FUSE_INTERRUPT counted by the core; only then is
    // the LOOKUP let through.
    await until(() => held !== undefined, 'the LOOKUP of slow-name to be held back');
    process.kill(pid, 'SIGUSR1');
    await until(() => server.stats.interrupts > before, 'FUSE_INTERRUPT to reach the core');
    slowName = ''; // a retried stat (PEP 475 after EINTR) goes straight through
    const release = held!;
    held = undefined;
    release();
    const r = await waiting;
    expect(r.out).toMatch(/stat (2|4)\b/); // ENOENT once answered, or EINTR if the core gave up early
    const after = await bash('printf ok > after && cat after', mnt);
    expect(after.out).toBe('ok');
  });

  it('ends with ENODEV when the mount point is unmounted', async () => {
    const r = await bash(`umount ${mnt}`, '/');
    expect(r.status, r.out).toBe(0);
    expect(await ended).toBe(19);
    expect(transport.isRunning).toBe(false);
  });
});
