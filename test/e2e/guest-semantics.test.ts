/**
 * Semantics a real guest depends on (issue 4, part 6), under QEMU TCG against virtiofsd-ts:
 *  - overlayfs with its upper and work directories ON the virtio-fs mount (Docker-in-Docker):
 *    mount, write, whiteout a lower file, rename a directory; the host then sees the whiteout
 *    as a 0/0 character device (overlay's trusted.* xattrs are mapped with --xattrmap);
 *  - flock(2) and fcntl(F_SETLK) locks between two guest processes, forwarded to the host
 *    (-o flock, -o posix_lock): a second locker fails while the first holds the lock, and
 *    succeeds once it is released. busybox has no lock applet: test/guest/lockprobe.c is built
 *    static here and shipped in the per-test archive.
 * Policy as in guest.test.ts: a missing prerequisite fails in CI, skips elsewhere.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeScratch, missingPrereqs, requireOrSkip, runGuest, startDaemon, type DaemonHandle } from '../guest/run-guest.js';

const TIMEOUT = 6 * 60_000;
/**
 * overlayfs keeps its metadata in trusted.* xattrs, which only CAP_SYS_ADMIN may set on the
 * host — a capability the sandbox drops. As with the Rust virtiofsd, map them into the user.
 * namespace on the host (what Docker-in-Docker on virtio-fs setups configure).
 */
const XATTRMAP = ':map:trusted.:user.virtiofs.:';


const SCRIPT = `set -eu
fail() { echo "CHECK-FAIL: $*"; exit 1; }
# --- overlayfs: lower on the guest's own root, upper + work on virtio-fs
mkdir -p /tmp/lower/dir /tmp/ovl /mnt/ovl/upper /mnt/ovl/work
echo lower > /tmp/lower/file
echo keep > /tmp/lower/dir/a
mount -t overlay overlay -o lowerdir=/tmp/lower,upperdir=/mnt/ovl/upper,workdir=/mnt/ovl/work /tmp/ovl || { dmesg | tail -n 8; fail "overlay mount"; }
echo new > /tmp/ovl/newfile
[ "$(cat /tmp/ovl/newfile)" = new ] || fail "write through overlay"
echo appended >> /tmp/ovl/dir/a
[ "$(tail -n 1 /tmp/ovl/dir/a)" = appended ] || fail "copy-up of a lower file"
rm /tmp/ovl/file
[ ! -e /tmp/ovl/file ] || fail "whiteout hides the lower file"
mv /tmp/ovl/dir /tmp/ovl/dir2
[ "$(head -n 1 /tmp/ovl/dir2/a)" = keep ] || fail "rename a directory"
[ ! -e /tmp/ovl/dir ] || fail "old directory name gone"
umount /tmp/ovl
mount -t overlay overlay -o lowerdir=/tmp/lower,upperdir=/mnt/ovl/upper,workdir=/mnt/ovl/work /tmp/ovl || fail "overlay remount"
[ ! -e /tmp/ovl/file ] || fail "whiteout survives a remount"
[ "$(cat /tmp/ovl/newfile)" = new ] || fail "upper file survives a remount"
umount /tmp/ovl
echo "GUEST-TEST: overlay checks passed"
# --- flock and fcntl (POSIX) locks between two guest processes
for kind in flock fcntl; do
  : > /mnt/lock-$kind
  /lockprobe hold /mnt/lock-$kind $kind &
  holder=$!
  /lockprobe await /mnt/lock-$kind.held || fail "$kind: the holder never got its lock"
  if /lockprobe try /mnt/lock-$kind $kind; then fail "$kind: a second process got a lock another holds"; fi
  : > /mnt/lock-$kind.release
  wait $holder || fail "$kind: the holder failed"
  /lockprobe try /mnt/lock-$kind $kind || fail "$kind: lock still held after release"
done
echo "GUEST-TEST: lock checks passed"
`;

describe('e2e guest semantics (QEMU TCG + virtiofsd-ts)', () => {
  it('overlayfs upper/work on the virtio-fs mount; flock between two guest processes', async (ctx) => {
    requireOrSkip(ctx, missingPrereqs({ needTs: true }));
    const scratch = await makeScratch('vfs-sem-');
    let daemon: DaemonHandle | undefined;
    try {
      daemon = await startDaemon('ts', { socketPath: scratch.socketPath, sharedDir: scratch.sharedDir, extraArgs: ['--xattr', `--xattrmap=${XATTRMAP}`, '-o', 'flock', '-o', 'posix_lock'] });
      const probe = join(tmpdir(), `lockprobe-${process.pid}`);
      execFileSync('gcc', ['-static', '-O2', '-o', probe, fileURLToPath(new URL('../guest/lockprobe.c', import.meta.url))]);
      const result = await runGuest({
        socketPath: scratch.socketPath,
        tag: 'semfs',
        testScript: SCRIPT,
        timeoutMs: TIMEOUT - 60_000,
        extraFiles: { lockprobe: readFileSync(probe) },
      });
      const tail = result.output.split('\n').slice(-40).join('\n');
      expect(result.passed, `${tail}\n--- daemon ---\n${daemon.stderr().slice(-3000)}`).toBe(true);
      expect(result.output).toContain('GUEST-TEST: overlay checks passed');
      expect(result.output).toContain('GUEST-TEST: lock checks passed');
      // On the host: the whiteout is a 0/0 character device in the upper directory.
      const wh = lstatSync(`${scratch.sharedDir}/ovl/upper/file`);
      expect(wh.isCharacterDevice()).toBe(true);
      expect(wh.rdev).toBe(0);
      expect(readFileSync(`${scratch.sharedDir}/ovl/upper/newfile`, 'utf8')).toBe('new\n');
    } finally {
      await daemon?.stop();
      await scratch.cleanup();
    }
  }, TIMEOUT);
});
