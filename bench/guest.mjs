// The guest fio suite for bench/run.mjs: boots the test guest (test/guest/build-guest.sh: Debian
// kernel + busybox + fio) under QEMU/TCG against a virtio-fs daemon or QEMU's own 9p server and
// runs a few fio jobs with O_DIRECT (so the guest page cache does not hide the back-end).
//
// Our own init (`rdinit=/bench-init`, in a small cpio appended to the base initramfs) mounts
// either virtiofs or 9p. The base initramfs carries only the virtio-fs modules, so the 9p ones
// (netfs fscache 9pnet 9pnet_virtio 9p) are taken at run time from the kernel .deb build-guest.sh
// used (its GUEST_DEB): modules are only good for the one kernel build they came from, so they are
// never kept in the tree. They are cached next to that .deb, in <guest cache>/bench9p/.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** insmod order: there is no modules.dep in the .deb (as for build-guest.sh's virtio-fs modules). */
const MODS_9P = ['netfs', 'fscache', '9pnet', '9pnet_virtio', '9p'];

const INIT = `#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
FS=virtiofs
TAG=bench
for a in $(cat /proc/cmdline); do
  case "$a" in bench_fs=*) FS=\${a#bench_fs=} ;; bench_tag=*) TAG=\${a#bench_tag=} ;; esac
done
while read -r m; do insmod "/modules/$m.ko" || echo "BENCH-ERROR insmod $m"; done < /modules/order
if [ "$FS" = 9p ]; then
  while read -r m; do insmod "/bench9p-$m.ko" || echo "BENCH-ERROR insmod $m"; done < /bench9p.order
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 "$TAG" /mnt || echo "BENCH-ERROR mount 9p"
else
  mount -t virtiofs "$TAG" /mnt || echo "BENCH-ERROR mount virtiofs"
fi
echo "BENCH-MOUNTED $FS kernel $(uname -r): $(grep ' /mnt ' /proc/mounts)"
(cd /mnt && sh /bench-fio.sh)
echo "BENCH-DONE"
cd /
umount /mnt
poweroff -f
sleep 5
echo o > /proc/sysrq-trigger
`;

/** fio jobs: [name, fio arguments]. Each runs `runtime` seconds on a 32 MiB file. */
export const GUEST_JOBS = [
  ['seqwrite1m', '--rw=write --bs=1m --ioengine=psync'],
  ['seqread1m', '--rw=read --bs=1m --ioengine=psync'],
  ['randread4k-qd1', '--rw=randread --bs=4k --ioengine=psync'],
  ['randread4k-qd16', '--rw=randread --bs=4k --ioengine=libaio --iodepth=16'],
  ['randwrite4k-qd1', '--rw=randwrite --bs=4k --ioengine=psync'],
];

function fioScript(runtime) {
  const common = `--directory=/mnt --filename=bench.dat --size=32m --direct=1 --time_based=1 --runtime=${runtime}s --output-format=terse --terse-version=3`;
  const lines = [
    'fio --name=prep --directory=/mnt --filename=bench.dat --size=32m --rw=write --bs=1m --ioengine=psync >/dev/null 2>&1 || echo "BENCH-ERROR prep"',
    ...GUEST_JOBS.map(([name, args]) =>
      `out=$(fio --name=${name} ${common} ${args} 2>&1 | grep '^3;' | head -n1); echo "BENCH-FIO ${name} $out"`),
    'rm -f /mnt/bench.dat',
    // metadata: 500 creates with the shell's own redirection (no fork per file), then a listing
    'mkdir -p /mnt/bench-meta; t0=$(cut -d" " -f1 /proc/uptime); i=0; while [ $i -lt 500 ]; do : > /mnt/bench-meta/f$i; i=$((i+1)); done; t1=$(cut -d" " -f1 /proc/uptime)',
    'echo "BENCH-META create500 $t0 $t1"',
    'rm -rf /mnt/bench-meta',
  ];
  return lines.join('\n') + '\n';
}

