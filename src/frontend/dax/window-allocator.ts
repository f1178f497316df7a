/**
 * The frontend's DAX window: `slots` ranges of 2 MiB, each holding one (file, range) key, and
 * a reclaim policy that picks the victim when every slot is taken. The allocator answers "where
 * is this range?" and "where should it go?"; the caller performs the SETUPMAPPING /
 * REMOVEMAPPING the answers imply.
 */
import type { ReclaimPolicy } from './policy.js';

export interface Placement {
  slot: number;
  /** Set when a resident range had to give up the slot: unmap it first. */
  evicted?: { key: number; slot: number };
}

export interface WindowStats {
  hits: number;
  misses: number;
  evictions: number;
}

export class WindowAllocator {
  private readonly slotOf = new Map<number, number>();
  private readonly keyOf: number[];
  private readonly free: number[] = [];
  readonly stats: WindowStats = { hits: 0, misses: 0, evictions: 0 };

  constructor(
    readonly slots: number,
    private readonly policy: ReclaimPolicy,
  ) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError('a DAX window needs at least one slot');
    this.keyOf = new Array<number>(slots).fill(-1);
    for (let i = slots - 1; i >= 0; i--) this.free.push(i);
  }

  get policyName(): string {
    return this.policy.name;
  }

  /** The slot holding `key`, counted as a hit; undefined (a miss) if it is not resident. */
  lookup(key: number): number | undefined {
    const slot = this.slotOf.get(key);
    if (slot === undefined) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    this.policy.touch(key);
    return slot;
  }

  /** Places a missing key, evicting a victim when the window is full. */
  place(key: number): Placement {
    if (this.slotOf.has(key)) throw new Error(`key ${key} is already resident`);
    let evicted: Placement['evicted'];
    if (this.free.length === 0) {
      const victim = this.policy.evict(key);
      const slot = this.slotOf.get(victim);
      if (slot === undefined) throw new Error(`policy ${this.policy.name} evicted non-resident key ${victim}`);
      this.slotOf.delete(victim);
      this.keyOf[slot] = -1;
      this.free.push(slot);
      this.stats.evictions++;
      evicted = { key: victim, slot };
    }
    const slot = this.free.pop()!;
    this.slotOf.set(key, slot);
    this.keyOf[slot] = key;
    this.policy.admit(key);
    return { slot, evicted };
  }

  /** Drops a resident key (its file went away); returns the freed slot. */
  drop(key: number): number | undefined {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return undefined;
    this.slotOf.delete(key);
    this.keyOf[slot] = -1;
    this.free.push(slot);
    this.policy.remove(key);
    return slot;
  }

  keyAt(slot: number): number | undefined {
    const k = this.keyOf[slot];
    return k === undefined || k < 0 ? undefined : k;
  }

  get resident(): number {
    return this.slotOf.size;
  }

  hitRatio(): number {
    const total = this.stats.hits + this.stats.misses;
    return total === 0 ? 0 : this.stats.hits / total;
  }
}

/**
 * A key for (file, 2 MiB range): an exact integer below 2^53 for file ids below 2^31 and
 * range indices below 2^22 (files up to 8 TiB).
 */
export function rangeKey(fileId: number, rangeIndex: number): number {
  if (fileId < 0 || fileId >= 2 ** 31 || rangeIndex < 0 || rangeIndex >= 2 ** 22) {
    throw new RangeError(`no DAX key for file ${fileId} range ${rangeIndex}`);
  }
  return fileId * 2 ** 22 + rangeIndex;
}
