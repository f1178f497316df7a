#!/usr/bin/env node
// The seeds' DAX experiment, scaled down: a 64 MiB window, random 4 KiB reads through it
// (vufs load --dax-window), per reclaim policy:
//   A      100 files × 1 MiB   (100 MiB of data, but 100 ranges of 2 MiB = 200 MiB of window)
//   A-fit   30 files × 1 MiB   (30 ranges: fits in the window's 32 slots)
//   B        one 512 MiB file  (256 ranges: does not fit)
// then replays B's trace through the advisor (vufs dax-advise). The daemon (virtiofsd-ts from
// dist/) is started per run with --dax-window 64M and --sandbox none (a benchmark on a
// throw-away directory; the sandbox does not touch the DAX path).
//
//   node bench/dax-experiment.mjs [--seconds 3] [--qd 32] [--policies lru,clock,arc] [--work DIR] [--svg OUT.svg]
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    qd: { type: 'string', default: '32' },
    policies: { type: 'string', default: 'lru,clock,arc' },
    work: { type: 'string', default: '/tmp/vufs-dax-experiment' },
    svg: { type: 'string' },
  },
});
const daemonBin = join(repo, 'dist/cli/virtiofsd.js');
const vufsBin = join(repo, 'dist/cli/vufs.js');
if (!existsSync(daemonBin)) throw new Error('build first: npx tsc -p tsconfig.json');
const work = values.work;
mkdirSync(work, { recursive: true });

const workloads = [
  { name: 'A: 100 files × 1 MiB', dir: 'a', files: 100, size: '1M' },
  { name: 'A-fit: 30 files × 1 MiB', dir: 'afit', files: 30, size: '1M' },
  { name: 'B: one 512 MiB file', dir: 'b', files: 1, size: '512M', trace: true },
];

async function withDaemon(share, fn) {
  const sock = join(work, 'dax.sock');
  rmSync(sock, { force: true });
  const child = spawn(process.execPath, [daemonBin, `--socket-path=${sock}`, `--shared-dir=${share}`, '--dax-window=64M', '--sandbox=none', '--log-level=error'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((r) => child.on('exit', r));
  for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  try {
    return fn(sock);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  }
}

const rows = [];
const traceFile = join(work, 'b-trace.jsonl');
rmSync(traceFile, { force: true });
for (const w of workloads) {
  const share = join(work, w.dir);
  mkdirSync(share, { recursive: true });
  for (const policy of values.policies.split(',')) {
    const args = ['load', '--workload', 'randread4k', '--dax-window', '64M', '--policy', policy, '--files', String(w.files), '--file-size', w.size,
      '--share', share, '--seconds', values.seconds, '--qd', values.qd, '--json'];
    if (w.trace && policy === 'lru') args.push('--dax-trace', traceFile);
    const r = await withDaemon(share, (sock) => JSON.parse(execFileSync(process.execPath, [vufsBin, ...args, '--socket', sock], { stdio: ['ignore', 'pipe', 'inherit'] }).toString()));
    rows.push({ ...r, workload: w.name });
    process.stderr.write(`${w.name} ${policy}: hit ${(100 * r.dax_hit_ratio).toFixed(1)}%, ${r.mb_per_s} MB/s\n`);
  }
}

const out = [
  `window 64 MiB (32 slots of 2 MiB), random 4 KiB reads, qd ${values.qd}, ${values.seconds} s per run`,
  '',
  '| workload | policy | hit ratio | MB/s | ops/s | p50 µs | p99 µs | setups | removes | errors |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.workload} | ${r.policy} | ${(100 * r.dax_hit_ratio).toFixed(1)}% | ${r.mb_per_s} | ${r.ops_per_s} | ${r.p50_us} | ${r.p99_us} | ${r.setups} | ${r.removes} | ${r.errors} |`),
  '',
  'Advisor on B\'s trace (vufs dax-advise):',
  '',
  '```',
  execFileSync(process.execPath, [vufsBin, 'dax-advise', '--trace', traceFile, '--sizes', '16M,32M,64M,128M,256M,512M', ...(values.svg ? ['--svg', values.svg] : [])]).toString().trimEnd(),
  '```',
];
process.stdout.write(out.join('\n') + '\n');
