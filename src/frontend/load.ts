/**
 * `vufs load`: a closed-loop load generator. `qd` slots each own a persistent descriptor chain
 * and fixed request/reply buffers in guest RAM; a slot re-issues as soon as its chain comes
 * back, so `qd` requests are always in flight. Per request the hot path rewrites a few header
 * fields in place, publishes the head and records one latency sample: no Buffers, closures or
 * BigInts are allocated, and kicks/interrupts are batched (EVENT_IDX) — so the frontend's CPU
 * per request stays well below the daemon's, which is what the report shows side by side.
 *
 * Workloads (a "request" is one FUSE request; ops_per_s counts requests):
 *   randread4k   READ 4 KiB at random 4 KiB-aligned offsets of one file
 *   randwrite4k  WRITE 4 KiB at random offsets
 *   seqread1m    READ 1 MiB sequentially (wrapping), slots interleaved
 *   seqwrite1m   WRITE 1 MiB sequentially (clamped to the daemon's max_write)
 *   lookup       LOOKUP of a random existing name, then GETATTR of the node it returned
 *   create       CREATE + RELEASE + UNLINK of a per-slot name (nodes forgotten in batches after
 *                the UNLINK; a leftover name is looked up and unlinked first)
 *   readdir      READDIR of a 10k-entry directory in 4 KiB buffers, rewinding at the end
 *   readdirplus  the same with READDIRPLUS
 */
import { mkdirSync, closeSync, openSync, ftruncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ErrnoError, errnoName } from '../filesystem/errors.js';
import { EntryOut, InHeader, Opcode, OutHeader, opcodeName, recAlign } from '../fuse/abi.js';
import type { DriverQueue } from './driver-queue.js';
import { FuseClient } from './fuse-client.js';
import { Histogram } from './histogram.js';
import { Prng } from './prng.js';
import { findDaemonPids, totalCpuMicros } from './proc-cpu.js';
import { VhostUserFrontend } from './vhost-user-frontend.js';

export const WORKLOADS = ['randread4k', 'randwrite4k', 'seqread1m', 'seqwrite1m', 'lookup', 'create', 'readdir', 'readdirplus'] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface LoadOptions {
  socketPath: string;
  workload: Workload;
  /** Requests in flight (slots). Default 32. */
  qd?: number;
  /** Measured duration. Default 5. */
  seconds?: number;
  /** Stop after this many measured requests (whichever of seconds/requests comes first). */
  maxRequests?: number;
  /** Unmeasured warm-up before the measurement starts. Default min(0.5, seconds / 10). */
  warmupSeconds?: number;
  /** Prepare files directly in this host directory (the daemon's share) instead of through the daemon. */
  shareDir?: string;
  /** Size of the data file for the read/write workloads. Default 64 MiB. */
  fileSize?: number;
  /** Names for the lookup workload. Default 1000. */
  lookupFiles?: number;
  /** Entries of the readdir directory. Default 10000. */
  readdirEntries?: number;
  /** Request queues to spread the slots over. Default 1. */
  queues?: number;
  queueSize?: number;
  eventIdx?: boolean;
  /**
   * Interrupt coalescing: ask for an interrupt only after this many completions beyond the next
   * (EVENT_IDX; bounded by the requests in flight). 0 = an interrupt per harvest, as a Linux
   * guest does. Default floor(qd / 4): each interrupt costs the frontend a few µs of wake-up
   * (epoll, eventfd read, a call into JS) — more than the rest of a request's handling — and
   * a closed loop with qd in flight loses nothing by harvesting a quarter at a time.
   */
  coalesce?: number;
  /** Daemon processes whose CPU time to report; default: found from the socket path. */
  daemonPids?: number[];
  seed?: number;
  /** Progress messages (preparation), e.g. to stderr. */
  log?: (msg: string) => void;
}

/** The JSON report; field names are stable (documented in bench/README.md). */
export interface LoadResult {
  workload: Workload;
  qd: number;
  queues: number;
  coalesce: number;
  block_size: number;
  seconds: number;
  requests: number;
  ops_per_s: number;
  bytes: number;
  mb_per_s: number;
  mean_us: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
  errors: number;
  error_sample: string;
  cpu_us_per_op: number;
  frontend_cpu_us: number;
  daemon_cpu_us_per_op: number | null;
  daemon_cpu_us: number | null;
  daemon_pids: number[];
  kicks_per_op: number;
  interrupts_per_op: number;
  max_write: number;
}

