/**
 * `vufs fuzz`: sends malformed descriptor chains and malformed FUSE messages (fuzz-cases.ts) in
 * batches, checks every returned chain against an oracle (fuzz-oracle.ts), and after every batch
 * checks that a valid request is still answered.
 *
 * Verdicts per case:
 * - a chain the oracle calls malformed must come back with used length 0 (or, for an avail
 *   entry that names no descriptor, not at all); a non-zero length there is a warning
 *   ("lenient": the device served a chain it should have refused);
 * - a well-formed chain may come back empty (no reply possible) or with a valid reply:
 *   used length ≤ the writable bytes, ≥ 16, equal to out.len, error in [-4095, 0] with no
 *   payload, unique echoed; no reply at all to FORGET / BATCH_FORGET / INTERRUPT;
 * - a chain not returned within the timeout is a hang; a device that returns ids it was never
 *   given breaks the ring protocol.
 * After each batch: GETATTR of the root and a LOOKUP must succeed (re-INIT first when a fuzzed
 * INIT/DESTROY ended the session); no answer within the timeout or a closed socket = dead.
 */
import { performance } from 'node:perf_hooks';
import { ErrnoError, errnoName } from '../filesystem/errors.js';
import { FuseClient } from './fuse-client.js';
import { DESC_F_NEXT, type DriverQueue } from './driver-queue.js';
import { RAM_GPA } from './guest-ram.js';
import {
  FUZZ_QUEUE_SIZE,
  FUZZ_RAM_SIZE,
  SLOT_BYTES,
  SLOT_REQ,
  SLOT_REQ_BYTES,
  describeCase,
  type FuzzCase,
  type FuzzTargets,
} from './fuzz-case-model.js';
import { generateCase, selectClasses } from './fuzz-cases.js';
import { isNoReplyOpcode } from './fuzz-fuse-request.js';
import { seenRequest, walkChain } from './fuzz-oracle.js';
import { CpuMeter, findDaemonPids } from './proc-cpu.js';
import { VhostUserFrontend } from './vhost-user-frontend.js';

export interface FuzzOptions {
  socketPath: string;
  /** Cases to send (ignored with `replay`). */
  requests: number;
  seed: number;
  /** Cases in flight per batch. Default 32. */
  batch?: number;
  /** A chain not returned within this many ms is a hang. Default 5000. */
  timeoutMs?: number;
  /** Run only these case numbers, each alone, and describe them. */
  replay?: number[];
  /** Only classes starting with one of these. */
  classes?: string[];
  daemonPids?: number[];
  /** Stop at the first violation (default: keep going, up to 1000 recorded failures). */
  stopOnFailure?: boolean;
  log?: (msg: string) => void;
  /** Progress callback every ~5 s. */
  progressEveryMs?: number;
}

export interface ClassStats {
  sent: number;
  replied: number;
  empty: number;
  hangs: number;
  violations: number;
  warnings: number;
}

export interface FailureRecord {
  index: number;
  cls: string;
  kind: string;
  detail: string;
}

/** The JSON report; field names are stable (documented in bench/README.md). */
export interface FuzzResult {
  ok: boolean;
  seed: number;
  requests: number;
  batches: number;
  alive: boolean;
  seconds: number;
  requests_per_s: number;
  replied: number;
  returned_empty: number;
  skipped_heads: number;
  hangs: number;
  violations: number;
  warnings: number;
  probes: number;
  probe_failures: number;
  reinits: number;
  /** Times the fixture (fz/, fz/fz-file) had to be re-created after fuzz cases replaced it. */
  fixture_repairs: number;
  /** Violations and warnings by kind ("errors by class"). */
  errors_by_kind: Record<string, number>;
  by_class: Record<string, ClassStats>;
  /** errno of error replies, by name. */
  reply_errnos: Record<string, number>;
  /** First recorded failures (replay each with --replay INDEX). */
  failures: FailureRecord[];
  /** Why the run stopped early, if it did. */
  stopped: string;
  daemon_cpu_us: number | null;
  /** With --replay: each case and its outcome. */
  replayed?: Record<string, unknown>[];
}

