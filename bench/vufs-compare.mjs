#!/usr/bin/env node
// Side-by-side `vufs load` of virtiofsd-ts, the Rust virtiofsd 1.14 and the C virtiofsd
// (bench/fetch-peers.sh first). Each run starts a fresh daemon on its own share directory
// (prepared files are reused across runs), runs one workload, and lets the daemon exit when
// vufs disconnects. Runs are interleaved (ts, rust, c, ts, rust, c, ...) so slow drifts of the
// machine hit every daemon alike; the table shows the median of --reps runs.
//
//   node bench/vufs-compare.mjs [--seconds 3] [--reps 3] [--qd 32] [--workloads a,b] [--daemons ts,rust,c]
//                               [--json FILE] [--ts-bin PATH] [--vufs-bin PATH]
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, existsSync, writeFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    reps: { type: 'string', default: '3' },
    qd: { type: 'string', default: '32' },
    workloads: { type: 'string', default: 'randread4k,randwrite4k,seqread1m,seqwrite1m,lookup,create,readdir' },
    daemons: { type: 'string', default: 'ts,rust,c' },
    work: { type: 'string', default: '/tmp/vufs-compare' },
    json: { type: 'string' },
    // A pinned build of virtiofsd-ts / vufs (e.g. a copy of dist/ taken while the tree was good).
    'ts-bin': { type: 'string', default: join(repo, 'dist/cli/virtiofsd.js') },
    'vufs-bin': { type: 'string', default: join(repo, 'dist/cli/vufs.js') },
  },
});

const work = values.work;
mkdirSync(work, { recursive: true });
const DAEMONS = {
  ts: (sock, share) => [process.execPath, [values['ts-bin'], `--socket-path=${sock}`, `--shared-dir=${share}`, '--log-level=error']],
  rust: (sock, share) => [join(here, '.peers/rust/virtiofsd'), [`--socket-path=${sock}`, `--shared-dir=${share}`, '--sandbox=none', '--log-level=error']],
  c: (sock, share) => ['/usr/lib/qemu/virtiofsd', [`--socket-path=${sock}`, '-o', `source=${share}`]],
};
const names = { ts: 'virtiofsd-ts', rust: 'Rust 1.14', c: 'C (QEMU 7.2)' };
const daemons = values.daemons.split(',');
for (const d of daemons) if (!DAEMONS[d]) throw new Error(`unknown daemon ${d}`);
if (daemons.includes('rust') && !existsSync(join(here, '.peers/rust/virtiofsd'))) throw new Error('run bench/fetch-peers.sh first');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function runOnce(d, workload) {
  const share = join(work, `share-${d}`);
  mkdirSync(share, { recursive: true });
  const sock = join(work, `${d}.sock`);
  rmSync(sock, { force: true });
  const [cmd, args] = DAEMONS[d](sock, share);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b) => (err += b));
  const exited = new Promise((r) => child.on('exit', (code, sig) => r(code ?? sig)));
  for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(50);
  await sleep(100);
  const out = execFileSync(process.execPath, [values['vufs-bin'], 'load', '--socket', sock, '--workload', workload,
    '--seconds', values.seconds, '--qd', values.qd, '--json'], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout')]);
  if (code === 'timeout') child.kill('SIGKILL');
  const r = JSON.parse(out);
  r.daemon = d;
  r.daemon_exit = code;
  if (code !== 0) r.daemon_stderr = err.slice(-2000);
  return r;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const results = [];
for (const w of values.workloads.split(',')) {
  for (let rep = 0; rep < Number(values.reps); rep++) {
    for (const d of daemons) {
      const r = await runOnce(d, w);
      results.push(r);
      process.stderr.write(`${w} ${d} #${rep}: ${r.ops_per_s} ops/s, p99 ${r.p99_us} µs, errors ${r.errors}\n`);
    }
  }
}

const rows = [];
rows.push('| workload | daemon | ops/s | MB/s | p50 µs | p99 µs | daemon CPU µs/op | vufs CPU µs/op | errors |');
rows.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
for (const w of values.workloads.split(',')) {
  for (const d of daemons) {
    const rs = results.filter((r) => r.workload === w && r.daemon === d);
    const m = (f) => median(rs.map((r) => r[f] ?? NaN));
    rows.push(`| ${w} | ${names[d]} | ${Math.round(m('ops_per_s'))} | ${m('mb_per_s').toFixed(1)} | ${Math.round(m('p50_us'))} | ${Math.round(m('p99_us'))} | ${m('daemon_cpu_us_per_op').toFixed(2)} | ${m('cpu_us_per_op').toFixed(2)} | ${rs.reduce((n, r) => n + r.errors, 0)} |`);
  }
}
const load = execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim();
const table = rows.join('\n') + `\n\nmedian of ${values.reps} runs × ${values.seconds} s, qd ${values.qd}; nproc ${execFileSync('nproc', { encoding: 'utf8' }).trim()}, loadavg at end ${load}\n`;
process.stdout.write(table);
if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 1));
