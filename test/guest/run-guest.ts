/**
 * End-to-end guest helpers: build a tiny Linux guest (Debian kernel + busybox + fio), boot it
 * under QEMU/TCG against a vhost-user-fs daemon, and check what it left in the share.
 *
 *  - buildGuest()         runs test/guest/build-guest.sh once per process (cached on disk)
 *  - runGuest(opts)       boots the guest with a per-test /test.sh and captures the console
 *  - startDaemon(kind)    C virtiofsd or our daemon listening on --socket-path
 *  - startKataDaemon()    Kata-style launch: a *listening* socket handed over as fd 3
 *  - checkResultTree()    host-side checks of /mnt/result written by guest-test.sh
 *  - missingPrereqs()     what is missing on this machine to run the guest tests
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp, lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'vitest';

export const GUEST_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = path.resolve(GUEST_DIR, '..', '..');
export const BUILD_SCRIPT = path.join(GUEST_DIR, 'build-guest.sh');
export const GUEST_TEST_SCRIPT_PATH = path.join(GUEST_DIR, 'guest-test.sh');
export const C_VIRTIOFSD = process.env.C_VIRTIOFSD ?? '/usr/lib/qemu/virtiofsd';
/** Our daemon's entry point (override with env VIRTIOFSD_TS). */
/** The `virtiofsd-ts` executable (the C launcher), or $VIRTIOFSD_TS. */
export const TS_DAEMON = process.env.VIRTIOFSD_TS ?? path.join(REPO_DIR, 'build', 'Release', 'virtiofsd-ts');
export const QEMU = process.env.QEMU ?? 'qemu-system-x86_64';
/** The line our daemon prints on stderr right before it accepts the vhost-user connection. */
export const WAITING_LINE = 'Waiting for vhost-user socket connection';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function which(cmd: string): string | undefined {
  if (cmd.includes('/')) return existsSync(cmd) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function python3(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

// ------------------------------------------------------------------------------------------
// prerequisites

/** Human-readable list of what is missing for the guest tests (empty = all present). */
export function missingPrereqs(opts: { needC?: boolean; needTs?: boolean; needPython?: boolean } = {}): string[] {
  const missing: string[] = [];
  for (const cmd of [QEMU, 'cpio', 'gzip', 'dpkg-deb', 'ldd', 'fio', 'apt-get', 'sha256sum']) {
    if (!which(cmd)) missing.push(`command ${cmd} (run .ci/prereqs.sh)`);
  }
  if (!existsSync('/bin/busybox')) missing.push('/bin/busybox (busybox-static; run .ci/prereqs.sh)');
  if (process.platform !== 'linux') missing.push('Linux host');
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    missing.push('root (the daemons must chown files and the C virtiofsd sandbox needs root)');
  }
  if (opts.needC && !existsSync(C_VIRTIOFSD)) missing.push(`${C_VIRTIOFSD} (qemu-system-common)`);
  if (opts.needTs && !existsSync(TS_DAEMON)) missing.push(`${TS_DAEMON} (run npm run build)`);
  if (opts.needPython && !which(python3())) missing.push('python3');
  return missing;
}

// ------------------------------------------------------------------------------------------
// guest image

export interface GuestImage {
  kernel: string;
  initrd: string;
  kernelVersion: string;
  buildLog: string;
}

let buildPromise: Promise<GuestImage> | undefined;

/** Build (or reuse) the kernel + base initramfs. Runs build-guest.sh at most once per process. */
export function buildGuest(): Promise<GuestImage> {
  buildPromise ??= new Promise<GuestImage>((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`build-guest.sh failed (exit ${code}):\n${err}${out}`));
        return;
      }
      const kv = new Map<string, string>();
      for (const line of out.split('\n')) {
        const m = /^(GUEST_[A-Z]+)=(.*)$/.exec(line.trim());
        if (m) kv.set(m[1], m[2]);
      }
      const kernel = kv.get('GUEST_KERNEL');
      const initrd = kv.get('GUEST_INITRD');
      if (!kernel || !initrd || !existsSync(kernel) || !existsSync(initrd)) {
        reject(new Error(`build-guest.sh did not report its outputs:\n${out}\n${err}`));
        return;
      }
      resolve({ kernel, initrd, kernelVersion: kv.get('GUEST_KVER') ?? '?', buildLog: err });
    });
  });
  buildPromise.catch(() => (buildPromise = undefined));
  return buildPromise;
}

