/**
 * `vufs load --dax-window SIZE --policy NAME`: the read/write workloads through a DAX window
 * instead of FUSE READ / WRITE. `qd` workers each run a closed loop of accesses through one
 * DaxReader: a hit is a memory copy from the window, a miss costs a REMOVEMAPPING (if the
 * window is full) and a SETUPMAPPING round trip through the daemon and the back-end channel.
 *
 * The file set is explicit (`files` × `fileSize`), because what matters is how the active set
 * compares to the window: 100 files × 1 MiB need 100 ranges of 2 MiB, one 512 MiB file 256.
 * Random workloads pick a file and a 4 KiB-aligned offset uniformly; sequential ones walk the
 * files in order, 1 MiB at a time.
 */
import { performance } from 'node:perf_hooks';
import { TraceWriter } from '../dax/trace.js';
import { DaxReader, type DaxFile } from './dax-reader.js';
import { FuseClient } from './fuse-client.js';
import { Histogram } from './histogram.js';
import { lookupOrNull, writeDataFile, type LoadOptions, type LoadResult, type Workload } from './load.js';
import { Prng } from './prng.js';
import { findDaemonPids, totalCpuMicros } from './proc-cpu.js';
import { VhostUserFrontend } from './vhost-user-frontend.js';

export const DAX_WORKLOADS: readonly Workload[] = ['randread4k', 'randwrite4k', 'seqread1m', 'seqwrite1m'];

export interface DaxLoadOptions extends LoadOptions {
  /** Bytes of DAX window to use (the frontend offers this much; the daemon's may be larger). */
  daxWindow: number;
  /** Reclaim policy: lru, clock, arc. Default lru. */
  policy?: string;
  /** Append `access` records to this JSONL trace (for `vufs dax-advise`). */
  daxTrace?: string;
  /** Files in the workload's file set. Default 1. */
  files?: number;
}

export interface DaxLoadResult extends LoadResult {
  dax_window: number;
  policy: string;
  files: number;
  file_size: number;
  dax_hit_ratio: number;
  dax_hits: number;
  dax_misses: number;
  evictions: number;
  setups: number;
  removes: number;
}

const O_RDONLY = 0;
const O_RDWR = 2;

function fileName(i: number, files: number): string {
  return files === 1 ? 'vufs-data.bin' : `vufs-dax-${String(i).padStart(5, '0')}.bin`;
}

/** Makes sure each file exists with at least `size` bytes (written directly in `share`, or through FUSE). */
async function prepareFiles(fuse: FuseClient, opts: DaxLoadOptions, files: number, size: number, log: (m: string) => void): Promise<{ nodeid: number; size: number }[]> {
  const out: { nodeid: number; size: number }[] = [];
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < files; i++) {
    const name = fileName(i, files);
    let e = await lookupOrNull(fuse, 1, name);
    if (e === null || e.attr.size < BigInt(size)) {
      if (i === 0 || i % 100 === 0) log(`preparing ${name}${files > 1 ? ` (and the rest of ${files} files)` : ''} (${size} bytes)`);
      new Prng((opts.seed ?? 1) + i).fill(chunk);
      e = await writeDataFile(fuse, name, size, chunk, opts.shareDir, e);
    }
    out.push({ nodeid: e.nodeid, size });
  }
  return out;
}

