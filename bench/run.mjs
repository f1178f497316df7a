#!/usr/bin/env node
// `npm run bench`: virtiofsd-ts side by side with the Rust virtiofsd 1.14 and the C virtiofsd
// (QEMU 7.2), against the physical limit of this host. See bench/README.md ("npm run bench").
//
//   node bench/run.mjs [--quick] [--only vufs,limit,guest,hostmount,rss,startup,scale,profile]
//                      [--rounds N] [--seconds T] [--pool N] [--sandbox default|none]
//                      [--daemons ts,rust,c] [--out DIR] [--no-readme]
//
// Writes bench/results/<date>.md (+ .json and SVG plots) and prints the summary table.
// Every daemon, QEMU and mount it starts is stopped at the end, temp dirs are removed, and a
// peer that fails is reported in the tables, not fatal.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, openSync, closeSync, writeSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { barChart } from './svg-bar-chart.mjs';
import { prepareGuest, runGuestFio, GUEST_JOBS } from './guest.mjs';
import { FLOOR_TARGET, runStartup, startupNote, startupRatios, startupSummary, startupTable } from './startup.mjs';
import { killTree, treeRss } from './proc-tree.mjs';
import { runScale, scaleTable } from './scale.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const ALL_SECTIONS = ['vufs', 'limit', 'guest', 'hostmount', 'rss', 'startup', 'scale', 'profile'];

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    pool: { type: 'string', default: '4' },
    sandbox: { type: 'string', default: 'default' },
    daemons: { type: 'string', default: 'ts,rust,c' },
    out: { type: 'string', default: join(here, 'results') },
    'no-readme': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 11).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
  process.exit(0);
}
const quick = opt.quick;
const sections = new Set((opt.only ?? (quick ? 'vufs,limit,hostmount,rss,startup' : ALL_SECTIONS.join(','))).split(',').filter(Boolean));
for (const s of sections) if (!ALL_SECTIONS.includes(s)) die(`unknown section ${s} (${ALL_SECTIONS.join(', ')})`);
const ROUNDS = Number(opt.rounds ?? (quick ? 1 : 3));
const SECONDS = Number(opt.seconds ?? (quick ? 1 : 2));
const POOL = Number(opt.pool);
const POOLS = quick ? [0] : [0, POOL];
if (!['default', 'none'].includes(opt.sandbox)) die('--sandbox must be default or none');
const SANDBOX_NONE = opt.sandbox === 'none';
const NPROC = os.cpus().length;

function die(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}
const log = (m) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rotate = (xs, k) => xs.map((_, i) => xs[(i + k) % xs.length]);

// ------------------------------------------------------------------------------------------
// clean-up: every child is spawned detached (own process group) and killed with its group

const live = new Set(); // ChildProcess
const mounts = new Set();
let work;
function cleanup() {
  for (const c of live) killTree(c);
  live.clear();
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  mounts.clear();
  if (work) rmSync(work, { recursive: true, force: true });
  work = undefined;
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { log(`${sig}: cleaning up`); cleanup(); process.exit(130); });

// ------------------------------------------------------------------------------------------
// daemons

// Pinned at start (see pinBuild): other work may rebuild dist/ or build/ while we run.
let TS_BIN = join(repo, 'dist/cli/virtiofsd.js');
let VUFS_BIN = join(repo, 'dist/cli/vufs.js');
let PIN_ROOT = repo;
/** The pinned daemon can be executed directly (see pinBuild). */
let TS_DIRECT = false;
/** Copies dist/ and the native build into the temp dir so a rebuild of the tree mid-run cannot mix versions. */
function pinBuild() {
  const pin = join(work, 'pin');
  mkdirSync(join(pin, 'build/Release'), { recursive: true });
  const r = spawnSync('cp', ['-r', join(repo, 'dist'), pin]);
  if (r.status !== 0) return;
  // virtiofsd-ts: the C launcher, when built (the startup section runs it as users would)
  for (const f of ['vfsnative.node', 'vfs-supervisor', 'virtiofsd-ts']) {
    if (existsSync(join(repo, 'build/Release', f))) copyFileSync(join(repo, 'build/Release', f), join(pin, 'build/Release', f));
  }
  spawnSync('chmod', ['+x', join(pin, 'build/Release/vfs-supervisor')]);
  if (existsSync(join(pin, 'build/Release/virtiofsd-ts'))) spawnSync('chmod', ['+x', join(pin, 'build/Release/virtiofsd-ts')]);
  copyFileSync(join(repo, 'package.json'), join(pin, 'package.json'));
  spawnSync('ln', ['-s', join(repo, 'node_modules'), join(pin, 'node_modules')]);
  TS_BIN = join(pin, 'dist/cli/virtiofsd.js');
  VUFS_BIN = join(pin, 'dist/cli/vufs.js');
  PIN_ROOT = pin;
  // Run the daemon as an installed `virtiofsd-ts` runs: through its #! line (which, for one,
  // drops NODE_EXTRA_CA_CERTS — a daemon that makes no TLS connection need not parse CAs).
  TS_DIRECT = spawnSync('chmod', ['+x', TS_BIN]).status === 0;
}
const RUST_BIN = join(here, '.peers/rust/virtiofsd');
const C_BIN = existsSync(join(here, '.peers/c/virtiofsd')) ? join(here, '.peers/c/virtiofsd') : '/usr/lib/qemu/virtiofsd';
const NAMES = { ts: 'virtiofsd-ts', rust: 'Rust 1.14', c: 'C 7.2', host: 'host limit' };
const DAEMON_KINDS = opt.daemons.split(',');
for (const d of DAEMON_KINDS) if (!NAMES[d] || d === 'host') die(`unknown daemon ${d}`);
const unavailable = {}; // kind -> reason

function daemonArgv(kind, pool, sock, share, extraNode = []) {
  switch (kind) {
    case 'ts': {
      const args = [`--socket-path=${sock}`, `--shared-dir=${share}`, '--log-level=error', `--thread-pool-size=${pool}`,
        ...(SANDBOX_NONE ? ['--sandbox=none', '--seccomp=none'] : [])];
      return TS_DIRECT && extraNode.length === 0 ? [TS_BIN, args] : [process.execPath, [...extraNode, TS_BIN, ...args]];
    }
    case 'rust':
      return [RUST_BIN, [`--socket-path=${sock}`, `--shared-dir=${share}`, '--log-level=error', `--thread-pool-size=${pool}`,
        ...(SANDBOX_NONE ? ['--sandbox=none', '--seccomp=none'] : [])]];
    case 'c':
      return [C_BIN, [`--socket-path=${sock}`, '-o', `source=${share}`, '-o', 'log_level=err', `--thread-pool-size=${pool}`,
        ...(SANDBOX_NONE ? ['-o', 'sandbox=chroot'] : [])]];
  }
  throw new Error(kind);
}

