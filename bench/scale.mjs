#!/usr/bin/env node
// Scale (issue 13): each daemon, with its default options, serves a tmpfs tree of DIRS x FILES
// empty files while a front-end walks it the way `find -ls` does (READDIRPLUS every directory,
// GETATTR every entry; src/frontend/walk.ts) and keeps every inode, as a guest's dentry cache
// would. Reported per daemon: the entries it served (a daemon out of descriptors serves fewer:
// EMFILE), the walk's time, and what it holds at the end: descriptors of the serving process,
// RSS of all its processes, bytes per inode. Root only (tmpfs mount, the daemons' sandboxes).
//
//   node bench/scale.mjs [--dirs 1000] [--files 1000] [--daemons ts,rust,c] [--no-getattr]
//
// Used by bench/run.mjs (section "scale").
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { alive, descendants, killTree, treeRss } from './proc-tree.mjs';
import { argvFor, resolveBins } from './startup.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const NAMES = { ts: 'virtiofsd-ts', rust: 'Rust 1.14', c: 'C 7.2' };
const LISTEN_TIMEOUT_MS = 20_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The process among `pid`'s tree holding the most descriptors: the one serving (past any supervisor). */
function servingFds(pid) {
  let best = 0;
  for (const p of descendants(pid)) {
    try { best = Math.max(best, readdirSync(`/proc/${p}/fd`).length); } catch { /* exited */ }
  }
  return best;
}

async function runOne(kind, ctx) {
  const sock = join(ctx.work, `${kind}.sock`);
  rmSync(sock, { force: true });
  const [cmd, args] = argvFor({ kind, mode: 'path' }, ctx.bins, sock, ctx.share);
  const errFd = openSync(join(ctx.work, `${kind}.stderr`), 'w');
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', errFd], detached: true, env: ctx.env });
  const exited = new Promise((res) => { child.once('exit', res); child.once('error', res); });
  let fe;
  try {
    for (const t0 = Date.now(); !existsSync(sock); await sleep(5)) {
      if (!alive(child.pid) || Date.now() - t0 > LISTEN_TIMEOUT_MS) throw new Error(`${NAMES[kind]} did not listen on ${sock}`);
    }
    const { VhostUserFrontend, FuseClient, walkTree } = ctx.frontend;
    fe = VhostUserFrontend.connect({ socketPath: sock });
    const fuse = new FuseClient(fe);
    await fuse.init();
    await sleep(300);
    const before = { ...treeRss(child.pid), fds: servingFds(child.pid) };
    const walk = await walkTree(fuse, 1, { getattr: ctx.getattr, parallel: 8 });
    const after = { ...treeRss(child.pid), fds: servingFds(child.pid) };
    return {
      kind, name: NAMES[kind], entries: walk.entries, expected: ctx.expected, errors: walk.errors, seconds: walk.seconds,
      entries_per_s: Math.round(walk.entries / walk.seconds),
      before, after, bytes_per_inode: walk.entries > 0 ? Math.round(((after.rss - before.rss) * 1024) / walk.entries) : null,
    };
  } finally {
    fe?.close();
    killTree(child, 'SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    killTree(child, 'SIGKILL');
  }
}

/** Runs the scale walk for each daemon; returns { dirs, files, getattr, rows: [...] }. */
export async function runScale(opts = {}) {
  const dirs = opts.dirs ?? 1000;
  const files = opts.files ?? 1000;
  const daemons = opts.daemons ?? ['ts', 'rust', 'c'];
  const log = opts.log ?? ((m) => process.stderr.write(`[scale] ${m}\n`));
  const load = (p) => import(pathToFileURL(join(opts.root ?? repo, 'dist', p)).href);
  const [{ VhostUserFrontend }, { FuseClient }, { walkTree, makeTree }] = await Promise.all([
    load('frontend/vhost-user-frontend.js'), load('frontend/fuse-client.js'), load('frontend/walk.js'),
  ]);
  const work = mkdtempSync(join(os.tmpdir(), 'vfs-bench-scale-'));
  const mnt = join(work, 'mnt');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=512m,nr_inodes=${dirs * files + dirs + 64}`, 'vfs-scale', mnt]);
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const rows = [];
  try {
    const share = join(mnt, 'share');
    mkdirSync(share);
    log(`creating ${dirs} x ${files} files on tmpfs`);
    makeTree(share, dirs, files);
    const ctx = {
      work, share, env, bins: resolveBins({ root: opts.root, rustBin: opts.rustBin, cBin: opts.cBin }),
      getattr: opts.getattr ?? true, expected: dirs * files + dirs, frontend: { VhostUserFrontend, FuseClient, walkTree },
    };
    for (const kind of daemons) {
      try {
        const r = await runOne(kind, ctx);
        rows.push(r);
        log(`${r.name}: ${r.entries}/${r.expected} entries in ${r.seconds.toFixed(1)} s, ${r.after.fds} fds, ` +
          `RSS ${(r.before.rss / 1024).toFixed(0)} → ${(r.after.rss / 1024).toFixed(0)} MiB (${r.bytes_per_inode} B/inode)` +
          `${Object.keys(r.errors).length ? `, errors ${JSON.stringify(r.errors)}` : ''}`);
      } catch (e) {
        rows.push({ kind, name: NAMES[kind], error: String(e?.message ?? e) });
        log(`${NAMES[kind]}: ${e?.message ?? e}`);
      }
    }
  } finally {
    try { execFileSync('umount', ['-l', mnt]); } catch { /* already */ }
    rmSync(work, { recursive: true, force: true });
  }
  return { dirs, files, getattr: opts.getattr ?? true, rows };
}

/** The Markdown table of a runScale result, with ratios against the Rust daemon. */
export function scaleTable(result) {
  const rust = result.rows.find((r) => r.kind === 'rust' && !r.error);
  const mib = (kib) => (kib / 1024).toFixed(0);
  const lines = [
    `| daemon (defaults) | entries served of ${result.rows.find((r) => r.expected)?.expected ?? '?'} | walk s | entries/s | ÷ Rust | descriptors | RSS MiB before → after | bytes/inode | ÷ Rust |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of result.rows) {
    if (r.error) { lines.push(`| ${r.name} | failed: ${r.error} | | | | | | | |`); continue; }
    const errs = Object.entries(r.errors).map(([e, n]) => `errno ${e} ×${n}`).join(', ');
    const speed = rust && r !== rust ? (r.entries_per_s / rust.entries_per_s).toFixed(2) : '—';
    const mem = rust && r !== rust && r.bytes_per_inode && rust.bytes_per_inode ? (r.bytes_per_inode / rust.bytes_per_inode).toFixed(2) : '—';
    lines.push(`| ${r.name} | ${r.entries}${errs ? ` (${errs})` : ''} | ${r.seconds.toFixed(1)} | ${r.entries_per_s} | ${speed} | ${r.after.fds} | ${mib(r.before.rss)} → ${mib(r.after.rss)} | ${r.bytes_per_inode ?? '—'} | ${mem} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: {
    dirs: { type: 'string' }, files: { type: 'string' }, daemons: { type: 'string' }, 'no-getattr': { type: 'boolean' }, json: { type: 'boolean' },
  } });
  const r = await runScale({
    dirs: values.dirs ? Number(values.dirs) : undefined, files: values.files ? Number(values.files) : undefined,
    daemons: values.daemons?.split(','), getattr: values['no-getattr'] !== true,
  });
  process.stdout.write(values.json ? JSON.stringify(r) + '\n' : scaleTable(r) + '\n');
}
