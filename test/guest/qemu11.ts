/**
 * Helpers for booting the test guest under QEMU 11.1 from Debian sid (test/guest/qemu-sid.sh),
 * which is what gives a Linux guest a *real* virtio-fs DAX window:
 *
 *  - ensureQemuSid()        builds (once per process, cached on disk) the sid chroot and returns
 *                           the wrapper that runs its qemu-system-x86_64 (pass as runGuest({ qemu }))
 *  - daxDeviceArgs(opts)    the `-device vhost-user-test-device-pci,...` pair that turns QEMU 11's
 *                           generic vhost-user device into a virtio-fs device (virtio id 26) whose
 *                           DAX window (shared memory region 0) is declared by the backend
 *  - plainFsDeviceArgs()    the ordinary `vhost-user-fs-pci` pair (no DAX window in QEMU 11.1)
 *  - parseCacheLen()        the window size the guest kernel logged (`virtiofs virtio0: Cache len: 0x...`)
 *  - daxGuestScript()       the guest's /test.sh for the DAX test (fio psync + mmap, verify on)
 *  - seedDaxShare(), checkDaxShare()   host side of that test: seed files, then compare checksums
 *
 * QEMU 11.1 facts this relies on (DESIGN §3, §5; measured with QEMU 11.1.3): the test device takes
 * `virtio-id`, `num_vqs`, `config_size`, `vq_size` (default 64); its virtio feature bits are
 * exactly the backend's GET_FEATURES; the config space comes from the backend's GET_CONFIG
 * (virtio-fs: tag[36] + le32 num_request_queues = 40 bytes) and the shared memory regions from
 * GET_SHMEM_CONFIG (protocol feature SHMEM = bit 22). The config's num_request_queues must be
 * num_vqs - 1, or the guest's probe fails with -EINVAL. The window size must be a page multiple
 * (else QEMU refuses the device) and a power of two (else QEMU aborts: pci_register_bar assertion).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { GUEST_DIR, IN_CI } from './run-guest.js';

export const QEMU_SID_SCRIPT = path.join(GUEST_DIR, 'qemu-sid.sh');

export interface QemuSid {
  /** The wrapper: `wrapper QEMU-ARGS...` runs sid's qemu-system-x86_64 in the chroot. */
  wrapper: string;
  /** The chroot. */
  root: string;
  /** First line of `qemu-system-x86_64 --version`, e.g. "QEMU emulator version 11.1.3 (Debian 1:11.1.3+ds-1)". */
  version: string;
  /** [major, minor, micro] parsed from `version`. */
  versionTuple: [number, number, number];
  /** stderr of qemu-sid.sh (build log or "up to date"). */
  log: string;
}

let sidPromise: Promise<QemuSid> | undefined;

/** Run test/guest/qemu-sid.sh (at most once per process; the chroot is cached on disk). */
export function ensureQemuSid(): Promise<QemuSid> {
  sidPromise ??= new Promise<QemuSid>((resolve, reject) => {
    const child = spawn('bash', [QEMU_SID_SCRIPT, 'ensure'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`qemu-sid.sh failed (exit ${code}):\n${err}${out}`));
        return;
      }
      const kv = new Map<string, string>();
      for (const line of out.split('\n')) {
        const m = /^(QEMU_SID_[A-Z]+)=(.*)$/.exec(line.trim());
        if (m) kv.set(m[1], m[2]);
      }
      const wrapper = kv.get('QEMU_SID_WRAPPER');
      const version = kv.get('QEMU_SID_VERSION') ?? '';
      if (!wrapper || !existsSync(wrapper)) {
        reject(new Error(`qemu-sid.sh did not report its wrapper:\n${out}\n${err}`));
        return;
      }
      const v = /version (\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
      resolve({
        wrapper,
        root: kv.get('QEMU_SID_ROOT') ?? '',
        version,
        versionTuple: v ? [Number(v[1]), Number(v[2]), Number(v[3] ?? 0)] : [0, 0, 0],
        log: err,
      });
    });
  });
  sidPromise.catch(() => (sidPromise = undefined));
  return sidPromise;
}

