/**
 * The measured loop of `vufs load`, closed: `qd` slots each own a persistent descriptor chain
 * and fixed request/reply buffers in guest RAM; a slot re-issues as soon as its chain comes
 * back, so `qd` requests are always in flight. Per request the hot path rewrites a few header
 * fields in place, publishes the head and records one latency sample: no Buffers, closures or
 * BigInts are allocated, and kicks/interrupts are batched (EVENT_IDX) — so the frontend's CPU
 * per request stays well below the daemon's, which is what the report shows side by side.
 */
import { performance } from 'node:perf_hooks';
import { errnoName } from '../filesystem/errors.js';
import { EntryOut, InHeader, Opcode, OutHeader, opcodeName, recAlign } from '../fuse/abi.js';
import type { DriverQueue } from './driver-queue.js';
import type { FuseClient } from './fuse-client.js';
import { Histogram } from './histogram.js';
import type { LoadOptions, LoadResult, Workload } from './load.js';
import { O_RDWR, S_IFREG, writeName, type Prepared } from './load-prepare.js';
import { Prng } from './prng.js';
import { totalCpuMicros } from './proc-cpu.js';
import type { VhostUserFrontend } from './vhost-user-frontend.js';

const O_CREAT = 0o100;
const O_EXCL = 0o200;
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

/** Runs one workload with `qd` requests always in flight and measures it (see the header). */
export class Runner {
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
