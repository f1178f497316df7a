/**
 * End-to-end: boot a Linux guest (QEMU TCG) against a vhost-user-fs daemon and run a real
 * workload on the virtio-fs mount (test/guest/guest-test.sh), then check the share on the host.
 *
 *  1. the C virtiofsd (proves the workload and the host-side checks are honest)
 *  2. our daemon, `build/Release/virtiofsd-ts --socket-path=… --shared-dir=… --cache=auto`
 *  3. our daemon launched Kata-style: listening socket handed over as fd 3
 *
 * Policy: with CI=true a missing prerequisite fails the test; elsewhere the test is skipped
 * with the reason. Needs root. Set GUEST_VERBOSE=1 to stream the guest console,
 * GUEST_LOG_DIR=dir to keep console logs.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import {
  GUEST_TEST_SCRIPT_PATH,
  checkResultTree,
  explainGuest,
  formatFio,
  makeScratch,
  missingPrereqs,
  requireOrSkip,
  runGuest,
  seedShare,
  startDaemon,
  startKataDaemon,
  type DaemonHandle,
  type DaemonKind,
  type FioFigure,
} from '../guest/run-guest.js';

const TEST_TIMEOUT = 10 * 60_000;
const GUEST_TIMEOUT = 8 * 60_000;
const fioByDaemon = new Map<string, FioFigure[]>();



function requirePrereqs(ctx: TestContext, needs: Parameters<typeof missingPrereqs>[0]): void {
  requireOrSkip(ctx, missingPrereqs(needs));
}

async function fullWorkload(kind: DaemonKind, label: string): Promise<void> {
  const scratch = await makeScratch();
  let daemon: DaemonHandle | undefined;
  try {
    await seedShare(scratch.sharedDir);
    daemon = await startDaemon(kind, { socketPath: scratch.socketPath, sharedDir: scratch.sharedDir });
    const result = await runGuest({
      socketPath: scratch.socketPath,
      tag: 'myfs',
      testScript: readFileSync(GUEST_TEST_SCRIPT_PATH, 'utf8'),
      timeoutMs: GUEST_TIMEOUT,
    });
    const exitedAlone = await daemon.waitExit(5000);
    console.log(
      `[e2e] ${label}: guest ${result.passed ? 'PASS' : 'FAIL'} in ${(result.durationMs / 1000).toFixed(1)} s; ` +
        `daemon ${exitedAlone ? 'exited by itself' : 'still running'} after the guest powered off`,
    );
    expect(result.passed, explainGuest(result, daemon)).toBe(true);
    expect(result.failures).toEqual([]);

    fioByDaemon.set(label, result.fioSummary);
    console.log(formatFio(label, result.fioSummary));
    // every fio job of guest-test.sh must have reported its figures
    const jobs = new Set(result.fioSummary.map((f) => f.job));
    for (const job of ['seq-write-1m', 'seq-write-64k', 'rand-write-4k', 'rand-write-64k', 'rand-write-4k-direct', 'rand-read-4k']) {
      expect(jobs.has(job), `fio job ${job} reported no summary`).toBe(true);
    }
    expect(result.output).toContain('GUEST-TEST: all checks passed');
    expect(result.output).not.toContain('SKIP: no host seed');

    expect(checkResultTree(scratch.sharedDir)).toEqual([]);
  } finally {
    await daemon?.stop();
    await scratch.cleanup();
  }
}

describe('e2e guest (QEMU TCG + virtio-fs)', () => {
  afterAll(() => {
    if (fioByDaemon.size === 0) return;
    console.log(['[e2e] fio figures in the guest (TCG-bound; compare daemons, not absolute numbers)',
      ...[...fioByDaemon].map(([label, figs]) => formatFio(label, figs))].join('\n'));
  });

  it('C virtiofsd: full guest workload + host-side checks', async (ctx) => {
    requirePrereqs(ctx, { needC: true });
    await fullWorkload('c', 'C virtiofsd');
  }, TEST_TIMEOUT);

  it('virtiofsd-ts: full guest workload + host-side checks', async (ctx) => {
    requirePrereqs(ctx, { needTs: true });
    await fullWorkload('ts', 'virtiofsd-ts');
  }, TEST_TIMEOUT);

  const KATA_SCRIPT = `set -eu
fail() { echo "CHECK-FAIL: $*"; exit 1; }
[ "$(cat /mnt/from-host.txt)" = "kata host file" ] || fail "read host file"
echo "written by the kata guest" > /mnt/kata.txt
[ "$(cat /mnt/kata.txt)" = "written by the kata guest" ] || fail "read back"
mkdir /mnt/kdir
: > /mnt/kdir/a
: > /mnt/kdir/b
[ "$(ls /mnt/kdir | wc -l)" = 2 ] || fail "ls /mnt/kdir"
ls -la /mnt
grep ' /mnt virtiofs ' /proc/mounts || fail "/mnt is not a virtiofs mount"
echo "GUEST-TEST: kata checks passed"
`;

  async function kata(kind: DaemonKind, label: string): Promise<void> {
    const scratch = await makeScratch('vfs-kata-');
    let daemon: DaemonHandle | undefined;
    try {
      await writeFile(`${scratch.sharedDir}/from-host.txt`, 'kata host file\n');
      daemon = await startKataDaemon(kind, { socketPath: scratch.socketPath, sharedDir: scratch.sharedDir });
      const result = await runGuest({
        socketPath: scratch.socketPath,
        tag: 'kataShared',
        testScript: KATA_SCRIPT,
        timeoutMs: 3 * 60_000,
      });
      console.log(`[e2e] ${label} (Kata fd=3): guest ${result.passed ? 'PASS' : 'FAIL'} in ${(result.durationMs / 1000).toFixed(1)} s`);
      expect(result.passed, explainGuest(result, daemon)).toBe(true);
      expect(result.output).toContain('GUEST-TEST: kata checks passed');
      expect(readFileSync(`${scratch.sharedDir}/kata.txt`, 'utf8')).toBe('written by the kata guest\n');
      expect(readdirSync(`${scratch.sharedDir}/kdir`).sort()).toEqual(['a', 'b']);
    } finally {
      await daemon?.stop('SIGKILL'); // Kata kills the daemon with SIGKILL
      await scratch.cleanup();
    }
  }

  it('C virtiofsd, Kata-style launch (listening socket on fd 3): mount, write, read, ls', async (ctx) => {
    requirePrereqs(ctx, { needC: true, needPython: true });
    await kata('c', 'C virtiofsd');
  }, TEST_TIMEOUT);

  it('virtiofsd-ts, Kata-style launch (listening socket on fd 3): mount, write, read, ls', async (ctx) => {
    requirePrereqs(ctx, { needTs: true, needPython: true });
    await kata('ts', 'virtiofsd-ts');
  }, TEST_TIMEOUT);
});