// ------------------------------------------------------------------------------------------
// cpio (newc) writer for the per-test archive

function newcEntry(name: string, mode: number, data: Buffer, ino: number): Buffer {
  const nameBuf = Buffer.from(name + '\0');
  const fields = [ino, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0];
  const header = Buffer.from('070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join(''));
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const head = Buffer.concat([header, nameBuf]);
  return Buffer.concat([head, pad(head.length), data, pad(data.length)]);
}

/** A newc cpio archive holding the given files at the archive root (mode 0755 regular files). */
export function makeCpio(files: Record<string, string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const [name, content] of Object.entries(files)) {
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    parts.push(newcEntry(name.replace(/^\/+/, ''), 0o100755, data, ino++));
  }
  parts.push(newcEntry('TRAILER!!!', 0, Buffer.alloc(0), 0));
  return Buffer.concat(parts);
}

// ------------------------------------------------------------------------------------------
// running the guest

export interface FioFigure {
  job: string;
  op: 'read' | 'write';
  iops: number;
  /** bandwidth as fio printed it, e.g. "10.6MiB/s" */
  bw: string;
  bwBytesPerSec: number;
  line: string;
}

export interface GuestResult {
  passed: boolean;
  /** rc of /test.sh as reported by the guest init (null when no result line was seen) */
  rc: number | null;
  output: string;
  fioSummary: FioFigure[];
  /** `CHECK-FAIL: ...` lines printed by the guest script */
  failures: string[];
  timedOut: boolean;
  qemuExitCode: number | null;
  qemuSignal: NodeJS.Signals | null;
  durationMs: number;
}

export interface RunGuestOptions {
  socketPath: string;
  tag: string;
  /** Contents of the script that becomes /test.sh (run by busybox sh with cwd /mnt). */
  testScript: string;
  timeoutMs?: number;
  extraQemuArgs?: string[];
  /** Extra kernel command line words. */
  extraAppend?: string;
  /** Guest mount options, passed as `mount -o OPTS` (e.g. "dax=always"). */
  mountOpts?: string;
  /** Guest RAM in MiB (default 1024). */
  memMiB?: number;
  /** Extra files for the per-test cpio (archive-root-relative names). */
  extraFiles?: Record<string, string | Buffer>;
  /** Called with each chunk of console output (also enabled by env GUEST_VERBOSE=1). */
  onOutput?: (chunk: string) => void;
  /** QEMU binary or wrapper to run (default: env QEMU or qemu-system-x86_64), e.g. the sid wrapper. */
  qemu?: string;
  /**
   * Replaces the default `-device vhost-user-fs-pci,chardev=c,tag=TAG,queue-size=1024` pair
   * (the chardev is always `c`), e.g. `['-device', 'vhost-user-test-device-pci,chardev=c,...']`.
   */
  deviceArgs?: string[];
  /** Write the console to this file as well (default: $GUEST_LOG_DIR/<tag>-<time>.log if set). */
  logFile?: string;
}

function parseIops(s: string): number {
  const m = /^([\d.]+)([kM]?)$/.exec(s);
  if (!m) return Number.NaN;
  const mult = m[2] === 'k' ? 1e3 : m[2] === 'M' ? 1e6 : 1;
  return parseFloat(m[1]) * mult;
}

function parseBw(s: string): number {
  const m = /^([\d.]+)([KMGT]i?)?B\/s$/.exec(s);
  if (!m) return Number.NaN;
  const units: Record<string, number> = {
    '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4,
  };
  return parseFloat(m[1]) * (units[m[2] ?? ''] ?? Number.NaN);
}