const MAX_FAILURES = 1000;
const PROBE_FILE = 'vufs-probe';
const EIO = 5;
const EEXIST = 17;

/** Warnings: odd but not wrong. Everything else recorded is a violation. */
const WARNING_KINDS = new Set(['lenient', 'no-reply']);

interface Pending {
  c: FuzzCase;
  slot: number;
  base: number;
  head: number;
  queue: DriverQueue;
  done: boolean;
  usedLen: number;
}

class Timeout extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Timeout(`${what}: no answer within ${ms} ms`)), ms);
    p.finally(() => clearTimeout(t)).then(resolve, reject);
  });
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const f = new Fuzzer(opts);
  try {
    return await f.run();
  } finally {
    f.close();
  }
}

class Fuzzer {
  private readonly fe: VhostUserFrontend;
  private readonly fuse: FuseClient;
  private readonly batch: number;
  private readonly timeoutMs: number;
  private readonly slotBase: number[] = [];
  private readonly classes;
  private targets: FuzzTargets = { dir: 1, file: 1, fileFh: 0, dirFh: 0 };
  private readonly log: (m: string) => void;
  private readonly r: FuzzResult;
  private readonly daemonPids: number[];
  private readonly cpu: CpuMeter;

  constructor(private readonly opts: FuzzOptions) {
    this.batch = Math.max(1, Math.min(opts.batch ?? 32, 256));
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.classes = selectClasses(opts.classes);
    this.log = opts.log ?? (() => {});
    this.fe = VhostUserFrontend.connect({ socketPath: opts.socketPath, ramSize: FUZZ_RAM_SIZE, queueSize: FUZZ_QUEUE_SIZE, requestQueues: 1 });
    this.fuse = new FuseClient(this.fe);
    for (let i = 0; i < this.batch; i++) this.slotBase.push(this.fe.ram.allocate(SLOT_BYTES, 4096));
    this.daemonPids = opts.daemonPids ?? findDaemonPids(opts.socketPath);
    this.cpu = new CpuMeter(this.daemonPids);
    this.r = {
      ok: true, seed: opts.seed, requests: 0, batches: 0, alive: true, seconds: 0, requests_per_s: 0,
      replied: 0, returned_empty: 0, skipped_heads: 0, hangs: 0, violations: 0, warnings: 0,
      probes: 0, probe_failures: 0, reinits: 0, fixture_repairs: 0, errors_by_kind: {}, by_class: {}, reply_errnos: {},
      failures: [], stopped: '', daemon_cpu_us: null,
    };
    for (const q of this.fe.queues) {
      q.onDeviceError = (m) => this.record({ index: -1, cls: `queue${q.index}`, kind: 'ring-protocol', detail: m });
    }
  }

  close(): void {
    this.fe.close();
  }

  async run(): Promise<FuzzResult> {
    const t0 = performance.now();
    const cpu0 = this.cpu.sample();
    await this.fuse.init();
    await this.setupFixture();
    const replay = this.opts.replay;
    let lastProgress = t0;
    const every = this.opts.progressEveryMs ?? 5000;
    if (replay !== undefined) {
      this.r.replayed = [];
      for (const index of replay) {
        const c = generateCase(this.opts.seed, index, this.targets, this.classes);
        const [p] = await this.runBatch([c]);
        this.r.replayed.push({ ...describeCase(c), outcome: this.outcome(p) });
        if (!(await this.afterBatch([c]))) break;
      }
    } else {
      for (let next = 0; next < this.opts.requests; ) {
        const cases: FuzzCase[] = [];
        for (let k = 0; k < this.batch && next < this.opts.requests; k++) cases.push(generateCase(this.opts.seed, next++, this.targets, this.classes));
        await this.runBatch(cases);
        if (!(await this.afterBatch(cases))) break;
        if (this.opts.stopOnFailure === true && this.r.violations > 0) {
          this.r.stopped = 'stopped at the first violation';
          break;
        }
        const now = performance.now();
        if (now - lastProgress >= every) {
          lastProgress = now;
          this.log(`${this.r.requests} cases, ${Math.round(this.r.requests / ((now - t0) / 1000))}/s, violations ${this.r.violations}, hangs ${this.r.hangs}, warnings ${this.r.warnings}`);
        }
      }
    }
    const secs = (performance.now() - t0) / 1000;
    this.r.seconds = Math.round(secs * 1000) / 1000;
    this.r.requests_per_s = Math.round(this.r.requests / Math.max(secs, 1e-9));
    this.r.daemon_cpu_us = this.daemonPids.length > 0 ? this.cpu.sample() - cpu0 : null;
    this.r.ok = this.r.alive && this.r.violations === 0 && this.r.hangs === 0;
    return this.r;
  }