/** What is missing on this machine to build the sid QEMU (empty = nothing). */
export function missingQemuSidPrereqs(): string[] {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push('Linux host');
  if (typeof process.getuid === 'function' && process.getuid() !== 0) missing.push('root (debootstrap, chroot, unshare -m)');
  for (const tool of ['/usr/sbin/debootstrap', '/usr/bin/unshare', '/usr/sbin/chroot']) {
    if (!existsSync(tool)) missing.push(`${tool} (run .ci/prereqs.sh)`);
  }
  return missing;
}

/** Same policy as the other guest tests: in CI a missing prerequisite is a failure. */
export { IN_CI };

export interface DaxDeviceOptions {
  /** Number of virtqueues: 1 hiprio + N request queues (default 2). */
  numVqs?: number;
  /** Virtqueue size (the test device's default is 64). */
  vqSize?: number;
  /** Config space size: virtio-fs is tag[36] + le32 num_request_queues = 40. */
  configSize?: number;
}

/**
 * `-device vhost-user-test-device-pci,chardev=c,virtio-id=26,num_vqs=2,config_size=40,vq_size=N`:
 * a virtio-fs device (virtio id 26) whose tag and DAX window come from the backend.
 */
export function daxDeviceArgs(opts: DaxDeviceOptions = {}): string[] {
  const props = [
    'vhost-user-test-device-pci',
    'chardev=c',
    'virtio-id=26',
    `num_vqs=${opts.numVqs ?? 2}`,
    `config_size=${opts.configSize ?? 40}`,
  ];
  if (opts.vqSize !== undefined) props.push(`vq_size=${opts.vqSize}`);
  return ['-device', props.join(',')];
}

/** The ordinary device (QEMU 11.1's vhost-user-fs-pci has no DAX window). */
export function plainFsDeviceArgs(tag: string, queueSize = 1024): string[] {
  return ['-device', `vhost-user-fs-pci,chardev=c,tag=${tag},queue-size=${queueSize}`];
}

/**
 * The DAX window size the guest driver found, from its `virtiofs virtio0: Cache len: 0x4000000
 * @ 0xf8000000` line (fs/virtio_fs.c, dev_notice: not on a `quiet` console, so the guest script
 * copies dmesg to the console). Without a window it logs `virtio_fs_setup_dax: No cache
 * capability` instead. Undefined when the line is absent.
 */
export function parseCacheLen(output: string): bigint | undefined {
  const m = /virtio\d+: Cache len: (0x[0-9a-fA-F]+|\d+)/.exec(output);
  return m ? BigInt(m[1]) : undefined;
}

/** Parse "256M", "64MiB", "1G", "4096" (bytes) into a byte count. */
export function parseSize(s: string): number {
  const m = /^(\d+)\s*([KMG]?)(?:i?B)?$/i.exec(s.trim());
  if (!m) throw new Error(`bad size: ${s}`);
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * mult;
}

export interface DaxGuestScriptOptions {
  /** Files per fio job (default 4). */
  files?: number;
  /** Total size of each fio job's files in MiB: the active set (default 256). */
  totalMiB?: number;
  /** Fail unless the guest found a DAX window and /mnt is mounted dax=always (default true). */
  requireDax?: boolean;
  /** fio block size (default 128k): with random offsets most I/Os then miss a window that is smaller than the set. */
  blockSize?: string;
  /**
   * Mount tag for a last step that remounts with `-o dax=inode` and checks with /daxprobe
   * (test/guest/daxprobe.c, supplied by the caller) that regular files are DAX and directories
   * are not — the per-inode DAX negotiation (FUSE_HAS_INODE_DAX, FUSE_ATTR_DAX). Omitted: no step.
   */
  inodeDaxTag?: string;
}

/**
 * The guest side of the DAX test (busybox sh + fio as /test.sh, cwd /mnt). Expects the host to
 * have put seed/pattern.bin and seed/pattern.sha256 in the share. Prints `DAX-DMESG ...`,
 * `DAX-MOUNT ...`, `DAX-TIME <job> <s>` and `FIO-SUMMARY ...` lines and
 * `GUEST-TEST: dax checks passed`; leaves dax/sums.txt (sha256 of every file it wrote: dax/guest.bin
 * and the fio files dax/dax-psync.0.N, dax/dax-mmap.0.N) for the host to compare.
 *
 * fio runs twice over `files` files totalling `totalMiB` (random `blockSize` writes, then crc32c
 * verification reads): once with --ioengine=psync (read/write through the DAX window in the
 * kernel) and once with --ioengine=mmap (page faults on the window mapped into user space).
 */
