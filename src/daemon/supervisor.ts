/**
 * The outer stage of `--sandbox=namespace`'s two-boot fallback (see stage.ts and
 * docs/sandbox.md; the `virtiofsd-ts` launcher avoids it for the usual command lines): create
 * the listening socket while its path is still reachable, then replace this Node process with
 * the small C supervisor (native/launcher/vfs_supervisor.c), which clones the serving daemon
 * into new mount, pid and net namespaces and waits for it. Only one Node heap stays resident.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DaemonConfig } from '../cli/config.js';
import { openListener } from '../vhost/listener.js';
import { errnoName } from '../filesystem/errors.js';
import { native } from '../native/binding.js';
import { sandbox } from '../native/sandbox.js';
import { STAGE_ENV, encodeStage } from './stage.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, '..', '..');

/** Where vfs-supervisor is: $VIRTIOFSD_TS_SUPERVISOR, else next to the addon build. */
export function supervisorPath(): string {
  const override = process.env.VIRTIOFSD_TS_SUPERVISOR;
  if (override) return override;
  for (const flavour of ['Release', 'Debug']) {
    const candidate = join(packageRoot, 'build', flavour, 'vfs-supervisor');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`vfs-supervisor not built: run "npm run build:native" in ${packageRoot} (or use --sandbox=none)`);
}

/** The daemon's entry script, re-run by the supervisor's child: the one running now (the bundle
 * dist/cli/virtiofsd.cjs, or dist/cli/virtiofsd.js). */
export const DAEMON_SCRIPT = process.argv[1] ?? join(here, '..', 'cli', 'virtiofsd.js');

/** The supervisor's command line (exported for tests). */
export function supervisorArgv(config: DaemonConfig, argv: readonly string[]): string[] {
  const out = [supervisorPath()];
  if (config.socketPath !== undefined) out.push('--unlink', resolve(config.socketPath));
  out.push('--', process.execPath, ...process.execArgv, DAEMON_SCRIPT, ...argv);
  return out;
}

/** The inner stage's environment (`KEY=value` strings): ours plus the stage (exported for tests). */
export function innerEnvironment(env: NodeJS.ProcessEnv, stage: string): string[] {
  const out: NodeJS.ProcessEnv = { ...env, [STAGE_ENV]: stage };
  // The daemon makes no TLS connection, but Node 20 reads and parses this whole CA file at every
  // start, before any JavaScript runs (~50 ms for a distribution's bundle): not for the inner stage.
  delete out.NODE_EXTRA_CA_CERTS;
  return Object.entries(out)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${v}`);
}

/**
 * Creates (or checks) the listening socket, then execs the supervisor. Settles only by
 * throwing. `argv` (the original arguments) is passed along for `ps` only: the inner stage takes
 * its configuration from the environment.
 */
export async function execIntoSandbox(config: DaemonConfig, warnings: readonly string[], argv: readonly string[]): Promise<never> {
  // The socket first: from here on a front-end's connect() succeeds (it waits in the backlog
  // until the inner stage accepts), while the rest of start-up goes on.
  const listenFd = openListener(config);
  // RLIMIT_NOFILE before the clone, as virtiofsd does: the pid the starter knows shows it too.
  // The inner stage applies it again and logs the outcome. Imported after listen(), from a
  // module of its own: this stage does not load the passthrough.
  const { applyNofileLimit } = await import('../passthrough/nofile-limit.js');
  try {
    applyNofileLimit(config, native.setNofileLimit, { warn() {}, info() {} });
  } catch (error) {
    closeOwnSocket(config, listenFd);
    throw error;
  }
  const inner: DaemonConfig = { ...config, fd: listenFd };
  delete inner.socketPath;
  delete inner.socketGroup;
  delete inner.socketGid;
  const args = supervisorArgv(config, argv);
  const envList = innerEnvironment(process.env, encodeStage(inner, warnings));
  // Node marks stdio close-on-exec at start-up: the supervisor and the daemon need them.
  let r = 0;
  for (const fd of [0, 1, 2, listenFd]) if (r === 0) r = sandbox.sandboxClearCloexec(fd);
  if (r === 0) r = sandbox.sandboxExec(args[0], args, envList);
  // Still here: nothing was started. Leave no socket of ours behind.
  closeOwnSocket(config, listenFd);
  throw new Error(`cannot start the sandbox supervisor ${args[0]}: ${errnoName(-r)}`);
}

/** Closes and removes the --socket-path socket this stage created (an inherited --fd stays). */
function closeOwnSocket(config: DaemonConfig, listenFd: number): void {
  if (config.socketPath === undefined) return;
  native.closeFd(listenFd);
  try {
    unlinkSync(config.socketPath);
  } catch {
    /* already gone */
  }
}