function newc(name, mode, data, ino) {
  const nameBuf = Buffer.from(name + '\0');
  const fields = [ino, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0];
  const header = Buffer.from('070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join(''));
  const pad = (n) => Buffer.alloc((4 - (n % 4)) % 4);
  const head = Buffer.concat([header, nameBuf]);
  return Buffer.concat([head, pad(head.length), data, pad(data.length)]);
}

function cpio(files) {
  const parts = [];
  let ino = 1;
  for (const [name, content] of Object.entries(files)) parts.push(newc(name, 0o100755, Buffer.from(content), ino++));
  parts.push(newc('TRAILER!!!', 0, Buffer.alloc(0), 0));
  return Buffer.concat(parts);
}

/**
 * Builds (or reuses) the guest image (test/guest/build-guest.sh, cached in its own directory) and
 * the 9p modules of the same kernel. Returns { kernel, initrd, kver, deb, mods9p, mods9pError? }
 * (mods9p: [name, path] in insmod order; without them only the 9p boot fails) or throws.
 */
export function prepareGuest(repo, log = () => {}) {
  const r = spawnSync('bash', [join(repo, 'test/guest/build-guest.sh')], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`build-guest.sh failed: ${(r.stderr || '').split('\n').slice(-5).join(' ')}`);
  const kv = Object.fromEntries(r.stdout.split('\n').map((l) => /^(GUEST_[A-Z]+)=(.*)$/.exec(l.trim())).filter(Boolean).map((m) => [m[1], m[2]]));
  const { GUEST_KERNEL: kernel, GUEST_INITRD: initrd, GUEST_KVER: kver, GUEST_DEB: deb } = kv;
  if (!kernel || !initrd || !kver || !deb) throw new Error('build-guest.sh did not report its outputs (GUEST_KERNEL, GUEST_INITRD, GUEST_KVER, GUEST_DEB)');
  const image = { kernel, initrd, kver, deb, mods9p: [] };
  try {
    image.mods9p = modules9p(deb, kver, join(dirname(kernel), 'bench9p'), log);
  } catch (e) {
    image.mods9pError = e.message;
  }
  return image;
}

/**
 * The 9p modules of `kver` from `deb`, found and decompressed the way build-guest.sh does it for
 * the virtio-fs modules: lib/modules/<kver> (or usr/lib/...), NAME.ko[.xz|.zst|.gz], a module
 * listed in modules.builtin needs no insmod. Kept in `dir` with a stamp naming the .deb (file
 * name and size, as build-guest.sh's stamp does), so a new kernel package replaces them.
 */
function modules9p(deb, kver, dir, log) {
  const want = `deb=${basename(deb)} ${statSync(deb).size}\n`;
  const stamp = join(dir, 'stamp');
  const order = join(dir, 'order');
  const listed = () => readFileSync(order, 'utf8').split('\n').filter(Boolean).map((m) => [m, join(dir, `${m}.ko`)]);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want && existsSync(order) && listed().every(([, p]) => existsSync(p))) {
    log(`guest 9p modules: reusing ${dir} (${kver}, from ${basename(deb)})`);
    return listed();
  }
  log(`guest 9p modules: extracting ${MODS_9P.join(' ')} (${kver}) from ${basename(deb)} into ${dir}`);
  // Built beside `dir` and renamed into place: a half-written set is never taken for a cached one.
  const work = mkdtempSync(`${dir}.work.`);
  try {
    const x = join(work, 'deb');
    const e = spawnSync('dpkg-deb', ['-x', deb, x], { encoding: 'utf8' });
    if (e.status !== 0) throw new Error(`dpkg-deb -x ${deb} failed: ${(e.stderr || e.error?.message || '').trim()}`);
    const modDir = [join(x, 'lib/modules', kver), join(x, 'usr/lib/modules', kver)].find((d) => existsSync(d));
    if (!modDir) throw new Error(`no lib/modules/${kver} in ${deb}`);
    const found = spawnSync('find', [modDir, '-name', '*.ko*'], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout.split('\n');
    const builtin = existsSync(join(modDir, 'modules.builtin')) ? readFileSync(join(modDir, 'modules.builtin'), 'utf8').split('\n') : [];
    const out = join(work, 'out');
    mkdirSync(out);
    const loaded = [];
    for (const m of MODS_9P) {
      const f = ['.ko', '.ko.xz', '.ko.zst', '.ko.gz'].map((ext) => found.find((p) => p.endsWith(`/${m}${ext}`))).find(Boolean);
      if (!f) {
        if (builtin.some((l) => l.endsWith(`/${m}.ko`))) { log(`guest 9p modules: ${m} is built in`); continue; }
        throw new Error(`module ${m} not found in ${deb}`);
      }
      const ko = join(out, `${m}.ko`);
      const unpack = { '.xz': ['xz', '-dc'], '.zst': ['zstd', '-qdc'], '.gz': ['gzip', '-dc'] }[f.slice(f.lastIndexOf('.'))];
      if (unpack) {
        const u = spawnSync(unpack[0], [...unpack.slice(1), f], { maxBuffer: 256 << 20 });
        if (u.status !== 0) throw new Error(`${unpack[0]} ${f} failed`);
        writeFileSync(ko, u.stdout);
      } else {
        writeFileSync(ko, readFileSync(f));
      }
      loaded.push(m);
    }
    writeFileSync(join(out, 'order'), loaded.map((m) => `${m}\n`).join(''));
    writeFileSync(join(out, 'stamp'), want);
    rmSync(dir, { recursive: true, force: true });
    renameSync(out, dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return listed();
}

/**
 * Boots the guest once. `fs`: 'virtiofs' (with socketPath) or '9p' (with sharedDir).
 * Resolves { jobs: {name: {read_iops, read_mb_s, write_iops, write_mb_s}}, meta: {create500_per_s}, mounted, error?, seconds }
 * (mounted: the guest's "<fs> kernel <uname -r>: <its /proc/mounts line for /mnt>").
 */
export async function runGuestFio(image, { fs, socketPath, sharedDir, runtime = 4, timeoutMs = 300_000, tmpDir, onChild }) {
  if (fs === '9p' && image.mods9pError) return { jobs: {}, meta: {}, error: `9p kernel modules: ${image.mods9pError}` };
  const files = { 'bench-init': INIT, 'bench-fio.sh': fioScript(runtime) };
  if (fs === '9p') {
    files['bench9p.order'] = image.mods9p.map(([m]) => `${m}\n`).join('');
    for (const [m, p] of image.mods9p) files[`bench9p-${m}.ko`] = readFileSync(p);
  }
  const base = readFileSync(image.initrd);
  const initrd = join(tmpDir, `initrd-${fs}-${process.hrtime.bigint()}.img`);
  writeFileSync(initrd, Buffer.concat([base, Buffer.alloc((4 - (base.length % 4)) % 4), cpio(files)]));
  const mem = 1024;
  const args = [
    '-accel', 'tcg,thread=multi', '-cpu', 'max', '-m', `${mem}M`, '-smp', '2', '-nographic', '-no-reboot', '-nic', 'none',
    '-kernel', image.kernel, '-initrd', initrd,
    '-append', `console=ttyS0 quiet panic=-1 rdinit=/bench-init bench_fs=${fs} bench_tag=bench`,
    '-object', `memory-backend-memfd,id=m,size=${mem}M,share=on`, '-numa', 'node,memdev=m',
    ...(fs === '9p'
      ? ['-virtfs', `local,path=${sharedDir},mount_tag=bench,security_model=passthrough,id=p9`]
      : ['-chardev', `socket,id=c,path=${socketPath}`, '-device', 'vhost-user-fs-pci,chardev=c,tag=bench,queue-size=1024']),
  ];
  const t0 = Date.now();
  const qemu = spawn(process.env.QEMU ?? 'qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  onChild?.(qemu);
  let out = '';
  qemu.stdout.on('data', (d) => (out += d.toString().replace(/\r/g, '')));
  qemu.stderr.on('data', (d) => (out += d.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try { process.kill(-qemu.pid, 'SIGKILL'); } catch { /* gone */ }
  }, timeoutMs);
  await new Promise((r) => { qemu.on('close', r); qemu.on('error', (e) => { out += `\nspawn: ${e.message}`; r(); }); });
  clearTimeout(timer);
  rmSync(initrd, { force: true });
  const res = { jobs: {}, meta: {}, seconds: (Date.now() - t0) / 1000 };
  for (const line of out.split('\n')) {
    let m = /^BENCH-FIO (\S+) (3;.*)$/.exec(line.trim());
    if (m) {
      const f = m[2].split(';');
      // terse v3: 6 read_kb, 7 read_bw KiB/s, 8 read_iops; 47 write_kb, 48 write_bw, 49 write_iops (1-based)
      res.jobs[m[1]] = {
        read_iops: Number(f[7]), read_mb_s: (Number(f[6]) * 1024) / 1e6,
        write_iops: Number(f[48]), write_mb_s: (Number(f[47]) * 1024) / 1e6,
        error: Number(f[4]),
      };
      continue;
    }
    m = /^BENCH-META create500 ([\d.]+) ([\d.]+)/.exec(line.trim());
    if (m) res.meta.create500_per_s = 500 / Math.max(0.01, Number(m[2]) - Number(m[1]));
    // the guest's own account of the mount (file system, kernel, options): logged and kept in the
    // JSON. Not anchored: it is the first line after the firmware's, behind its terminal escapes.
    m = /BENCH-MOUNTED (.*)$/.exec(line.trim());
    if (m) res.mounted = m[1];
  }
  const errs = out.split('\n').map((l) => /BENCH-ERROR.*/.exec(l)?.[0]).filter(Boolean); // (escapes, as above)
  if (timedOut) res.error = `timed out after ${timeoutMs / 1000} s`;
  else if (!out.includes('BENCH-DONE')) res.error = `guest did not finish: ${out.trim().split('\n').slice(-3).join(' | ')}`;
  else if (errs.length) res.error = errs.join('; ');
  return res;
}