export function daxGuestScript(opts: DaxGuestScriptOptions = {}): string {
  const files = opts.files ?? 4;
  const perFile = Math.max(2, Math.floor((opts.totalMiB ?? 256) / files));
  const requireDax = opts.requireDax ?? true;
  const bs = opts.blockSize ?? '128k';
  return `set -eu
STEP=start
REPORTED=0
fail() { echo "CHECK-FAIL: [$STEP] $*"; REPORTED=1; dmesg | grep -iE 'virtio|fuse|dax|warn|bug|error|fail' | tail -n 30 | sed 's/^/DAX-DMESG-TAIL /'; exit 1; }
on_exit() {
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$REPORTED" = 0 ]; then
        echo "CHECK-FAIL: [$STEP] a command failed (exit status $rc), see the lines above"
        dmesg | grep -iE 'virtio|fuse|dax|warn|bug|error|fail' | tail -n 30 | sed 's/^/DAX-DMESG-TAIL /'
    fi
}
trap on_exit EXIT
M=/mnt
D=$M/dax
dmesg | grep -i -E 'virtio|fuse|dax' | sed 's/^/DAX-DMESG /' || true
grep " $M virtiofs " /proc/mounts | sed 's/^/DAX-MOUNT /'
if [ ${requireDax ? 1 : 0} = 1 ]; then
    dmesg | grep -q 'Cache len' || fail "the guest kernel found no DAX window (no 'Cache len' in dmesg)"
    grep -q " $M virtiofs .*dax=always" /proc/mounts || fail "$M is not a virtiofs mount with dax=always"
fi

# a host-made file, read through the window (read() and a sequential mmap read)
STEP=read-host-file
want=$(cat $M/seed/pattern.sha256) || fail "cat $M/seed/pattern.sha256"
got=$(sha256sum $M/seed/pattern.bin | cut -d' ' -f1) || fail "sha256sum $M/seed/pattern.bin"
[ "$want" = "$got" ] || fail "host file read through DAX: sha256 $got, want $want"
fio --name=seed-mmap-read --filename=$M/seed/pattern.bin --ioengine=mmap --rw=read --bs=1m \\
    --readonly --output-format=normal > /tmp/seed.out 2>&1 || { cat /tmp/seed.out; fail "fio mmap read of the host file"; }
grep -q 'err= 0' /tmp/seed.out || { cat /tmp/seed.out; fail "fio mmap read of the host file reported an error"; }
echo "DAX-CHECK host file read through the window: ok"

# a guest-made file, written through the window (the host checks its bytes)
STEP=write-guest-file
mkdir -p $D
dd if=/dev/urandom of=$D/guest.bin bs=1M count=5 2>/dev/null || fail "dd to $D/guest.bin"
sync

run_fio() {
    name=$1; shift
    STEP=fio-$name
    t0=$(cut -d' ' -f1 /proc/uptime)
    if ! fio --name="$name" --directory="$D" --nrfiles=${files} --filesize=${perFile}m --size=${perFile * files}m \\
        --file_service_type=random --bs=${bs} --verify=crc32c --do_verify=1 --verify_fatal=1 \\
        --output-format=normal "$@" > /tmp/fio-$name.out 2>&1; then
        cat /tmp/fio-$name.out
        fail "fio $name exited non-zero"
    fi
    grep -q 'err= 0' /tmp/fio-$name.out || { cat /tmp/fio-$name.out; fail "fio $name reported an error"; }
    if grep -qi 'verify.*\\(fail\\|bad\\|mismatch\\)' /tmp/fio-$name.out; then
        cat /tmp/fio-$name.out; fail "fio $name reported a verify failure"
    fi
    grep -E '^ *(read|write): IOPS=' /tmp/fio-$name.out | sed "s/^ */FIO-SUMMARY $name /"
    t1=$(cut -d' ' -f1 /proc/uptime)
    echo "DAX-TIME $name $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s"
}
# active set: ${perFile * files} MiB over ${files} files per job
run_fio dax-psync --ioengine=psync --rw=randwrite --end_fsync=1
run_fio dax-mmap --ioengine=mmap --rw=randwrite

STEP=checksums
cd $D
sha256sum guest.bin dax-*.* > sums.txt
sync
${opts.inodeDaxTag === undefined ? '' : `
# per-inode DAX: the daemon marks regular files FUSE_ATTR_DAX, never directories
STEP=dax-inode
cd /
umount $M || fail "umount $M"
mount -t virtiofs -o dax=inode ${opts.inodeDaxTag} $M || fail "mount -o dax=inode"
grep " $M virtiofs .*dax=inode" /proc/mounts | sed 's/^/DAX-MOUNT /' || fail "$M is not mounted dax=inode"
probe=$(/daxprobe $M/seed/pattern.bin $M/seed) || fail "daxprobe"
echo "$probe" | sed 's/^/DAX-INODE /'
echo "$probe" | grep -q "^$M/seed/pattern.bin dax$" || fail "a regular file is not DAX under dax=inode"
echo "$probe" | grep -q "^$M/seed nodax$" || fail "a directory is DAX under dax=inode"
got=$(sha256sum $M/seed/pattern.bin | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "read through per-inode DAX: sha256 $got, want $want"
echo "DAX-CHECK per-inode DAX (dax=inode): ok"
`}dmesg | grep -E 'WARNING|BUG|Call Trace|virtio_fs|virtiofs|fuse' | grep -v 'Cache len' | sed 's/^/DAX-DMESG-END /' || true
if dmesg | grep -q -E 'WARNING:|BUG:|Call Trace'; then fail "the guest kernel logged a warning (see DAX-DMESG-END)"; fi
echo "GUEST-TEST: dax checks passed"
`;
}

/** A deterministic pseudo-random buffer. */
function pattern(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  let x = seed >>> 0;
  for (let i = 0; i + 4 <= bytes; i += 4) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Put seed/pattern.bin (9 MiB + 4 KiB: five 2 MiB ranges, ragged end) and its sha256 in the share. */
export async function seedDaxShare(sharedDir: string): Promise<void> {
  const seed = path.join(sharedDir, 'seed');
  await fsp.mkdir(seed, { recursive: true });
  const pat = pattern(9 * 1024 * 1024 + 4096, 0xda7a);
  await fsp.writeFile(path.join(seed, 'pattern.bin'), pat);
  await fsp.writeFile(path.join(seed, 'pattern.sha256'), `${sha256(pat)}\n`);
}

/**
 * Host-side check after daxGuestScript(): every file the guest wrote (listed with its sha256 in
 * dax/sums.txt) has the same bytes on the host. Returns the problems (empty = all good).
 */
export function checkDaxShare(sharedDir: string, files = 4): string[] {
  const problems: string[] = [];
  const D = path.join(sharedDir, 'dax');
  const sumsFile = path.join(D, 'sums.txt');
  if (!existsSync(sumsFile)) return [`${sumsFile} missing (the guest script did not get that far)`];
  const sums = readFileSync(sumsFile, 'utf8').split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/));
  const written = readdirSync(D).filter((n) => n !== 'sums.txt').sort();
  const listed = sums.map(([, n]) => n).sort();
  if (JSON.stringify(listed) !== JSON.stringify(written)) {
    problems.push(`guest listed ${JSON.stringify(listed)}, host has ${JSON.stringify(written)}`);
  }
  if (written.length !== 1 + 2 * files) problems.push(`expected ${1 + 2 * files} files in dax/, host has ${written.length}`);
  for (const [want, name] of sums) {
    const p = path.join(D, name);
    if (!existsSync(p)) continue;
    const got = sha256(readFileSync(p));
    if (got !== want) problems.push(`host view of dax/${name} differs from the guest's: sha256 ${got}, guest ${want}`);
  }
  return problems;
}
