#!/usr/bin/env node
// Memory figures of the daemon (docs/sandbox.md, Memory, quotes them). A benchmark, not a test:
// absolute RSS depends on the Node build, the kernel, the page cache and what else the machine
// is doing, so nothing here passes or fails — it prints. The tests keep only what cannot depend
// on that (test/integration/sandbox/rss.test.ts: the idle trim runs, inside the sandbox too;
// test/unit/native/memory-trim.test.ts: the trim is sane and the process keeps working).
//
//   node bench/memory.mjs [--modes namespace,none] [--seconds 2] [--rounds 10] [--json]
//
// As root (the namespace sandbox), after `npm run build` (uses dist/ and build/Release/):
//   1. total RSS of all the daemon's processes (VmRSS summed: with --sandbox=namespace the C
//      supervisor and the serving Node process), per sandbox mode, --thread-pool-size=4:
//      idle (listening, measured once the idle trim has logged that it ran — an event, not a
//      delay), idle with a session up, and the peak under randread4k / randwrite4k / seqread1m
//      at QD 32 (sampled every 50 ms; a daemon per workload, as each serves one connection);
//   2. RSS after each of --rounds identical rounds of work on one session (create, write, read,
//      release, lookup, forget, unlink of 200 files): whether it settles or keeps growing;
//   3. native/memory_trim.cc in a bare node: bytes listed and dropped, RssFile before and after.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { constants as fsc } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const DAEMON = join(REPO, 'dist', 'cli', 'virtiofsd.js');
const ADDON = process.env.VIRTIOFSD_TS_ADDON ?? join(REPO, 'build', 'Release', 'vfsnative.node');
const { runLoad } = await import(join(REPO, 'dist', 'frontend', 'load.js'));
const { VhostUserFrontend } = await import(join(REPO, 'dist', 'frontend', 'vhost-user-frontend.js'));
const { FuseClient } = await import(join(REPO, 'dist', 'frontend', 'fuse-client.js'));

const { values: opt } = parseArgs({
  options: {
    modes: { type: 'string', default: 'namespace,none' },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});
const MODES = opt.modes.split(',');
const SECONDS = Number(opt.seconds);
const ROUNDS = Number(opt.rounds);
const log = (msg) => {
  if (!opt.json) console.log(msg);
};

// ---- /proc ----------------------------------------------------------------------------------

function status(pid) {
  const out = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return out;
}

const kib = (s, key) => Number(/\d+/.exec(s[key] ?? '0')?.[0] ?? 0);

function childrenOf(pid) {
  const out = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text !== '') out.push(...text.split(/\s+/).map(Number));
    } catch {
      /* thread gone */
    }
  }
  return out;
}

/** The daemon's processes: the supervisor and its serving child, or the daemon alone. */
function daemonPids(top) {
  const comm = readFileSync(`/proc/${top}/comm`, 'utf8').trim();
  return comm === 'vfs-supervisor' ? [top, ...childrenOf(top)] : [top];
}

/** KiB: VmRSS summed; RssAnon + RssFile (without the shared guest memory); the supervisor's. */
function measure(top) {
  const pids = daemonPids(top);
  let total = 0;
  let anonFile = 0;
  let supervisor = 0;
  for (const pid of pids) {
    const s = status(pid);
    total += kib(s, 'VmRSS');
    anonFile += kib(s, 'RssAnon') + kib(s, 'RssFile');
    if (pids.length > 1 && pid === top) supervisor += kib(s, 'VmRSS');
  }
  return { total, anonFile, supervisor };
}

const mb = (k) => `${(k / 1024).toFixed(1)} MB`;

// ---- the daemon -----------------------------------------------------------------------------

async function startDaemon(mode) {
  const work = mkdtempSync(join(tmpdir(), 'vfs-memory-'));
  const share = join(work, 'share');
  mkdirSync(share);
  const socketPath = join(work, 'vhost.sock');
  const child = spawn(process.execPath, [DAEMON, `--socket-path=${socketPath}`, `--shared-dir=${share}`, `--sandbox=${mode}`, '--thread-pool-size=4', '--log-level=debug'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  // Idle means: listening, and the idle trim has run (it logs once it has).
  await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      err += d.toString();
      if (err.includes('memory trim:')) resolve();
    });
    void exited.then((code) => reject(new Error(`daemon exited (${code}) before its idle trim:\n${err}`)));
  });
  return {
    pid: child.pid,
    socketPath,
    share,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(work, { recursive: true, force: true });
    },
  };
}