/** Parse `FIO-SUMMARY <job> read: IOPS=2717, BW=10.6MiB/s (...)` lines. */
export function parseFioSummary(output: string): FioFigure[] {
  const figures: FioFigure[] = [];
  const re = /^FIO-SUMMARY (\S+) (read|write): IOPS=([\d.]+[kM]?), BW=(\S+)/;
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    const m = re.exec(line);
    if (!m) continue;
    figures.push({
      job: m[1],
      op: m[2] as 'read' | 'write',
      iops: parseIops(m[3]),
      bw: m[4],
      bwBytesPerSec: parseBw(m[4]),
      line,
    });
  }
  return figures;
}

/** Boot the guest against the vhost-user socket and run `testScript` as /test.sh. */
export async function runGuest(opts: RunGuestOptions): Promise<GuestResult> {
  const image = await buildGuest();
  const memMiB = opts.memMiB ?? 1024;
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vfs-guest-'));
  const initrd = path.join(tmp, 'initrd.img');
  const base = await fsp.readFile(image.initrd);
  const testCpio = makeCpio({ 'test.sh': opts.testScript, ...(opts.extraFiles ?? {}) });
  // Concatenated archives: the next one must start 4-byte aligned; the kernel skips NUL padding.
  await fsp.writeFile(initrd, Buffer.concat([base, Buffer.alloc((4 - (base.length % 4)) % 4), testCpio]));

  const append = ['console=ttyS0', 'quiet', 'panic=-1', `vfs_tag=${opts.tag}`];
  if (opts.mountOpts) append.push(`vfs_opts=${opts.mountOpts}`);
  if (opts.extraAppend) append.push(opts.extraAppend);
  const args = [
    '-accel', 'tcg,thread=multi', '-cpu', 'max', '-m', `${memMiB}M`, '-smp', '2',
    '-nographic', '-no-reboot', '-nic', 'none',
    '-kernel', image.kernel, '-initrd', initrd, '-append', append.join(' '),
    '-chardev', `socket,id=c,path=${opts.socketPath}`,
    ...(opts.deviceArgs ?? ['-device', `vhost-user-fs-pci,chardev=c,tag=${opts.tag},queue-size=1024`]),
    '-object', `memory-backend-memfd,id=m,size=${memMiB}M,share=on`, '-numa', 'node,memdev=m',
    ...(opts.extraQemuArgs ?? []),
  ];

  const logFile =
    opts.logFile ??
    (process.env.GUEST_LOG_DIR
      ? path.join(process.env.GUEST_LOG_DIR, `${opts.tag}-${new Date().toISOString().replace(/[:.]/g, '-')}.log`)
      : undefined);
  const verbose = process.env.GUEST_VERBOSE === '1';

  const qemu = opts.qemu ?? QEMU;
  const start = Date.now();
  const child = spawn(qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const onData = (d: Buffer) => {
    const s = d.toString().replace(/\r/g, '');
    output += s;
    if (verbose) process.stderr.write(s);
    opts.onOutput?.(s);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 8 * 60_000);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (e) => {
      output += `\n[run-guest] failed to start ${qemu}: ${e.message}\n`;
      resolve({ code: null, signal: null });
    });
    child.on('close', (c, s) => resolve({ code: c, signal: s }));
  });
  clearTimeout(timer);
  await fsp.rm(tmp, { recursive: true, force: true });
  if (timedOut) output += `\n[run-guest] timed out after ${opts.timeoutMs ?? 8 * 60_000} ms, QEMU killed\n`;
  if (logFile) {
    await fsp.mkdir(path.dirname(logFile), { recursive: true });
    await fsp.writeFile(logFile, `${qemu} ${args.join(' ')}\n\n${output}`);
  }

  let rc: number | null = null;
  let marker: 'PASS' | 'FAIL' | undefined;
  for (const line of output.split('\n')) {
    const m = /^GUEST-RESULT: (PASS|FAIL)(?: rc=(\d+))?/.exec(line.trim());
    if (m) {
      marker = m[1] as 'PASS' | 'FAIL';
      rc = m[1] === 'PASS' ? 0 : Number(m[2] ?? -1);
    }
  }
  const failures = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('CHECK-FAIL:'));
  return {
    passed: marker === 'PASS' && !timedOut && code === 0,
    rc,
    output,
    fioSummary: parseFioSummary(output),
    failures,
    timedOut,
    qemuExitCode: code,
    qemuSignal: signal,
    durationMs: Date.now() - start,
  };
}

