/**
 * Reclaim policies for a DAX window: which resident 2 MiB range to give up when the window is
 * full. A policy only orders keys (a key names one range of one file); the window allocator
 * owns the slots. Policies are plain data structures so the advisor can replay a trace through
 * every one of them at several window sizes cheaply.
 */
export interface ReclaimPolicy {
  readonly name: string;
  /** Resident keys. */
  readonly size: number;
  /** A resident key was accessed. */
  touch(key: number): void;
  /** A key became resident after a miss (the caller made room first if needed). */
  admit(key: number): void;
  /** Chooses a resident key to give up, forgets it, and returns it. `incoming` is the key
   *  about to be admitted (adaptive policies use it). Throws if nothing is resident. */
  evict(incoming: number): number;
  /** A resident key left for another reason (file forgotten, mapping removed by the guest). */
  remove(key: number): void;
}

export type PolicyFactory = (capacity: number) => ReclaimPolicy;
