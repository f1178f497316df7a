/**
 * The daemon's view of the DAX window: which file range is mapped at which window offset, in
 * 2 MiB slots. The guest chooses window offsets itself; we validate every request against the
 * window and keep this table so that mappings can be dropped when their inode is forgotten or
 * the device resets, and so that operators can see what the window holds.
 */
import type { HandleId, NodeId } from '../filesystem/filesystem.js';
import type { RangeCopy } from './range-copy.js';
import { DAX_RANGE } from './range.js';

export interface WindowMapping {
  nodeid: NodeId;
  /** The handle the guest named, if any (Linux names none). */
  fh: HandleId | undefined;
  /** File offset of the slot's first byte. */
  foffset: bigint;
  /** Bytes mapped from the start of the slot (≤ 2 MiB). */
  len: number;
  writable: boolean;
  /**
   * How many of those bytes the file itself backs; the rest (SHMEM only: QEMU ≥ 11 maps nothing
   * past EOF and nothing read-only) is `copy`, a memfd of the daemon's. Each is a front-end region.
   */
  fileLen: number;
  copy?: RangeCopy;
}

/** Front-end regions one mapping uses: its file part and its copy count one each. */
export function regionsOf(m: WindowMapping): number {
  return (m.fileLen > 0 ? 1 : 0) + (m.copy !== undefined ? 1 : 0);
}

export interface MappingStats {
  setups: number;
  removes: number;
  mappedBytes: number;
}

export class MappingTable {
  private readonly slots: (WindowMapping | undefined)[];
  private readonly byNode = new Map<number, Set<number>>();
  readonly stats: MappingStats = { setups: 0, removes: 0, mappedBytes: 0 };

  constructor(readonly windowBytes: bigint) {
    this.slots = new Array<WindowMapping | undefined>(Number(windowBytes / BigInt(DAX_RANGE)));
  }

  get slotCount(): number {
    return this.slots.length;
  }

  /** Records a mapping of one slot (replacing what was there, e.g. a read → write upgrade). */
  set(slot: number, m: WindowMapping): WindowMapping | undefined {
    const old = this.clear(slot);
    this.slots[slot] = m;
    let set = this.byNode.get(m.nodeid);
    if (set === undefined) this.byNode.set(m.nodeid, (set = new Set()));
    set.add(slot);
    this.stats.mappedBytes += m.len;
    this.stats.setups++;
    return old;
  }

  get(slot: number): WindowMapping | undefined {
    return this.slots[slot];
  }

  /** Forgets one slot's mapping; returns it. */
  clear(slot: number): WindowMapping | undefined {
    const m = this.slots[slot];
    if (m === undefined) return undefined;
    this.slots[slot] = undefined;
    const set = this.byNode.get(m.nodeid);
    set?.delete(slot);
    if (set?.size === 0) this.byNode.delete(m.nodeid);
    this.stats.mappedBytes -= m.len;
    this.stats.removes++;
    return m;
  }

  /** Slots holding ranges of `nodeid`. */
  slotsOf(nodeid: number): number[] {
    return [...(this.byNode.get(nodeid) ?? [])];
  }

  /** Tail buffers of `nodeid`'s mappings. */
  copiesOf(nodeid: number): RangeCopy[] {
    const out: RangeCopy[] = [];
    for (const s of this.byNode.get(nodeid) ?? []) {
      const t = this.slots[s]?.copy;
      if (t !== undefined) out.push(t);
    }
    return out;
  }

  /** Every mapped slot. */
  mappedSlots(): number[] {
    const out: number[] = [];
    this.slots.forEach((m, i) => m !== undefined && out.push(i));
    return out;
  }

  /** Front-end regions the mappings use (file part and range copy count one each). */
  regionCount(): number {
    let n = 0;
    for (const m of this.slots) if (m !== undefined) n += regionsOf(m);
    return n;
  }

  /** Every mapping that has a range copy. */
  allCopies(): RangeCopy[] {
    const out: RangeCopy[] = [];
    for (const m of this.slots) if (m?.copy !== undefined) out.push(m.copy);
    return out;
  }

  /** Mapped bytes per inode, for metrics and the SIGUSR1 dump. */
  perInode(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [nodeid, slots] of this.byNode) {
      let bytes = 0;
      for (const s of slots) bytes += this.slots[s]?.len ?? 0;
      out.set(nodeid, bytes);
    }
    return out;
  }

  reset(): void {
    this.slots.fill(undefined);
    this.byNode.clear();
    this.stats.mappedBytes = 0;
  }
}
