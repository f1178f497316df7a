#!/usr/bin/env node
// Start-up latency (issue 12: "spawn → first vhost-user reply within 1.2× a bare Node process").
//
//   node bench/startup.mjs [--runs N] [--ts-bin PATH] [--daemons ts,rust,c] [--settle-ms MS]
//                          [--json FILE]
//
// For each daemon launch (a row) and each of N runs — interleaved round-robin, the order
// rotated every run, after one unrecorded warm-up run per row — the time from spawn() to:
//   1. the reply to VHOST_USER_GET_FEATURES, the first message QEMU sends (the socket is
//      connect()ed every 1 ms until it accepts);
//   2. the reply to the last message of QEMU's vhost-user-fs start-up handshake (below);
//   3. the reply to FUSE_INIT sent through request queue 1 after it;
// and the idle RSS of the daemon's whole process tree after the INIT reply. The floor is a
// bare `node` that listens on a Unix socket and answers the first bytes it receives with a
// 20-byte GET_FEATURES reply. Prints a markdown table (progress goes to stderr); bench/run.mjs's
// `startup` section calls runStartup() and startupTable(). See bench/README.md.
//
// The handshake is QEMU's (hw/virtio/vhost.c vhost_dev_init / vhost_dev_start /
// vhost_virtqueue_start, hw/virtio/vhost-user.c, hw/virtio/vhost-user-fs.c vuf_start; QEMU ≥ 8.2
// for the synchronous SET_VRING_ENABLE), for a device with the hiprio queue 0 and one request
// queue 1. At -device time (vhost_dev_init):
//   GET_FEATURES, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM (if MQ),
//   GET_MAX_MEM_SLOTS (if CONFIGURE_MEM_SLOTS), SET_OWNER, GET_FEATURES,
//   per queue SET_VRING_CALL (QEMU's masked notifier) + SET_VRING_ERR;
// when the guest driver starts the device (vhost_dev_start):
//   SET_FEATURES, ADD_MEM_REG (with CONFIGURE_MEM_SLOTS; else SET_MEM_TABLE) — with NEED_REPLY
//   when REPLY_ACK is negotiated —, per queue SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR,
//   SET_VRING_KICK, then per queue SET_VRING_ENABLE 1 (NEED_REPLY; without REPLY_ACK QEMU
//   follows it with GET_FEATURES as a barrier), then per queue SET_VRING_CALL (the guest
//   notifier, vuf_start's unmask). Messages QEMU sends without waiting are pipelined here too;
//   the last SET_VRING_CALL carries NEED_REPLY (a barrier GET_FEATURES without REPLY_ACK) so that
//   its reply marks the end. Protocol features asked for: MQ, REPLY_ACK, CONFIGURE_MEM_SLOTS
//   (no back-end channel: no DAX window here; QEMU would also send SET_BACKEND_REQ_FD).
//
// The frontend pieces are the repository's own (dist/frontend: VhostUserFrontend's message
// I/O, GuestRam, DriverQueue, FuseClient), loaded from `root` (bench/run.mjs passes its pinned
// copy). Guest RAM, rings and eventfds are made before the clock starts.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { alive, killTree, treeRss } from './proc-tree.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');