// ------------------------------------------------------------------------------------------
// daemons

export type DaemonKind = 'c' | 'ts';

export interface DaemonOptions {
  socketPath: string;
  sharedDir: string;
  /** cache mode (default "auto") */
  cache?: string;
  extraArgs?: string[];
  startTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface DaemonHandle {
  kind: DaemonKind;
  launch: 'socket-path' | 'kata-fd3';
  proc: ChildProcess;
  pid: number;
  socketPath: string;
  sharedDir: string;
  argv: string[];
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** Exit status once exited, else undefined. */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Wait up to `ms` for the process to exit on its own; true if it did. */
  waitExit(ms: number): Promise<boolean>;
  /** Send `signal` (default SIGTERM), then SIGKILL after `graceMs` (default 5000). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const OUTPUT_CAP = 8 * 1024 * 1024;

function wrap(
  kind: DaemonKind,
  launch: DaemonHandle['launch'],
  cmd: string,
  argv: string[],
  opts: DaemonOptions,
): DaemonHandle {
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => {
    if (out.length < OUTPUT_CAP) out += d.toString();
  });
  proc.stderr.on('data', (d: Buffer) => {
    if (err.length < OUTPUT_CAP) err += d.toString();
  });
  let done = false;
  let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('error', (e) => {
      err += `\n[run-guest] spawn ${cmd} failed: ${e.message}\n`;
      done = true;
      status = { code: null, signal: null };
      resolve(status);
    });
    proc.on('exit', (code, signal) => {
      done = true;
      status = { code, signal };
      resolve(status);
    });
  });
  const waitExit = async (ms: number) => {
    if (done) return true;
    await Promise.race([exited, sleep(ms)]);
    return done;
  };
  return {
    kind,
    launch,
    proc,
    pid: proc.pid ?? -1,
    socketPath: opts.socketPath,
    sharedDir: opts.sharedDir,
    argv: [cmd, ...argv],
    stdout: () => out,
    stderr: () => err,
    exited,
    hasExited: () => done,
    exitStatus: () => status,
    waitExit,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000) {
      if (!done) {
        proc.kill(signal);
        if (!(await waitExit(graceMs))) proc.kill('SIGKILL');
      }
      return exited;
    },
  };
}

async function waitReady(h: DaemonHandle, mode: 'line' | 'socket', timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (h.hasExited()) {
      const r = await h.exited;
      throw new Error(
        `${h.argv.join(' ')} exited before it was ready (code ${r.code}, signal ${r.signal})\n` +
          `stderr:\n${h.stderr()}\nstdout:\n${h.stdout()}`,
      );
    }
    if (mode === 'line' && (h.stderr().includes(WAITING_LINE) || h.stdout().includes(WAITING_LINE))) return;
    if (mode === 'socket' && existsSync(h.socketPath) && lstatSync(h.socketPath).isSocket()) {
      // bind() makes the file, listen() follows immediately; give it a moment.
      await sleep(100);
      return;
    }
    await sleep(20);
  }
  await h.stop('SIGKILL', 1000);
  throw new Error(
    `${h.argv.join(' ')} not ready after ${timeoutMs} ms (waiting for ${mode === 'line' ? `"${WAITING_LINE}"` : h.socketPath})\n` +
      `stderr:\n${h.stderr()}\nstdout:\n${h.stdout()}`,
  );
}

/**
 * Start a daemon listening on `socketPath`.
 *  - 'c':  /usr/lib/qemu/virtiofsd --socket-path=S -o source=DIR -o cache=MODE (ready: socket file)
 *  - 'ts': build/Release/virtiofsd-ts (the launcher) --socket-path=S --shared-dir=DIR --cache=MODE
 *          (ready: the "Waiting for vhost-user socket connection" stderr line)
 */
export async function startDaemon(kind: DaemonKind, opts: DaemonOptions): Promise<DaemonHandle> {
  await fsp.rm(opts.socketPath, { force: true });
  const cache = opts.cache ?? 'auto';
  let h: DaemonHandle;
  if (kind === 'c') {
    const argv = [`--socket-path=${opts.socketPath}`, '-o', `source=${opts.sharedDir}`, '-o', `cache=${cache}`,
      ...(opts.extraArgs ?? [])];
    h = wrap('c', 'socket-path', C_VIRTIOFSD, argv, opts);
    await waitReady(h, 'socket', opts.startTimeoutMs ?? 15_000);
  } else {
    const argv = [`--socket-path=${opts.socketPath}`, `--shared-dir=${opts.sharedDir}`, `--cache=${cache}`, ...(opts.extraArgs ?? [])];
    h = wrap('ts', 'socket-path', TS_DAEMON, argv, opts);
    await waitReady(h, 'line', opts.startTimeoutMs ?? 30_000);
  }
  return h;
}

/**
 * Python launcher: create, bind and listen on an AF_UNIX socket (bound under a temporary name,
 * renamed into place once listening, so the path appearing means "ready"), put it on fd 3 and
 * exec the daemon. The daemon keeps the launcher's pid.
 */
const FD3_LAUNCHER = `
import os, socket, sys
path = sys.argv[1]
tmp = path + '.tmp'
for p in (tmp, path):
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(tmp)
s.listen(16)
os.rename(tmp, path)
fd = s.detach()
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.set_inheritable(3, True)
os.execv(sys.argv[2], sys.argv[2:])
`;

/**
 * Kata-style launch: the "runtime" (this helper) creates the listening socket and passes it as fd 3.
 *  - 'ts': `--syslog --cache=auto --shared-dir=DIR --fd=3 --thread-pool-size=1 --announce-submounts`
 *          (the Kata Go runtime's arguments for the Rust virtiofsd)
 *  - 'c':  `--syslog -o cache=auto -o no_posix_lock -o source=DIR --fd=3 -f` (older Kata); `--syslog`
 *          only when /dev/log exists: without it glibc's syslog() retries socket() inside the C
 *          daemon's seccomp sandbox and the daemon dies of SIGSYS on the first log line.
 * Kata stops the daemon with SIGKILL: use `handle.stop('SIGKILL')`.
 */
export async function startKataDaemon(kind: DaemonKind, opts: DaemonOptions): Promise<DaemonHandle> {
  const cache = opts.cache ?? 'auto';
  const daemonArgv =
    kind === 'ts'
      ? [TS_DAEMON, '--syslog', `--cache=${cache}`, `--shared-dir=${opts.sharedDir}`, '--fd=3',
          '--thread-pool-size=1', '--announce-submounts']
      : [C_VIRTIOFSD, ...(existsSync('/dev/log') ? ['--syslog'] : []), '-o', `cache=${cache}`, '-o', 'no_posix_lock', '-o', `source=${opts.sharedDir}`,
          '--fd=3', '-f'];
  daemonArgv.push(...(opts.extraArgs ?? []));
  const h = wrap(kind, 'kata-fd3', python3(), ['-c', FD3_LAUNCHER, opts.socketPath, ...daemonArgv], opts);
  await waitReady(h, 'socket', opts.startTimeoutMs ?? 15_000);
  return h;
}

// ------------------------------------------------------------------------------------------
// scratch space

export interface Scratch {
  dir: string;
  sharedDir: string;
  socketPath: string;
  cleanup(): Promise<void>;
}

/** A temp dir with a world-traversable share (mode 0755) and a socket path inside it. */
export async function makeScratch(prefix = 'vfs-e2e-'): Promise<Scratch> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  const sharedDir = path.join(dir, 'share');
  await fsp.mkdir(sharedDir);
  await fsp.chmod(sharedDir, 0o755); // the guest's uid 1000 must be able to traverse /mnt
  return {
    dir,
    sharedDir,
    socketPath: path.join(dir, 'vhost.sock'),
    cleanup: () => fsp.rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Seed <share>/seed with host-made files that guest-test.sh checks (content, mode, owner,
 * symlink, a 3 MiB file by sha256) and then deletes.
 */
export async function seedShare(sharedDir: string): Promise<void> {
  const S = path.join(sharedDir, 'seed');
  await fsp.mkdir(path.join(S, 'sub', 'dir'), { recursive: true });
  await fsp.writeFile(path.join(S, 'hello.txt'), 'from the host\n');
  await fsp.chmod(path.join(S, 'hello.txt'), 0o604);
  await fsp.chown(path.join(S, 'hello.txt'), 4321, 8765);
  await fsp.symlink('hello.txt', path.join(S, 'link'));
  const big = Buffer.alloc(3 * 1024 * 1024);
  let x = 0x12345678;
  for (let i = 0; i < big.length; i += 4) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    big.writeUInt32LE(x, i);
  }
  await fsp.writeFile(path.join(S, 'big.bin'), big);
  await fsp.writeFile(path.join(S, 'big.sha256'), createHash('sha256').update(big).digest('hex') + '\n');
  await fsp.writeFile(path.join(S, 'sub', 'dir', 'nested.txt'), 'nested\n');
}

// ------------------------------------------------------------------------------------------
// host-side checks of what guest-test.sh leaves in <share>/result

/** Returns a list of problems (empty = everything as expected). */
export function checkResultTree(sharedDir: string, opts: { expectUserFile?: boolean } = {}): string[] {
  const problems: string[] = [];
  const R = path.join(sharedDir, 'result');
  const p = (rel: string) => path.join(R, rel);
  const check = (what: string, ok: boolean, detail = '') => {
    if (!ok) problems.push(`${what}${detail ? `: ${detail}` : ''}`);
  };
  const attempt = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      problems.push(`${what}: ${(e as Error).message}`);
    }
  };
  const expectFile = (rel: string, content: string | Buffer, mode?: number, uid?: number, gid?: number) =>
    attempt(rel, () => {
      const st = lstatSync(p(rel));
      check(`${rel} is a regular file`, st.isFile());
      const got = readFileSync(p(rel));
      const want = typeof content === 'string' ? Buffer.from(content) : content;
      check(`${rel} content`, got.equals(want), `got ${got.length} bytes ${JSON.stringify(got.subarray(0, 40).toString())}`);
      if (mode !== undefined) check(`${rel} mode`, (st.mode & 0o7777) === mode, `got ${(st.mode & 0o7777).toString(8)} want ${mode.toString(8)}`);
      if (uid !== undefined) check(`${rel} uid`, st.uid === uid, `got ${st.uid} want ${uid}`);
      if (gid !== undefined) check(`${rel} gid`, st.gid === gid, `got ${st.gid} want ${gid}`);
    });

