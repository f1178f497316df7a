// Capabilities are per thread; Node has threads before any JavaScript runs (V8 workers, the
// inspector's SIGUSR1 watchdog, which blocks every ordinary signal, libuv's pool, our pool).
// sandboxDropCapabilities must reach every one of them, and glibc's own set-id broadcast must
// still work afterwards.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../../helpers/daemon.js';
import { requireRoot } from '../../helpers/prerequisites.js';
import { capabilityMask, keptCapabilities, parseModcaps } from '../../../src/sandbox/capabilities.js';

const dist = (p: string): string => JSON.stringify(join(REPO, 'dist', p));

describe('capabilities', () => {
  it('--modcaps arithmetic', () => {
    expect(keptCapabilities(undefined, false)).toEqual(['chown', 'dac_override', 'fowner', 'fsetid', 'setgid', 'setuid', 'mknod', 'setfcap']);
    expect(keptCapabilities(undefined, true)).toContain('dac_read_search');
    expect(keptCapabilities(parseModcaps('+SYS_ADMIN:-chown:+cap_chown:-mknod'), false)).toEqual([
      'chown', 'dac_override', 'fowner', 'fsetid', 'setgid', 'setuid', 'sys_admin', 'setfcap',
    ]);
    expect(() => keptCapabilities(parseModcaps('-dac_read_search'), true)).toThrow(/cannot drop dac_read_search/);
    expect(capabilityMask(['chown', 'setfcap', 'checkpoint_restore'])).toEqual({ lo: 0x80000001, hi: 0x100, hex: '0000010080000001' });
    expect(() => parseModcaps('chown')).toThrow(/expected '\+' or '-'/);
    expect(() => parseModcaps('+nope')).toThrow(/unknown capability 'nope'/);
  });

  it('every thread of a busy Node process drops to the kept set; glibc setgroups still works', () => {
    requireRoot('capabilities to drop, setgroups'); // CI runs as root: a failure, never a skip
    const mask = capabilityMask(keptCapabilities(undefined, false));
    const script = `
import { sandbox } from ${dist('native/sandbox.js')};
import { native } from ${dist('native/binding.js')};
import { readFileSync, readdirSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
native.setPoolSize(4);                                    // our syscall threads
await readFile('/proc/self/status');                      // libuv's pool
const w = new Worker('setInterval(() => {}, 1000)', { eval: true });
await new Promise((r) => w.once('online', r));
const threads = readdirSync('/proc/self/task').length;
const blocked = readdirSync('/proc/self/task').filter((t) =>
  /SigBlk:\\s*f{6}/.test(readFileSync('/proc/self/task/' + t + '/status', 'utf8'))).length;
const taskFd = openSync('/proc/self/task', 'r');
const r = sandbox.sandboxDropCapabilities(${mask.lo}, ${mask.hi}, taskFd);
const state = sandbox.sandboxCapabilityState(taskFd);
process.setgroups([]);                                    // glibc's SIGSETXID broadcast, restored
console.log(JSON.stringify({ threads, blocked, signalled: r.threads, bounding: r.bounding, state }));
await w.terminate();
`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as {
      threads: number;
      blocked: number;
      signalled: number;
      bounding: boolean;
      state: { tid: number; prm: string; eff: string; bnd: string; inh: string; amb: string }[];
    };
    expect(out.threads).toBeGreaterThanOrEqual(10);
    expect(out.blocked).toBeGreaterThanOrEqual(1); // the inspector watchdog blocks every ordinary signal
    expect(out.signalled).toBeGreaterThanOrEqual(out.threads);
    expect(out.bounding).toBe(true);
    expect(out.state.length).toBeGreaterThanOrEqual(out.threads);
    for (const t of out.state) {
      expect(t.eff, `thread ${t.tid}`).toBe(mask.hex);
      expect(t.prm, `thread ${t.tid}`).toBe(mask.hex);
      expect(t.bnd, `thread ${t.tid}`).toBe(mask.hex);
      expect(t.inh).toBe('0000000000000000');
      expect(t.amb).toBe('0000000000000000');
    }
  });
});