let sockSeq = 0;
/** Spawns a daemon; resolves { child, sock, spawnedAt, stderr(), exited } once its socket listens. */
async function startDaemon(kind, pool, share, { extraNode = [], env } = {}) {
  if (unavailable[kind]) throw new Error(unavailable[kind]);
  const sock = join(work, `d${sockSeq++}.sock`);
  const [cmd, args] = daemonArgv(kind, pool, sock, share, extraNode);
  const spawnedAt = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: env ?? process.env });
  live.add(child);
  let err = '';
  child.stderr.on('data', (b) => { if (err.length < 65536) err += b; });
  let status;
  const exited = new Promise((r) => {
    child.on('exit', (code, sig) => { status = code ?? sig; live.delete(child); r(status); });
    child.on('error', (e) => { err += e.message; status = 'spawn-error'; live.delete(child); r(status); });
  });
  const h = { kind, pool, child, sock, spawnedAt, exited, stderr: () => err, status: () => status };
  const deadline = Date.now() + 20_000;
  let seenAt;
  while (Date.now() < deadline) {
    if (status !== undefined) throw new Error(`${NAMES[kind]} exited (${status}) before listening: ${err.trim().split('\n').slice(-2).join(' | ')}`);
    if (existsSync(sock)) {
      seenAt ??= Date.now();
      if (isListening(sock) || Date.now() - seenAt > 250) return h;
    }
    await sleep(5);
  }
  killTree(child);
  throw new Error(`${NAMES[kind]} did not listen on ${sock} within 20 s`);
}
function isListening(sock) {
  try {
    return readFileSync('/proc/net/unix', 'utf8').split('\n').some((l) => l.endsWith(` ${sock}`) && l.split(/\s+/)[3] === '00010000');
  } catch {
    return false;
  }
}
/** Waits for a daemon to exit on its own (they exit when the front-end disconnects), else kills it. */
async function stopDaemon(h, graceMs = 5000) {
  const r = await Promise.race([h.exited, sleep(graceMs).then(() => 'timeout')]);
  if (r === 'timeout') {
    killTree(h.child, 'SIGTERM');
    const r2 = await Promise.race([h.exited, sleep(2000).then(() => 'timeout')]);
    if (r2 === 'timeout') killTree(h.child, 'SIGKILL');
    await h.exited;
  }
  rmSync(h.sock, { force: true });
  return r;
}

/** Runs a command detached with a timeout; resolves { code, stdout, stderr }. */
function run(cmd, args, { timeoutMs = 120_000, onSpawn } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    live.add(child);
    onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => { if (stderr.length < 65536) stderr += b; });
    const timer = setTimeout(() => { stderr += `\n(timed out after ${timeoutMs / 1000} s)`; killTree(child); }, timeoutMs);
    child.on('error', (e) => { stderr += e.message; });
    child.on('close', (code, sig) => { clearTimeout(timer); live.delete(child); resolve({ code: code ?? sig, stdout, stderr }); });
  });
}

async function vufs(sock, workload, qd, seconds, extra = [], timeoutMs = seconds * 1000 + 30_000) {
  const r = await run(process.execPath, [VUFS_BIN, 'load', '--socket', sock, '--workload', workload, '--qd', String(qd),
    '--seconds', String(seconds), '--json', ...extra], { timeoutMs });
  const line = r.stdout.trim().split('\n').pop();
  if (r.code !== 0 || !line?.startsWith('{')) throw new Error(`vufs ${workload}: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  return JSON.parse(line);
}

// ------------------------------------------------------------------------------------------
// preparation: peers, hostio, the shared directory

function preparePeers() {
  if (DAEMON_KINDS.includes('rust') && !existsSync(RUST_BIN)) {
    log('fetching the peers (bench/fetch-peers.sh)');
    const r = spawnSync('sh', [join(here, 'fetch-peers.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) log(`fetch-peers.sh failed: ${(r.stderr ?? '').trim().split('\n').slice(-2).join(' | ')}`);
  }
  if (DAEMON_KINDS.includes('rust') && !existsSync(RUST_BIN)) unavailable.rust = 'Rust virtiofsd not available (bench/fetch-peers.sh failed)';
  if (DAEMON_KINDS.includes('c') && !existsSync(C_BIN)) unavailable.c = `${C_BIN} missing (apt-get install qemu-system-common)`;
  if (!existsSync(TS_BIN) || !existsSync(VUFS_BIN)) die('dist/ is missing: run `npx tsc -p tsconfig.json` (npm run bench does)');
}
function version(kind) {
  if (unavailable[kind]) return 'unavailable';
  if (kind === 'ts') return `virtiofsd-ts ${JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version} (node ${process.version})`;
  const r = spawnSync(kind === 'rust' ? RUST_BIN : C_BIN, ['--version'], { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').trim().split('\n')[0];
}

// Build outputs (git-ignored): compiled here for this host, never kept in the tree.
const BUILD = join(here, '.build');
const HOSTIO = join(BUILD, 'hostio');
/** Compiles bench/hostio.c into bench/.build/hostio unless the binary is newer than the source. */
function buildHostio() {
  const src = join(here, 'hostio.c');
  if (existsSync(HOSTIO) && statSync(HOSTIO).mtimeMs > statSync(src).mtimeMs) return null;
  log(`building ${HOSTIO} from ${src} (gcc)`);
  mkdirSync(BUILD, { recursive: true });
  // Linked under a temporary name and renamed: a failed or concurrent build never leaves a torn binary.
  const tmp = `${HOSTIO}.${process.pid}`;
  const r = spawnSync('gcc', ['-O2', '-pthread', '-o', tmp, src, '-lm'], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    return `gcc failed: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`;
  }
  renameSync(tmp, HOSTIO);
  return null;
}
async function hostio(dir, workload, threads, seconds) {
  const r = await run(HOSTIO, [dir, workload, String(threads), String(seconds)], { timeoutMs: seconds * 1000 + 60_000 });
  const line = r.stdout.trim().split('\n').pop();
  if (r.code !== 0 || !line?.startsWith('{')) throw new Error(`hostio ${workload}: exit ${r.code}: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(line);
}

/** The files `vufs load --share` would make, made once for every daemon (same files, same cache). */
function prepareShare(share) {
  mkdirSync(share, { recursive: true, mode: 0o755 });
  const size = 64 << 20;
  const chunk = Buffer.alloc(1 << 20);
  let x = 0x12345678;
  for (let i = 0; i < chunk.length; i += 4) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; chunk.writeUInt32LE(x, i); }
  const fd = openSync(join(share, 'vufs-data.bin'), 'w');
  for (let off = 0; off < size; off += chunk.length) writeSync(fd, chunk, 0, chunk.length, off);
  closeSync(fd);
  for (const [dir, prefix, n] of [['vufs-lookup', 'f', 1000], ['vufs-readdir', 'e', 10000]]) {
    mkdirSync(join(share, dir), { recursive: true });
    for (let i = 0; i < n; i++) closeSync(openSync(join(share, dir, prefix + String(i).padStart(6, '0')), 'a'));
  }
  mkdirSync(join(share, 'vufs-create'), { recursive: true });
}