  // ---- fixture ------------------------------------------------------------------------------

  private async lookupOrCreate(parent: number, name: string, dir: boolean): Promise<number> {
    try {
      return (await this.fuse.lookup(parent, name)).nodeid;
    } catch (e) {
      if (!(e instanceof ErrnoError && e.errno === 2)) throw e;
    }
    try {
      if (dir) return (await this.fuse.mkdir(parent, name, 0o755)).nodeid;
      const { entry, fh } = await this.fuse.create(parent, name, 0o644, 2);
      await this.fuse.write(entry.nodeid, fh, 0, Buffer.alloc(4096, 0x66));
      await this.fuse.release(entry.nodeid, fh);
      return entry.nodeid;
    } catch (e) {
      if (e instanceof ErrnoError && e.errno === EEXIST) return (await this.fuse.lookup(parent, name)).nodeid;
      throw e;
    }
  }

  /**
   * (Re)creates fz/, fz/fz-file, the probe file and open handles; releases the old handles.
   * Fuzz cases may have replaced fz-file by a FIFO, a symlink or a directory (MKNOD, RENAME,
   * SYMLINK with fixture names): then it is removed and created again as a regular file.
   */
  private async setupFixture(): Promise<void> {
    const old = this.targets;
    const quiet = async (p: Promise<unknown>): Promise<boolean> => {
      try {
        await p;
        return true;
      } catch {
        return false; // stale handles of a previous session, or a name already gone
      }
    };
    if (old.fileFh !== 0) await quiet(this.fuse.release(old.file, old.fileFh));
    if (old.dirFh !== 0) await quiet(this.fuse.release(old.dir, old.dirFh, true));
    await this.lookupOrCreate(1, PROBE_FILE, false);
    let dir = await this.lookupOrCreate(1, 'fz', true);
    let dirFh: number;
    try {
      dirFh = (await this.fuse.opendir(dir)).fh;
    } catch {
      this.r.fixture_repairs++;
      await quiet(this.fuse.unlink(1, 'fz'));
      await quiet(this.fuse.rename(1, 'fz', 1, `fz-old-${this.r.fixture_repairs}`));
      dir = await this.lookupOrCreate(1, 'fz', true);
      dirFh = (await this.fuse.opendir(dir)).fh;
    }
    let file = await this.lookupOrCreate(dir, 'fz-file', false);
    let fileFh: number;
    try {
      fileFh = (await this.fuse.open(file, 2)).fh;
    } catch {
      this.r.fixture_repairs++;
      if (!(await quiet(this.fuse.unlink(dir, 'fz-file')))) await quiet(this.fuse.rename(dir, 'fz-file', dir, `fz-old-${this.r.fixture_repairs}`));
      file = await this.lookupOrCreate(dir, 'fz-file', false);
      fileFh = (await this.fuse.open(file, 2)).fh;
    }
    this.targets = { dir, file, fileFh, dirFh };
  }

  // ---- one batch ------------------------------------------------------------------------------

  private stats(cls: string): ClassStats {
    return (this.r.by_class[cls] ??= { sent: 0, replied: 0, empty: 0, hangs: 0, violations: 0, warnings: 0 });
  }

