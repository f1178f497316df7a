import { describe, expect, it } from 'vitest';
import { POLICIES, policyFactory } from '../../../../src/frontend/dax/policies/index.js';
import { WindowAllocator, rangeKey } from '../../../../src/frontend/dax/window-allocator.js';
import { advise, adviceChart, formatAdvice } from '../../../../src/frontend/dax/advisor.js';
import { parseTrace } from '../../../../src/frontend/dax/trace-reader.js';

/** Runs a key sequence through a window of `slots` with the named policy; returns misses. */
function simulate(policy: string, slots: number, keys: number[]): { misses: number; w: WindowAllocator } {
  const w = new WindowAllocator(slots, policyFactory(policy)(slots));
  for (const k of keys) if (w.lookup(k) === undefined) w.place(k);
  return { misses: w.stats.misses, w };
}

/** Deterministic PRNG (mulberry32) so the traces are the same every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.each(Object.keys(POLICIES))('reclaim policy %s', (name) => {
  it('never exceeds the window and keeps its bookkeeping consistent', () => {
    const r = rng(7);
    const keys = Array.from({ length: 20000 }, () => Math.floor(r() * 100));
    const { w } = simulate(name, 16, keys);
    expect(w.resident).toBe(16);
    const residentKeys = new Set<number>();
    for (let s = 0; s < 16; s++) {
      const k = w.keyAt(s);
      expect(k).toBeDefined();
      residentKeys.add(k!);
    }
    expect(residentKeys.size).toBe(16);
  });

  it('misses only cold when the working set fits', () => {
    const keys = Array.from({ length: 1000 }, (_, i) => i % 8);
    expect(simulate(name, 8, keys).misses).toBe(8);
  });

  it('drops and re-admits keys', () => {
    const w = new WindowAllocator(2, policyFactory(name)(2));
    w.place(1);
    w.place(2);
    expect(w.drop(1)).toBeDefined();
    expect(w.place(3).evicted).toBeUndefined();
    expect(w.place(4).evicted).toBeDefined();
    expect(w.resident).toBe(2);
  });
});

describe('policy behaviour', () => {
  it('LRU evicts the least recently used key', () => {
    const w = new WindowAllocator(2, policyFactory('lru')(2));
    w.place(1);
    w.place(2);
    w.lookup(1);
    expect(w.place(3).evicted?.key).toBe(2);
  });

  it('CLOCK gives a referenced key a second chance', () => {
    const w = new WindowAllocator(2, policyFactory('clock')(2));
    w.place(1);
    w.place(2);
    w.lookup(1);
    expect(w.place(3).evicted?.key).toBe(2);
  });

  it('ARC resists a scan that flushes LRU', () => {
    // A hot set of 6 keys reused constantly, interrupted by one-time scans of 40 keys.
    const keys: number[] = [];
    let scan = 1000;
    for (let round = 0; round < 200; round++) {
      for (let rep = 0; rep < 3; rep++) for (let h = 0; h < 6; h++) keys.push(h);
      for (let s = 0; s < 40; s++) keys.push(scan++);
    }
    const lru = simulate('lru', 8, keys).misses;
    const arc = simulate('arc', 8, keys).misses;
    expect(arc).toBeLessThan(lru * 0.9);
  });

  it('rejects unknown policy names and out-of-range keys', () => {
    expect(() => policyFactory('mru')).toThrow(/unknown reclaim policy/);
    expect(() => rangeKey(2 ** 31, 0)).toThrow(RangeError);
    expect(() => rangeKey(1, 2 ** 22)).toThrow(RangeError);
    expect(rangeKey(2 ** 31 - 1, 2 ** 22 - 1)).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
  });
});

describe('advisor', () => {
  it('replays a trace per size and policy, reaching only cold misses at the working set', () => {
    const lines: string[] = [];
    const r = rng(3);
    for (let i = 0; i < 5000; i++) {
      const file = 1 + Math.floor(r() * 4);
      const off = Math.floor(r() * 8 * 2 * 1024 * 1024);
      lines.push(JSON.stringify({ t: i, op: 'access', file, off, len: 4096 }));
    }
    lines.push(JSON.stringify({ t: 5001, op: 'remove', moff: 0, len: 2097152 }));
    const result = advise(parseTrace(lines.join('\n')));
    expect(result.distinctRanges).toBeLessThanOrEqual(32);
    const largest = Math.max(...result.points.map((p) => p.windowBytes));
    for (const p of result.points.filter((x) => x.windowBytes === largest)) {
      expect(p.misses).toBe(result.distinctRanges);
    }
    // Miss ratio never grows with the window for LRU (a stack algorithm).
    const lru = result.points.filter((p) => p.policy === 'lru').sort((a, b) => a.windowBytes - b.windowBytes);
    for (let i = 1; i < lru.length; i++) expect(lru[i].missRatio).toBeLessThanOrEqual(lru[i - 1].missRatio);
    expect(formatAdvice(result)).toMatch(/miss ratio/);
    const svg = adviceChart(result);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('polyline');
  });

  it('refuses malformed trace lines with their line number', () => {
    expect(() => parseTrace('{"t":0,"op":"access","file":1,"off":0,"len":1}\nnot json')).toThrow(/line 2/);
    expect(() => parseTrace('{"t":0,"op":"zap"}')).toThrow(/line 1/);
    expect(() => parseTrace('{"t":0,"op":"access","file":-1,"off":0,"len":1}')).toThrow(/line 1/);
  });
});
