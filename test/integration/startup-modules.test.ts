// What the daemon loads before it answers a front-end's first message (issue 12: a pod waits on
// that answer). The shipped daemon is one esbuild bundle (dist/cli/virtiofsd.bundle.cjs) whose
// modules initialise in the order and at the moments the ES modules of dist/ would load —
// esbuild keeps a dynamic import() lazy — so the module graph is observed on dist/ itself: a
// resolve hook records every module the daemon imports, and a Module._load hook everything it
// require()s (yargs comes that way), up to the reply to GET_FEATURES. Every one must be on the
// allow-list below; the deny-list names what must stay off that path (each has a lazy import
// today). A new static import on the start-up path fails here until it is either made lazy or
// consciously allowed. A command line that needs yargs shows the hooks see what loads.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/daemon.js';
import { until } from '../helpers/wait.js';

/** What may load before the first reply: dist/ paths (prefix match on directories) and builtins. */
const ALLOWED = [
  'cli/virtiofsd.js',
  'cli/early-signals.js',
  // The command-line parser, without yargs (loaded only for unusual spellings).
  'cli/options.js',
  'cli/option-table.js',
  'cli/argv.js',
  'cli/values.js',
  'cli/compat.js',
  'cli/fs-options.js',
  'cli/capabilities.js',
  'daemon/daemon.js',
  'daemon/file-system.js',
  'daemon/idle-trim.js',
  'daemon/logger.js',
  'daemon/stage.js',
  'daemon/stats-dump.js',
  'daemon/write-fully.js',
  'logger.js',
  'filesystem/',
  'fuse/',
  'passthrough/',
  'native/binding.js',
  'native/load.js',
  'native/memory-trim.js',
  'native/sandbox.js',
  'native/syscalls.js',
  'sandbox/sandbox.js',
  'sandbox/capabilities.js',
  'transport/fast-path.js',
  'transport/foreign-memory.js',
  'transport/virtio-fs-device.js',
  'transport/virtqueue-transport.js',
  'vhost/',
  'node:fs',
  'node:module',
  'node:os',
  'node:path',
  'node:url',
];

/** Never on the start-up path (a sample of what is heavy or belongs to other modes). */
const DENIED = [
  'require:', // anything require()d: yargs only for command lines the fast tokenizer leaves to it
  'node_modules/',
  'dax/', // --dax-window only
  'frontend/', // vufs and tests
  'daemon/host-mount.js', // --mount only
  'daemon/supervisor.js', // the two-boot fallback only
  'transport/dev-fuse-transport.js',
  'native/dev-fuse.js',
  'sandbox/seccomp-report.js',
  'report/',
  'packaging/', // the build step that writes the code cache
  'node:net',
  'node:http',
  'node:child_process',
  'node:worker_threads',
  'node:crypto',
  'node:zlib',
  'node:stream',
];

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfs-startup-modules-'));
  mkdirSync(join(dir, 'share'));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(out, r.url + '\\n');
  return r;
}
`,
  );
  writeFileSync(
    join(dir, 'register.mjs'),
    `import Module, { register } from 'node:module';
import { appendFileSync } from 'node:fs';
register(new URL('./hooks.mjs', import.meta.url), { data: { out: process.env.VFS_MODULE_LOG } });
const load = Module._load;
Module._load = function (request, ...rest) {
  appendFileSync(process.env.VFS_MODULE_LOG, 'require:' + request + '\\n');
  return load.call(this, request, ...rest);
};
`,
  );
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts the ES-module daemon under the hook and returns the modules it had asked for by the time
 * it answered GET_FEATURES (dist/-relative paths and node: builtins). */
async function modulesBeforeFirstReply(args: string[]): Promise<string[]> {
  const log = join(dir, `modules-${args.join('_').replace(/[^\w-]/g, '')}.txt`);
  writeFileSync(log, '');
  const socketPath = join(dir, 'vhost.sock');
  rmSync(socketPath, { force: true });
  const child = spawn(
    process.execPath,
    ['--import', join(dir, 'register.mjs'), join(REPO, 'dist/cli/virtiofsd.js'), `--shared-dir=${join(dir, 'share')}`, `--socket-path=${socketPath}`, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, VFS_MODULE_LOG: log } },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await until(() => stderr.includes('Waiting for vhost-user socket connection'), 'the readiness line');
    await new Promise<void>((resolve, reject) => {
      const socket = createConnection(socketPath);
      const header = Buffer.alloc(12);
      header.writeUInt32LE(1, 0); // VHOST_USER_GET_FEATURES
      header.writeUInt32LE(1, 4); // version 1
      socket.once('connect', () => socket.write(header));
      socket.once('data', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
    const dist = `file://${join(REPO, 'dist')}/`;
    return [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean))].map((url) => (url.startsWith(dist) ? url.slice(dist.length) : url));
  } finally {
    child.kill('SIGKILL');
  }
}

describe('start-up path: modules loaded before the first reply', () => {
  const lines: [string, string[]][] = [
    ['the usual line', []],
    ["Kata's C-virtiofsd-style spelling", ['-o', 'cache=auto', '-o', 'no_posix_lock', '-f', '--thread-pool-size=1']],
  ];
  for (const [name, extra] of lines) {
    it(`are all allowed, none denied (${name})`, async () => {
      // No sandbox: the hook's thread writes its log outside the share. What the namespace
      // sandbox adds (sandbox.js, capabilities.js) is on the allow-list and loads either way.
      const loaded = await modulesBeforeFirstReply(['--sandbox=none', '--seccomp=none', ...extra]);
      expect(loaded.length).toBeGreaterThan(30); // the hook saw the daemon's graph
      const allowed = (m: string): boolean => ALLOWED.some((a) => (a.endsWith('/') ? m.startsWith(a) : m === a));
      expect(loaded.filter((m) => !allowed(m))).toEqual([]);
      expect(loaded.filter((m) => DENIED.some((d) => denies(d, m)))).toEqual([]);
    });
  }

  it('the hooks see what a command line beyond the fast tokenizer loads (yargs, through require)', async () => {
    const loaded = await modulesBeforeFirstReply(['--sandbox=none', '--seccomp=none', '--tag=-x']);
    expect(loaded).toContain('require:yargs');
    expect(loaded.filter((m) => DENIED.some((d) => denies(d, m)))).toContain('require:yargs');
  });
});

function denies(rule: string, module: string): boolean {
  if (rule.endsWith(':')) return module.startsWith(rule);
  if (rule.endsWith('/')) return module.startsWith(rule) || module.includes(`/${rule}`);
  return module === rule;
}
