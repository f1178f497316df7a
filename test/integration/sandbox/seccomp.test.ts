// The seccomp filter itself (native/sandbox.cc), exercised in throw-away Node processes: what
// each --seccomp action does with a call outside the allow-list, and the calls with argument
// rules (clone: threads only; clone3: ENOSYS; socket: AF_UNIX only).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../../helpers/daemon.js';
import { requireRoot } from '../../helpers/prerequisites.js';
import { sandbox } from '../../../src/native/sandbox.js';
import { recordedCalls } from '../../../src/sandbox/seccomp-report.js';

const SANDBOX_JS = join(REPO, 'dist', 'native', 'sandbox.js');

/** Runs `body` (ESM) after installing the filter with `action`; stdout, stderr, exit. */
function run(action: string, body: string): { out: string; err: string; status: number | null; signal: string | null } {
  const script = `import { sandbox } from ${JSON.stringify(SANDBOX_JS)};
sandbox.sandboxInstallSeccomp(${JSON.stringify(action)}, -1);
console.log('filtered');
${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  return { out: r.stdout, err: r.stderr, status: r.status, signal: r.signal };
}

describe('seccomp filter', () => {
  it('the allow-list has the calls the daemon needs and none of the dangerous ones', () => {
    const names = new Set(sandbox.sandboxSeccompAllowList().map((c) => c.name));
    for (const n of ['read', 'write', 'openat2', 'statx', 'preadv', 'pwritev', 'epoll_pwait', 'futex', 'recvmsg', 'sendmsg', 'accept4']) {
      expect(names.has(n), n).toBe(true);
    }
    for (const n of ['execve', 'execveat', 'fork', 'vfork', 'ptrace', 'mount', 'umount2', 'pivot_root', 'chroot', 'unshare', 'setns', 'bpf',
      'io_uring_setup', 'kexec_load', 'init_module', 'finit_module', 'keyctl', 'perf_event_open', 'userfaultfd', 'process_vm_readv',
      'setuid', 'setresuid', 'bind', 'listen', 'chdir']) {
      expect(names.has(n), n).toBe(false);
    }
  });

  it('kill: a call outside the list kills the process with SIGSYS', () => {
    const r = run('kill', "process.chdir('/'); console.log('survived');");
    expect(r.out).toContain('filtered');
    expect(r.out).not.toContain('survived');
    expect(r.signal).toBe('SIGSYS');
  });

  it('log: the call is made (and logged by the kernel)', () => {
    const r = run('log', "process.chdir('/'); console.log('survived');");
    expect(r.out).toContain('survived');
    expect(r.status).toBe(0);
  });

  it('trap: SIGSYS with the call named on stderr', () => {
    const r = run('trap', "process.chdir('/'); console.log('survived');");
    expect(r.out).not.toContain('survived');
    expect(r.signal).toBe('SIGSYS');
    expect(r.err).toMatch(/seccomp: system call \d+ \((x86_64|aarch64)\) is not in the allow-list/);
  });

  it('threads may be created (clone with CLONE_THREAD; clone3 falls back), processes may not', () => {
    const r = run(
      'kill',
      `const { Worker } = await import('node:worker_threads');
const w = new Worker('require("node:worker_threads").parentPort.postMessage(6 * 7)', { eval: true, execArgv: [] });
const v = await new Promise((res) => w.once('message', res));
console.log('worker said', v);
await w.terminate();
const { spawnSync } = await import('node:child_process');
spawnSync('true');
console.log('spawned');`,
    );
    expect(r.out).toContain('worker said 42');
    expect(r.out).not.toContain('spawned');
    expect(r.signal).toBe('SIGSYS');
  });

  it('socket: AF_UNIX only', () => {
    const unix = run(
      'kill',
      `const net = await import('node:net');
const s = net.connect('/nonexistent/vfs.sock');
s.on('error', (e) => console.log('unix', e.code));`,
    );
    expect(unix.out).toContain('unix ENOENT');
    expect(unix.status).toBe(0);
    const inet = run('kill', "const net = await import('node:net'); net.connect(9, '127.0.0.1').on('error', () => {}); setTimeout(() => console.log('survived'), 200);");
    expect(inet.out).not.toContain('survived');
    expect(inet.signal).toBe('SIGSYS');
  });

  it('learning mode records calls instead of refusing them', () => {
    requireRoot('seccomp learning mode'); // CI runs as root: a failure, never a skip
    const script = `import { sandbox } from ${JSON.stringify(SANDBOX_JS)};
import { openSync, readFileSync } from 'node:fs';
const fd = openSync(process.argv[1], 'a');
sandbox.sandboxInstallSeccomp('kill', fd);
process.chdir('/');
console.log('survived');`;
    const file = join(REPO, 'dist', `learn-${process.pid}.txt`);
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, file], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stdout).toContain('survived');
    const text = spawnSync('cat', [file], { encoding: 'utf8' }).stdout;
    spawnSync('rm', ['-f', file]);
    expect(recordedCalls([text])).toContain('chdir');
  });
});