// ------------------------------------------------------------------------------------------
// sections

const WORKLOADS = [
  { id: 'randread4k-qd1', workload: 'randread4k', qd: 1, unit: 'ops' },
  { id: 'randread4k-qd16', workload: 'randread4k', qd: 16, unit: 'ops' },
  { id: 'randread4k-qd64', workload: 'randread4k', qd: 64, unit: 'ops' },
  { id: 'seqread1m', workload: 'seqread1m', qd: 16, unit: 'MB' },
  { id: 'seqwrite1m', workload: 'seqwrite1m', qd: 16, unit: 'MB' },
  { id: 'lookup', workload: 'lookup', qd: 16, unit: 'ops' },
  { id: 'create', workload: 'create', qd: 16, unit: 'ops' },
  { id: 'readdir', workload: 'readdir', qd: 16, unit: 'ops' },
  // No host column: bench/hostio.c has no getdents + fstatat loop.
  { id: 'readdirplus', workload: 'readdirplus', qd: 16, unit: 'ops', noHost: true },
];
const CONFIGS = DAEMON_KINDS.flatMap((kind) => POOLS.map((pool) => ({ kind, pool, key: `${kind}/${pool}` })));
const label = (c) => (c.kind === 'host' ? NAMES.host : `${NAMES[c.kind]} p${c.pool}`);

const results = {
  meta: {}, vufs: {}, hostmount: {}, rss: {}, startup: {}, scale: {}, guest: {}, profile: {}, failures: [],
};
const fail = (where, e) => {
  const msg = `${where}: ${e instanceof Error ? e.message : String(e)}`.replace(/\s+/g, ' ').slice(0, 400);
  results.failures.push(msg);
  log(`FAIL ${msg}`);
};
const hung = new Set(); // "<cell> <config>" that timed out once: later rounds skip them
const push = (obj, k1, k2, v) => (((obj[k1] ??= {})[k2] ??= []).push(v));

async function sectionVufs(share) {
  const withLimit = sections.has('limit') && !results.meta.hostioError;
  const withDaemons = sections.has('vufs');
  const cells = [...(withDaemons ? CONFIGS : []), ...(withLimit ? [{ kind: 'host', pool: 0, key: 'host' }] : [])];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [wi, w] of WORKLOADS.entries()) {
      for (const c of rotate(cells, round + wi)) {
        if (c.kind === 'host') {
          if (w.noHost) continue;
          const threads = Math.min(w.qd, NPROC);
          try {
            const r = await hostio(share, w.workload, threads, SECONDS);
            push(results.vufs, w.id, 'host', r);
            log(`${w.id} host (${threads} threads) #${round}: ${r.ops_per_s} ops/s ${r.mb_per_s} MB/s`);
          } catch (e) { fail(`limit ${w.id}`, e); push(results.vufs, w.id, 'host', { error: String(e.message) }); }
          continue;
        }
        const hk = `${w.id} ${c.key}`;
        if (hung.has(hk)) { push(results.vufs, w.id, c.key, { error: 'skipped: hung in an earlier round' }); continue; }
        let h;
        try {
          h = await startDaemon(c.kind, c.pool, share);
          const r = await vufs(h.sock, w.workload, w.qd, SECONDS);
          r.daemon_exit = await stopDaemon(h);
          if (r.errors > 0) fail(`vufs ${w.id} ${label(c)}`, `${r.errors} error replies (${r.error_sample})`);
          push(results.vufs, w.id, c.key, r);
          log(`${w.id} ${label(c)} #${round}: ${r.ops_per_s} ops/s ${r.mb_per_s} MB/s p99 ${r.p99_us} µs`);
        } catch (e) {
          fail(`vufs ${w.id} ${label(c)}`, e);
          if (/timed out/.test(e.message)) hung.add(hk);
          push(results.vufs, w.id, c.key, { error: String(e.message) });
          if (h) await stopDaemon(h, 0);
        }
      }
    }
  }
}

async function sectionRss(share) {
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of rotate(CONFIGS, round)) {
      const r = { idle: null, lookups: null, load: null };
      // idle (listening, no front-end yet), then 100k lookups on the same daemon: the last sample
      await rssPhase(c, share, 'lookups', async (h) => {
        await sleep(500);
        r.idle = treeRss(h.child.pid);
        // the last sample with the whole tree alive (at the end the serving child exits first)
        let last = null;
        const t = setInterval(() => { const x = treeRss(h.child.pid); if (x.procs >= (last?.procs ?? r.idle.procs)) last = x; }, 50);
        try {
          await vufs(h.sock, 'lookup', 16, 300, ['--requests', '100000', '--warmup', '0'], 60_000);
        } finally { clearInterval(t); }
        r.lookups = last;
      });
      // under load: randread4k qd64, the maximum over the run
      await rssPhase(c, share, 'load', async (h) => {
        let max = null;
        const t = setInterval(() => { const x = treeRss(h.child.pid); if (x.procs && (!max || x.rss > max.rss)) max = x; }, 50);
        try {
          await vufs(h.sock, 'randread4k', 64, Math.max(2, SECONDS));
        } finally { clearInterval(t); }
        r.load = max;
      });
      log(`rss ${label(c)} #${round}: idle ${r.idle?.rss} KiB, 100k lookups ${r.lookups?.rss} KiB, load ${r.load?.rss} KiB`);
      push(results.rss, c.key, 'runs', r);
    }
  }
}
async function rssPhase(c, share, phase, body) {
  const hk = `rss-${phase} ${c.key}`;
  if (hung.has(hk)) return;
  let h;
  try {
    h = await startDaemon(c.kind, c.pool, share);
    await body(h);
    await stopDaemon(h);
  } catch (e) {
    fail(`rss ${phase} ${label(c)}`, e);
    if (/timed out/.test(e.message)) hung.add(hk);
    if (h) await stopDaemon(h, 0);
  }
}