/** The rows. `kind` picks the binary, `mode` how the socket reaches it. */
export const STARTUP_ROWS = [
  { id: 'ts', kind: 'ts', mode: 'path', name: 'virtiofsd-ts' },
  { id: 'ts-fd', kind: 'ts', mode: 'fd', name: 'virtiofsd-ts --fd=3' },
  { id: 'ts-nosandbox', kind: 'ts', mode: 'path', extra: ['--sandbox=none'], name: 'virtiofsd-ts --sandbox=none' },
  { id: 'rust', kind: 'rust', mode: 'path', name: 'Rust 1.14' },
  { id: 'rust-fd', kind: 'rust', mode: 'fd', name: 'Rust 1.14 --fd=3' },
  { id: 'c', kind: 'c', mode: 'path', name: 'C 7.2' },
  { id: 'c-fd', kind: 'c', mode: 'fd', name: 'C 7.2 --fd=3' },
  { id: 'floor', kind: 'floor', mode: 'path', name: 'bare node (floor)' },
];
/** Which peer row each virtiofsd-ts row is compared with (same launch; --sandbox=none: the peers' defaults). */
const COUNTERPART = { ts: { rust: 'rust', c: 'c' }, 'ts-fd': { rust: 'rust-fd', c: 'c-fd' }, 'ts-nosandbox': { rust: 'rust', c: 'c' } };
/** The issue-12 target: spawn → GET_FEATURES reply ≤ this × the floor's. */
export const FLOOR_TARGET = 1.2;
/** The idle-RSS target for virtiofsd-ts (all processes), MiB — reported only. */
export const RSS_TARGET_MIB = 20;

const RAM_SIZE = 16 << 20;
const QUEUE_SIZE = 1024;
const CONNECT_TIMEOUT_MS = 20_000;
const INIT_TIMEOUT_MS = 10_000;

// A bare Node process: listens, answers the first bytes with a well-formed GET_FEATURES reply
// (request 1, flags version 1 | REPLY, size 8, features 0) — 20 bytes.
const FLOOR_SCRIPT = `'use strict';
const net = require('node:net');
const reply = Buffer.alloc(20);
reply.writeUInt32LE(1, 0);
reply.writeUInt32LE(0x5, 4);
reply.writeUInt32LE(8, 8);
net.createServer((c) => c.once('data', () => c.write(reply))).listen(process.argv[2]);
`;

// ------------------------------------------------------------------------------------------
// binaries

