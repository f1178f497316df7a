/**
 * Fuzz case generation for `vufs fuzz` — pure: no I/O, no native code. The case classes and
 * their weights live here; a case is first given a class, then built by the descriptor-chain
 * generator (fuzz-chain-cases.ts) or the FUSE-message generator (fuzz-message-cases.ts).
 * `generateCase(seed, index, targets)` depends only on its arguments, so case N replays alone.
 * What a case is: fuzz-case-model.ts; how the oracle reads its chain: fuzz-oracle.ts.
 */
import type { FuzzCase, FuzzTargets } from './fuzz-case-model.js';
import { genChain, plainRequest } from './fuzz-chain-cases.js';
import { genMessage } from './fuzz-message-cases.js';
import { Prng } from './prng.js';

interface Weighted {
  cls: string;
  w: number;
}

/** Case classes and their relative weights. */
export const CLASSES: readonly Weighted[] = [
  // descriptor chains
  { cls: 'chain.addr-outside', w: 6 },
  { cls: 'chain.len-huge', w: 4 },
  { cls: 'chain.len-zero', w: 3 },
  { cls: 'chain.loop', w: 4 },
  { cls: 'chain.next-out-of-range', w: 3 },
  { cls: 'chain.order', w: 4 },
  { cls: 'chain.overlap', w: 3 },
  { cls: 'chain.no-writable', w: 3 },
  { cls: 'chain.tiny-reply', w: 4 },
  { cls: 'chain.split', w: 4 },
  { cls: 'indirect.valid', w: 3 },
  { cls: 'indirect.nested', w: 3 },
  { cls: 'indirect.bad-len', w: 3 },
  { cls: 'indirect.outside', w: 3 },
  { cls: 'indirect.with-next', w: 2 },
  { cls: 'indirect.loop', w: 3 },
  { cls: 'indirect.next-oob', w: 2 },
  { cls: 'indirect.too-many-segments', w: 1 },
  { cls: 'indirect.after-direct', w: 2 },
  { cls: 'avail.bad-head', w: 1 },
  // FUSE messages
  { cls: 'fuse.short-header', w: 5 },
  { cls: 'fuse.len-mismatch', w: 6 },
  { cls: 'fuse.unknown-opcode', w: 4 },
  { cls: 'fuse.name-no-nul', w: 5 },
  { cls: 'fuse.name-bad', w: 6 },
  { cls: 'fuse.forget-huge', w: 4 },
  { cls: 'fuse.removemapping-huge', w: 2 },
  { cls: 'fuse.bad-fh', w: 6 },
  { cls: 'fuse.bad-nodeid', w: 6 },
  { cls: 'fuse.random-args', w: 10 },
  { cls: 'fuse.random-bytes', w: 4 },
  { cls: 'fuse.ext-len', w: 2 },
  { cls: 'fuse.interrupt', w: 2 },
  { cls: 'fuse.dup-unique', w: 2 },
  { cls: 'fuse.init', w: 1 },
  { cls: 'fuse.hiprio-misuse', w: 2 },
];

const TOTAL_WEIGHT = CLASSES.reduce((n, c) => n + c.w, 0);

/** Classes kept by a `--classes` filter (prefix match); all when the filter is empty. */
export function selectClasses(filter: readonly string[] | undefined): readonly Weighted[] {
  if (filter === undefined || filter.length === 0) return CLASSES;
  const kept = CLASSES.filter((c) => filter.some((f) => c.cls.startsWith(f)));
  if (kept.length === 0) throw new Error(`no fuzz class matches ${filter.join(',')}`);
  return kept;
}

function pickClass(r: Prng, classes: readonly Weighted[]): string {
  const total = classes === CLASSES ? TOTAL_WEIGHT : classes.reduce((n, c) => n + c.w, 0);
  let x = r.below(total);
  for (const c of classes) {
    if (x < c.w) return c.cls;
    x -= c.w;
  }
  return classes[classes.length - 1].cls;
}

export function generateCase(seed: number, index: number, t: FuzzTargets, classes: readonly Weighted[] = CLASSES): FuzzCase {
  const r = Prng.forCase(seed, index);
  const cls = pickClass(r, classes);
  // Even uniques from 2^40 up: never one the FuseClient's own counter (from 1) will use soon.
  const unique = (1n << 40n) + BigInt(index) * 2n;
  const c: FuzzCase = {
    index, cls, queue: 1, descs: [], tables: [], request: Buffer.alloc(0),
    unique: null, opcode: -1, resetsSession: false, forgets: false,
  };
  if (cls.startsWith('chain.') || cls.startsWith('indirect.') || cls.startsWith('avail.')) {
    const { request, opcode } = plainRequest(r, t, unique);
    c.request = request;
    c.unique = unique;
    c.opcode = opcode;
    genChain(r, c, cls);
  } else {
    genMessage(r, c, cls, t, unique);
  }
  return c;
}
