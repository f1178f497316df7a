import { describe, expect, it } from 'vitest';
import { Histogram, bucketOf, lowerBound } from '../../../src/frontend/histogram.js';

describe('Histogram', () => {
  it('maps values to buckets that contain them, within 1 %', () => {
    for (const v of [0, 1, 255, 256, 257, 511, 512, 1000, 4095, 65536, 1e6, 123456789, 2 ** 32 + 5, 1e12]) {
      const i = bucketOf(v);
      expect(lowerBound(i)).toBeLessThanOrEqual(v);
      expect(lowerBound(i + 1)).toBeGreaterThan(v);
      if (v < 256) expect(lowerBound(i + 1) - lowerBound(i)).toBe(1); // exact below 256
      else expect((lowerBound(i + 1) - lowerBound(i)) / v).toBeLessThan(0.01);
    }
  });

  it('buckets are contiguous and increasing', () => {
    for (let i = 1; i < 5000; i++) expect(lowerBound(i)).toBeGreaterThan(lowerBound(i - 1));
    for (let i = 0; i < 5000; i++) expect(bucketOf(lowerBound(i))).toBe(i);
  });

  it('reports quantiles of a known distribution', () => {
    const h = new Histogram();
    for (let v = 1; v <= 10000; v++) h.record(v * 1000);
    expect(h.count).toBe(10000);
    expect(h.quantile(0.5) / 5_000_000).toBeCloseTo(1, 1);
    expect(h.quantile(0.99) / 9_900_000).toBeCloseTo(1, 1);
    expect(h.quantile(1)).toBeLessThanOrEqual(h.max);
    expect(h.quantile(0)).toBeGreaterThanOrEqual(h.min);
    expect(h.mean).toBeCloseTo(5_000_500, -3);
    h.reset();
    expect(h.quantile(0.5)).toBe(0);
  });
});
