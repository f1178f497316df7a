import type { ReclaimPolicy } from '../policy.js';

/** Least recently used, what Linux's fs/fuse/dax.c approximates for its ranges. */
export class LruPolicy implements ReclaimPolicy {
  readonly name = 'lru';
  // A Map iterates in insertion order: delete + set moves a key to the most recent end.
  private readonly order = new Map<number, true>();

  get size(): number {
    return this.order.size;
  }

  touch(key: number): void {
    if (!this.order.delete(key)) return;
    this.order.set(key, true);
  }

  admit(key: number): void {
    this.order.delete(key);
    this.order.set(key, true);
  }

  evict(): number {
    const first = this.order.keys().next();
    if (first.done) throw new Error('lru: nothing to evict');
    this.order.delete(first.value);
    return first.value;
  }

  remove(key: number): void {
    this.order.delete(key);
  }
}
