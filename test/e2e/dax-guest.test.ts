/**
 * End-to-end under QEMU 11.1 (Debian sid, run from a cached chroot: test/guest/qemu-sid.sh):
 *
 *  1. plain `vhost-user-fs-pci` against the C virtiofsd: the normal guest workload
 *     (test/guest/guest-test.sh) passes under QEMU 11.1 too — proves the sid QEMU runner;
 *  2. a REAL DAX window: QEMU 11.1's generic `vhost-user-test-device-pci,virtio-id=26` becomes a
 *     virtio-fs device whose config (tag) and shared memory region 0 (the DAX window) come from
 *     the backend (GET_CONFIG, GET_SHMEM_CONFIG; protocol features CONFIG 9, SHMEM 22). Our daemon
 *     serves it with `--tag myfs --dax-window 64M`; the guest mounts `-o dax=always`, must log
 *     the window (`virtiofs virtio0: Cache len: 0x4000000 @ ...`), and runs fio (psync and mmap,
 *     crc32c verify) over an active set four times the window so it reclaims and remaps. The
 *     host then checks that what the guest wrote through the window is in the files. Last, the
 *     guest remounts with `-o dax=inode` and checks (test/guest/daxprobe.c) that regular files
 *     are DAX and directories are not (per-inode DAX).
 *
 * Policy: with CI=true a missing prerequisite (or a failure to build the sid QEMU) fails the
 * test; elsewhere it is skipped with the reason. The DAX test FAILS (never skips) while our
 * daemon does not accept `--tag` / `--dax-window`.
 *
 * Knobs: DAX_WINDOW (default 64M), DAX_SET_MIB (total active set per fio job, default 256),
 * DAX_DAEMON_ARGS (extra daemon arguments, space-separated, e.g. "--log-level debug"),
 * DAX_NUM_VQS (the test device's num_vqs, default 2 = hiprio + 1 request queue),
 * GUEST_VERBOSE=1 streams the console, GUEST_LOG_DIR=dir keeps console logs,
 * QEMU_TRACE='vhost_user*' adds `-trace` to QEMU (its log goes to the console output).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  GUEST_TEST_SCRIPT_PATH,
  TS_DAEMON,
  checkResultTree,
  explainGuest,
  formatFio,
  makeScratch,
  missingPrereqs,
  requireOrSkip,
  runGuest,
  seedShare,
  startDaemon,
  type DaemonHandle,
  type FioFigure,
} from '../guest/run-guest.js';
import {
  checkDaxShare,
  daxDeviceArgs,
  daxGuestScript,
  ensureQemuSid,
  missingQemuSidPrereqs,
  parseCacheLen,
  parseSize,
  plainFsDeviceArgs,
  seedDaxShare,
  type QemuSid,
} from '../guest/qemu11.js';

const SID_BUILD_TIMEOUT = 10 * 60_000;
const PLAIN_TIMEOUT = 10 * 60_000;
const DAX_TIMEOUT = 4 * 60_000;
const DAX_GUEST_TIMEOUT = 3 * 60_000;
const DAX_WINDOW = process.env.DAX_WINDOW ?? '64M';
const DAX_SET_MIB = Number(process.env.DAX_SET_MIB ?? 256);
const DAX_FILES = 4;
const TRACE_ARGS = process.env.QEMU_TRACE ? ['-trace', process.env.QEMU_TRACE] : [];
/** Virtqueues of the test device: 1 hiprio + N request queues; must match the num_request_queues the daemon answers in GET_CONFIG. */
const DAX_NUM_VQS = Number(process.env.DAX_NUM_VQS ?? 2);
const EXTRA_DAEMON_ARGS = (process.env.DAX_DAEMON_ARGS ?? '').split(/\s+/).filter(Boolean);

let sid: QemuSid | undefined;
let sidError: Error | undefined;
const fioByRun = new Map<string, FioFigure[]>();