/**
 * bench/scale.mjs (issue 13): each daemon with its defaults serves a tmpfs tree of a million
 * files while a find -ls walk keeps every inode; entries served, time, descriptors, RSS/inode.
 */
async function sectionScale() {
  results.scale = await runScale({ root: PIN_ROOT, rustBin: RUST_BIN, cBin: C_BIN, daemons: DAEMON_KINDS, log: (m) => log(`scale: ${m}`) });
  for (const r of results.scale.rows) if (r.error) fail(`scale ${r.name}`, r.error);
}

/**
 * bench/startup.mjs (issue 12): spawn → GET_FEATURES reply, → end of QEMU's start-up handshake,
 * → FUSE_INIT reply, and idle RSS, for each launch of each daemon and a bare-node floor; runs
 * interleaved round-robin. It runs the pinned build (the C launcher when it was built).
 */
async function sectionStartup() {
  const runs = quick ? 3 : Math.max(3, 3 * ROUNDS);
  results.startup = await runStartup({
    runs, root: PIN_ROOT, rustBin: RUST_BIN, cBin: C_BIN, daemons: DAEMON_KINDS, work: join(work, 'startup'),
    log: (m) => log(`startup: ${m}`),
  });
  for (const row of results.startup.rows) {
    if (row.unavailable) continue;
    for (const r of row.runs) if (r.error) fail(`startup ${row.name}`, r.error);
  }
}

const HM_WORKLOADS = [
  { id: 'randread4k-1t', workload: 'randread4k', threads: 1, unit: 'ops' },
  { id: `randread4k-${NPROC}t`, workload: 'randread4k', threads: NPROC, unit: 'ops' },
  { id: 'seqread1m', workload: 'seqread1m', threads: 1, unit: 'MB' },
  { id: 'seqwrite1m', workload: 'seqwrite1m', threads: 1, unit: 'MB' },
  { id: 'lookup (stat)', workload: 'lookup', threads: 1, unit: 'ops' },
  { id: 'create', workload: 'create', threads: 1, unit: 'ops' },
  { id: 'readdir', workload: 'readdir', threads: 1, unit: 'ops' },
];
const HM_TARGETS = [
  { key: 'plain', name: 'plain directory' },
  { key: 'ts/0', name: 'virtiofsd-ts --mount p0' },
  ...(quick ? [] : [{ key: `ts/${POOL}`, name: `virtiofsd-ts --mount p${POOL}` }]),
  { key: 'fuse-native', name: 'fuse-native passthrough' },
];

async function mountTarget(t, share, mnt) {
  mkdirSync(mnt, { recursive: true });
  const [cmd, args] = t.key === 'fuse-native'
    ? [process.execPath, [join(here, 'fuse-native-passthrough.cjs'), share, mnt]]
    : [process.execPath, [TS_BIN, '--shared-dir', share, '--mount', mnt, '--log-level=error', `--thread-pool-size=${t.key.split('/')[1]}`]];
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  live.add(child);
  mounts.add(mnt);
  let err = '';
  let status;
  child.stderr.on('data', (b) => (err += b));
  const exited = new Promise((r) => child.on('exit', (c, s) => { status = c ?? s; live.delete(child); r(status); }));
  const deadline = Date.now() + 20_000;
  while (!/^Mounted /m.test(err)) {
    if (status !== undefined) {
      throw new Error(status === 3 ? 'fuse-native not installed (a devDependency: run npm install; or set FUSE_NATIVE_DIR to a folder holding node_modules/fuse-native)' : `exited ${status}: ${err.trim().split('\n').pop()}`);
    }
    if (Date.now() > deadline) { killTree(child); throw new Error('not mounted within 20 s'); }
    await sleep(20);
  }
  return {
    async stop() {
      killTree(child, 'SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (status === undefined) killTree(child, 'SIGKILL');
      spawnSync('umount', [mnt], { stdio: 'ignore' });
      spawnSync('umount', ['-l', mnt], { stdio: 'ignore' });
      mounts.delete(mnt);
    },
  };
}

async function sectionHostmount(share) {
  if (results.meta.hostioError) { fail('hostmount', results.meta.hostioError); return; }
  if (!existsSync('/dev/fuse')) { fail('hostmount', '/dev/fuse missing'); return; }
  const secs = Math.max(1, SECONDS - 0.5);
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of rotate(HM_TARGETS, round)) {
      const mnt = join(work, `mnt-${t.key.replace('/', '-')}`);
      let m;
      try {
        m = t.key === 'plain' ? null : await mountTarget(t, share, mnt);
        const dir = t.key === 'plain' ? share : mnt;
        for (const w of HM_WORKLOADS) {
          try {
            const r = await hostio(dir, w.workload, w.threads, secs);
            push(results.hostmount, w.id, t.key, r);
          } catch (e) { fail(`hostmount ${t.name} ${w.id}`, e); push(results.hostmount, w.id, t.key, { error: String(e.message) }); }
        }
        log(`hostmount ${t.name} #${round}: ${HM_WORKLOADS.map((w) => { const x = results.hostmount[w.id]?.[t.key]?.at(-1); return `${w.id} ${w.unit === 'MB' ? x?.mb_per_s : x?.ops_per_s}`; }).join(', ')}`);
      } catch (e) {
        fail(`hostmount ${t.name}`, e);
        for (const w of HM_WORKLOADS) push(results.hostmount, w.id, t.key, { error: String(e.message) });
      } finally {
        if (m) await m.stop();
      }
    }
  }
}

