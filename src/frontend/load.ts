/**
 * `vufs load`: a closed-loop load generator — the share is prepared (load-prepare.ts), then
 * `qd` requests are kept in flight for the measured time (load-runner.ts) and the run is
 * reported as one JSON object, the frontend's CPU per request beside the daemon's.
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
import { FuseClient } from './fuse-client.js';
import { prepare } from './load-prepare.js';
import { Runner } from './load-runner.js';
import { findDaemonPids } from './proc-cpu.js';
import { VhostUserFrontend } from './vhost-user-frontend.js';

// Share preparation that dax-load.ts reuses, and the name encoding the hot path writes.
export { lookupOrNull, writeDataFile, writeName } from './load-prepare.js';

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
