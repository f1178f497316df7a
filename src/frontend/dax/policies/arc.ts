import type { ReclaimPolicy } from '../policy.js';

/**
 * ARC (Megiddo & Modha, FAST '03): balances recency (T1: seen once lately) against frequency
 * (T2: seen at least twice), steering the split `p` with ghost lists B1/B2 of recently evicted
 * keys. It resists the scans that flush an LRU window: a large sequential read passes through
 * T1 without displacing the frequently used ranges in T2.
 */
export class ArcPolicy implements ReclaimPolicy {
  readonly name = 'arc';
  private readonly t1 = new Map<number, true>();
  private readonly t2 = new Map<number, true>();
  private readonly b1 = new Map<number, true>();
  private readonly b2 = new Map<number, true>();
  /** Target size of T1. */
  private p = 0;
  /** The key whose ghost hit already moved p (evict and admit see the same miss). */
  private adapted: number | undefined;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.t1.size + this.t2.size;
  }

  touch(key: number): void {
    if (this.t1.delete(key) || this.t2.delete(key)) this.t2.set(key, true);
  }

  evict(incoming: number): number {
    if (this.size === 0) throw new Error('arc: nothing to evict');
    this.adapt(incoming);
    if (!this.b1.has(incoming) && !this.b2.has(incoming)) {
      // Case IV of the paper: a key seen nowhere. Keep the directory within 2c.
      if (this.t1.size + this.b1.size >= this.capacity) {
        if (this.t1.size < this.capacity) dropOldest(this.b1);
        else return dropOldest(this.t1); // T1 fills the cache: evict without a ghost
      } else if (this.size + this.b1.size + this.b2.size >= 2 * this.capacity && this.b2.size > 0) {
        dropOldest(this.b2);
      }
    }
    return this.replace(incoming);
  }

  admit(key: number): void {
    this.adapt(key);
    this.adapted = undefined;
    if (this.b1.delete(key) || this.b2.delete(key)) this.t2.set(key, true);
    else this.t1.set(key, true);
    // Keep the directory bounded even when admits happen without evictions.
    while (this.t1.size + this.b1.size > this.capacity && this.b1.size > 0) dropOldest(this.b1);
    while (this.size + this.b1.size + this.b2.size > 2 * this.capacity && this.b2.size > 0) dropOldest(this.b2);
  }

  remove(key: number): void {
    this.t1.delete(key);
    this.t2.delete(key);
  }

  /** A ghost hit moves the target p: toward T1 for B1 hits, toward T2 for B2 hits. Once per miss. */
  private adapt(key: number): void {
    if (this.adapted === key) return;
    if (this.b1.has(key)) {
      this.p = Math.min(this.capacity, this.p + Math.max(this.b2.size / this.b1.size, 1));
    } else if (this.b2.has(key)) {
      this.p = Math.max(0, this.p - Math.max(this.b1.size / this.b2.size, 1));
    } else {
      return;
    }
    this.adapted = key;
  }

  /** REPLACE(x, p): from T1 when it is over its target (or at it, for a B2 ghost), else T2. */
  private replace(incoming: number): number {
    const t1Over = this.t1.size > 0 && (this.t1.size > this.p || (this.b2.has(incoming) && this.t1.size === Math.round(this.p)));
    if (t1Over || this.t2.size === 0) {
      const key = dropOldest(this.t1);
      this.b1.set(key, true);
      return key;
    }
    const key = dropOldest(this.t2);
    this.b2.set(key, true);
    return key;
  }
}

function dropOldest(m: Map<number, true>): number {
  const first = m.keys().next().value as number;
  m.delete(first);
  return first;
}
