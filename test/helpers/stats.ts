/**
 * The daemon's statistics, as SIGUSR1 logs them: poll stderr for the line instead of sleeping.
 */
import type { RunningDaemon } from './daemon.js';
import { until } from './wait.js';

export interface DaemonStats {
  requests: Record<string, number>;
  errors: Record<string, number>;
  fastPath?: { reads: number; bytes: number; writes: number; written: number; passed: number; pooled: number; handles: number };
}

export async function daemonStats(d: RunningDaemon): Promise<DaemonStats> {
  const before = d.stderr().length;
  d.child.kill('SIGUSR1');
  // The pretty log format: `... statistics stats={...}`, one whole line.
  const line = /statistics stats=(\{.*\})\s*$/m;
  await until(() => line.test(d.stderr().slice(before)), 'the statistics line').catch((e: Error) => {
    throw new Error(`${e.message}; stderr:\n${d.stderr().slice(before)}`);
  });
  return JSON.parse(line.exec(d.stderr().slice(before))![1]) as DaemonStats;
}
