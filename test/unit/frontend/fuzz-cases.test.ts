// Fuzz case generation: deterministic per (seed, index), every class reachable, every case
// confined to its slot of guest RAM (so cases in one batch cannot disturb each other), and the
// oracle's chain walk classifies each malformation as the virtio rules say.
import { describe, expect, it } from 'vitest';
import {
  FUZZ_RAM_SIZE,
  MAX_DIRECT,
  SLOT_BYTES,
  SLOT_REPLY,
  SLOT_REPLY_BYTES,
  SLOT_REQ,
  SLOT_REQ_BYTES,
  SLOT_TABLE,
  describeCase,
  type FuzzCase,
  type FuzzTargets,
} from '../../../src/frontend/fuzz-case-model.js';
import { CLASSES, generateCase, selectClasses } from '../../../src/frontend/fuzz-cases.js';
import { seenRequest, walkChain } from '../../../src/frontend/fuzz-oracle.js';
import { DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, RAM_GPA } from '../../../src/frontend/layout.js';

const T: FuzzTargets = { dir: 2, file: 3, fileFh: 1, dirFh: 2 };
const SLOT0 = 1 << 20; // a slot well inside the fuzz RAM
const N = 20000;

const cases: FuzzCase[] = [];
for (let i = 0; i < N; i++) cases.push(generateCase(42, i, T));

describe('generateCase', () => {
  it('is a pure function of (seed, index, targets)', () => {
    for (const i of [0, 1, 17, 9999, 123456]) {
      expect(describeCase(generateCase(42, i, T))).toEqual(describeCase(generateCase(42, i, T)));
    }
    const a = cases.slice(0, 200).map((c) => describeCase(c));
    const b = Array.from({ length: 200 }, (_, i) => describeCase(generateCase(43, i, T)));
    expect(a).not.toEqual(b);
  });

  it('reaches every class, roughly by weight', () => {
    const count = new Map<string, number>();
    for (const c of cases) count.set(c.cls, (count.get(c.cls) ?? 0) + 1);
    const total = CLASSES.reduce((n, c) => n + c.w, 0);
    for (const { cls, w } of CLASSES) {
      const expected = (N * w) / total;
      expect(count.get(cls) ?? 0, cls).toBeGreaterThan(expected * 0.6);
      expect(count.get(cls) ?? 0, cls).toBeLessThan(expected * 1.4);
    }
  });

  it('filters classes by prefix', () => {
    const only = selectClasses(['indirect.', 'fuse.name']);
    for (let i = 0; i < 500; i++) {
      const c = generateCase(1, i, T, only);
      expect(c.cls.startsWith('indirect.') || c.cls.startsWith('fuse.name')).toBe(true);
    }
    expect(() => selectClasses(['nope'])).toThrow();
  });

  it('keeps every case inside its slot: request, tables, in-RAM descriptors, writable bytes', () => {
    // Collected, then asserted once: 20k cases × a dozen expect() calls would be slow.
    const problems: string[] = [];
    const check = (ok: boolean, c: FuzzCase, what: string): void => {
      if (!ok && problems.length < 20) problems.push(`${c.cls} #${c.index}: ${what}`);
    };
    for (const c of cases) {
      check(c.request.length <= SLOT_REQ_BYTES, c, 'request too long');
      check(c.descs.length <= MAX_DIRECT, c, 'too many direct descriptors');
      if (c.badHead !== undefined) {
        check(c.descs.length === 0, c, 'bad head with descriptors');
        continue;
      }
      check(c.descs.length > 0, c, 'no descriptors');
      for (const t of c.tables) check(t.off >= SLOT_TABLE && t.off + 16 * t.descs.length <= SLOT_BYTES, c, 'table outside the table area');
      for (const d of [...c.descs, ...c.tables.flatMap((t) => t.descs)]) {
        if (d.gpa !== undefined) {
          // absolute addresses are the outside-RAM cases only
          const inside = d.gpa >= RAM_GPA && d.gpa + BigInt(d.len) <= RAM_GPA + BigInt(FUZZ_RAM_SIZE);
          check(!inside, c, 'absolute address inside RAM');
          continue;
        }
        check(d.off >= 0 && d.off < SLOT_BYTES, c, `offset ${d.off} outside the slot`);
        // A writable descriptor that fits in RAM must stay in the slot's request/reply areas:
        // the device writes there.
        const w = (d.flags & DESC_F_WRITE) !== 0 && (d.flags & DESC_F_INDIRECT) === 0;
        const fitsRam = SLOT0 + d.off + d.len <= FUZZ_RAM_SIZE;
        if (w && fitsRam && d.len > 0) check(d.off + d.len <= SLOT_REPLY + SLOT_REPLY_BYTES, c, 'writable bytes beyond the reply area');
      }
      for (const d of c.descs) {
        if ((d.flags & DESC_F_NEXT) !== 0 && d.rawNext !== true) check(d.next < c.descs.length, c, 'relative next out of the case');
      }
    }
    expect(problems).toEqual([]);
  });

  it('never makes a real device node (MKNOD only with rdev 0:0, 1:3 or 1:5)', () => {
    for (const c of cases) {
      if (c.opcode !== 8 || c.request.length < 48) continue;
      expect([0, 0x103, 0x105]).toContain(c.request.readUInt32LE(44));
    }
  });
});