async function session(d) {
  const fe = VhostUserFrontend.connect({ socketPath: d.socketPath });
  const fuse = new FuseClient(fe);
  await fuse.init();
  return { fe, fuse };
}

/** One round of identical work: every step's resources are given back at its end. */
async function round(fuse, data) {
  const n = 200;
  for (let i = 0; i < n; i++) {
    const c = await fuse.create(1, `f${i}`, 0o100644, fsc.O_RDWR);
    await fuse.write(c.entry.nodeid, c.fh, 0, data);
    await fuse.read(c.entry.nodeid, c.fh, 0, data.length);
    await fuse.release(c.entry.nodeid, c.fh);
    const e = await fuse.lookup(1, `f${i}`);
    await fuse.getattr(e.nodeid);
    await fuse.batchForget([[e.nodeid, 2]]); // the CREATE's lookup and this one
    await fuse.unlink(1, `f${i}`);
  }
}

// ---- measurements -----------------------------------------------------------------------------

const report = { node: process.version, modes: {}, trim: undefined };

for (const mode of MODES) {
  let d = await startDaemon(mode);
  const idle = measure(d.pid);
  await d.stop();

  d = await startDaemon(mode);
  let s = await session(d);
  await s.fuse.getattr(1);
  const idleSession = measure(d.pid);
  s.fe.close();
  await d.stop();

  let peak = { total: 0, anonFile: 0, supervisor: 0 };
  for (const workload of ['randread4k', 'randwrite4k', 'seqread1m']) {
    d = await startDaemon(mode);
    const top = d.pid;
    const timer = setInterval(() => {
      try {
        const m = measure(top);
        if (m.total > peak.total) peak = m;
      } catch {
        /* exiting */
      }
    }, 50);
    try {
      await runLoad({ socketPath: d.socketPath, workload, qd: 32, seconds: SECONDS, shareDir: d.share, fileSize: 32 << 20 });
    } finally {
      clearInterval(timer);
    }
    await d.stop();
  }

  d = await startDaemon(mode);
  s = await session(d);
  const data = Buffer.alloc(4096, 0x5a);
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    await round(s.fuse, data);
    rounds.push(measure(d.pid).total);
  }
  s.fe.close();
  await d.stop();

  report.modes[mode] = { idle, session: idleSession, load: peak, rounds };
  log(`[memory] --sandbox=${mode}: idle ${mb(idle.total)}${idle.supervisor ? ` (supervisor ${mb(idle.supervisor)})` : ''}, ` +
    `session up ${mb(idleSession.total)} (without guest memory ${mb(idleSession.anonFile)}), ` +
    `peak under load ${mb(peak.total)} (without guest memory ${mb(peak.anonFile)})`);
  log(`[memory] --sandbox=${mode}: total RSS after each of ${ROUNDS} identical rounds: ${rounds.map(mb).join(', ')}` +
    (rounds.length > 1 ? ` (last − second: ${((rounds[rounds.length - 1] - rounds[1]) / 1024).toFixed(1)} MB)` : ''));
}

if (MODES.includes('namespace') && MODES.includes('none')) {
  const ns = report.modes.namespace;
  const none = report.modes.none;
  log(`[memory] namespace − none: idle ${mb(ns.idle.total - none.idle.total)}, session (without guest memory) ${mb(ns.session.anonFile - none.session.anonFile)}`);
}

// native/memory_trim.cc in a node of its own: open, trim, measure.
const TRIM = `
  const { readFileSync } = require('node:fs');
  const addon = require(process.argv[1]);
  const rssFile = () => Number(/RssFile:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
  addon.trimOpen();
  const before = rssFile();
  const dropped = addon.trimIdle();
  const after = rssFile();
  console.log(JSON.stringify({ dropped, before, after }));
`;
report.trim = JSON.parse(execFileSync(process.execPath, ['-e', TRIM, ADDON], { encoding: 'utf8' }));
const t = report.trim;
log(`[memory] trim in a bare node: ${(t.dropped / 1048576).toFixed(1)} MiB dropped; RssFile ${mb(t.before)} → ${mb(t.after)}`);

if (opt.json) console.log(JSON.stringify(report, null, 2));
