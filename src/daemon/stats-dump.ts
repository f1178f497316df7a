/**
 * What the daemon reports about itself on SIGUSR1 (one log record): FUSE requests by opcode,
 * errors by errno, malformed requests, per-queue counters, and — with DAX — the window.
 */
import { errnoName } from '../filesystem/errors.js';
import { opcodeName } from '../fuse/abi.js';
import type { FuseStats } from '../fuse/server.js';

export interface StatsSources {
  fuse: FuseStats;
  queues: () => Record<number, { requests: number; batches: number; malformed: number }>;
  dax?: () => object;
}

export function statsSnapshot(s: StatsSources): Record<string, unknown> {
  const requests: Record<string, number> = {};
  s.fuse.requests.forEach((n, op) => {
    if (n > 0) requests[opcodeName(op)] = n;
  });
  const errors: Record<string, number> = {};
  for (const [errno, n] of s.fuse.errors) errors[errnoName(errno)] = n;
  return {
    requests,
    errors,
    malformed: s.fuse.malformed,
    unknownOpcodes: s.fuse.unknownOpcodes,
    interrupts: s.fuse.interrupts,
    forgets: s.fuse.forgets,
    queues: s.queues(),
    ...(s.dax ? { dax: s.dax() } : {}),
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