describe('walkChain (the oracle)', () => {
  const alwaysMalformed = [
    'chain.addr-outside', 'chain.len-huge', 'chain.loop', 'chain.next-out-of-range',
    'indirect.nested', 'indirect.bad-len', 'indirect.outside', 'indirect.with-next', 'indirect.loop',
    'indirect.next-oob', 'indirect.too-many-segments',
  ];
  const alwaysWellFormed = ['indirect.valid', 'chain.split', 'chain.no-writable', 'chain.tiny-reply', 'indirect.after-direct', 'fuse.'];

  it('calls each malformation malformed and the well-formed classes well-formed', () => {
    const wrong: string[] = [];
    for (const c of cases) {
      if (c.badHead !== undefined) continue;
      const v = walkChain(c, SLOT0);
      if (alwaysMalformed.includes(c.cls) && !v.malformed) wrong.push(`${c.cls} #${c.index} passed`);
      if (alwaysWellFormed.some((p) => c.cls.startsWith(p)) && v.malformed) wrong.push(`${c.cls} #${c.index}: ${v.why}`);
    }
    expect(wrong.slice(0, 20)).toEqual([]);
  });

  it('sees the request a device sees: plain chains deliver the request unchanged', () => {
    const wrong: string[] = [];
    for (const c of cases.filter((x) => x.cls === 'chain.split' || x.cls === 'indirect.valid' || x.cls.startsWith('fuse.'))) {
      if (!seenRequest(c, walkChain(c, SLOT0)).equals(c.request)) wrong.push(`${c.cls} #${c.index}`);
    }
    expect(wrong.slice(0, 20)).toEqual([]);
  });

  const base = (descs: FuzzCase['descs'], tables: FuzzCase['tables'] = []): FuzzCase => ({
    index: 0, cls: 'hand', queue: 1, descs, tables, request: Buffer.alloc(48), unique: 1n, opcode: 3, resetsSession: false, forgets: false,
  });

  it('handles hand-made chains', () => {
    const r = { off: SLOT_REQ, len: 48, flags: DESC_F_NEXT, next: 1 };
    const w = { off: SLOT_REPLY, len: 120, flags: DESC_F_WRITE, next: 0 };
    let v = walkChain(base([r, w]), SLOT0);
    expect(v).toMatchObject({ malformed: false, writableTotal: 120, readableTotal: 48, overlapping: false });
    // zero-length readable after writable is ignored
    v = walkChain(base([r, { ...w, flags: DESC_F_WRITE | DESC_F_NEXT, next: 2 }, { off: 0, len: 0, flags: 0, next: 0 }]), SLOT0);
    expect(v.malformed).toBe(false);
    v = walkChain(base([r, { ...w, flags: DESC_F_WRITE | DESC_F_NEXT, next: 2 }, { off: 0, len: 1, flags: 0, next: 0 }]), SLOT0);
    expect(v.why).toBe('readable after writable');
    // straddling the end of RAM from inside a slot
    v = walkChain(base([{ ...r, len: FUZZ_RAM_SIZE }, w]), SLOT0);
    expect(v.why).toBe('outside guest memory');
    // indirect table: valid, then with a nested indirect entry
    const table = { off: SLOT_TABLE, descs: [{ ...r }, { ...w }] };
    v = walkChain(base([{ off: SLOT_TABLE, len: 32, flags: DESC_F_INDIRECT, next: 0 }], [table]), SLOT0);
    expect(v.malformed).toBe(false);
    expect(v.writableTotal).toBe(120);
    const nested = { off: SLOT_TABLE, descs: [{ ...r }, { off: SLOT_TABLE + 4096, len: 16, flags: DESC_F_INDIRECT, next: 0 }] };
    v = walkChain(base([{ off: SLOT_TABLE, len: 32, flags: DESC_F_INDIRECT, next: 0 }], [nested]), SLOT0);
    expect(v.why).toBe('nested indirect');
    // overlapping writable segments are flagged (the reply's content is then not checked)
    v = walkChain(base([r, { ...w, flags: DESC_F_WRITE | DESC_F_NEXT, next: 2 }, { ...w, off: SLOT_REPLY + 8 }]), SLOT0);
    expect(v.overlapping).toBe(true);
  });
});