const isExecutable = (p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * Which binaries to run. virtiofsd-ts: `tsBin`, else `<root>/build/Release/virtiofsd-ts` (the C
 * launcher) when it exists, else `node <root>/dist/cli/virtiofsd.js`.
 */
export function resolveBins({ root = repo, tsBin, rustBin, cBin } = {}) {
  const launcher = join(root, 'build/Release/virtiofsd-ts');
  const cPeer = join(here, '.peers/c/virtiofsd');
  return {
    ts: tsBin ?? (isExecutable(launcher) ? launcher : join(root, 'dist/cli/virtiofsd.js')),
    rust: rustBin ?? join(here, '.peers/rust/virtiofsd'),
    c: cBin ?? (existsSync(cPeer) ? cPeer : '/usr/lib/qemu/virtiofsd'),
  };
}

/** A script runs under this Node; anything else is executed directly. */
const withNode = (bin, args) => (/\.[cm]?js$/.test(bin) ? [process.execPath, [bin, ...args]] : [bin, args]);

/**
 * bench/.peers/rust/virtiofsd is a sh wrapper that execs sid's loader on the binary: call the
 * loader directly when the tree is there, so the shell's start is not charged to the daemon.
 */
function rustArgv(bin, args) {
  const root = join(dirname(bin), 'root');
  const lib = join(root, 'usr/lib/x86_64-linux-gnu');
  const loader = join(lib, 'ld-linux-x86-64.so.2');
  const exe = join(root, 'usr/libexec/virtiofsd');
  if (existsSync(loader) && existsSync(exe)) return [loader, ['--library-path', lib, exe, ...args]];
  return [bin, args];
}

export function argvFor(row, bins, sock, share, floorScript) {
  const where = row.mode === 'fd' ? ['--fd=3'] : [`--socket-path=${sock}`];
  switch (row.kind) {
    case 'ts':
      return withNode(bins.ts, [...where, `--shared-dir=${share}`, '--log-level=error', ...(row.extra ?? [])]);
    case 'rust':
      return rustArgv(bins.rust, [...where, `--shared-dir=${share}`, '--log-level=error', ...(row.extra ?? [])]);
    case 'c':
      return [bins.c, [...where, '-o', `source=${share}`, '-o', 'log_level=err', ...(row.extra ?? [])]];
    case 'floor':
      return [process.execPath, [floorScript, sock]];
  }
  throw new Error(`unknown row kind ${row.kind}`);
}

/** Why a row cannot run, or undefined. */
function unavailableReason(row, bins, env) {
  const bin = bins[row.kind];
  if (row.kind === 'floor') return undefined;
  if (!existsSync(bin)) {
    if (row.kind === 'ts') return `${bin} missing (npm run build:ts)`;
    if (row.kind === 'rust') return `${bin} missing (bench/fetch-peers.sh failed)`;
    return `${bin} missing (apt-get install qemu-system-common)`;
  }
  if (row.mode === 'fd') {
    const [cmd, args] = argvFor({ ...row, mode: 'path' }, bins, '/nonexistent', '/nonexistent');
    const pre = args.slice(0, args.findIndex((a) => a.startsWith('--socket-path=')));
    const r = spawnSync(cmd, [...pre, '--help'], { encoding: 'utf8', env, timeout: 10_000 });
    if (!/--fd\b/.test(`${r.stdout}${r.stderr}`)) return `${row.name.split(' --')[0]} has no --fd (not in its --help)`;
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------
// children: own process group, killed with their tree; nothing outlives us

const live = new Set();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => { for (const c of live) killTree(c); });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TIMEOUT = Symbol('timeout');
/** p's value, or TIMEOUT after `ms` (the timer is cleared either way). */
async function within(p, ms) {
  let timer;
  try {
    return await Promise.race([p, new Promise((r) => { timer = setTimeout(() => r(TIMEOUT), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks this thread for `ms` (the connect loop: the event loop has nothing to do meanwhile). */
const sleepSync = (ms) => Atomics.wait(sleepCell, 0, 0, ms);

// ------------------------------------------------------------------------------------------
// one run

/** The repository's frontend modules, loaded from `root` (its dist/). */
async function loadFrontend(root) {
  const load = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
  const [{ native }, P, { GuestRam }, { DriverQueue }, { FuseClient }, { VhostUserFrontend }] = await Promise.all([
    load('native/binding.js'), load('vhost/protocol.js'), load('frontend/guest-ram.js'),
    load('frontend/driver-queue.js'), load('frontend/fuse-client.js'), load('frontend/vhost-user-frontend.js'),
  ]);
  return { native, P, GuestRam, DriverQueue, FuseClient, VhostUserFrontend };
}

/** Connects to `sock`, retrying every 1 ms while it does not exist or does not listen yet. */
function connectPolling(native, sock, pid) {
  const deadline = performance.now() + CONNECT_TIMEOUT_MS;
  for (let n = 1; ; n++) {
    try {
      return native.socketConnect(sock);
    } catch (e) {
      if (e.code !== 'ENOENT' && e.code !== 'ECONNREFUSED' && e.code !== 'EAGAIN') throw e;
    }
    if (n % 16 === 0 && !alive(pid)) throw new Error('exited before accepting a connection');
    if (performance.now() > deadline) throw new Error(`no connection within ${CONNECT_TIMEOUT_MS / 1000} s`);
    sleepSync(1);
  }
}

/**
 * QEMU's vhost-user-fs start-up handshake (see the header). Calls mark('get_features') after the
 * first reply; returns after the reply to the last message.
 */
function handshake(fe, F, queues, fds, mark) {
  const { P } = F;
  const { Req, Feature, ProtocolFeature, FLAG_NEED_REPLY, u64Payload, vringStatePayload } = P;
  const offered = fe.requestU64(Req.GET_FEATURES);
  mark('get_features');
  fe.features = offered & (Feature.VERSION_1 | Feature.PROTOCOL_FEATURES | Feature.RING_INDIRECT_DESC | Feature.RING_EVENT_IDX);
  const hasProto = (fe.features & Feature.PROTOCOL_FEATURES) !== 0n;
  if (hasProto) {
    const proto = fe.requestU64(Req.GET_PROTOCOL_FEATURES);
    fe.protocolFeatures = proto & (ProtocolFeature.MQ | ProtocolFeature.REPLY_ACK | ProtocolFeature.CONFIGURE_MEM_SLOTS);
    fe.send(Req.SET_PROTOCOL_FEATURES, u64Payload(fe.protocolFeatures));
  }
  const has = (f) => (fe.protocolFeatures & f) !== 0n;
  const replyAck = has(ProtocolFeature.REPLY_ACK);
  const ack = (req, payload, fds_) => {
    fe.send(req, payload, fds_, FLAG_NEED_REPLY);
    const r = fe.receiveReply(req);
    if (r.length !== 8 || r.readBigUInt64LE(0) !== 0n) throw new Error(`${P.reqName[req]} refused by the back-end`);
  };
  /** QEMU's "write, then wait": NEED_REPLY with REPLY_ACK, else a GET_FEATURES barrier. */
  const sync = (req, payload, fds_) => {
    if (replyAck) return ack(req, payload, fds_);
    fe.send(req, payload, fds_);
    fe.requestU64(Req.GET_FEATURES);
  };
  const eventIdx = (fe.features & Feature.RING_EVENT_IDX) !== 0n;
  if (!eventIdx) {
    // The rings were laid out for EVENT_IDX before the clock started; redo them without.
    for (const [i, q] of queues.entries()) { q.close(); queues[i] = new F.DriverQueue(fe.ram, i, QUEUE_SIZE, false); }
  }
  fe.queues.push(...queues);

  // vhost_dev_init (vhost_user_backend_init first)
  if (has(ProtocolFeature.MQ)) {
    const max = Number(fe.requestU64(Req.GET_QUEUE_NUM));
    if (max < queues.length) throw new Error(`back-end supports ${max} queues, need ${queues.length}`);
  }
  if (has(ProtocolFeature.CONFIGURE_MEM_SLOTS)) fe.requestU64(Req.GET_MAX_MEM_SLOTS);
  fe.send(Req.SET_OWNER, Buffer.alloc(0));
  fe.requestU64(Req.GET_FEATURES);
  for (let i = 0; i < queues.length; i++) {
    fe.send(Req.SET_VRING_CALL, u64Payload(BigInt(i)), [fds.masked[i]]);
    fe.send(Req.SET_VRING_ERR, u64Payload(BigInt(i)), [fds.err[i]]);
  }

  // vhost_dev_start
  fe.send(Req.SET_FEATURES, u64Payload(fe.features));
  const ram = fe.ram;
  const region = Buffer.alloc(32); // { u64 guest_phys_addr, memory_size, userspace_addr, mmap_offset }
  region.writeBigUInt64LE(ram.gpa(0), 0);
  region.writeBigUInt64LE(BigInt(ram.size), 8);
  region.writeBigUInt64LE(ram.uva(0), 16);
  const memReq = has(ProtocolFeature.CONFIGURE_MEM_SLOTS) ? Req.ADD_MEM_REG : Req.SET_MEM_TABLE;
  const memHead = Buffer.alloc(8); // ADD_MEM_REG: u64 padding; SET_MEM_TABLE: u32 nregions = 1, u32 padding
  if (memReq === Req.SET_MEM_TABLE) memHead.writeUInt32LE(1, 0);
  const memPayload = Buffer.concat([memHead, region]);
  if (replyAck) ack(memReq, memPayload, [ram.fd]);
  else fe.send(memReq, memPayload, [ram.fd]);
  for (const [i, q] of queues.entries()) {
    fe.send(Req.SET_VRING_NUM, vringStatePayload(i, QUEUE_SIZE));
    fe.send(Req.SET_VRING_BASE, vringStatePayload(i, 0));
    const addr = Buffer.alloc(40); // { u32 index, u32 flags, u64 desc, used, avail, log }
    addr.writeUInt32LE(i, 0);
    addr.writeBigUInt64LE(ram.uva(q.descOff), 8);
    addr.writeBigUInt64LE(ram.uva(q.usedOff), 16);
    addr.writeBigUInt64LE(ram.uva(q.availOff), 24);
    fe.send(Req.SET_VRING_ADDR, addr);
    fe.send(Req.SET_VRING_KICK, u64Payload(BigInt(i)), [q.kickFd]);
  }
  if (hasProto) for (let i = 0; i < queues.length; i++) sync(Req.SET_VRING_ENABLE, vringStatePayload(i, 1));
  // vuf_start: unmask, i.e. the guest notifiers
  for (const [i, q] of queues.entries()) {
    if (i < queues.length - 1) fe.send(Req.SET_VRING_CALL, u64Payload(BigInt(i)), [q.callFd]);
    else sync(Req.SET_VRING_CALL, u64Payload(BigInt(i)), [q.callFd]);
  }
  for (const q of queues) q.listen();
  return { features: `0x${fe.features.toString(16)}`, protocol_features: `0x${fe.protocolFeatures.toString(16)}`, memory: P.reqName[memReq], reply_ack: replyAck };
}

let seq = 0;

/** One spawn of one row; resolves { get_features_ms, handshake_ms, init_ms, rss_kib, procs } or { error }. */
async function measureOnce(row, ctx) {
  const F = ctx.frontend;
  const { native } = F;
  const id = seq++;
  const sock = join(ctx.work, `s${id}.sock`);
  const errPath = join(ctx.work, `s${id}.stderr`);
  rmSync(sock, { force: true });
  const r = { get_features_ms: null, handshake_ms: null, init_ms: null, rss_kib: null, procs: null };

  // Everything the front-end needs exists before the clock starts.
  const ram = new F.GuestRam(RAM_SIZE);
  const queues = [0, 1].map((i) => new F.DriverQueue(ram, i, QUEUE_SIZE, true));
  const fds = { masked: [native.eventfdCreate(true), native.eventfdCreate(true)], err: [native.eventfdCreate(true), native.eventfdCreate(true)] };
  let listenFd = -1;
  if (row.mode === 'fd') {
    listenFd = native.socketListen(sock);
    native.setBlocking(listenFd, true); // as a Go runtime hands it over (File() makes it blocking)
  }
  const [cmd, args] = argvFor(row, ctx.bins, sock, ctx.share, ctx.floorScript);
  const errFd = openSync(errPath, 'w');
  let fe;
  let child;
  let exited = Promise.resolve();
  try {
    const t0 = performance.now();
    child = spawn(cmd, args, { stdio: ['ignore', 'ignore', errFd, ...(listenFd >= 0 ? [listenFd] : [])], detached: true, env: ctx.env });
    if (listenFd >= 0) { native.closeFd(listenFd); listenFd = -1; }
    live.add(child);
    exited = new Promise((res) => { child.once('exit', res); child.once('error', res); });
    exited.then(() => live.delete(child));
    if (!child.pid) throw new Error(`spawn ${cmd} failed`);
    const mark = (k) => { r[`${k}_ms`] = performance.now() - t0; };

    const fd = connectPolling(native, sock, child.pid);
    native.setBlocking(fd, true);
    // The constructor is TypeScript-private; from JavaScript it is the way to hand the frontend
    // a socket we connected ourselves (VhostUserFrontend.connect() would connect once, unpolled).
    fe = new F.VhostUserFrontend(fd, ram);
    if (row.kind === 'floor') {
      fe.requestU64(F.P.Req.GET_FEATURES);
      mark('get_features');
    } else {
      r.negotiated = handshake(fe, F, queues, fds, mark);
      mark('handshake');
      const client = new F.FuseClient(fe);
      if (await within(client.init(), INIT_TIMEOUT_MS) === TIMEOUT) throw new Error(`no FUSE_INIT reply within ${INIT_TIMEOUT_MS / 1000} s`);
      mark('init');
    }
    await sleep(ctx.settleMs);
    if (!alive(child.pid)) throw new Error('exited after the replies');
    const m = treeRss(child.pid);
    r.rss_kib = m.rss;
    r.procs = m.procs;
    return r;
  } catch (e) {
    const err = readTail(errPath);
    return { ...r, error: `${e.message}${err ? ` — stderr: ${err}` : ''}` };
  } finally {
    if (listenFd >= 0) native.closeFd(listenFd);
    if (child) killTree(child);
    await within(exited, 5000);
    // Each queue and the RAM closed exactly once (a second close could hit a reused fd number).
    for (const q of queues) if (!fe?.queues.includes(q)) q.close();
    if (fe) fe.close();
    else ram.close();
    for (const f of [...fds.masked, ...fds.err]) native.closeFd(f);
    closeSync(errFd);
    rmSync(sock, { force: true });
    rmSync(errPath, { force: true });
  }
}

function readTail(path) {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-2).join(' | ').slice(0, 300);
  } catch {
    return '';
  }
}

// ------------------------------------------------------------------------------------------
// the whole measurement

/**
 * How long after the INIT reply idle RSS is read: virtiofsd-ts hands start-up's pages back at its
 * first quiet moment (src/daemon/idle-trim.ts: a 500 ms check finding no request served), so
 * "idle" means after that; the peers have nothing to wait for.
 */
const IDLE_SETTLE_MS = 1500;

/**
 * Runs every row `runs` times, round-robin (order rotated each run) after one unrecorded
 * warm-up run per row. Options: runs (9), root (where dist/ and build/ are; the repository),
 * tsBin / rustBin / cBin, daemons (kinds to include; the floor always runs), work (a scratch
 * directory; a temporary one by default), settleMs (IDLE_SETTLE_MS: wait after the INIT reply
 * before reading RSS), warmup (true), log (progress lines).
 *
 * Returns { runs, settle_ms, bins, env_dropped, rows: [{ id, name, argv, unavailable?, negotiated?,
 * runs: [...] }] }, each run { get_features_ms, handshake_ms, init_ms, rss_kib, procs } (null where
 * not measured) or with `error`; `negotiated` = { features, protocol_features, memory, reply_ack }.
 */
export async function runStartup(opts = {}) {
  const runs = opts.runs ?? 9;
  const log = opts.log ?? ((m) => process.stderr.write(`[startup] ${m}\n`));
  const daemons = opts.daemons ?? ['ts', 'rust', 'c'];
  const ownWork = !opts.work;
  const work = opts.work ?? mkdtempSync(join(os.tmpdir(), 'vfs-startup-'));
  mkdirSync(work, { recursive: true });
  installExitHook();
  const share = join(work, 'share');
  mkdirSync(share, { recursive: true, mode: 0o755 });
  const floorScript = join(work, 'floor.cjs');
  writeFileSync(floorScript, FLOOR_SCRIPT);
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const bins = resolveBins(opts);
  const ctx = { work, share, floorScript, env, bins, settleMs: opts.settleMs ?? IDLE_SETTLE_MS, frontend: await loadFrontend(opts.root ?? repo) };

  const rows = STARTUP_ROWS.filter((row) => row.kind === 'floor' || daemons.includes(row.kind)).map((row) => {
    const [cmd, args] = argvFor(row, bins, '<socket>', '<share>', '<floor.cjs>');
    return { id: row.id, name: row.name, argv: [cmd, ...args], unavailable: unavailableReason(row, bins, env), runs: [], def: row };
  });
  for (const row of rows) if (row.unavailable) log(`${row.name}: unavailable: ${row.unavailable}`);
  const active = rows.filter((row) => !row.unavailable);
  try {
    if (opts.warmup !== false) {
      for (const row of active) {
        const w = await measureOnce(row.def, ctx);
        if (w.error) log(`${row.name} warm-up: ${w.error}`);
      }
    }
    for (let i = 0; i < runs; i++) {
      const order = active.map((_, k) => active[(k + i) % active.length]);
      const line = [];
      for (const row of order) {
        const { negotiated, ...m } = await measureOnce(row.def, ctx);
        row.negotiated ??= negotiated;
        row.runs.push(m);
        line.push(`${row.id} ${m.error ? 'FAIL' : [m.get_features_ms, m.handshake_ms, m.init_ms].filter((x) => x != null).map((x) => x.toFixed(1)).join('/')}`);
        if (m.error) log(`${row.name} run ${i + 1}: ${m.error}`);
      }
      log(`run ${i + 1}/${runs}: ${line.join(', ')} ms`);
    }
  } finally {
    if (ownWork) rmSync(work, { recursive: true, force: true });
  }
  return {
    runs, settle_ms: ctx.settleMs, bins, env_dropped: ['NODE_EXTRA_CA_CERTS'],
    rows: rows.map(({ def, ...row }) => { void def; return row; }),
  };
}

// ------------------------------------------------------------------------------------------
// summary and table

const FIELDS = ['get_features_ms', 'handshake_ms', 'init_ms', 'rss_kib'];
function stats(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median, min: s[0], max: s[s.length - 1], n: s.length };
}

/** Per row: { id, name, unavailable, ok, total, get_features_ms: {median,min,max,n} | null, ... }. */
export function startupSummary(result) {
  return result.rows.map((row) => {
    const ok = row.runs.filter((x) => !x.error);
    const out = { id: row.id, name: row.name, unavailable: row.unavailable, ok: ok.length, total: row.runs.length };
    for (const f of FIELDS) out[f] = stats(ok.map((x) => x[f]));
    out.procs = stats(ok.map((x) => x.procs));
    return out;
  });
}

/** { ts-row id: { floor, rust: [gf, hs, init], c: [...], rustRow, cRow } } — ratios of medians. */
export function startupRatios(result) {
  const sum = Object.fromEntries(startupSummary(result).map((s) => [s.id, s]));
  const med = (id, f) => sum[id]?.[f]?.median ?? NaN;
  const out = {};
  for (const [id, peers] of Object.entries(COUNTERPART)) {
    if (!sum[id]) continue;
    const r = { floor: med(id, 'get_features_ms') / med('floor', 'get_features_ms') };
    for (const kind of ['rust', 'c']) {
      r[`${kind}Row`] = peers[kind];
      r[kind] = ['get_features_ms', 'handshake_ms', 'init_ms'].map((f) => med(id, f) / med(peers[kind], f));
    }
    out[id] = r;
  }
  return out;
}

const ms = (s) => (s ? `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})` : '—');
const ratio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '—');

/** The markdown tables: times and RSS per row, then the ratios of the virtiofsd-ts rows. */
export function startupTable(result) {
  const sum = startupSummary(result);
  const ratios = startupRatios(result);
  const out = [
    `| daemon | spawn → GET_FEATURES reply ms | → handshake done ms | → FUSE_INIT reply ms | idle RSS MiB (processes) | GET_FEATURES ÷ floor | ok |`,
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of sum) {
    if (s.unavailable) { out.push(`| ${s.name} | unavailable: ${s.unavailable} | | | | | 0/0 |`); continue; }
    const isFloor = s.id === 'floor';
    const rss = s.rss_kib ? `${(s.rss_kib.median / 1024).toFixed(1)} (${s.procs?.median ?? '?'})` : '—';
    const vsFloor = isFloor ? '1.00×' : ratio((s.get_features_ms?.median ?? NaN) / (sum.find((x) => x.id === 'floor')?.get_features_ms?.median ?? NaN));
    out.push(`| ${s.name} | ${ms(s.get_features_ms)} | ${isFloor ? '—' : ms(s.handshake_ms)} | ${isFloor ? '—' : ms(s.init_ms)} | ${rss} | ${vsFloor} | ${s.ok}/${s.total} |`);
  }
  out.push('', `| virtiofsd-ts launch | GET_FEATURES ÷ floor (target ≤ ${FLOOR_TARGET}) | ÷ Rust: GET_FEATURES / handshake / INIT | ÷ C: GET_FEATURES / handshake / INIT | idle RSS ≤ ${RSS_TARGET_MIB} MiB |`, '|---|---:|---:|---:|---:|');
  for (const [id, r] of Object.entries(ratios)) {
    const s = sum.find((x) => x.id === id);
    const peer = (kind) => {
      const name = sum.find((x) => x.id === r[`${kind}Row`])?.name ?? r[`${kind}Row`];
      return `${r[kind].map(ratio).join(' / ')} (vs ${name})`;
    };
    const met = Number.isFinite(r.floor) ? (r.floor <= FLOOR_TARGET ? ' yes' : ' **no**') : '';
    const rssMiB = s.rss_kib ? s.rss_kib.median / 1024 : NaN;
    const rssText = Number.isFinite(rssMiB) ? `${rssMiB.toFixed(1)} MiB${rssMiB <= RSS_TARGET_MIB ? ' yes' : ' **no**'}` : '—';
    out.push(`| ${s.name} | ${ratio(r.floor)}${met} | ${peer('rust')} | ${peer('c')} | ${rssText} |`);
  }
  return out.join('\n');
}

/** One paragraph saying what the tables measure. */
export function startupNote(result) {
  return `Start-up (issue 12): median (min–max) over ${result.runs} runs per launch, interleaved round-robin after one warm-up run each. ` +
    'Times from spawn() to the reply to VHOST_USER_GET_FEATURES (the socket connect()ed every 1 ms; with --fd=3 the bench listens and connects into the backlog right after spawn), ' +
    'to the reply to the last message of QEMU\'s vhost-user-fs start-up handshake (REPLY_ACK on the last SET_VRING_CALL), and to the FUSE_INIT reply on request queue 1. ' +
    `Idle RSS: VmRSS summed over the daemon's process tree ${result.settle_ms} ms after the INIT reply (the floor: after its reply). ` +
    'The floor is a bare `node` answering the first bytes on a Unix socket with 20 bytes. NODE_EXTRA_CA_CERTS is removed from every environment. ' +
    'virtiofsd-ts --sandbox=none is compared with the peers\' default launches.';
}

// ------------------------------------------------------------------------------------------
// CLI

async function main() {
  const { values: o } = parseArgs({
    options: {
      runs: { type: 'string', default: '9' },
      'ts-bin': { type: 'string' },
      daemons: { type: 'string', default: 'ts,rust,c' },
      'settle-ms': { type: 'string', default: String(IDLE_SETTLE_MS) },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (o.help) {
    process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 6).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
    return;
  }
  const daemons = o.daemons.split(',').filter(Boolean);
  if (daemons.includes('rust') && !existsSync(join(here, '.peers/rust/virtiofsd'))) {
    process.stderr.write('[startup] fetching the peers (bench/fetch-peers.sh)\n');
    spawnSync('sh', [join(here, 'fetch-peers.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(130));
  const result = await runStartup({ runs: Number(o.runs), tsBin: o['ts-bin'], daemons, settleMs: Number(o['settle-ms']) });
  if (o.json) writeFileSync(o.json, JSON.stringify(result, null, 1));
  process.stdout.write(`${startupNote(result)}\n\n${startupTable(result)}\n\nvirtiofsd-ts: ${result.bins.ts}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(() => process.exit(0), (e) => { process.stderr.write(`startup: ${e.stack ?? e}\n`); process.exit(1); });
}