async function sectionGuest() {
  let image;
  try {
    image = prepareGuest(repo, log);
  } catch (e) { fail('guest', e); return; }
  // the kernel is whatever linux-image-amd64 resolves to today: the report names it
  results.meta.guestKernel = `${image.kver} (${basename(image.deb)})`;
  log(`guest: kernel ${results.meta.guestKernel}; 9p modules: ${image.mods9pError ?? image.mods9p.map(([, p]) => p).join(' ')}`);
  const backends = [...DAEMON_KINDS, '9p'];
  for (const b of backends) {
    const share = join(work, `guest-${b}`);
    mkdirSync(share, { recursive: true, mode: 0o755 });
    let h;
    try {
      if (b !== '9p') h = await startDaemon(b, 0, share);
      log(`guest fio: booting against ${b === '9p' ? 'QEMU 9p' : NAMES[b]}`);
      const r = await runGuestFio(image, { fs: b === '9p' ? '9p' : 'virtiofs', socketPath: h?.sock, sharedDir: share,
        runtime: quick ? 2 : 4, tmpDir: work, onChild: (c) => live.add(c) });
      results.guest[b] = r;
      if (r.mounted) log(`guest ${b}: mounted ${r.mounted}`);
      if (r.error) fail(`guest ${b}`, r.error);
      log(`guest ${b}: ${Object.entries(r.jobs).map(([k, v]) => `${k} ${Math.round(v.read_iops || v.write_iops)} IOPS`).join(', ')} (${r.seconds.toFixed(0)} s)`);
    } catch (e) {
      fail(`guest ${b}`, e);
      results.guest[b] = { jobs: {}, meta: {}, error: String(e.message) };
    } finally {
      if (h) await stopDaemon(h, 5000);
      rmSync(share, { recursive: true, force: true });
    }
  }
}

/** --cpu-prof of virtiofsd-ts (sandbox none, so the profile can be written) for three workloads. */
async function sectionProfile(share) {
  const dir = join(results.meta.outDir, `${results.meta.stamp}-profiles`);
  mkdirSync(dir, { recursive: true });
  for (const [w, qd] of [['randread4k', 64], ['lookup', 16], ['readdir', 16]]) {
    for (const pool of POOLS) {
      const pdir = join(work, `prof-${w}-${pool}`);
      mkdirSync(pdir, { recursive: true });
      let h;
      try {
        h = await startDaemonRaw(['--cpu-prof', `--cpu-prof-dir=${pdir}`], pool, share);
        const r = await vufs(h.sock, w, qd, Math.max(3, SECONDS + 1));
        await stopDaemon(h, 10_000);
        const files = readdirSync(pdir).filter((f) => f.endsWith('.cpuprofile'));
        if (!files.length) throw new Error('no .cpuprofile written');
        // the largest profile is the serving process (the supervisor's child with a sandbox)
        const f = files.map((x) => join(pdir, x)).sort((a, b) => statSync(b).size - statSync(a).size)[0];
        const dest = join(dir, `${w}-qd${qd}-p${pool}.cpuprofile`);
        copyFileSync(f, dest);
        results.profile[`${w}-qd${qd}-p${pool}`] = { ops_per_s: r.ops_per_s, daemon_cpu_us_per_op: r.daemon_cpu_us_per_op, file: dest, top: summariseProfile(f) };
        log(`profile ${w} qd${qd} p${pool}: ${r.ops_per_s} ops/s -> ${basename(dest)}`);
      } catch (e) {
        fail(`profile ${w} p${pool}`, e);
        if (h) await stopDaemon(h, 0);
      }
    }
  }
}
async function startDaemonRaw(nodeOpts, pool, share) {
  // virtiofsd-ts with extra node options, --sandbox=none --seccomp=none (the profile must be writable)
  const sock = join(work, `d${sockSeq++}.sock`);
  const args = [...nodeOpts, TS_BIN, `--socket-path=${sock}`, `--shared-dir=${share}`, '--log-level=error',
    `--thread-pool-size=${pool}`, '--sandbox=none', '--seccomp=none'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  live.add(child);
  let status;
  let err = '';
  child.stderr.on('data', (b) => (err += b));
  const exited = new Promise((r) => child.on('exit', (c, s) => { status = c ?? s; live.delete(child); r(status); }));
  const deadline = Date.now() + 20_000;
  while (!isListening(sock)) {
    if (status !== undefined || Date.now() > deadline) { killTree(child); throw new Error(`profiled daemon did not start: ${err.trim()}`); }
    await sleep(5);
  }
  return { kind: 'ts', pool, child, sock, exited, stderr: () => err };
}

/** Top self-time functions of a .cpuprofile. */
function summariseProfile(file) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const total = p.samples?.length || p.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0);
  const self = new Map();
  for (const n of p.nodes) {
    const cf = n.callFrame;
    const where = cf.url ? `${basename(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'}${where ? ' ' + where : ''}`;
    self.set(key, (self.get(key) ?? 0) + (n.hitCount ?? 0));
  }
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([fn, hits]) => ({ fn, pct: (100 * hits) / total }));
}

// ------------------------------------------------------------------------------------------
// report

const fmt = (v, unit) => {
  if (!Number.isFinite(v)) return '—';
  if (unit === 'MB') return v >= 100 ? v.toFixed(0) : v.toFixed(1);
  return v >= 10000 ? `${(v / 1000).toFixed(1)}k` : v >= 100 ? v.toFixed(0) : v.toFixed(1);
};
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '—');
function cellMedian(runs, unit, field) {
  const ok = (runs ?? []).filter((r) => !r.error);
  return median(ok.map((r) => r[field ?? (unit === 'MB' ? 'mb_per_s' : 'ops_per_s')]));
}
function cellText(runs, unit) {
  if (!runs?.length) return '—';
  const ok = runs.filter((r) => !r.error);
  if (!ok.length) return 'fail';
  return fmt(cellMedian(runs, unit), unit) + (ok.length < runs.length ? ` (${ok.length}/${runs.length})` : '');
}
function best(w, kind, unit) {
  const xs = POOLS.map((p) => cellMedian(results.vufs[w]?.[`${kind}/${p}`], unit)).filter(Number.isFinite);
  return xs.length ? Math.max(...xs) : NaN;
}

function summaryTable() {
  const cols = [...CONFIGS, ...(results.vufs[WORKLOADS[0].id]?.host ? [{ kind: 'host', key: 'host' }] : [])];
  const head = ['workload', 'unit', ...cols.map(label), 'ts ÷ Rust', 'ts ÷ C', 'ts % of host'];
  const rows = [head, head.map((_, i) => (i < 2 ? '---' : '---:'))];
  for (const w of WORKLOADS) {
    if (!results.vufs[w.id]) continue;
    const ts = best(w.id, 'ts', w.unit);
    const host = cellMedian(results.vufs[w.id].host, w.unit);
    rows.push([w.id, w.unit === 'MB' ? 'MB/s' : 'ops/s', ...cols.map((c) => cellText(results.vufs[w.id][c.key], w.unit)),
      ratio(ts, best(w.id, 'rust', w.unit)), ratio(ts, best(w.id, 'c', w.unit)),
      Number.isFinite(ts) && host > 0 ? `${((100 * ts) / host).toFixed(0)} %` : '—']);
  }
  return rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
}