  if (!existsSync(R)) return [`${R} does not exist (the guest script did not get that far)`];
  const top = readdirSync(sharedDir);
  check('share root holds only result/', top.length === 1 && top[0] === 'result', `got ${JSON.stringify(top)}`);

  expectFile('data.txt', 'hello virtio-fs\n', 0o640, 0, 0);
  attempt('hard.txt', () => {
    const a = lstatSync(p('data.txt'));
    const b = lstatSync(p('hard.txt'));
    check('hard.txt is the same inode as data.txt', a.ino === b.ino && a.dev === b.dev);
    check('data.txt nlink', a.nlink === 2, `got ${a.nlink}`);
  });
  attempt('sym', () => {
    check('sym is a symlink', lstatSync(p('sym')).isSymbolicLink());
    check('sym target', readlinkSync(p('sym')) === 'data.txt', `got ${readlinkSync(p('sym'))}`);
  });
  expectFile('owned.txt', 'owned\n', 0o600, 1234, 5678);
  if (opts.expectUserFile ?? true) expectFile('userdir/user.txt', 'user\n', undefined, 1000, 1000);
  const seq = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join('');
  expectFile('seq.txt', seq);
  expectFile('sparse.bin', Buffer.alloc(1048576));
  expectFile('truncated.txt', Buffer.concat([Buffer.from('short'), Buffer.alloc(95)]));
  expectFile('renamed-dir/inner/file.txt', 'inner\n');
  check('dir-a is gone after rename', !existsSync(p('dir-a')));
  attempt('emptydir', () => {
    const st = lstatSync(p('emptydir'));
    check('emptydir is a directory', st.isDirectory());
    check('emptydir mode', (st.mode & 0o7777) === 0o700, `got ${(st.mode & 0o7777).toString(8)}`);
    check('emptydir is empty', readdirSync(p('emptydir')).length === 0);
  });
  attempt('fifo', () => check('fifo is a FIFO', lstatSync(p('fifo')).isFIFO()));

