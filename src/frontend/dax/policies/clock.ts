import type { ReclaimPolicy } from '../policy.js';

/**
 * CLOCK (second chance): a hand sweeps a ring of resident keys; a referenced key loses its
 * bit and survives one more turn. LRU's hit behaviour at O(1) cost per hit with no list moves.
 */
export class ClockPolicy implements ReclaimPolicy {
  readonly name = 'clock';
  private readonly keys: number[] = [];
  private readonly referenced: boolean[] = [];
  private readonly index = new Map<number, number>();
  private readonly holes: number[] = [];
  private hand = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.index.size;
  }

  touch(key: number): void {
    const i = this.index.get(key);
    if (i !== undefined) this.referenced[i] = true;
  }

  admit(key: number): void {
    if (this.index.has(key)) return this.touch(key);
    // Reuse a slot freed by evict/remove if there is one, else grow up to capacity.
    const i = this.holes.length > 0 ? this.holes.pop()! : this.keys.length;
    if (i >= this.capacity) throw new Error('clock: admit into a full ring; evict first');
    this.keys[i] = key;
    this.referenced[i] = false;
    this.index.set(key, i);
  }

  evict(): number {
    if (this.index.size === 0) throw new Error('clock: nothing to evict');
    for (;;) {
      const i = this.hand;
      this.hand = (this.hand + 1) % this.keys.length;
      const key = this.keys[i];
      if (key === HOLE) continue;
      if (this.referenced[i]) {
        this.referenced[i] = false;
        continue;
      }
      this.clear(i, key);
      return key;
    }
  }

  remove(key: number): void {
    const i = this.index.get(key);
    if (i !== undefined) this.clear(i, key);
  }

  private clear(i: number, key: number): void {
    this.keys[i] = HOLE;
    this.index.delete(key);
    this.holes.push(i);
  }
}

const HOLE = -1;