function detailTable() {
  const rows = ['| workload | daemon | ops/s | MB/s | p50 µs | p99 µs | daemon CPU µs/op | ops/s min–max | ok runs |', '|---|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const w of WORKLOADS) {
    for (const c of [...CONFIGS, { kind: 'host', key: 'host' }]) {
      const runs = results.vufs[w.id]?.[c.key];
      if (!runs) continue;
      const ok = runs.filter((r) => !r.error);
      const m = (f) => median(ok.map((r) => r[f]));
      const ops = ok.map((r) => r.ops_per_s);
      rows.push(`| ${w.id} | ${label(c)} | ${fmt(m('ops_per_s'))} | ${fmt(m('mb_per_s'), 'MB')} | ${fmt(m('p50_us'))} | ${fmt(m('p99_us'))} | ${c.kind === 'host' ? '—' : m('daemon_cpu_us_per_op').toFixed(2)} | ${ok.length ? `${fmt(Math.min(...ops))}–${fmt(Math.max(...ops))}` : '—'} | ${ok.length}/${runs.length} |`);
    }
  }
  return rows.join('\n');
}

function rssMedian(key, phase, field = 'rss') {
  return median((results.rss[key]?.runs ?? []).map((r) => r[phase]?.[field]).filter((x) => x != null));
}
function rssTable() {
  const rows = ['| daemon | idle RSS MiB | after 100k lookups MiB | under load (randread4k qd64) MiB | idle anon MiB | load anon MiB | processes |', '|---|---:|---:|---:|---:|---:|---:|'];
  const mib = (k) => (Number.isFinite(k) ? (k / 1024).toFixed(1) : '—');
  for (const c of CONFIGS) {
    if (!results.rss[c.key]) continue;
    rows.push(`| ${label(c)} | ${mib(rssMedian(c.key, 'idle'))} | ${mib(rssMedian(c.key, 'lookups'))} | ${mib(rssMedian(c.key, 'load'))} | ${mib(rssMedian(c.key, 'idle', 'anon'))} | ${mib(rssMedian(c.key, 'load', 'anon'))} | ${rssMedian(c.key, 'load', 'procs')} |`);
  }
  return rows.join('\n');
}
function hostmountTable() {
  const head = ['workload (hostio)', 'unit', ...HM_TARGETS.map((t) => t.name), 'ts p0 % of plain', 'ts p0 ÷ fuse-native'];
  const rows = [head, head.map((_, i) => (i < 2 ? '---' : '---:'))];
  for (const w of HM_WORKLOADS) {
    const r = results.hostmount[w.id];
    if (!r) continue;
    const ts = cellMedian(r['ts/0'], w.unit);
    const plain = cellMedian(r.plain, w.unit);
    rows.push([w.id, w.unit === 'MB' ? 'MB/s' : 'ops/s', ...HM_TARGETS.map((t) => cellText(r[t.key], w.unit)),
      plain > 0 && Number.isFinite(ts) ? `${((100 * ts) / plain).toFixed(0)} %` : '—', ratio(ts, cellMedian(r['fuse-native'], w.unit))]);
  }
  return rows.map((x) => `| ${x.join(' | ')} |`).join('\n');
}
function guestTable() {
  const bs = Object.keys(results.guest);
  const head = ['fio job (guest, TCG, O_DIRECT)', ...bs.map((b) => (b === '9p' ? 'QEMU 9p' : `${NAMES[b]} p0`))];
  const rows = [head, head.map((_, i) => (i ? '---:' : '---'))];
  for (const [job] of GUEST_JOBS) {
    rows.push([`${job} ${job.startsWith('seq') ? 'MB/s' : 'IOPS'}`, ...bs.map((b) => {
      const j = results.guest[b].jobs[job];
      if (!j || j.error) return 'fail';
      const v = job.startsWith('seq') ? j.read_mb_s + j.write_mb_s : j.read_iops + j.write_iops;
      return fmt(v, job.startsWith('seq') ? 'MB' : 'ops');
    })]);
  }
  rows.push(['create 500 files/s (sh)', ...bs.map((b) => fmt(results.guest[b].meta.create500_per_s))]);
  return rows.map((x) => `| ${x.join(' | ')} |`).join('\n');
}

function targetsTable() {
  const rows = ['| target (issue 7) | measured | met? |', '|---|---|---|'];
  const r = (w, k) => best(w, 'ts', k === 'MB' ? 'MB' : 'ops') / best(w, 'rust', k === 'MB' ? 'MB' : 'ops');
  const add = (name, v, ok, text) => rows.push(`| ${name} | ${text ?? (Number.isFinite(v) ? v.toFixed(2) : '—')} | ${Number.isFinite(v) ? (ok ? 'yes' : '**no**') : 'n/a'} |`);
  if (results.vufs['randread4k-qd64']) add('randread4k QD64 ≥ 1.2× Rust', r('randread4k-qd64'), r('randread4k-qd64') >= 1.2);
  if (results.vufs['randread4k-qd1']) add('randread4k QD1 ≥ 1.0× Rust', r('randread4k-qd1'), r('randread4k-qd1') >= 1.0);
  if (results.vufs.seqread1m) {
    add('seqread1m ≥ 1.0× Rust', r('seqread1m', 'MB'), r('seqread1m', 'MB') >= 1.0);
    const pct = (100 * best('seqread1m', 'ts', 'MB')) / cellMedian(results.vufs.seqread1m.host, 'MB');
    add('seqread1m ≥ 70 % of host pread', pct, pct >= 70, Number.isFinite(pct) ? `${pct.toFixed(0)} %` : '—');
  }
  if (results.vufs.lookup) add('lookup ≥ 1.0× Rust', r('lookup'), r('lookup') >= 1.0);
  if (results.rss['ts/0']) {
    const v = rssMedian('ts/0', 'idle') / 1024;
    add('idle RSS (all processes) ≤ 45 MiB', v, v <= 45, `${v.toFixed(1)} MiB`);
  }
  if (results.startup.rows) {
    const v = startupRatios(results.startup).ts?.floor;
    const gf = (id) => startupSummary(results.startup).find((x) => x.id === id)?.get_features_ms?.median;
    add(`spawn → GET_FEATURES reply ≤ ${FLOOR_TARGET}× bare node (issue 12)`, v, v <= FLOOR_TARGET,
      Number.isFinite(v) ? `${v.toFixed(2)}× (${gf('ts').toFixed(0)} vs ${gf('floor').toFixed(0)} ms)` : '—');
  }
  rows.push('', 'Ratios compare each daemon at its better thread-pool setting (best of the pools measured).');
  return rows.join('\n');
}

