// `vufs load` against our daemon: every workload runs briefly and reports sane numbers; the
// CLI prints one JSON object with the documented, stable field names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO, startDaemon } from '../helpers/daemon.js';
import { runLoad, WORKLOADS, type LoadResult } from '../../src/frontend/load.js';

const VUFS_BIN = join(REPO, 'dist', 'cli', 'vufs.js');

/** The JSON fields bench/README.md documents (all of them, nothing else). */
const FIELDS = [
  'workload', 'qd', 'queues', 'coalesce', 'block_size', 'seconds', 'requests', 'ops_per_s', 'bytes', 'mb_per_s',
  'mean_us', 'p50_us', 'p90_us', 'p99_us', 'max_us', 'errors', 'error_sample', 'cpu_us_per_op',
  'frontend_cpu_us', 'daemon_cpu_us_per_op', 'daemon_cpu_us', 'daemon_pids', 'kicks_per_op',
  'interrupts_per_op', 'max_write',
].sort();

let share: string;

beforeAll(() => {
  share = mkdtempSync(join(tmpdir(), 'vufs-load-'));
});

afterAll(() => {
  rmSync(share, { recursive: true, force: true });
});

function sane(r: LoadResult, workload: string): void {
  expect(r.workload).toBe(workload);
  expect(r.errors, r.error_sample).toBe(0);
  expect(r.requests).toBeGreaterThan(0);
  expect(r.ops_per_s).toBeGreaterThan(0);
  expect(r.p50_us).toBeGreaterThan(0);
  expect(r.p50_us).toBeLessThanOrEqual(r.p99_us);
  expect(r.p99_us).toBeLessThanOrEqual(r.max_us);
  expect(r.cpu_us_per_op).toBeGreaterThan(0);
  expect(r.daemon_pids.length).toBeGreaterThan(0);
  expect(r.daemon_cpu_us_per_op).not.toBeNull();
  if (/read|write/.test(workload)) {
    expect(r.bytes).toBeGreaterThan(0);
    expect(r.mb_per_s).toBeGreaterThan(0);
  }
  expect(Object.keys(r).sort()).toEqual(FIELDS);
}

describe('vufs load against virtiofsd-ts', () => {
  for (const workload of WORKLOADS) {
    it(`runs ${workload}`, async () => {
      const d = await startDaemon({ shareDir: share, args: ['--thread-pool-size=2', '--log-level=warn'] });
      try {
        const r = await runLoad({
          socketPath: d.socketPath,
          workload,
          qd: 16,
          seconds: 0.4,
          warmupSeconds: 0.05,
          fileSize: 8 << 20,
          lookupFiles: 200,
          readdirEntries: workload.startsWith('readdir') ? 2000 : undefined,
          daemonPids: [d.child.pid!],
        });
        sane(r, workload);
        if (workload === 'seqwrite1m') expect(r.block_size).toBe(Math.min(1 << 20, r.max_write));
        if (workload === 'create') expect(readdirSync(join(share, 'vufs-create'))).toEqual([]); // every created file unlinked
      } finally {
        expect(await d.exited).toBe(0); // the frontend disconnected: clean exit
        await d.stop();
      }
    });
  }

  it('prepares in --share DIR directly, and the CLI prints the documented JSON', async () => {
    const own = mkdtempSync(join(tmpdir(), 'vufs-load-share-'));
    const d = await startDaemon({ shareDir: own, args: ['--log-level=warn'] });
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [
        VUFS_BIN, 'load', '--socket', d.socketPath, '--workload', 'readdir', '--seconds', '0.3', '--qd', '4',
        '--share', own, '--json',
      ], { env: process.env });
      const r = JSON.parse(stdout) as LoadResult;
      sane(r, 'readdir');
      expect(existsSync(join(own, 'vufs-readdir', 'e009999'))).toBe(true); // the 10k-entry directory
    } finally {
      await d.exited;
      await d.stop();
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('refuses an impossible queue depth and an unknown workload with a usage error', async () => {
    const run = promisify(execFile);
    await expect(run(process.execPath, [VUFS_BIN, 'load', '--socket', '/nonexistent', '--workload', 'nope'])).rejects.toMatchObject({ code: 2 });
    await expect(run(process.execPath, [VUFS_BIN, 'load', '--workload', 'lookup'])).rejects.toMatchObject({ code: 2 });
  });
});