export async function runDaxLoad(opts: DaxLoadOptions): Promise<DaxLoadResult> {
  const w = opts.workload;
  if (!DAX_WORKLOADS.includes(w)) throw new Error(`--dax-window works with ${DAX_WORKLOADS.join(', ')}, not ${w}`);
  const qd = opts.qd ?? 32;
  if (!(qd >= 1)) throw new Error('--qd must be ≥ 1');
  const files = opts.files ?? 1;
  const fileSize = opts.fileSize ?? 64 << 20;
  if (!(files >= 1) || !(fileSize >= 4096)) throw new Error('--files must be ≥ 1 and --file-size ≥ 4096');
  const write = w === 'randwrite4k' || w === 'seqwrite1m';
  const big = w === 'seqread1m' || w === 'seqwrite1m';
  const bs = big ? 1 << 20 : 4096;
  const log = opts.log ?? (() => {});

  const frontend = VhostUserFrontend.connect({
    socketPath: opts.socketPath,
    ramSize: 16 << 20,
    requestQueues: opts.queues ?? 1,
    queueSize: opts.queueSize ?? 1024,
    eventIdx: opts.eventIdx,
    daxWindowSize: opts.daxWindow,
  });
  const trace = opts.daxTrace !== undefined ? new TraceWriter(opts.daxTrace) : undefined;
  try {
    const fuse = new FuseClient(frontend);
    fuse.caller = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, pid: process.pid };
    await fuse.init();
    const window = frontend.backend?.window;
    if (window === undefined) throw new Error('the daemon offers no back-end request channel: start it with --dax-window');
    const set = await prepareFiles(fuse, opts, files, fileSize, log);
    const handles: DaxFile[] = [];
    for (const f of set) {
      const { fh } = await fuse.open(f.nodeid, write ? O_RDWR : O_RDONLY);
      handles.push({ nodeid: f.nodeid, fh, size: f.size, writable: write });
    }
    const dax = new DaxReader(fuse, window, { windowBytes: opts.daxWindow, policy: opts.policy ?? 'lru', trace });
    const daemonPids = opts.daemonPids ?? findDaemonPids(opts.socketPath);

    const rng = new Prng(opts.seed ?? 1);
    const blocksPerFile = Math.max(1, Math.floor(fileSize / bs));
    let seq = 0;
    const next = (): [DaxFile, number] => {
      if (big) {
        const i = seq++ % (blocksPerFile * files);
        return [handles[Math.floor(i / blocksPerFile)], (i % blocksPerFile) * bs];
      }
      return [handles[rng.below(files)], rng.below(Math.max(1, Math.floor(fileSize / 4096))) * 4096];
    };

    const seconds = opts.seconds ?? 5;
    const warm = opts.warmupSeconds ?? Math.min(0.5, seconds / 10);
    const hist = new Histogram();
    let measuring = false;
    let stopping = false;
    let requests = 0;
    let bytes = 0;
    let errors = 0;
    let errorSample = '';
    let tStart = 0;
    let tEnd = 0;
    let cpu0 = process.cpuUsage();
    let cpu1 = { user: 0, system: 0 };
    let dCpu0 = 0;
    let dCpu1 = 0;
    let s0 = dax.stats();
    let s1 = s0;
    const t0 = performance.now();
    const warmupEnd = t0 + warm * 1000;
    let deadline = Infinity;
    const startMeasuring = (now: number): void => {
      measuring = true;
      tStart = now;
      deadline = now + seconds * 1000;
      cpu0 = process.cpuUsage();
      dCpu0 = totalCpuMicros(daemonPids);
      s0 = dax.stats();
    };
    const stopMeasuring = (now: number): void => {
      measuring = false;
      stopping = true;
      tEnd = now;
      cpu1 = process.cpuUsage(cpu0);
      dCpu1 = totalCpuMicros(daemonPids);
      s1 = dax.stats();
    };
    if (warm <= 0) startMeasuring(t0);

    let lastYield = performance.now();
    const worker = async (id: number): Promise<void> => {
      const buf = Buffer.alloc(bs);
      if (write) new Prng(id + 7).fill(buf);
      while (!stopping) {
        const [f, off] = next();
        const a = performance.now();
        try {
          const n = write ? await dax.write(f, off, buf) : await dax.read(f, off, buf);
          if (measuring) bytes += n;
        } catch (err) {
          errors++;
          if (errorSample === '') errorSample = err instanceof Error ? err.message : String(err);
        }
        const now = performance.now();
        if (measuring) {
          hist.record((now - a) * 1e6);
          requests++;
          if (now >= deadline || (opts.maxRequests !== undefined && requests >= opts.maxRequests)) stopMeasuring(now);
        } else if (!stopping && now >= warmupEnd) {
          startMeasuring(now);
        }
        // Hits never wait for the event loop: let the replies of other workers' misses in.
        if (now - lastYield > 2) {
          lastYield = now;
          await new Promise((r) => setImmediate(r));
        }
      }
    };
    // Safety net: harvest the request queues every few ms, so a lost interrupt (seen under heavy
    // host load with many workers waiting on mappings) cannot stall the run.
    const tick = setInterval(() => {
      for (const q of frontend.queues) q.harvest();
    }, 5);
    try {
      await Promise.all(Array.from({ length: qd }, (_, i) => worker(i)));
    } finally {
      clearInterval(tick);
    }
    await dax.unmapAll();
    for (const h of handles) await fuse.release(h.nodeid, h.fh);
    await fuse.batchForget(set.map((f) => [f.nodeid, 1] as const));

    const secs = Math.max(1e-9, (tEnd - tStart) / 1000);
    const feCpu = cpu1.user + cpu1.system;
    const dCpu = daemonPids.length > 0 ? dCpu1 - dCpu0 : null;
    const us = (ns: number): number => Math.round(ns / 100) / 10;
    const hits = s1.hits - s0.hits;
    const misses = s1.misses - s0.misses;
    return {
      workload: w,
      qd,
      queues: opts.queues ?? 1,
      coalesce: 0,
      block_size: bs,
      seconds: Math.round(secs * 1000) / 1000,
      requests,
      ops_per_s: Math.round(requests / secs),
      bytes,
      mb_per_s: Math.round((bytes / secs / 1e6) * 10) / 10,
      mean_us: us(hist.mean),
      p50_us: us(hist.quantile(0.5)),
      p90_us: us(hist.quantile(0.9)),
      p99_us: us(hist.quantile(0.99)),
      max_us: us(hist.max),
      errors,
      error_sample: errorSample,
      cpu_us_per_op: requests > 0 ? Math.round((feCpu / requests) * 100) / 100 : 0,
      frontend_cpu_us: feCpu,
      daemon_cpu_us_per_op: dCpu === null || requests === 0 ? null : Math.round((dCpu / requests) * 100) / 100,
      daemon_cpu_us: dCpu,
      daemon_pids: daemonPids,
      kicks_per_op: 0,
      interrupts_per_op: 0,
      max_write: fuse.maxWrite,
      dax_window: dax.windowBytes,
      policy: dax.policyName,
      files,
      file_size: fileSize,
      dax_hit_ratio: hits + misses === 0 ? 0 : Math.round((hits / (hits + misses)) * 10000) / 10000,
      dax_hits: hits,
      dax_misses: misses,
      evictions: s1.evictions - s0.evictions,
      setups: s1.setups - s0.setups,
      removes: s1.removes - s0.removes,
    };
  } finally {
    await trace?.close();
    frontend.close();
  }
}