function profileSection() {
  const out = [];
  for (const [k, p] of Object.entries(results.profile)) {
    out.push(`**${k}** (${p.ops_per_s} ops/s under --cpu-prof, daemon ${p.daemon_cpu_us_per_op} µs CPU/op; \`${basename(p.file)}\`)`, '', '| self % | function |', '|---:|---|');
    for (const t of p.top) out.push(`| ${t.pct.toFixed(1)} | \`${t.fn}\` |`);
    out.push('');
  }
  return out.join('\n');
}

function plots(outDir, stamp) {
  const files = [];
  const write = (name, svg) => { writeFileSync(join(outDir, `${stamp}-${name}.svg`), svg); files.push(`${stamp}-${name}.svg`); };
  const ws = WORKLOADS.filter((w) => results.vufs[w.id]);
  if (ws.length) {
    const series = CONFIGS.filter((c) => c.kind !== 'rust').map((c) => ({
      name: `${label(c)} ÷ Rust p${c.pool}`,
      values: ws.map((w) => cellMedian(results.vufs[w.id][c.key], w.unit) / cellMedian(results.vufs[w.id][`rust/${c.pool}`], w.unit)),
    }));
    write('ratio-vs-rust', barChart({ title: 'vufs load: throughput relative to the Rust virtiofsd (same pool size)', yLabel: 'ratio (1 = Rust)', categories: ws.map((w) => w.id), series, refLine: 1, formatY: (y) => y.toFixed(2) }));
    const withHost = [...CONFIGS, { kind: 'host', key: 'host' }];
    write('pct-of-host', barChart({ title: 'vufs load: % of the host limit (pread/pwrite, stat, getdents)', yLabel: '% of host', categories: ws.map((w) => w.id),
      series: CONFIGS.map((c) => ({ name: label(c), values: ws.map((w) => (100 * cellMedian(results.vufs[w.id][c.key], w.unit)) / cellMedian(results.vufs[w.id].host, w.unit)) })), formatY: (y) => y.toFixed(0) }));
    void withHost;
  }
  if (results.vufs['randread4k-qd1']) {
    // line chart over queue depth (src/report/svg-line-chart.ts)
    const lc = linechart;
    if (lc) {
      const series = [...CONFIGS, { kind: 'host', key: 'host' }].map((c) => ({
        name: label(c),
        points: [1, 16, 64].map((qd) => ({ x: qd, y: cellMedian(results.vufs[`randread4k-qd${qd}`]?.[c.key], 'ops') })).filter((p) => Number.isFinite(p.y)),
      })).filter((s) => s.points.length);
      write('randread4k-qd', lc(series, { title: 'randread4k: requests/s by queue depth', xLabel: 'queue depth', yLabel: 'ops/s', xLog2: true, formatY: (y) => `${(y / 1000).toFixed(0)}k` }));
    }
  }
  if (Object.keys(results.rss).length) {
    const cs = CONFIGS.filter((c) => results.rss[c.key]);
    write('rss', barChart({ title: 'RSS of all daemon processes', yLabel: 'MiB', categories: cs.map(label),
      series: [['idle', 'idle'], ['after 100k lookups', 'lookups'], ['randread4k qd64', 'load']].map(([n, ph]) => ({ name: n, values: cs.map((c) => rssMedian(c.key, ph) / 1024) })), formatY: (y) => y.toFixed(0) }));
  }
  if (results.startup.rows) {
    const ss = startupSummary(results.startup).filter((x) => !x.unavailable);
    const m = (f) => ss.map((x) => x[f]?.median ?? NaN);
    write('startup', barChart({ title: 'spawn → replies (median)', yLabel: 'ms', categories: ss.map((x) => x.name),
      series: [{ name: 'GET_FEATURES', values: m('get_features_ms') }, { name: 'handshake done', values: m('handshake_ms') }, { name: 'FUSE_INIT', values: m('init_ms') }],
      formatY: (y) => y.toFixed(0) }));
  }
  return files;
}
let linechart;

function machine() {
  const cpu = (readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) ?? [])[1] ?? '?';
  return `${NPROC} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, node ${process.version}`;
}

