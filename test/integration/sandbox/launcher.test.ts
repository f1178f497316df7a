// The `virtiofsd-ts` executable (native/launcher/launcher.c) decides before Node runs whether it
// supervises Node in fresh namespaces (one Node start) or execs Node in place. Its guess must
// never contradict the command-line parser: checked here for the spellings users write, with a
// stand-in for `node` that reports how it was started, and against the real daemon.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAEMON_BIN, REPO } from '../../helpers/daemon.js';
import { requireRoot } from '../../helpers/prerequisites.js';
import { parseCommandLine } from '../../../src/cli/options.js';
import { LAUNCHED_ENV, STAGE_ENV } from '../../../src/daemon/stage.js';

let dir = '';
let fakeNode = '';
let share = '';
beforeAll(() => {
  requireRoot('the launcher creates namespaces');
  dir = mkdtempSync(join(tmpdir(), 'vfs-launcher-'));
  share = join(dir, 'share');
  mkdirSync(share);
  // A stand-in for node: says whether the launcher set up the namespace stage, with what pid
  // (1 inside a new pid namespace) and which environment, and what it was asked to run.
  fakeNode = join(dir, 'fake-node');
  writeFileSync(
    fakeNode,
    '#!/bin/sh\nprintf \'{"launched":"%s","pid":%s,"ca":"%s","stage":"%s","script":"%s"}\\n\' "${VIRTIOFSD_TS_LAUNCHED:-}" "$$" "${NODE_EXTRA_CA_CERTS:-}" "${VIRTIOFSD_TS_SANDBOX_STAGE:-}" "$1"\nexit 7\n',
  );
  chmodSync(fakeNode, 0o755);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Started {
  launched: boolean;
  pid: number;
  ca: string;
  stage: string;
  script: string;
  code: number | null;
}

function start(args: string[]): Started {
  const r = spawnSync(DAEMON_BIN, args, {
    encoding: 'utf8',
    timeout: 20_000,
    // What whoever starts us may have in the environment, and Node must not get: the CA bundle,
    // and the variables by which the sandbox tells Node how it was started (with these, a
    // caller could hand Node a configuration instead of the command line, or a report pipe).
    env: { ...process.env, VIRTIOFSD_TS_NODE: fakeNode, NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem', VIRTIOFSD_TS_SANDBOX_STAGE: '{"version":1}', VIRTIOFSD_TS_LAUNCHED: '9' },
  });
  const seen = JSON.parse(r.stdout.trim()) as { launched: string; pid: number; ca: string; stage: string; script: string };
  return { launched: seen.launched !== '', pid: seen.pid, ca: seen.ca, stage: seen.stage, script: seen.script, code: r.status };
}

const S = (): string[] => [`--shared-dir=${share}`, '--socket-path=/run/never.sock'];

describe('the launcher', () => {
  const cases: [string, () => string[], boolean][] = [
    ['the default', () => S(), true],
    ["Kata's runtime-rs line", () => ['--syslog', '--cache=auto', `--shared-dir=${share}`, '--fd=3', '--thread-pool-size=1', '--announce-submounts'], true],
    ["Kata's C-virtiofsd-style line", () => ['--syslog', '-o', 'cache=auto', '-o', 'no_posix_lock', '-o', `source=${share}`, '--fd=3', '-f'], true],
    ['--sandbox=namespace', () => [...S(), '--sandbox=namespace'], true],
    ['--sandbox namespace', () => [...S(), '--sandbox', 'namespace'], true],
    ['--sandbox=none', () => [...S(), '--sandbox=none'], false],
    ['--sandbox none', () => [...S(), '--sandbox', 'none'], false],
    ['--sandbox=chroot', () => [...S(), '--sandbox=chroot'], false],
    ['-o sandbox=none', () => [...S(), '-o', 'sandbox=none'], false],
    ['-osandbox=chroot', () => [...S(), '-osandbox=chroot'], false],
    ['-o cache=auto,sandbox=none', () => [...S(), '-o', 'cache=auto,sandbox=none'], false],
    ['-o sandbox=namespace (left to Node)', () => [...S(), '-o', 'sandbox=namespace'], false],
    ['--mount=DIR', () => [`--shared-dir=${share}`, `--mount=${dir}`], false],
    ['--mount DIR', () => [`--shared-dir=${share}`, '--mount', dir], false],
    ['a share path containing "sandbox" (left to Node)', () => [`--shared-dir=${share}/sandbox`, '--socket-path=/run/x.sock'], false],
    ['--announce-submounts (not --mount)', () => [...S(), '--announce-submounts'], true],
    ['--help (nothing to serve)', () => ['--help'], false],
    ['--version', () => ['--version'], false],
    ['--print-capabilities', () => ['--print-capabilities'], false],
  ];
  for (const [name, args, launched] of cases) {
    it(`${name}: ${launched ? 'supervises Node in new namespaces' : 'execs Node in place'}, never against the parser`, () => {
      const argv = args();
      const seen = start(argv);
      expect(seen.launched).toBe(launched);
      // Launched means PID 1 of a new pid namespace; in place means the launcher's own pid. (The
      // caller's VIRTIOFSD_TS_LAUNCHED=9 is dropped: in place, Node sees none.)
      expect(seen.pid === 1).toBe(launched);
      // The launcher returns the child's exit status, and runs the bundle without the CA file.
      expect(seen.code).toBe(7);
      expect(seen.ca).toBe('');
      expect(seen.stage).toBe('');
      expect(seen.script).toMatch(/\/dist\/cli\/virtiofsd\.cjs$/);
      // The invariant the launcher's guess must keep: launched ⇒ Node's parse selects the
      // namespace sandbox (stage.ts refuses to serve otherwise).
      const parsed = parseCommandLine(argv);
      if (launched) {
        expect(parsed.kind).toBe('run');
        if (parsed.kind === 'run') {
          expect(parsed.config.sandbox).toBe('namespace');
          expect(parsed.config.mount).toBeUndefined();
        }
      }
    });
  }

  it('the real daemon: usage errors are one line and exit code 2 on either path; --version and --help exit 0', () => {
    for (const extra of [[], ['--sandbox=none']]) {
      const bad = spawnSync(DAEMON_BIN, [...S(), ...extra, '--no-such-option'], { encoding: 'utf8', timeout: 20_000 });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toBe('virtiofsd-ts: unknown option --no-such-option; see --help\n');
    }
    const version = spawnSync(DAEMON_BIN, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^virtiofsd-ts \d+\.\d+\.\d+/);
    const help = spawnSync(DAEMON_BIN, ['--help'], { encoding: 'utf8', timeout: 20_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--shared-dir DIR');
  });

  it('SIGTERM during start-up ends the daemon at once (its Node has no handler yet), leaving no socket', async () => {
    // Sent right after spawn, the signal reaches the launcher long before Node runs JavaScript:
    // the child, PID 1 of its namespace, would ignore it; the launcher kills it and dies of the
    // same signal. (Landing after start-up instead ends it cleanly: exit 0.) Never the SIGKILL
    // that ends the 10 s grace period.
    const sock = join(dir, 'early.sock');
    const child = spawn(DAEMON_BIN, [`--shared-dir=${share}`, `--socket-path=${sock}`], { stdio: 'ignore' });
    const exited = new Promise<string | number | null>((r) => child.on('exit', (code, signal) => r(signal ?? code)));
    child.kill('SIGTERM');
    expect([0, 'SIGTERM']).toContain(await exited);
    expect(existsSync(sock)).toBe(false);
  });

  it('without the privilege to create namespaces: Node explains it, exit 1, no socket left', () => {
    // A non-root user: the launcher's clone fails with EPERM, it runs Node in place, Node's
    // parse selects the namespace sandbox and its supervisor says what is missing.
    chmodSync(dir, 0o755); // mkdtemp's 0700 would hide the share from that user
    const sockDir = join(dir, 'nobody');
    mkdirSync(sockDir, { mode: 0o777 });
    chmodSync(sockDir, 0o777);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', DAEMON_BIN, `--shared-dir=${share}`, `--socket-path=${sockDir}/s.sock`], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^virtiofsd-ts: cannot create the sandbox \(mount, pid and net namespaces\): Operation not permitted \(needs root or CAP_SYS_ADMIN; or use --sandbox=chroot\|none\)\n$/);
    expect(readdirSync(sockDir)).toEqual([]);
    // It was Node that said so, having parsed the command line: a usage error wins (exit 2).
    const bad = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', DAEMON_BIN, `--shared-dir=${share}`, `--socket-path=${sockDir}/s.sock`, '--bogus'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('virtiofsd-ts: unknown option --bogus; see --help\n');
  });
});

describe('a Node process told it was launched', () => {
  // PID 1 of a new pid namespace (unshare), as the launcher's child is, with a report descriptor.
  function asLaunchedChild(args: string[], env: NodeJS.ProcessEnv): { status: number | null; stderr: string } {
    const r = spawnSync('unshare', ['--pid', '--fork', '--kill-child', process.execPath, join(REPO, 'dist/cli/virtiofsd.cjs'), ...args], {
      encoding: 'utf8',
      timeout: 20_000,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, [LAUNCHED_ENV]: '3', ...env },
    });
    return { status: r.status, stderr: r.stderr };
  }

  it('refuses to serve when the command line does not select the namespace sandbox (the launcher guessed wrong)', () => {
    const r = asLaunchedChild([`--shared-dir=${share}`, `--socket-path=${join(dir, 'x.sock')}`, '--sandbox=none'], {});
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('virtiofsd-ts: internal error: started in a namespace sandbox, but the command line selects --sandbox=none\n');
  });

  it('refuses a two-stage configuration beside it', () => {
    const r = asLaunchedChild([`--shared-dir=${share}`, `--socket-path=${join(dir, 'x.sock')}`], { [STAGE_ENV]: JSON.stringify({ version: 1, config: {}, warnings: [] }) });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('virtiofsd-ts: internal error: started both by the launcher and by the two-stage sandbox\n');
  });
});
