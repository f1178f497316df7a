/**
 * Test harness: runs a vhost-user-fs daemon (ours from dist/, or a peer) as a child process on
 * a temporary share and socket, and connects our userspace frontend to it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VhostUserFrontend, type FrontendOptions } from '../../src/frontend/vhost-user-frontend.js';
import { FuseClient } from '../../src/frontend/fuse-client.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * The `virtiofsd-ts` executable as users run it: the C launcher (native/launcher/launcher.c),
 * which runs dist/cli/virtiofsd.cjs with the `node` found in PATH.
 */
export const DAEMON_BIN = join(REPO, 'build', 'Release', 'virtiofsd-ts');

export interface RunningDaemon {
  child: ChildProcess;
  socketPath: string;
  shareDir: string;
  workDir: string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(): Promise<number | string>;
}

export interface DaemonOptions {
  args?: string[];
  shareDir?: string;
  env?: NodeJS.ProcessEnv;
  /** A command the daemon runs under, e.g. `['prlimit', '--nofile=64:64', '--']`. */
  wrapper?: string[];
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<RunningDaemon> {
  if (!existsSync(DAEMON_BIN)) throw new Error(`${DAEMON_BIN} missing: run "npm run build"`);
  const workDir = mkdtempSync(join(tmpdir(), 'vfs-test-'));
  const shareDir = opts.shareDir ?? join(workDir, 'share');
  if (opts.shareDir === undefined) (await import('node:fs')).mkdirSync(shareDir);
  const socketPath = join(workDir, 'vhost.sock');
  const command = [...(opts.wrapper ?? []), DAEMON_BIN, `--socket-path=${socketPath}`, `--shared-dir=${shareDir}`, ...(opts.args ?? [])];
  const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...opts.env } });
  let err = '';
  // 'close', not 'exit': 'exit' may come before the last of stderr has been read, and tests
  // read the log right after the daemon exited (a busy machine showed it).
  const exited = new Promise<number | string>((resolve) => {
    child.on('close', (code, signal) => resolve(code ?? signal ?? -1));
  });
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      err += d.toString();
      if (err.includes('Waiting for vhost-user socket connection')) resolve();
    };
    child.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`daemon exited (${code}) before listening:\n${err}`)));
  });
  return {
    child,
    socketPath,
    shareDir,
    workDir,
    stderr: () => err,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await exited;
      rmSync(workDir, { recursive: true, force: true });
      return code;
    },
  };
}

export interface Session {
  daemon: RunningDaemon;
  frontend: VhostUserFrontend;
  fuse: FuseClient;
  close(): Promise<void>;
}

/** A daemon, a connected frontend, and an initialised FUSE session. */
export async function startSession(opts: DaemonOptions & { frontend?: Partial<FrontendOptions> } = {}): Promise<Session> {
  const daemon = await startDaemon(opts);
  const frontend = VhostUserFrontend.connect({ socketPath: daemon.socketPath, ...opts.frontend });
  const fuse = new FuseClient(frontend);
  await fuse.init();
  return {
    daemon,
    frontend,
    fuse,
    async close() {
      frontend.close();
      await daemon.stop();
    },
  };
}
