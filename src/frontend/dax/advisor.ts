/**
 * The DAX advisor: replays a trace through every reclaim policy at a range of window sizes and
 * reports the miss ratio of each, answering "how large must the window be for this workload,
 * and what would a better policy buy?".
 */
import { DAX_RANGE } from '../../dax/range.js';
import type { TraceRecord } from '../../dax/trace.js';
import { lineChart } from '../../report/svg-line-chart.js';
import { POLICIES } from './policies/index.js';
import { rangesOf } from './trace-reader.js';
import { WindowAllocator, rangeKey } from './window-allocator.js';

export interface AdvisorPoint {
  windowBytes: number;
  policy: string;
  accesses: number;
  misses: number;
  missRatio: number;
}

export interface AdvisorResult {
  /** Distinct 2 MiB ranges in the trace: the window size at which only cold misses remain. */
  distinctRanges: number;
  accesses: number;
  points: AdvisorPoint[];
}

/** Window sizes to try: powers of two from one range up to the working set (or `max`). */
export function defaultSizes(distinctRanges: number, maxBytes?: number): number[] {
  const top = maxBytes ?? Math.max(DAX_RANGE, 2 ** Math.ceil(Math.log2(Math.max(1, distinctRanges))) * DAX_RANGE);
  const sizes: number[] = [];
  for (let s = DAX_RANGE; s <= top; s *= 2) sizes.push(s);
  return sizes;
}

export function advise(trace: TraceRecord[], sizes?: number[], policies = Object.keys(POLICIES)): AdvisorResult {
  const keys: number[] = [];
  const distinct = new Set<number>();
  for (const rec of trace) {
    for (const [file, range] of rangesOf(rec)) {
      const k = rangeKey(file, range);
      keys.push(k);
      distinct.add(k);
    }
  }
  const points: AdvisorPoint[] = [];
  for (const windowBytes of sizes ?? defaultSizes(distinct.size)) {
    const slots = Math.max(1, Math.floor(windowBytes / DAX_RANGE));
    for (const name of policies) {
      const w = new WindowAllocator(slots, POLICIES[name](slots));
      for (const k of keys) if (w.lookup(k) === undefined) w.place(k);
      points.push({
        windowBytes,
        policy: name,
        accesses: keys.length,
        misses: w.stats.misses,
        missRatio: keys.length === 0 ? 0 : w.stats.misses / keys.length,
      });
    }
  }
  return { distinctRanges: distinct.size, accesses: keys.length, points };
}

/** A plain-text table: one row per window size, one column per policy. */
export function formatAdvice(r: AdvisorResult): string {
  const policies = [...new Set(r.points.map((p) => p.policy))];
  const sizes = [...new Set(r.points.map((p) => p.windowBytes))];
  const lines = [
    `accesses: ${r.accesses}, distinct 2 MiB ranges: ${r.distinctRanges} (${mib(r.distinctRanges * DAX_RANGE)} working set)`,
    ['window', ...policies].map((c) => c.padStart(10)).join(''),
  ];
  for (const s of sizes) {
    const row = policies.map((p) => {
      const pt = r.points.find((x) => x.windowBytes === s && x.policy === p)!;
      return `${(100 * pt.missRatio).toFixed(1)}%`.padStart(10);
    });
    lines.push(mib(s).padStart(10) + row.join(''));
  }
  return `${lines.join('\n')}\nmiss ratio per window size and policy\n`;
}

function mib(bytes: number): string {
  return bytes >= 1 << 30 ? `${bytes / (1 << 30)}G` : `${bytes / (1 << 20)}M`;
}

/** The miss-ratio curves as an SVG chart. */
export function adviceChart(r: AdvisorResult, title = 'DAX window: miss ratio by size and policy'): string {
  const policies = [...new Set(r.points.map((p) => p.policy))];
  return lineChart(
    policies.map((name) => ({
      name,
      points: r.points.filter((p) => p.policy === name).map((p) => ({ x: p.windowBytes, y: 100 * p.missRatio })),
    })),
    { title, xLabel: 'window size', yLabel: 'miss ratio (%)', xLog2: true, formatX: mib, formatY: (y) => `${y.toFixed(0)}%`, yMin: 0, yMax: 100 },
  );
}
