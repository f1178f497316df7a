/**
 * What the daemon reports about itself on SIGUSR1 (one log record): FUSE requests by opcode,
 * errors by errno, malformed requests, per-queue counters, and — with DAX — the window.
 */
import { errnoName } from '../filesystem/errors.js';
import { opcodeName } from '../fuse/abi.js';
import type { FuseStats } from '../fuse/stats.js';
import { Opcode } from '../fuse/abi.js';
import type { FastPathCounters } from '../native/binding.js';

export interface StatsSources {
  fuse: FuseStats;
  queues: () => Record<number, { requests: number; batches: number; malformed: number }>;
  dax?: () => object;
  /** READs/WRITEs answered by the native fast path: counted with the others, and shown apart. */
  fastPath?: () => FastPathCounters;
}

export function statsSnapshot(s: StatsSources): Record<string, unknown> {
  const requests: Record<string, number> = {};
  s.fuse.requests.forEach((n, op) => {
    if (n > 0) requests[opcodeName(op)] = n;
  });
  const errors: Record<string, number> = {};
  for (const [errno, n] of s.fuse.errors) errors[errnoName(errno)] = n;
  const fast = s.fastPath?.();
  if (fast !== undefined) {
    for (const [op, n] of [[Opcode.READ, fast.reads], [Opcode.WRITE, fast.writes]] as const) {
      if (n > 0) requests[opcodeName(op)] = (requests[opcodeName(op)] ?? 0) + n;
    }
    for (const [errno, n] of Object.entries(fast.errors)) {
      const name = errnoName(Number(errno));
      errors[name] = (errors[name] ?? 0) + n;
    }
  }
  return {
    requests,
    errors,
    malformed: s.fuse.malformed,
    unknownOpcodes: s.fuse.unknownOpcodes,
    interrupts: s.fuse.interrupts,
    forgets: s.fuse.forgets,
    queues: s.queues(),
    ...(s.dax ? { dax: s.dax() } : {}),
    ...(fast !== undefined ? { fastPath: { reads: fast.reads, bytes: fast.bytes, writes: fast.writes, written: fast.written, passed: fast.passed, pooled: fast.pooled, handles: fast.handles } } : {}),
    rssBytes: residentBytes(),
  };
}

/** RSS, when /proc is reachable (inside the namespace sandbox it may not be). */
function residentBytes(): number | undefined {
  try {
    return process.memoryUsage.rss();
  } catch {
    return undefined;
  }
}
