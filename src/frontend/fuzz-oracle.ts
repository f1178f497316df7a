/**
 * The `vufs fuzz` oracle's view of a chain: whether a device must treat it as malformed, and
 * where its readable and writable bytes are. It follows the virtio 1.x rules for split rings
 * (§2.7.4 – §2.7.5) plus the limits every daemon applies (zero-length descriptors are ignored;
 * at most 1024 segments).
 */
import { FUZZ_QUEUE_SIZE, MAX_SEGMENTS, RAM_END, SLOT_REQ, type DescSpec, type FuzzCase } from './fuzz-case-model.js';
import { DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, RAM_GPA } from './layout.js';

export interface ChainView {
  /** The device must treat the chain as malformed (return it with used length 0, or drop it). */
  malformed: boolean;
  why: string;
  /** Readable and writable segments in chain order (slot-relative). */
  readable: { off: number; len: number }[];
  writable: { off: number; len: number }[];
  writableTotal: number;
  readableTotal: number;
  /** Writable segments overlap each other or the readable ones (reply content is then unknowable). */
  overlapping: boolean;
}

function inRam(d: DescSpec, slotBase: number): boolean {
  if (d.len === 0) return true;
  const start = d.gpa ?? RAM_GPA + BigInt(slotBase + d.off);
  const end = start + BigInt(d.len);
  return start >= RAM_GPA && end <= RAM_END && end >= start;
}

/**
 * Walks a case's chain as a conforming device would. `slotBase` is the RAM offset of the slot
 * (for the RAM-bounds check of in-slot descriptors with huge lengths).
 */
export function walkChain(c: FuzzCase, slotBase: number, queueSize = FUZZ_QUEUE_SIZE): ChainView {
  const v: ChainView = { malformed: false, why: '', readable: [], writable: [], writableTotal: 0, readableTotal: 0, overlapping: false };
  const readable = v.readable;
  const bad = (why: string): ChainView => {
    v.malformed = true;
    v.why = why;
    return v;
  };
  if (c.descs.length === 0) return bad('no chain');
  let seenWritable = false;
  let segments = 0;
  const add = (d: DescSpec): string => {
    if (d.len === 0) return '';
    const w = (d.flags & DESC_F_WRITE) !== 0;
    if (!w && seenWritable) return 'readable after writable';
    seenWritable ||= w;
    if (!inRam(d, slotBase)) return 'outside guest memory';
    if (++segments > MAX_SEGMENTS) return 'too many segments';
    const seg = { off: d.off, len: d.len };
    if (w) {
      v.writable.push(seg);
      v.writableTotal += d.len;
    } else {
      readable.push(seg);
      v.readableTotal += d.len;
    }
    return '';
  };
  let i = 0;
  for (let hops = 0; ; hops++) {
    if (hops >= queueSize || hops > c.descs.length) return bad('loop');
    const d = c.descs[i];
    if ((d.flags & DESC_F_INDIRECT) !== 0) {
      if ((d.flags & DESC_F_NEXT) !== 0) return bad('indirect with NEXT');
      if (d.len === 0 || d.len % 16 !== 0 || d.len / 16 > 32768) return bad('indirect length');
      if (d.gpa !== undefined || !inRam(d, slotBase)) return bad('indirect table outside memory');
      const table = c.tables.find((tb) => tb.off === d.off);
      const n = d.len / 16;
      if (table === undefined || n > table.descs.length) return bad('indirect table beyond what was written');
      let j = 0;
      for (let inner = 0; ; inner++) {
        if (inner >= n) return bad('indirect loop');
        const e = table.descs[j];
        if ((e.flags & DESC_F_INDIRECT) !== 0) return bad('nested indirect');
        const why = add(e);
        if (why !== '') return bad(why);
        if ((e.flags & DESC_F_NEXT) === 0) break;
        j = e.next;
        if (j >= n) return bad('indirect next out of table');
      }
      break; // an indirect descriptor ends the chain
    }
    const why = add(d);
    if (why !== '') return bad(why);
    if ((d.flags & DESC_F_NEXT) === 0) break;
    if (d.rawNext === true) return bad('next out of queue');
    if (d.next >= queueSize || d.next >= c.descs.length) return bad('next out of queue');
    i = d.next;
  }
  // Overlaps: any writable segment against any other segment.
  const all = [...readable.map((s) => ({ ...s, w: false })), ...v.writable.map((s) => ({ ...s, w: true }))];
  for (let a = 0; a < all.length && !v.overlapping; a++) {
    for (let b = a + 1; b < all.length; b++) {
      if (!all[a].w && !all[b].w) continue;
      if (all[a].off < all[b].off + all[b].len && all[b].off < all[a].off + all[a].len) {
        v.overlapping = true;
        break;
      }
    }
  }
  return v;
}

/**
 * The request bytes a device sees: the readable segments gathered in order, read from the
 * case's request (the REQ area holds it, zero-filled after its end).
 */
export function seenRequest(c: FuzzCase, v: ChainView): Buffer {
  const out = Buffer.alloc(v.readableTotal);
  let p = 0;
  for (const s of v.readable) {
    for (let i = 0; i < s.len; i++) {
      const at = s.off - SLOT_REQ + i;
      out[p++] = at >= 0 && at < c.request.length ? c.request[at] : 0;
    }
  }
  return out;
}
