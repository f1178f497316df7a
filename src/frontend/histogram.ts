/**
 * A log-linear latency histogram (the HdrHistogram idea): exact below 256, then 128 buckets per
 * power of two, so any recorded value is reported within 0.8 %. Recording is a few integer
 * operations on a preallocated Uint32Array — nothing is allocated per sample.
 */
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS; // 128
const BUCKETS = 64 * SUB;

export class Histogram {
  private readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  /** Records a non-negative value (fractions are truncated). */
  record(value: number): void {
    const v = value > 0 ? Math.floor(value) : 0;
    this.counts[bucketOf(v)]++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** The value at quantile q (0..1): the midpoint of its bucket, clamped to [min, max]. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        const lo = lowerBound(i);
        const hi = lowerBound(i + 1);
        const mid = hi - lo <= 1 ? lo : (lo + hi - 1) / 2;
        return Math.min(this.max, Math.max(this.min, mid));
      }
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = 0;
  }
}

/** Bucket index of a non-negative integer. */
export function bucketOf(v: number): number {
  if (v < 2 * SUB) return v;
  const exp = v < 0x1_0000_0000 ? 31 - Math.clz32(v) : Math.floor(Math.log2(v));
  const shift = exp - SUB_BITS;
  const mant = Math.floor(v / 2 ** shift); // in [SUB, 2·SUB)
  const i = shift * SUB + mant;
  return i < BUCKETS ? i : BUCKETS - 1;
}

/** Smallest value that falls into bucket i. */
export function lowerBound(i: number): number {
  if (i < 2 * SUB) return i;
  const shift = Math.floor(i / SUB) - 1;
  const mant = i - shift * SUB;
  return mant * 2 ** shift;
}
