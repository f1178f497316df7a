// The guest fio suite for bench/run.mjs: boots the test guest (test/guest/build-guest.sh: Debian
// kernel + busybox + fio) under QEMU/TCG against a virtio-fs daemon or QEMU's own 9p server and
// runs a few fio jobs with O_DIRECT (so the guest page cache does not hide the back-end).
//
// Our own init (`rdinit=/bench-init`, in a small cpio appended to the base initramfs) mounts
// either virtiofs or 9p; the 9p modules (netfs fscache 9pnet 9pnet_virtio 9p), which the base
// initramfs does not carry, are extracted from the same kernel .deb into bench/.build/guest9p/.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

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
  for m in ${MODS_9P.join(' ')}; do insmod "/bench9p-$m.ko" || echo "BENCH-ERROR insmod $m"; done
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 "$TAG" /mnt || echo "BENCH-ERROR mount 9p"
else
  mount -t virtiofs "$TAG" /mnt || echo "BENCH-ERROR mount virtiofs"
fi
echo "BENCH-MOUNTED $FS"
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

/** Builds (or reuses) the guest image and the 9p modules. Returns { kernel, initrd, mods9p } or throws. */
export function prepareGuest(repo, buildDir) {
  const r = spawnSync('bash', [join(repo, 'test/guest/build-guest.sh')], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`build-guest.sh failed: ${(r.stderr || '').split('\n').slice(-5).join(' ')}`);
  const kv = Object.fromEntries(r.stdout.split('\n').map((l) => /^(GUEST_[A-Z]+)=(.*)$/.exec(l.trim())).filter(Boolean).map((m) => [m[1], m[2]]));
  const { GUEST_KERNEL: kernel, GUEST_INITRD: initrd, GUEST_KVER: kver } = kv;
  if (!kernel || !initrd) throw new Error('build-guest.sh did not report its outputs');
  const cache = process.env.GUEST_CACHE_DIR ?? join(repo, '.cache/guest');
  const deb = process.env.KERNEL_DEB ?? readdirSync(cache).filter((f) => /^linux-image-.*\.deb$/.test(f)).map((f) => join(cache, f)).sort().pop();
  const modDir = join(buildDir, 'guest9p', kver);
  const mods9p = {};
  if (deb && !MODS_9P.every((m) => existsSync(join(modDir, `${m}.ko`)))) {
    const x = join(buildDir, 'guest9p', 'x');
    rmSync(x, { recursive: true, force: true });
    mkdirSync(x, { recursive: true });
    const e = spawnSync('dpkg-deb', ['-x', deb, x]);
    if (e.status === 0) {
      mkdirSync(modDir, { recursive: true });
      const find = spawnSync('find', [x, '-name', '*.ko*'], { encoding: 'utf8', maxBuffer: 64 << 20 });
      for (const m of MODS_9P) {
        const f = find.stdout.split('\n').find((p) => p.endsWith(`/${m}.ko`) || p.endsWith(`/${m}.ko.xz`) || p.endsWith(`/${m}.ko.zst`));
        if (!f) continue;
        const out = join(modDir, `${m}.ko`);
        if (f.endsWith('.xz')) spawnSync('sh', ['-c', `xz -dc '${f}' > '${out}'`]);
        else if (f.endsWith('.zst')) spawnSync('sh', ['-c', `zstd -qdc '${f}' > '${out}'`]);
        else writeFileSync(out, readFileSync(f));
      }
    }
    rmSync(x, { recursive: true, force: true });
  }
  for (const m of MODS_9P) if (existsSync(join(modDir, `${m}.ko`))) mods9p[m] = join(modDir, `${m}.ko`);
  return { kernel, initrd, kver, mods9p };
}

/**
 * Boots the guest once. `fs`: 'virtiofs' (with socketPath) or '9p' (with sharedDir).
 * Resolves { jobs: {name: {read_iops, read_mb_s, write_iops, write_mb_s}}, meta: {create500_per_s}, error?, seconds }.
 */
export async function runGuestFio(image, { fs, socketPath, sharedDir, runtime = 4, timeoutMs = 300_000, tmpDir, onChild }) {
  if (fs === '9p' && Object.keys(image.mods9p).length !== MODS_9P.length) {
    return { jobs: {}, meta: {}, error: '9p kernel modules not found in the kernel .deb' };
  }
  const files = { 'bench-init': INIT, 'bench-fio.sh': fioScript(runtime) };
  if (fs === '9p') for (const [m, p] of Object.entries(image.mods9p)) files[`bench9p-${m}.ko`] = readFileSync(p);
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
  }
  const errs = out.split('\n').filter((l) => l.startsWith('BENCH-ERROR'));
  if (timedOut) res.error = `timed out after ${timeoutMs / 1000} s`;
  else if (!out.includes('BENCH-DONE')) res.error = `guest did not finish: ${out.trim().split('\n').slice(-3).join(' | ')}`;
  else if (errs.length) res.error = errs.join('; ');
  return res;
}