  private record(f: FailureRecord): void {
    const warn = WARNING_KINDS.has(f.kind);
    if (warn) this.r.warnings++;
    else this.r.violations++;
    this.r.errors_by_kind[f.kind] = (this.r.errors_by_kind[f.kind] ?? 0) + 1;
    if (f.index >= 0) {
      const s = this.stats(f.cls);
      if (warn) s.warnings++;
      else s.violations++;
    }
    if (!warn && this.r.failures.length < MAX_FAILURES) this.r.failures.push(f);
  }

  /** Writes the cases into their slots and the rings, kicks, and waits for the chains. */
  private async runBatch(cases: FuzzCase[]): Promise<(Pending | null)[]> {
    const ram = this.fe.ram;
    const buf = ram.buf;
    const pending: (Pending | null)[] = [];
    let outstanding = 0;
    let wake: () => void = () => {};
    const touched = new Set<DriverQueue>();
    for (let k = 0; k < cases.length; k++) {
      const c = cases[k];
      const q = this.fe.queues[c.queue];
      const base = this.slotBase[k];
      this.r.requests++;
      this.stats(c.cls).sent++;
      buf.fill(0, base, base + SLOT_BYTES);
      c.request.copy(buf, base + SLOT_REQ, 0, Math.min(c.request.length, SLOT_REQ_BYTES));
      for (const t of c.tables) {
        for (let j = 0; j < t.descs.length; j++) {
          const e = t.descs[j];
          const at = base + t.off + 16 * j;
          if (at + 16 > base + SLOT_BYTES) break;
          buf.writeBigUInt64LE(BigInt.asUintN(64, e.gpa ?? RAM_GPA + BigInt(base + e.off)), at);
          buf.writeUInt32LE(e.len >>> 0, at + 8);
          buf.writeUInt16LE(e.flags & 0xffff, at + 12);
          buf.writeUInt16LE(e.next & 0xffff, at + 14);
        }
      }
      touched.add(q);
      if (c.badHead !== undefined) {
        q.publishRawHead(c.badHead);
        this.r.skipped_heads++;
        pending.push(null);
        continue;
      }
      const head = q.allocChain(c.descs.length);
      if (head < 0) throw new Error('fuzzer ran out of descriptors (too many hung chains?)');
      const idx: number[] = [];
      for (let i = 0; i < c.descs.length; i++) idx.push(q.descIndex(head, i));
      for (let i = 0; i < c.descs.length; i++) {
        const d = c.descs[i];
        const hasNext = (d.flags & DESC_F_NEXT) !== 0;
        const next = !hasNext ? 0 : d.rawNext === true || d.next >= idx.length ? d.next : idx[d.next];
        q.writeRawDescriptor(idx[i], d.gpa ?? RAM_GPA + BigInt(base + d.off), d.len, d.flags, next);
      }
      const p: Pending = { c, slot: k, base, head, queue: q, done: false, usedLen: 0 };
      pending.push(p);
      outstanding++;
      q.publish(head, (len) => {
        p.done = true;
        p.usedLen = len;
        if (--outstanding === 0) wake();
      });
    }
    const allBack = new Promise<void>((resolve) => {
      wake = resolve;
      if (outstanding === 0) resolve();
    });
    for (const q of touched) q.kick();
    if (!(await this.waitFor(allBack, this.timeoutMs)) && this.fe.isConnected()) {
      // A lost notification is not a hang: kick every queue once more and wait a little.
      for (const q of touched) q.forceKick();
      for (const q of this.fe.queues) q.harvest();
      await this.waitFor(allBack, Math.min(1000, this.timeoutMs));
    }
    for (const p of pending) if (p !== null) this.judge(p);
    return pending;
  }

