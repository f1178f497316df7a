// `vufs fuzz` against our daemon, on a bounded budget: malformed descriptor chains and
// malformed FUSE messages never kill or hang the daemon, every returned chain passes the
// oracle, and valid requests are still answered after every batch (the fuzzer probes after
// each one). Also: replay of single cases, and that a dying daemon is reported as such.
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../helpers/daemon.js';
import { runFuzz, type FuzzResult } from '../../src/frontend/fuzz.js';
import { CLASSES, generateCase } from '../../src/frontend/fuzz-cases.js';

function expectClean(r: FuzzResult): void {
  expect(r.failures.slice(0, 5)).toEqual([]);
  expect(r.alive).toBe(true);
  expect(r.hangs).toBe(0);
  expect(r.violations).toBe(0);
  expect(r.ok).toBe(true);
  expect(r.probes).toBe(r.batches);
  expect(r.probe_failures).toBe(0);
  expect(r.replied).toBeGreaterThan(0);
  expect(r.returned_empty).toBeGreaterThan(0);
}

describe('vufs fuzz against virtiofsd-ts', () => {
  it('survives 20k malformed requests inline (--thread-pool-size=0)', async () => {
    const d = await startDaemon({ args: ['--thread-pool-size=0', '--log-level=off'] });
    try {
      const r = await runFuzz({ socketPath: d.socketPath, requests: 20000, seed: 1, daemonPids: [d.child.pid!] });
      expectClean(r);
      expect(r.requests).toBe(20000);
      for (const { cls } of CLASSES) expect(r.by_class[cls]?.sent ?? 0, cls).toBeGreaterThan(0);
    } finally {
      expect(await d.exited).toBe(0); // and exits cleanly when the fuzzer disconnects
      await d.stop();
    }
  }, 120_000);

  it('survives 10k malformed requests on the worker pool (--thread-pool-size=2)', async () => {
    const d = await startDaemon({ args: ['--thread-pool-size=2', '--log-level=off'] });
    try {
      const r = await runFuzz({ socketPath: d.socketPath, requests: 10000, seed: 2, batch: 64 });
      expectClean(r);
    } finally {
      expect(await d.exited).toBe(0);
      await d.stop();
    }
  }, 120_000);

  it('replays single cases by number and describes them', async () => {
    const d = await startDaemon({ args: ['--log-level=off'] });
    try {
      const indices = [0, 5, 777, 12345];
      const r = await runFuzz({ socketPath: d.socketPath, requests: 0, seed: 9, replay: indices });
      expect(r.ok).toBe(true);
      expect(r.requests).toBe(indices.length);
      const replayed = r.replayed!;
      expect(replayed.map((c) => c.index)).toEqual(indices);
      for (const c of replayed) {
        const again = generateCase(9, c.index as number, { dir: 2, file: 3, fileFh: 0, dirFh: 0 });
        expect(c.cls).toBe(again.cls);
        expect(c.outcome).toBeDefined();
      }
    } finally {
      await d.exited;
      await d.stop();
    }
  });

  it('reports a daemon that dies mid-run as dead, promptly', async () => {
    const d = await startDaemon({ args: ['--log-level=off'] });
    try {
      // Killed mid-run: once the first batch has been answered (the first progress report),
      // not after a delay the fuzzer may not even have connected within on a loaded machine.
      let killed = false;
      const progress = (): void => {
        if (!killed) d.child.kill('SIGKILL');
        killed = true;
      };
      const t0 = Date.now();
      const r = await runFuzz({ socketPath: d.socketPath, requests: 10_000_000, seed: 3, timeoutMs: 3000, progressEveryMs: 0, log: progress });
      expect(killed).toBe(true);
      expect(r.alive).toBe(false);
      expect(r.ok).toBe(false);
      expect(r.stopped).toMatch(/dead|closed/);
      expect(r.errors_by_kind.dead).toBe(1);
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      await d.stop();
    }
  });
});