const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const S_IFREG = 0o100000;
const DATA_FILE = 'vufs-data.bin';
const LOOKUP_DIR = 'vufs-lookup';
const CREATE_DIR = 'vufs-create';
const READDIR_DIR = 'vufs-readdir';
const FORGET_BATCH = 128;
const FORGET_RING = 1 << 16;

const TWO32 = 0x1_0000_0000;

function writeU64(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32LE(v % TWO32, off);
  buf.writeUInt32LE(Math.floor(v / TWO32), off + 4);
}

function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * TWO32;
}

/** Writes `prefix` + n as `width` decimal digits + NUL, without allocating. Returns bytes written. */
export function writeName(buf: Buffer, off: number, prefix: number, n: number, width: number): number {
  buf[off] = prefix;
  for (let i = width; i >= 1; i--) {
    buf[off + i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  buf[off + width + 1] = 0;
  return width + 2;
}

function nameOf(prefix: string, n: number, width: number): string {
  return prefix + String(n).padStart(width, '0');
}

/** One in-flight request position: a persistent chain and its buffers. */
interface Slot {
  id: number;
  queue: DriverQueue;
  head: number;
  /** Descriptor indices of the chain (the request descriptor's length varies per opcode). */
  reqDesc: number;
  req: number;
  reply: number;
  data: number;
  t0: number;
  step: number;
  /** Workload state: current file index / node / fh. */
  index: number;
  nodeid: number;
  fh: number;
  busy: boolean;
}

interface Prepared {
  nodeid: number;
  /** Open file handle of the data file, -1 if none. */
  fh: number;
  dirFhs: number[];
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const qd = opts.qd ?? 32;
  const queues = opts.queues ?? 1;
  const queueSize = opts.queueSize ?? 1024;
  const w = opts.workload;
  if (!WORKLOADS.includes(w)) throw new Error(`unknown workload ${w}`);
  if (!(qd >= 1)) throw new Error('--qd must be ≥ 1');
  const big = w === 'seqread1m' || w === 'seqwrite1m';
  const blockWanted = big ? 1 << 20 : w === 'randread4k' || w === 'randwrite4k' || w.startsWith('readdir') ? 4096 : 0;
  const descsPerSlot = blockWanted > 0 ? 3 : 2;
  const slotsPerQueue = Math.ceil(qd / queues);
  if (slotsPerQueue * descsPerSlot > queueSize - 16) {
    throw new Error(`--qd ${qd} needs ${slotsPerQueue * descsPerSlot} descriptors per queue; queue size is ${queueSize}`);
  }
  const slotBytes = 8192 + blockWanted;
  const ramSize = (64 << 20) + qd * slotBytes + (big ? 8 << 20 : 0);
  const log = opts.log ?? (() => {});

  const frontend = VhostUserFrontend.connect({
    socketPath: opts.socketPath,
    ramSize,
    requestQueues: queues,
    queueSize,
    eventIdx: opts.eventIdx,
  });
  try {
    const fuse = new FuseClient(frontend);
    fuse.caller = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, pid: process.pid };
    await fuse.init();
    const maxWrite = fuse.maxWrite;
    const blockSize = w === 'seqwrite1m' || w === 'randwrite4k' ? Math.min(blockWanted, maxWrite) : blockWanted;
    const prep = await prepare(fuse, w, opts, qd, log);
    const daemonPids = opts.daemonPids ?? findDaemonPids(opts.socketPath);
    const runner = new Runner(frontend, fuse, w, qd, blockSize, prep, opts, daemonPids);
    const r = await runner.run();
    await runner.teardown();
    return { ...r, max_write: maxWrite };
  } finally {
    frontend.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Preparation (through the daemon, or directly in --share DIR)

export async function lookupOrNull(fuse: FuseClient, parent: number, name: string): Promise<Awaited<ReturnType<FuseClient['lookup']>> | null> {
  try {
    return await fuse.lookup(parent, name);
  } catch (e) {
    if (e instanceof ErrnoError && e.errno === 2) return null;
    throw e;
  }
}

async function ensureDir(fuse: FuseClient, name: string, share: string | undefined): Promise<number> {
  if (share !== undefined) mkdirSync(join(share, name), { recursive: true });
  const e = await lookupOrNull(fuse, 1, name);
  if (e !== null) return e.nodeid;
  return (await fuse.mkdir(1, name, 0o755)).nodeid;
}

/**
 * Makes `name` in the share root hold `size` bytes of `chunk` repeated: written directly in
 * `share` when given (then looked up afresh, dropping `existing`'s reference), else through the
 * daemon (CREATE or OPEN, WRITEs 8 in flight, RELEASE). Returns the file's entry.
 */
export async function writeDataFile(
  fuse: FuseClient,
  name: string,
  size: number,
  chunk: Buffer,
  share: string | undefined,
  existing: Awaited<ReturnType<FuseClient['lookup']>> | null,
): Promise<Awaited<ReturnType<FuseClient['lookup']>>> {
  if (share !== undefined) {
    const fd = openSync(join(share, name), 'w');
    for (let off = 0; off < size; off += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, size - off), off);
    ftruncateSync(fd, size);
    closeSync(fd);
    if (existing !== null) await fuse.forget(existing.nodeid, 1);
    return (await lookupOrNull(fuse, 1, name))!;
  }
  let e = existing;
  let fh: number;
  if (e === null) {
    const c = await fuse.create(1, name, 0o644, O_RDWR);
    e = c.entry;
    fh = c.fh;
  } else {
    fh = (await fuse.open(e.nodeid, O_RDWR)).fh;
  }
  const step = Math.min(chunk.length, fuse.maxWrite);
  const node = e.nodeid;
  await parallel(Math.ceil(size / step), 8, async (i) => {
    const off = i * step;
    await fuse.write(node, fh, off, chunk.subarray(0, Math.min(step, size - off)));
  });
  await fuse.release(node, fh);
  return e;
}

/** Runs `task(i)` for i in [0, n) with at most `width` in flight. */
async function parallel(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

/** Makes `count` empty regular files named prefix+digits in dir (skipping existing ones). */
async function populateDir(fuse: FuseClient, dirName: string, dirNode: number, prefix: string, count: number, share: string | undefined, log: (m: string) => void): Promise<void> {
  const last = await lookupOrNull(fuse, dirNode, nameOf(prefix, count - 1, 6));
  if (last !== null) {
    await fuse.forget(last.nodeid, 1);
    return;
  }
  log(`preparing ${count} entries in ${dirName}`);
  if (share !== undefined) {
    for (let i = 0; i < count; i++) closeSync(openSync(join(share, dirName, nameOf(prefix, i, 6)), 'a'));
    return;
  }
  const forgets: [number, number][] = [];
  await parallel(count, 64, async (i) => {
    try {
      const e = await fuse.mknod(dirNode, nameOf(prefix, i, 6), S_IFREG | 0o644);
      forgets.push([e.nodeid, 1]);
    } catch (e) {
      if (!(e instanceof ErrnoError && e.errno === 17)) throw e; // EEXIST is fine
    }
  });
  await fuse.batchForget(forgets);
}

async function prepare(fuse: FuseClient, w: Workload, opts: LoadOptions, qd: number, log: (m: string) => void): Promise<Prepared> {
  const share = opts.shareDir;
  const prep: Prepared = { nodeid: 0, fh: -1, dirFhs: [] };
  switch (w) {
    case 'randread4k':
    case 'randwrite4k':
    case 'seqread1m':
    case 'seqwrite1m': {
      const size = opts.fileSize ?? 64 << 20;
      let e = await lookupOrNull(fuse, 1, DATA_FILE);
      if (e === null || e.attr.size < BigInt(size)) {
        log(`preparing ${DATA_FILE} (${size} bytes)`);
        const chunk = Buffer.alloc(1 << 20);
        new Prng(opts.seed ?? 1).fill(chunk);
        e = await writeDataFile(fuse, DATA_FILE, size, chunk, share, e);
      }
      prep.nodeid = e.nodeid;
      prep.fh = (await fuse.open(e.nodeid, O_RDWR)).fh;
      break;
    }
    case 'lookup': {
      const n = opts.lookupFiles ?? 1000;
      prep.nodeid = await ensureDir(fuse, LOOKUP_DIR, share);
      await populateDir(fuse, LOOKUP_DIR, prep.nodeid, 'f', n, share, log);
      break;
    }
    case 'create':
      prep.nodeid = await ensureDir(fuse, CREATE_DIR, share);
      break;
    case 'readdir':
    case 'readdirplus': {
      const n = opts.readdirEntries ?? 10000;
      prep.nodeid = await ensureDir(fuse, READDIR_DIR, share);
      await populateDir(fuse, READDIR_DIR, prep.nodeid, 'e', n, share, log);
      for (let i = 0; i < qd; i++) prep.dirFhs.push((await fuse.opendir(prep.nodeid)).fh);
      break;
    }
  }
  return prep;
}

// ---------------------------------------------------------------------------------------------
// The measured loop

class Runner {
  private readonly buf: Buffer;
  private readonly slots: Slot[] = [];
  /** slot index by (queue position, head). */
  private readonly slotOfHead: Int32Array[] = [];
  private readonly reqQueues: DriverQueue[];
  private readonly hist = new Histogram();
  private readonly rng: Prng;
  private unique = 1;
  private requests = 0;
  private bytes = 0;
  private errors = 0;
  private errorSample = '';
  private seqCursor = 0;
  private readonly fileBlocks: number;
  private measuring = false;
  private stopping = false;
  private active = 0;
  private tStart = 0;
  private tEnd = 0;
  private deadline = 0;
  private measureMs = 0;
  private warmupEnd = 0;
  private cpu0 = process.cpuUsage();
  private daemonCpu0 = 0;
  private kicks0 = 0;
  private interrupts0 = 0;
  private cpu1 = { user: 0, system: 0 };
  private daemonCpu1 = 0;
  private kicks1 = 0;
  private interrupts1 = 0;
  private finish: () => void = () => {};
  private readonly lookupCounts: Uint32Array;
  private readonly lookupNodes: Float64Array;
  /** Pending forgets (create workload): node ids in a ring. */
  private readonly forgetRing = new Float64Array(FORGET_RING);
  private forgetHead = 0;
  private forgetTail = 0;
  private forgetDropped = 0;
  private forgetHeadDesc = -1;
  private forgetOff = 0;
  private forgetBusy = false;
  private readonly hiprio: DriverQueue;
  private readonly readdirPlus: boolean;
  private readonly coalesce: number;

  constructor(
    private readonly frontend: VhostUserFrontend,
    private readonly fuse: FuseClient,
    private readonly w: Workload,
    private readonly qd: number,
    private readonly blockSize: number,
    private readonly prep: Prepared,
    private readonly opts: LoadOptions,
    private readonly daemonPids: number[],
  ) {
    this.buf = frontend.ram.buf;
    this.rng = new Prng(opts.seed ?? 1);
    this.reqQueues = frontend.queues.slice(1);
    this.hiprio = frontend.queues[0];
    this.fileBlocks = Math.max(1, Math.floor((opts.fileSize ?? 64 << 20) / Math.max(this.blockSize, 4096)));
    const nLookup = opts.lookupFiles ?? 1000;
    this.lookupCounts = new Uint32Array(nLookup);
    this.lookupNodes = new Float64Array(nLookup);
    this.readdirPlus = w === 'readdirplus';
    this.coalesce = opts.coalesce ?? Math.floor(qd / 4);
    this.setupSlots();
  }

  private setupSlots(): void {
    const ram = this.frontend.ram;
    const bs = this.blockSize;
    for (const q of this.reqQueues) {
      const map = new Int32Array(q.size).fill(-1);
      this.slotOfHead.push(map);
      q.onUsed = (head, len) => this.onUsed(map[head], len);
      q.interruptLag = this.coalesce;
    }
    const uid = this.fuse.caller.uid;
    const gid = this.fuse.caller.gid;
    const pid = this.fuse.caller.pid;
    for (let i = 0; i < this.qd; i++) {
      const qi = i % this.reqQueues.length;
      const q = this.reqQueues[qi];
      const req = ram.allocate(4096, 4096);
      const reply = ram.allocate(4096, 4096);
      const data = bs > 0 ? ram.allocate(bs, 4096) : -1;
      const withData = bs > 0;
      const head = q.allocChain(withData ? 3 : 2, true);
      if (head < 0) throw new Error('out of descriptors');
      const d0 = head;
      const d1 = q.descIndex(head, 1);
      const isWrite = this.w === 'randwrite4k' || this.w === 'seqwrite1m';
      if (isWrite) {
        const d2 = q.descIndex(head, 2);
        q.setDescRam(d0, req, InHeader.SIZE + 40, false, false);
        q.setDescRam(d1, data, bs, false, false);
        q.setDescRam(d2, reply, OutHeader.SIZE + 8, true, true);
        new Prng(i + 7).fill(this.buf, data, bs);
      } else if (withData) {
        const d2 = q.descIndex(head, 2);
        q.setDescRam(d0, req, InHeader.SIZE + 40, false, false);
        q.setDescRam(d1, reply, OutHeader.SIZE, true, false);
        q.setDescRam(d2, data, bs, true, true);
      } else {
        q.setDescRam(d0, req, InHeader.SIZE, false, false);
        q.setDescRam(d1, reply, 512, true, true);
      }
      this.buf.fill(0, req, req + 4096);
      this.buf.writeUInt32LE(uid, req + InHeader.uid);
      this.buf.writeUInt32LE(gid, req + InHeader.gid);
      this.buf.writeUInt32LE(pid, req + InHeader.pid);
      const slot: Slot = {
        id: i, queue: q, head, reqDesc: d0, req, reply, data, t0: 0, step: 0, index: 0, nodeid: 0, fh: 0, busy: false,
      };
      this.slotOfHead[qi][head] = i;
      this.slots.push(slot);
    }
    if (this.w === 'create') {
      this.forgetOff = ram.allocate(InHeader.SIZE + 8 + 16 * FORGET_BATCH, 4096);
      this.forgetHeadDesc = this.hiprio.allocChain(1, true);
      this.hiprio.onUsed = () => {
        this.forgetBusy = false;
        this.flushForgets(false);
      };
    }
  }

  run(): Promise<Omit<LoadResult, 'max_write'>> {
    const seconds = this.opts.seconds ?? 5;
    const warm = this.opts.warmupSeconds ?? Math.min(0.5, seconds / 10);
    const now = performance.now();
    this.warmupEnd = now + warm * 1000;
    this.measureMs = seconds * 1000;
    if (warm <= 0) this.startMeasuring(now);
    return new Promise((resolve) => {
      this.finish = () => resolve(this.report());
      this.active = this.slots.length;
      for (const s of this.slots) this.issue(s);
      for (const q of this.reqQueues) q.kick();
    });
  }

  private startMeasuring(now: number): void {
    this.measuring = true;
    this.tStart = now;
    this.deadline = now + this.measureMs;
    this.requests = 0;
    this.bytes = 0;
    this.hist.reset();
    this.cpu0 = process.cpuUsage();
    this.daemonCpu0 = totalCpuMicros(this.daemonPids);
    this.kicks0 = this.sumKicks();
    this.interrupts0 = this.sumInterrupts();
  }

  /** Takes the end snapshot; requests completing afterwards (the drain) are not measured. */
  private stopMeasuring(now: number): void {
    this.stopping = true;
    this.measuring = false;
    this.tEnd = now;
    this.cpu1 = process.cpuUsage(this.cpu0);
    this.daemonCpu1 = totalCpuMicros(this.daemonPids);
    this.kicks1 = this.sumKicks();
    this.interrupts1 = this.sumInterrupts();
  }

  private sumKicks(): number {
    let k = 0;
    for (const q of this.frontend.queues) k += q.stats.kicks;
    return k;
  }

  private sumInterrupts(): number {
    let k = 0;
    for (const q of this.frontend.queues) k += q.stats.interrupts;
    return k;
  }

  private report(): Omit<LoadResult, 'max_write'> {
    const feCpu = this.cpu1.user + this.cpu1.system;
    const dCpu = this.daemonPids.length > 0 ? this.daemonCpu1 - this.daemonCpu0 : null;
    const secs = Math.max(1e-9, (this.tEnd - this.tStart) / 1000);
    const n = this.requests;
    const us = (ns: number): number => Math.round(ns / 100) / 10;
    return {
      workload: this.w,
      qd: this.qd,
      queues: this.reqQueues.length,
      coalesce: this.frontend.eventIdx ? this.coalesce : 0,
      block_size: this.blockSize,
      seconds: Math.round(secs * 1000) / 1000,
      requests: n,
      ops_per_s: Math.round(n / secs),
      bytes: this.bytes,
      mb_per_s: Math.round((this.bytes / secs / 1e6) * 10) / 10,
      mean_us: us(this.hist.mean),
      p50_us: us(this.hist.quantile(0.5)),
      p90_us: us(this.hist.quantile(0.9)),
      p99_us: us(this.hist.quantile(0.99)),
      max_us: us(this.hist.max),
      errors: this.errors,
      error_sample: this.errorSample,
      cpu_us_per_op: n > 0 ? Math.round((feCpu / n) * 100) / 100 : 0,
      frontend_cpu_us: feCpu,
      daemon_cpu_us_per_op: dCpu === null || n === 0 ? null : Math.round((dCpu / n) * 100) / 100,
      daemon_cpu_us: dCpu,
      daemon_pids: this.daemonPids,
      kicks_per_op: n > 0 ? Math.round(((this.kicks1 - this.kicks0) / n) * 1000) / 1000 : 0,
      interrupts_per_op: n > 0 ? Math.round(((this.interrupts1 - this.interrupts0) / n) * 1000) / 1000 : 0,
    };
  }

  // ---- hot path ----------------------------------------------------------------------------

  private header(s: Slot, len: number, opcode: number, nodeid: number): void {
    const b = this.buf;
    const o = s.req;
    b.writeUInt32LE(len, o);
    b.writeUInt32LE(opcode, o + 4);
    writeU64(b, o + 8, this.unique++);
    writeU64(b, o + 16, nodeid);
  }

  private issue(s: Slot): void {
    const b = this.buf;
    const a = s.req + InHeader.SIZE;
    const q = s.queue;
    switch (this.w) {
      case 'randread4k':
      case 'seqread1m': {
        this.header(s, InHeader.SIZE + 40, Opcode.READ, this.prep.nodeid);
        writeU64(b, a, this.prep.fh);
        writeU64(b, a + 8, this.nextOffset());
        b.writeUInt32LE(this.blockSize, a + 16);
        break;
      }
      case 'randwrite4k':
      case 'seqwrite1m': {
        this.header(s, InHeader.SIZE + 40 + this.blockSize, Opcode.WRITE, this.prep.nodeid);
        writeU64(b, a, this.prep.fh);
        writeU64(b, a + 8, this.nextOffset());
        b.writeUInt32LE(this.blockSize, a + 16);
        break;
      }
      case 'lookup': {
        if (s.step === 0) {
          s.index = this.rng.below(this.lookupCounts.length);
          const n = writeName(b, a, 0x66 /* f */, s.index, 6);
          this.header(s, InHeader.SIZE + n, Opcode.LOOKUP, this.prep.nodeid);
          q.setDescLen(s.reqDesc, InHeader.SIZE + n);
        } else {
          this.header(s, InHeader.SIZE + 16, Opcode.GETATTR, s.nodeid);
          b.fill(0, a, a + 16);
          q.setDescLen(s.reqDesc, InHeader.SIZE + 16);
        }
        break;
      }
      case 'create': {
        if (s.step === 0) {
          b.writeUInt32LE(O_RDWR | O_CREAT | O_EXCL, a);
          b.writeUInt32LE(S_IFREG | 0o644, a + 4);
          b.writeUInt32LE(0o022, a + 8);
          b.writeUInt32LE(0, a + 12);
          const n = writeName(b, a + 16, 0x63 /* c */, s.id, 5);
          this.header(s, InHeader.SIZE + 16 + n, Opcode.CREATE, this.prep.nodeid);
          q.setDescLen(s.reqDesc, InHeader.SIZE + 16 + n);
        } else if (s.step === 1) {
          writeU64(b, a, s.fh);
          b.fill(0, a + 8, a + 24);
          this.header(s, InHeader.SIZE + 24, Opcode.RELEASE, s.nodeid);
          q.setDescLen(s.reqDesc, InHeader.SIZE + 24);
        } else {
          // step 2: UNLINK; step 3: LOOKUP of a leftover name first (daemons such as the C
          // virtiofsd resolve UNLINK through names the guest has looked up).
          const n = writeName(b, a, 0x63, s.id, 5);
          this.header(s, InHeader.SIZE + n, s.step === 2 ? Opcode.UNLINK : Opcode.LOOKUP, this.prep.nodeid);
          q.setDescLen(s.reqDesc, InHeader.SIZE + n);
        }
        break;
      }
      case 'readdir':
      case 'readdirplus': {
        // read_in.offset (a + 8) carries the cookie of the previous reply's last entry.
        this.header(s, InHeader.SIZE + 40, this.readdirPlus ? Opcode.READDIRPLUS : Opcode.READDIR, this.prep.nodeid);
        writeU64(b, a, this.prep.dirFhs[s.id]);
        b.writeUInt32LE(this.blockSize, a + 16);
        break;
      }
    }
    s.busy = true;
    s.t0 = performance.now();
    q.publish(s.head);
  }

  private nextOffset(): number {
    if (this.w === 'seqread1m' || this.w === 'seqwrite1m') {
      const off = this.seqCursor * this.blockSize;
      this.seqCursor = (this.seqCursor + 1) % this.fileBlocks;
      return off;
    }
    return this.rng.below(this.fileBlocks) * 4096;
  }

  private onUsed(slotIndex: number, usedLen: number): void {
    const s = this.slots[slotIndex];
    const now = performance.now();
    s.busy = false;
    if (this.measuring) {
      this.hist.record((now - s.t0) * 1e6);
      this.requests++;
    } else if (!this.stopping && now >= this.warmupEnd) {
      this.startMeasuring(now);
    }
    const b = this.buf;
    const err = usedLen >= OutHeader.SIZE ? b.readInt32LE(s.reply + OutHeader.error) : -5;
    if (err !== 0) this.noteError(s, err, usedLen);
    this.advance(s, err, usedLen);
    if (this.measuring && (now >= this.deadline || (this.opts.maxRequests !== undefined && this.requests >= this.opts.maxRequests))) {
      this.stopMeasuring(now);
    }
    if (this.stopping) {
      // Finish a CREATE → RELEASE → UNLINK sequence so no file is left behind (not measured).
      if (this.w === 'create' && s.step !== 0) {
        this.issue(s);
        return;
      }
      if (--this.active === 0) this.finish();
      return;
    }
    this.issue(s);
  }

  private noteError(s: Slot, err: number, usedLen: number): void {
    this.errors++;
    if (this.errorSample === '') {
      const op = this.buf.readUInt32LE(s.req + InHeader.opcode);
      this.errorSample = usedLen < OutHeader.SIZE
        ? `${opcodeName(op)}: reply of ${usedLen} bytes`
        : `${opcodeName(op)}: ${errnoName(-err)}`;
    }
  }

  /** Accounts the reply and moves the slot's state machine. */
  private advance(s: Slot, err: number, usedLen: number): void {
    const b = this.buf;
    switch (this.w) {
      case 'randread4k':
      case 'seqread1m':
        if (err === 0) this.bytes += usedLen - OutHeader.SIZE;
        break;
      case 'randwrite4k':
      case 'seqwrite1m':
        if (err === 0) this.bytes += b.readUInt32LE(s.reply + OutHeader.SIZE);
        break;
      case 'lookup':
        if (s.step === 0 && err === 0) {
          s.nodeid = readU64(b, s.reply + OutHeader.SIZE + EntryOut.nodeid);
          this.lookupNodes[s.index] = s.nodeid;
          this.lookupCounts[s.index]++;
          s.step = 1;
        } else {
          s.step = 0;
        }
        break;
      case 'create':
        if (s.step === 0) {
          if (err === 0) {
            s.nodeid = readU64(b, s.reply + OutHeader.SIZE + EntryOut.nodeid);
            s.fh = readU64(b, s.reply + OutHeader.SIZE + EntryOut.SIZE);
            s.step = 1;
          } else {
            s.nodeid = 0;
            s.step = 3; // a leftover from an earlier run: look it up, unlink it, create again
          }
        } else if (s.step === 1) {
          s.step = 2;
        } else if (s.step === 3) {
          s.nodeid = err === 0 ? readU64(b, s.reply + OutHeader.SIZE + EntryOut.nodeid) : 0;
          s.step = err === 0 ? 2 : 0;
        } else {
          // Forget the node only now, as the kernel would once the dentry is gone: the C
          // virtiofsd resolves UNLINK's name through its inode table and answers EIO for a
          // name whose node was already forgotten.
          if (s.nodeid !== 0) this.queueForget(s.nodeid);
          s.nodeid = 0;
          s.step = 0;
        }
        break;
      case 'readdir':
      case 'readdirplus': {
        const a = s.req + InHeader.SIZE;
        const n = err === 0 ? usedLen - OutHeader.SIZE : 0;
        if (n <= 0) {
          b.fill(0, a + 8, a + 16); // end of directory (or error): rewind
          break;
        }
        this.bytes += n;
        // Walk the entries in place; copy the last one's cookie (an opaque u64) into the request.
        const base = s.data;
        const entry = this.readdirPlus ? EntryOut.SIZE : 0;
        let p = 0;
        let last = -1;
        while (p + entry + 24 <= n) {
          last = p + entry + 8;
          p += entry + recAlign(24 + b.readUInt32LE(base + p + entry + 16));
        }
        if (last >= 0) b.copy(b, a + 8, base + last, base + last + 8);
        break;
      }
    }
  }

  // ---- create workload: batched FORGETs on the hiprio queue ---------------------------------

  private queueForget(nodeid: number): void {
    const next = (this.forgetTail + 1) & (FORGET_RING - 1);
    if (next === this.forgetHead) {
      this.forgetDropped++;
      return;
    }
    this.forgetRing[this.forgetTail] = nodeid;
    this.forgetTail = next;
    this.flushForgets(false);
  }

  /** Sends one BATCH_FORGET of up to FORGET_BATCH nodes when enough are pending (or `all`). */
  private flushForgets(all: boolean): boolean {
    if (this.forgetBusy) return false;
    const pending = (this.forgetTail - this.forgetHead) & (FORGET_RING - 1);
    if (pending === 0 || (!all && pending < FORGET_BATCH)) return false;
    const n = Math.min(pending, FORGET_BATCH);
    const b = this.buf;
    const o = this.forgetOff;
    const len = InHeader.SIZE + 8 + 16 * n;
    b.writeUInt32LE(len, o);
    b.writeUInt32LE(Opcode.BATCH_FORGET, o + 4);
    writeU64(b, o + 8, this.unique++);
    writeU64(b, o + 16, 0);
    b.writeUInt32LE(n, o + InHeader.SIZE);
    b.writeUInt32LE(0, o + InHeader.SIZE + 4);
    for (let i = 0; i < n; i++) {
      writeU64(b, o + InHeader.SIZE + 8 + 16 * i, this.forgetRing[this.forgetHead]);
      writeU64(b, o + InHeader.SIZE + 16 + 16 * i, 1);
      this.forgetHead = (this.forgetHead + 1) & (FORGET_RING - 1);
    }
    this.hiprio.setDescRam(this.forgetHeadDesc, o, len, false, true);
    this.forgetBusy = true;
    this.hiprio.publish(this.forgetHeadDesc);
    this.hiprio.kick();
    return true;
  }

  /** Returns lookup counts, handles and descriptors after the run. */
  async teardown(): Promise<void> {
    if (this.w === 'create') {
      while (this.forgetBusy || this.flushForgets(true)) {
        await new Promise((r) => setTimeout(r, 1));
      }
      this.hiprio.onUsed = null;
      this.hiprio.freeChain(this.forgetHeadDesc);
    }
    for (const s of this.slots) s.queue.freeChain(s.head);
    for (const q of this.reqQueues) {
      q.onUsed = null;
      q.interruptLag = 0;
    }
    if (this.w === 'lookup') {
      const forgets: [number, number][] = [];
      for (let i = 0; i < this.lookupCounts.length; i++) {
        if (this.lookupCounts[i] > 0) forgets.push([this.lookupNodes[i], this.lookupCounts[i]]);
      }
      await this.fuse.batchForget(forgets);
    }
    for (const fh of this.prep.dirFhs) await this.fuse.release(this.prep.nodeid, fh, true);
    if (this.prep.fh >= 0) await this.fuse.release(this.prep.nodeid, this.prep.fh);
  }
}