  /**
   * Waits for `p` up to `ms`; false on timeout or when the back-end hangs up meanwhile (checked
   * every 20 ms, so a crashed daemon is reported at once rather than after the timeout).
   */
  private waitFor(p: Promise<void>, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (v: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(tick);
        resolve(v);
      };
      const timer = setTimeout(() => finish(false), ms);
      const tick = setInterval(() => {
        if (!this.fe.isConnected()) finish(false);
      }, 20);
      void p.then(() => finish(true));
    });
  }

  /** Applies the oracle to one chain's outcome. */
  private judge(p: Pending): void {
    const c = p.c;
    const s = this.stats(c.cls);
    const fail = (kind: string, detail: string): void => this.record({ index: c.index, cls: c.cls, kind, detail });
    if (!p.done && !this.fe.isConnected()) {
      p.queue.abandon(p.head);
      return; // the daemon is gone: afterBatch reports that once
    }
    if (!p.done) {
      this.r.hangs++;
      s.hangs++;
      p.queue.abandon(p.head);
      fail('hang', `chain not returned within ${this.timeoutMs} ms`);
      return;
    }
    const v = walkChain(c, p.base);
    if (p.usedLen === 0) {
      this.r.returned_empty++;
      s.empty++;
      return;
    }
    this.r.replied++;
    s.replied++;
    if (v.malformed) {
      fail('lenient', `used length ${p.usedLen} for a malformed chain (${v.why})`);
      return;
    }
    if (p.usedLen > v.writableTotal) {
      fail('used-len-overflow', `used length ${p.usedLen} > ${v.writableTotal} writable bytes`);
      return;
    }
    if (p.usedLen < 16) {
      fail('short-reply', `used length ${p.usedLen} < sizeof(fuse_out_header)`);
      return;
    }
    const seen = seenRequest(c, v);
    const headerOk = seen.length >= 40;
    const opcode = headerOk ? seen.readUInt32LE(4) : -1;
    if (headerOk && seen.readUInt32LE(0) === seen.length && isNoReplyOpcode(opcode)) {
      fail('reply-to-noreply', `opcode ${opcode} got a ${p.usedLen}-byte reply`);
      return;
    }
    if (v.overlapping) return; // the reply may have overwritten itself or been read back: unknowable
    const out = this.gatherOutHeader(p, v.writable);
    const outLen = out.readUInt32LE(0);
    const error = out.readInt32LE(4);
    const unique = out.readBigUInt64LE(8);
    if (outLen !== p.usedLen) fail('reply-len-mismatch', `out.len ${outLen} != used length ${p.usedLen}`);
    else if (error > 0 || error < -4095) fail('bad-errno', `out.error ${error}`);
    else if (error !== 0 && outLen !== 16) fail('error-with-payload', `error ${error} with ${outLen - 16} payload bytes`);
    else if (headerOk && unique !== seen.readBigUInt64LE(8)) fail('unique-mismatch', `out.unique ${unique} != ${seen.readBigUInt64LE(8)}`);
    if (error < 0 && error >= -4095) {
      const name = errnoName(-error);
      this.r.reply_errnos[name] = (this.r.reply_errnos[name] ?? 0) + 1;
    }
  }

  private gatherOutHeader(p: Pending, writable: { off: number; len: number }[]): Buffer {
    const out = Buffer.alloc(16);
    const buf = this.fe.ram.buf;
    let n = 0;
    for (const s of writable) {
      for (let i = 0; i < s.len && n < 16; i++) out[n++] = buf[p.base + s.off + i];
      if (n === 16) break;
    }
    return out;
  }

  private outcome(p: Pending | null): Record<string, unknown> {
    if (p === null) return { returned: false, expected: 'skipped by the device (head out of range)' };
    if (!p.done) return { returned: false, hang: true };
    const v = walkChain(p.c, p.base);
    const o: Record<string, unknown> = { returned: true, usedLen: p.usedLen, malformed: v.malformed, why: v.why };
    if (p.usedLen >= 16 && !v.malformed && !v.overlapping) {
      const out = this.gatherOutHeader(p, v.writable);
      o.out = { len: out.readUInt32LE(0), error: out.readInt32LE(4), unique: out.readBigUInt64LE(8).toString() };
    }
    return o;
  }

  // ---- liveness -------------------------------------------------------------------------------

  /** Probe after a batch; false when the daemon is gone (the run stops). */
  private async afterBatch(cases: FuzzCase[]): Promise<boolean> {
    this.r.batches++;
    if (this.r.batches % 64 === 0) this.cpu.sample(); // keeps a recent reading should the daemon die
    const why = this.fe.checkConnection();
    while (this.fe.unexpected.length > 0) {
      this.record({ index: cases[0].index, cls: 'probe', kind: 'unexpected-message', detail: `back-end sent on the main channel after cases ${cases[0].index}..${cases[cases.length - 1].index}: ${this.fe.unexpected.shift()}` });
    }
    if (why !== '') {
      this.dead(cases, why);
      return false;
    }
    const needFixture = cases.some((c) => c.forgets || c.resetsSession) || this.r.batches % 64 === 0;
    try {
      this.r.probes++;
      await withTimeout(this.probe(needFixture), this.timeoutMs, 'probe');
      return true;
    } catch (e) {
      if (e instanceof Timeout || !this.fe.isConnected()) {
        this.dead(cases, e instanceof Error ? e.message : String(e));
        return false;
      }
      this.r.probe_failures++;
      this.record({ index: cases[0].index, cls: 'probe', kind: 'probe-failed', detail: `${e instanceof Error ? e.message : String(e)} after cases ${cases[0].index}..${cases[cases.length - 1].index}` });
      return true;
    }
  }

  private dead(cases: FuzzCase[], why: string): void {
    this.r.alive = false;
    this.r.stopped = `daemon dead or unresponsive after cases ${cases[0].index}..${cases[cases.length - 1].index}: ${why}`;
    this.record({ index: cases[0].index, cls: 'probe', kind: 'dead', detail: this.r.stopped });
  }

  private async probe(refresh: boolean): Promise<void> {
    try {
      await this.fuse.getattr(1);
    } catch (e) {
      // A fuzzed DESTROY (or an INIT the daemon refused) leaves the session down: start a new one.
      if (!(e instanceof ErrnoError && e.errno === EIO)) throw e;
      this.r.reinits++;
      await this.fuse.init();
      await this.fuse.getattr(1);
      refresh = true;
    }
    const e = await this.fuse.lookup(1, PROBE_FILE);
    await this.fuse.forget(e.nodeid, 1);
    if (refresh) {
      try {
        await this.setupFixture();
      } catch (err) {
        // The liveness part passed; a fixture the fuzz cases damaged beyond repair is not the
        // daemon's fault, but say so (later cases then use stale ids).
        this.r.fixture_repairs++;
        this.log(`fixture repair failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

/** Human-readable summary. */
export function formatFuzzReport(r: FuzzResult): string {
  const lines: string[] = [];
  lines.push(`fuzz seed ${r.seed}: ${r.requests} cases in ${r.batches} batches, ${r.seconds} s (${r.requests_per_s}/s); daemon ${r.alive ? 'alive' : 'DEAD'}`);
  lines.push(`returned with a reply ${r.replied}, returned empty ${r.returned_empty}, skipped heads ${r.skipped_heads}; hangs ${r.hangs}, violations ${r.violations}, warnings ${r.warnings}; probes ${r.probes} (failed ${r.probe_failures}), re-INITs ${r.reinits}`);
  if (Object.keys(r.errors_by_kind).length > 0) lines.push(`by kind: ${Object.entries(r.errors_by_kind).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  lines.push('class                          sent  replied    empty  hangs  viol  warn');
  for (const [cls, s] of Object.entries(r.by_class).sort()) {
    lines.push(`${cls.padEnd(28)} ${String(s.sent).padStart(7)} ${String(s.replied).padStart(8)} ${String(s.empty).padStart(8)} ${String(s.hangs).padStart(6)} ${String(s.violations).padStart(5)} ${String(s.warnings).padStart(5)}`);
  }
  for (const f of r.failures.slice(0, 20)) lines.push(`  case ${f.index} ${f.cls}: ${f.kind}: ${f.detail}`);
  if (r.failures.length > 20) lines.push(`  ... ${r.failures.length - 20} more (--json lists up to 1000)`);
  if (r.stopped !== '') lines.push(`stopped: ${r.stopped}`);
  if (r.replayed !== undefined) for (const c of r.replayed) lines.push(JSON.stringify(c));
  lines.push(r.ok ? 'OK' : 'FAILED');
  return lines.join('\n') + '\n';
}
