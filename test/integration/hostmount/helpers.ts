import { afterAll, beforeAll, expect } from 'vitest';
/**
 * Host-mount test harness: runs `virtiofsd-ts --shared-dir SHARE --mount MNT` (from dist/) on
 * temporary directories, runs real host programs, and compares trees.
 *
 * Needs root and /dev/fuse. CI has both, so a suite must fail without them, not skip:
 * `assertCanMount()` (startHostMount and useMountAndPlain call it) throws.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAEMON_BIN, REPO } from '../../helpers/daemon.js';
import { WAIT_MS } from '../../helpers/wait.js';
import { requireFuse } from '../../helpers/prerequisites.js';

export { DAEMON_BIN, REPO };

/** Throws unless this process can mount through /dev/fuse: a missing prerequisite is a failure. */
export function assertCanMount(): void {
  requireFuse();
}

export interface HostMount {
  child: ChildProcess;
  workDir: string;
  share: string;
  mnt: string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** Sends `signal` (default SIGTERM) and waits for the exit; cleans up. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  /** Removes the work directory (lazily unmounting first if something is still mounted). */
  cleanup(): void;
}

export interface HostMountOptions {
  args?: string[];
  /** Populate the share before mounting. */
  prepare?: (share: string) => void;
  /** Wait for the readiness line (default true). */
  waitReady?: boolean;
}

export function isMounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === path);
}

/** The /proc/self/mountinfo line of the mount at `path`, split into fields. */
export function mountInfo(path: string): string[] | undefined {
  const line = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === path);
  return line?.split(' ');
}

export async function startHostMount(opts: HostMountOptions = {}): Promise<HostMount> {
  assertCanMount();
  if (!existsSync(DAEMON_BIN)) throw new Error(`${DAEMON_BIN} missing: run "npm run build"`);
  const workDir = mkdtempSync(join(tmpdir(), 'vfs-hostmount-'));
  const share = join(workDir, 'share');
  const mnt = join(workDir, 'mnt');
  mkdirSync(share);
  mkdirSync(mnt);
  opts.prepare?.(share);
  const child = spawn(DAEMON_BIN, [`--shared-dir=${share}`, `--mount=${mnt}`, ...(opts.args ?? [])], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  // 'close': after the last of stderr (see test/helpers/daemon.ts).
  const exited = new Promise<number | string>((resolve) => {
    child.on('close', (code, signal) => resolve(code ?? signal ?? -1));
  });
  const cleanup = (): void => {
    if (isMounted(mnt)) spawnSync('umount', ['-l', mnt]);
    rmSync(workDir, { recursive: true, force: true });
  };
  if (opts.waitReady ?? true) {
    await new Promise<void>((resolve, reject) => {
      // A deadline for a daemon that never mounts, not a guess at start-up time: generous, as
      // Node's start-up on a loaded 2-core runner takes seconds.
      const timer = setTimeout(() => reject(new Error(`no readiness line within ${WAIT_MS / 1000} s:\n${err}`)), WAIT_MS);
      const onData = (): void => {
        if (err.includes(`Mounted ${share} on ${mnt}`)) {
          clearTimeout(timer);
          child.stderr.off('data', onData);
          resolve();
        }
      };
      child.stderr.on('data', onData);
      onData();
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`daemon exited (${code}) before mounting:\n${err}`));
      });
    }).catch((e: unknown) => {
      child.kill('SIGKILL');
      cleanup();
      throw e;
    });
  }
  return {
    child,
    workDir,
    share,
    mnt,
    stderr: () => err,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      cleanup();
      return code;
    },
    cleanup,
  };
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a bash script in `cwd`; never throws. */
export function run(script: string, cwd: string, timeoutMs = 120_000): RunResult {
  const r = spawnSync('bash', ['-eo', 'pipefail', '-c', script], { cwd, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** Runs a bash script in `cwd` and returns its stdout; throws with its stderr on failure. */
export function sh(script: string, cwd: string, timeoutMs?: number): string {
  const r = run(script, cwd, timeoutMs);
  if (r.status !== 0) throw new Error(`script failed (${r.status}) in ${cwd}:\n${script}\n--- stderr:\n${r.stderr}\n--- stdout:\n${r.stdout}`);
  return r.stdout;
}

export interface DigestOptions {
  /** Include mtime (seconds + ns) of files and symlinks. Default false. */
  mtime?: boolean;
  /** Include the link count of non-directories. Default true. */
  nlink?: boolean;
  /** Relative paths to leave out (with everything below them). */
  exclude?: string[];
}

/**
 * One line per entry below `root` (sorted): relative path, type, permission bits, owner, and
 * for files size + sha256, for symlinks the target. Equal digests = equal trees, as far as a
 * program could tell (atime/ctime/inode numbers aside).
 */
export function digest(root: string, opts: DigestOptions = {}): string[] {
  const out: string[] = [];
  const exclude = new Set(opts.exclude ?? []);
  const walk = (rel: string): void => {
    const abs = rel === '' ? root : join(root, rel);
    for (const name of readdirSync(abs).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (exclude.has(r)) continue;
      const st = lstatSync(join(root, r), { bigint: true });
      const mode = (st.mode & 0o7777n).toString(8);
      let line = `${r} mode=${mode} uid=${st.uid} gid=${st.gid}`;
      if (opts.nlink ?? true) line += st.isDirectory() ? '' : ` nlink=${st.nlink}`;
      if (opts.mtime) line += st.isDirectory() ? '' : ` mtime=${st.mtimeNs}`;
      if (st.isDirectory()) {
        out.push(`${line} dir`);
        walk(r);
      } else if (st.isSymbolicLink()) {
        out.push(`${line} -> ${readlinkSync(join(root, r))}`);
      } else if (st.isFile()) {
        const hash = createHash('sha256').update(readFileSync(join(root, r))).digest('hex');
        out.push(`${line} size=${st.size} sha256=${hash}`);
      } else {
        out.push(`${line} special=${(st.mode & 0o170000n).toString(8)}`);
      }
    }
  };
  walk('');
  return out;
}

/** A plain (non-FUSE) scratch directory next to the mount, removed by the returned function. */
export function plainDir(prefix = 'vfs-plain-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The suite fixture most host-mount tests share: one mount of a fresh share, and a plain
 * directory to run the same steps on for comparison. Both exist between beforeAll and afterAll;
 * afterAll checks the daemon exits 0. Without root or /dev/fuse, beforeAll throws (startHostMount
 * checks), so every test of the suite fails with that message.
 */
export function useMountAndPlain(): { m: HostMount; plain: { dir: string; remove(): void } } {
  const fx = {} as { m: HostMount; plain: { dir: string; remove(): void } };
  beforeAll(async () => {
    fx.m = await startHostMount();
    fx.plain = plainDir();
  });
  afterAll(async () => {
    // beforeAll failed (a missing prerequisite, already reported): nothing to stop.
    if (fx.m === undefined) return;
    expect(await fx.m.stop()).toBe(0);
    fx.plain.remove();
  });
  return fx;
}