  // The guest's own stat() view must match the host's lstat() for every entry.
  attempt('manifest.txt', () => {
    const lines = readFileSync(p('manifest.txt'), 'utf8').split('\n').filter(Boolean);
    const seen = new Set<string>();
    for (const line of lines) {
      const [name, modeHex, uid, gid, size, nlink] = line.split('|');
      const rel = name.replace(/^\.\//, '');
      seen.add(rel);
      let st;
      try {
        st = lstatSync(p(rel));
      } catch {
        problems.push(`manifest: ${rel} listed by the guest is missing on the host`);
        continue;
      }
      const host = [st.mode.toString(16), String(st.uid), String(st.gid),
        st.isDirectory() ? '-' : String(st.size), st.isDirectory() ? '-' : String(st.nlink)].join('|');
      const guest = [modeHex, uid, gid, size, nlink].join('|');
      check(`manifest: ${rel} guest view matches host lstat`, host === guest, `guest ${guest} host ${host}`);
    }
    const walk = (rel: string): string[] =>
      readdirSync(path.join(R, rel), { withFileTypes: true }).flatMap((d) => {
        const r = rel ? `${rel}/${d.name}` : d.name;
        return d.isDirectory() ? [r, ...walk(r)] : [r];
      });
    for (const rel of walk('')) {
      if (rel !== 'manifest.txt' && !seen.has(rel)) problems.push(`manifest: host entry ${rel} not seen by the guest`);
    }
  });
  return problems;
}

/** Short, quotable fio table: "job op IOPS BW" per line. */
export function formatFio(label: string, figures: FioFigure[]): string {
  const rows = figures.map(
    (f) => `  ${f.job.padEnd(22)} ${f.op.padEnd(5)} IOPS=${String(Math.round(f.iops)).padStart(6)}  BW=${f.bw}`,
  );
  return [`fio (${label}):`, ...rows].join('\n');
}

/** True when running in CI (env CI=true/1): missing prerequisites must fail, never skip. */
export const IN_CI = /^(true|1|yes)$/i.test(process.env.CI ?? '');

/** First line of `qemu-system-x86_64 --version` (for logs). */
export function qemuVersion(): string {
  const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? (r.stdout.split('\n')[0] ?? '') : `unavailable (${r.error?.message ?? r.stderr})`;
}

/**
 * The e2e prerequisite policy: with CI=true a missing prerequisite fails the test; elsewhere the
 * test is skipped with the reason (`label` prefixes the console warning).
 */
export function requireOrSkip(ctx: TestContext, missing: string[], label = 'e2e'): void {
  if (missing.length === 0) return;
  const msg = `missing prerequisites: ${missing.join('; ')}`;
  if (IN_CI) throw new Error(`${msg} (CI=true: a missing prerequisite is a failure)`);
  console.warn(`[${label}] skipping "${ctx.task.name}": ${msg}`);
  ctx.skip(msg);
}

/** A failed guest run explained: status, check failures, the console's and the daemon's tails. */
export function explainGuest(result: GuestResult, daemon: DaemonHandle, consoleLines = 80, daemonLines = 40): string {
  return [
    `guest passed=${result.passed} rc=${result.rc} timedOut=${result.timedOut} qemuExit=${result.qemuExitCode}`,
    ...result.failures,
    '--- guest console (tail) ---',
    result.output.split('\n').slice(-consoleLines).join('\n'),
    `--- daemon ${daemon.argv.join(' ')}: ${daemon.hasExited() ? `exited ${JSON.stringify(daemon.exitStatus())}` : 'running'} ---`,
    '--- daemon stderr (tail) ---',
    daemon.stderr().split('\n').slice(-daemonLines).join('\n'),
  ].join('\n');
}