function writeReport() {
  const { stamp, outDir } = results.meta;
  const svgs = plots(outDir, stamp);
  const md = [];
  md.push(`# virtiofsd-ts benchmark — ${results.meta.date}`, '');
  md.push(`Machine: ${machine()}. Load average at start ${results.meta.loadStart}, at end ${results.meta.loadEnd} (other jobs on the machine show up as noise; every cell interleaves the daemons and takes the median).`, '');
  md.push(`Run: \`node bench/run.mjs ${process.argv.slice(2).join(' ')}\` — ${ROUNDS} round(s), ${SECONDS} s per vufs run, thread pools ${POOLS.join(' and ')}, sandbox ${SANDBOX_NONE ? 'off (ts/Rust: --sandbox=none --seccomp=none; C: -o sandbox=chroot)' : 'each daemon\'s default (namespace + seccomp)'}, cache auto; took ${results.meta.minutes.toFixed(1)} min.`, '');
  md.push('Daemons: ' + DAEMON_KINDS.map((k) => `${NAMES[k]} = \`${results.meta.versions[k]}\``).join('; ') + '.', '');
  if (Object.keys(results.vufs).length) {
    md.push('## Summary: `vufs load` (userspace front-end, no VM)', '');
    md.push(`Median ${WORKLOADS[0].unit === 'ops' ? 'requests/s' : ''} (MB/s for seq*) over the rounds; \`pN\` = \`--thread-pool-size N\`. QD: randread4k as named, others 16. "host" = the same access pattern with plain system calls on the shared directory (bench/hostio.c, min(QD, ${NPROC}) threads). Ratios: best pool setting of each daemon.`, '');
    md.push(summaryTable(), '');
    md.push('### Targets', '', targetsTable(), '');
  }
  if (Object.keys(results.rss).length || results.startup.rows) {
    md.push('## Memory and start-up', '');
    if (Object.keys(results.rss).length) md.push('RSS summed over the daemon\'s whole process tree (sandbox parents, supervisor + node child). Idle = listening, 0.5 s after start; "after 100k lookups" = last sample (50 ms period) before the front-end disconnects; load = maximum during randread4k QD64. "anon" = RssAnon (private memory; the rest is shared libraries and the guest RAM the daemon touched).', '', rssTable(), '');
    if (results.startup.rows) md.push(startupNote(results.startup), '', startupTable(results.startup), '');
  }
  if (results.scale.rows) md.push('## Scale: a million inodes held by the guest (bench/scale.mjs)', '', `Each daemon with its default options serves a tmpfs tree of ${results.scale.dirs} × ${results.scale.files} empty files; a front-end walks it as \`find -ls\` does (READDIRPLUS every directory, GETATTR every entry, 8 directories at once) and keeps every inode, as a guest's dentry cache does. Descriptors: the serving process's, at the end; RSS: all processes, after the INIT reply → at the end.`, '', scaleTable(results.scale), '');
  if (Object.keys(results.hostmount).length) md.push('## Host mount (`virtiofsd-ts --mount`) vs a fuse-native passthrough vs the plain directory', '', `bench/hostio.c on each mount point (same source directory, warm page cache; FUSE keeps its page cache with cache=auto, so cached reads mostly measure the kernel).`, '', hostmountTable(), '');
  if (Object.keys(results.guest).length) md.push('## Guest fio (QEMU TCG, for the record)', '', 'One boot per back-end, fio in the guest with O_DIRECT on a 32 MiB file. TCG bounds these numbers (DESIGN §4). Guest kernel ' + results.meta.guestKernel + '. 9p: `-virtfs local,security_model=passthrough`, `trans=virtio,version=9p2000.L,msize=512000`.', '', guestTable(), '');
  if (Object.keys(results.profile).length) md.push('## Where virtiofsd-ts spends its time (`node --cpu-prof`, top self time)', '', profileSection());
  md.push('## Detail: `vufs load`', '', detailTable(), '');
  if (svgs.length) md.push('## Plots', '', ...svgs.map((f) => `![${f}](${f})`), '');
  md.push('## Failures', '', results.failures.length ? results.failures.map((f) => `- ${f}`).join('\n') : 'none', '');
  const text = md.join('\n');
  const mdFile = join(outDir, `${stamp}.md`);
  writeFileSync(mdFile, text);
  writeFileSync(join(outDir, `${stamp}.json`), JSON.stringify(results, null, 1));
  return { mdFile, text };
}

function updateReadme(mdFile) {
  const readme = join(here, 'README.md');
  const begin = '<!-- bench:latest:begin -->';
  const end = '<!-- bench:latest:end -->';
  const cur = readFileSync(readme, 'utf8');
  if (!cur.includes(begin) || !cur.includes(end)) return;
  const body = [begin, '', `Latest full run: [results/${basename(mdFile)}](results/${basename(mdFile)}) (${results.meta.date}).`, '', summaryTable(), '', targetsTable(), '', end].join('\n');
  writeFileSync(readme, cur.slice(0, cur.indexOf(begin)) + body + cur.slice(cur.indexOf(end) + end.length));
}

// ------------------------------------------------------------------------------------------

async function main() {
  const t0 = Date.now();
  const now = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  results.meta = {
    date: now.toISOString().replace('T', ' ').slice(0, 16) + ' UTC',
    stamp: `${now.getUTCFullYear()}-${pad(now.getUTCMonth() + 1)}-${pad(now.getUTCDate())}-${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${quick ? '-quick' : ''}`,
    outDir: opt.out, loadStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    rounds: ROUNDS, seconds: SECONDS, pools: POOLS, sandbox: opt.sandbox, sections: [...sections],
  };
  mkdirSync(opt.out, { recursive: true });
  preparePeers();
  results.meta.versions = Object.fromEntries(DAEMON_KINDS.map((k) => [k, version(k)]));
  // only the sections that run hostio need a compiler
  const hostioErr = sections.has('limit') || sections.has('hostmount') ? buildHostio() : null;
  if (hostioErr) { results.meta.hostioError = hostioErr; fail('hostio', hostioErr); }
  work = mkdtempSync(join(os.tmpdir(), 'vfs-bench-'));
  pinBuild();
  try {
    linechart = (await import(join(PIN_ROOT, 'dist/report/svg-line-chart.js'))).lineChart;
  } catch { /* no line chart */ }
  const share = join(work, 'share');
  log(`preparing ${share}`);
  prepareShare(share);
  log(`sections: ${[...sections].join(', ')}; ${ROUNDS} round(s) × ${SECONDS} s; pools ${POOLS.join(',')}; daemons ${DAEMON_KINDS.join(',')}`);

  if (sections.has('vufs') || sections.has('limit')) await sectionVufs(share);
  if (sections.has('rss')) await sectionRss(share);
  if (sections.has('startup')) await sectionStartup();
  if (sections.has('scale')) await sectionScale();
  if (sections.has('hostmount')) await sectionHostmount(share);
  if (sections.has('guest')) await sectionGuest();
  if (sections.has('profile')) await sectionProfile(share);

  results.meta.loadEnd = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  results.meta.minutes = (Date.now() - t0) / 60000;
  const { mdFile } = writeReport();
  const full = !quick && !opt.only && !opt.rounds && !opt.seconds;
  if (full && !opt['no-readme']) updateReadme(mdFile);
  process.stdout.write(`\n${Object.keys(results.vufs).length ? summaryTable() + '\n\n' + targetsTable() + '\n\n' : ''}` +
    `${Object.keys(results.rss).length ? rssTable() + '\n\n' : ''}${results.startup.rows ? startupTable(results.startup) + '\n\n' : ''}` +
    `${results.scale.rows ? scaleTable(results.scale) + '\n\n' : ''}` +
    `${results.failures.length ? `${results.failures.length} failure(s), see the report\n` : ''}report: ${mdFile} (${results.meta.minutes.toFixed(1)} min)\n`);
}

main().then(() => { cleanup(); process.exit(0); }, (e) => { log(`fatal: ${e.stack ?? e}`); cleanup(); process.exit(1); });