function requirePrereqs(ctx: TestContext, needs: Parameters<typeof missingPrereqs>[0]): void {
  const missing = [...missingPrereqs(needs), ...missingQemuSidPrereqs()];
  if (sidError) missing.push(`QEMU 11.1 from Debian sid (test/guest/qemu-sid.sh): ${sidError.message}`);
  requireOrSkip(ctx, missing, 'e2e-qemu11');
}


/** test/guest/daxprobe.c, built static for the guest. */
function buildDaxProbe(): Buffer {
  const out = join(tmpdir(), `daxprobe-${process.pid}`);
  execFileSync('gcc', ['-static', '-O2', '-o', out, fileURLToPath(new URL('../guest/daxprobe.c', import.meta.url))]);
  try {
    return readFileSync(out);
  } finally {
    rmSync(out, { force: true });
  }
}

/** The options our daemon's --help lists that the DAX device needs (empty = all there). */
function missingDaemonOptions(): string[] {
  const r = spawnSync(TS_DAEMON, ['--help'], { encoding: 'utf8', timeout: 30_000 });
  const help = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return ['--tag', '--dax-window'].filter((o) => !new RegExp(`(^|\\s)${o}[\\s=,]`, 'm').test(help));
}

describe('e2e guest under QEMU 11.1 (Debian sid)', () => {
  beforeAll(async () => {
    if (missingQemuSidPrereqs().length > 0) return;
    const t0 = Date.now();
    try {
      sid = await ensureQemuSid();
      console.log(`[e2e-qemu11] ${sid.version} via ${sid.wrapper} (ready in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      sidError = e as Error;
      console.error(`[e2e-qemu11] ${sidError.message}`);
    }
  }, SID_BUILD_TIMEOUT);

  afterAll(() => {
    if (fioByRun.size === 0) return;
    console.log(['[e2e-qemu11] fio figures in the guest (TCG-bound)',
      ...[...fioByRun].map(([label, figs]) => formatFio(label, figs))].join('\n'));
  });

  it('QEMU 11.1 + C virtiofsd, plain vhost-user-fs-pci: full guest workload + host-side checks', async (ctx) => {
    requirePrereqs(ctx, { needC: true });
    expect(sid!.versionTuple[0], `expected QEMU >= 11 from sid, got "${sid!.version}"`).toBeGreaterThanOrEqual(11);
    const scratch = await makeScratch('vfs-q11-');
    let daemon: DaemonHandle | undefined;
    try {
      await seedShare(scratch.sharedDir);
      daemon = await startDaemon('c', { socketPath: scratch.socketPath, sharedDir: scratch.sharedDir });
      const result = await runGuest({
        qemu: sid!.wrapper,
        socketPath: scratch.socketPath,
        tag: 'myfs',
        deviceArgs: plainFsDeviceArgs('myfs'),
        testScript: readFileSync(GUEST_TEST_SCRIPT_PATH, 'utf8'),
        extraQemuArgs: TRACE_ARGS,
        timeoutMs: PLAIN_TIMEOUT - 60_000,
      });
      console.log(`[e2e-qemu11] C virtiofsd, plain device: guest ${result.passed ? 'PASS' : 'FAIL'} in ${(result.durationMs / 1000).toFixed(1)} s`);
      expect(result.passed, explainGuest(result, daemon, 100, 60)).toBe(true);
      expect(result.failures).toEqual([]);
      expect(result.output).toContain('GUEST-TEST: all checks passed');
      fioByRun.set('QEMU 11.1 + C virtiofsd', result.fioSummary);
      expect(checkResultTree(scratch.sharedDir)).toEqual([]);
    } finally {
      await daemon?.stop();
      await scratch.cleanup();
    }
  }, PLAIN_TIMEOUT);

  it(`QEMU 11.1 DAX window (vhost-user-test-device-pci, virtio-id 26) + virtiofsd-ts --dax-window ${DAX_WINDOW}: dax=always, fio psync + mmap, active set ${DAX_SET_MIB} MiB`, async (ctx) => {
    requirePrereqs(ctx, { needTs: true });
    expect(sid!.versionTuple[0], `expected QEMU >= 11 from sid, got "${sid!.version}"`).toBeGreaterThanOrEqual(11);
    const windowBytes = parseSize(DAX_WINDOW);
    expect(DAX_SET_MIB * 1024 * 1024, 'the active set must be larger than the window').toBeGreaterThan(windowBytes);

    // Not a skip: the daemon must serve this device (issue 6, part 6).
    const lacking = missingDaemonOptions();
    if (lacking.length > 0) {
      throw new Error(
        `virtiofsd-ts (${TS_DAEMON}) does not accept ${lacking.join(' and ')} yet: it cannot serve QEMU 11.1's ` +
          'vhost-user-test-device-pci virtio-fs device with a DAX window (needs GET_CONFIG with the tag, ' +
          'GET_SHMEM_CONFIG with region 0 = the window, protocol features CONFIG 9 + SHMEM 22 + BACKEND_REQ 5 + ' +
          'CONFIGURE_MEM_SLOTS 15, and SHMEM_MAP/SHMEM_UNMAP on the backend channel). See issue 6 part 6.',
      );
    }

    const scratch = await makeScratch('vfs-dax-');
    let daemon: DaemonHandle | undefined;
    try {
      await seedDaxShare(scratch.sharedDir);

      daemon = await startDaemon('ts', {
        socketPath: scratch.socketPath,
        sharedDir: scratch.sharedDir,
        extraArgs: ['--tag', 'myfs', '--dax-window', DAX_WINDOW, ...EXTRA_DAEMON_ARGS],
      });
      const result = await runGuest({
        qemu: sid!.wrapper,
        socketPath: scratch.socketPath,
        tag: 'myfs',
        deviceArgs: daxDeviceArgs({ numVqs: DAX_NUM_VQS }),
        mountOpts: 'dax=always',
        testScript: daxGuestScript({ files: DAX_FILES, totalMiB: DAX_SET_MIB, inodeDaxTag: 'myfs' }),
        extraFiles: { daxprobe: buildDaxProbe() },
        extraQemuArgs: TRACE_ARGS,
        timeoutMs: DAX_GUEST_TIMEOUT,
      });
      const times = result.output.split('\n').filter((l) => l.startsWith('DAX-TIME')).join('; ');
      console.log(`[e2e-qemu11] virtiofsd-ts DAX: guest ${result.passed ? 'PASS' : 'FAIL'} in ${(result.durationMs / 1000).toFixed(1)} s (${times})`);
      if (/probe of virtio\d+ failed with error -22/.test(result.output)) {
        console.error(
          `[e2e-qemu11] the guest's virtio-fs probe failed with -EINVAL: the num_request_queues the daemon answers in ` +
            `GET_CONFIG must be num_vqs - 1 = ${DAX_NUM_VQS - 1} (the test device has num_vqs=${DAX_NUM_VQS}; set DAX_NUM_VQS to match)`,
        );
      }
      const cacheLen = parseCacheLen(result.output);
      expect(cacheLen, `the guest logged no DAX window ("Cache len")\n${explainGuest(result, daemon, 100, 60)}`).toBeDefined();
      expect(cacheLen, 'the guest\'s DAX window is not the size given by --dax-window').toBe(BigInt(windowBytes));
      expect(result.passed, explainGuest(result, daemon, 100, 60)).toBe(true);
      expect(result.failures).toEqual([]);
      expect(result.output).toContain('GUEST-TEST: dax checks passed');
      fioByRun.set(`QEMU 11.1 DAX ${DAX_WINDOW} + virtiofsd-ts`, result.fioSummary);
      const jobs = new Set(result.fioSummary.map((f) => f.job));
      for (const job of ['dax-psync', 'dax-mmap']) expect(jobs.has(job), `fio job ${job} reported no summary`).toBe(true);

      // What the guest wrote through the window is in the host's files, byte for byte.
      expect(checkDaxShare(scratch.sharedDir, DAX_FILES)).toEqual([]);
    } finally {
      await daemon?.stop();
      await scratch.cleanup();
    }
  }, DAX_TIMEOUT);
});
