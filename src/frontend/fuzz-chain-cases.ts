/**
 * Descriptor-chain cases of `vufs fuzz` (classes chain.*, indirect.*, avail.*): a well-formed,
 * cheap request carried by a chain that breaks one virtio rule — addresses outside guest RAM,
 * huge or zero lengths, loops, out-of-range next indices, readable after writable, overlaps,
 * no room for a reply, bad indirect tables — or by a correct chain split in unusual places.
 * Also the chain-building helpers the FUSE-message cases use for their (well-formed) chains.
 */
import {
  FUZZ_QUEUE_SIZE,
  FUZZ_RAM_SIZE,
  MAX_DIRECT,
  MAX_SEGMENTS,
  RAM_END,
  SLOT_REPLY,
  SLOT_REPLY_BYTES,
  SLOT_REQ,
  SLOT_REQ_BYTES,
  SLOT_TABLE,
  type DescSpec,
  type FuzzCase,
  type FuzzTargets,
  type TableSpec,
} from './fuzz-case-model.js';
import { Op, Req, header } from './fuzz-fuse-request.js';
import { DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, RAM_GPA } from './layout.js';
import { Prng } from './prng.js';

/** A well-formed request most chain cases carry: something cheap that needs a reply. */
export function plainRequest(r: Prng, t: FuzzTargets, unique: bigint): { request: Buffer; opcode: number } {
  const op = r.pick([Op.GETATTR, Op.LOOKUP, Op.STATFS, Op.READ, Op.WRITE, Op.READDIR]);
  const nodeid = op === Op.LOOKUP || op === Op.READDIR ? t.dir : op === Op.STATFS ? 1 : t.file;
  let body: Buffer;
  switch (op) {
    case Op.GETATTR: body = Buffer.alloc(16); break;
    case Op.LOOKUP: body = new Req().name('fz-file').body; break;
    case Op.STATFS: body = Buffer.alloc(0); break;
    case Op.READ: case Op.READDIR:
      body = new Req().u64(op === Op.READ ? t.fileFh : t.dirFh).u64(0).u32(r.pick([16, 4096, 8192])).u32(0).u64(0).u32(0).u32(0).body;
      break;
    default:
      body = new Req().u64(t.fileFh).u64(BigInt(r.below(4096))).u32(64).u32(0).u64(0).u32(0).u32(0).zero(64).body;
  }
  return { request: Buffer.concat([header(op, nodeid, unique, body.length), body]), opcode: op };
}

/** Splits [off, off+len) into `parts` contiguous descriptors (the last ones may be empty). */
function split(r: Prng, off: number, len: number, parts: number, flags: number): DescSpec[] {
  const cuts = [0, len];
  for (let i = 1; i < parts; i++) cuts.push(r.below(len + 1));
  cuts.sort((a, b) => a - b);
  const out: DescSpec[] = [];
  for (let i = 0; i < parts; i++) out.push({ off: off + cuts[i], len: cuts[i + 1] - cuts[i], flags, next: 0 });
  return out;
}

/** Links direct descriptors 0 → 1 → ... → n-1 with NEXT. */
export function link(descs: DescSpec[]): DescSpec[] {
  for (let i = 0; i < descs.length; i++) {
    if (i < descs.length - 1) {
      descs[i].flags |= DESC_F_NEXT;
      descs[i].next = i + 1;
    } else {
      descs[i].flags &= ~DESC_F_NEXT;
      descs[i].next = 0;
    }
  }
  return descs;
}

/** Readable request descriptors + writable reply descriptors, not linked. */
export function normalParts(r: Prng, reqLen: number, replyLen: number, readParts = r.range(1, 3), writeParts = r.range(1, 2)): DescSpec[] {
  const rd = reqLen > 0 ? split(r, SLOT_REQ, reqLen, readParts, 0) : [];
  const wr = replyLen > 0 ? split(r, SLOT_REPLY, replyLen, writeParts, DESC_F_WRITE) : [];
  return [...rd, ...wr];
}

function outsideAddress(r: Prng): { gpa: bigint; len: number } {
  switch (r.below(8)) {
    case 0: return { gpa: 0n, len: r.pick([1, 16, 4096]) };
    case 1: return { gpa: RAM_GPA - 4096n, len: 4096 };
    case 2: return { gpa: RAM_GPA - 8n, len: 64 }; // straddles the start
    case 3: return { gpa: RAM_END - 8n, len: 64 }; // straddles the end
    case 4: return { gpa: RAM_END, len: r.pick([1, 4096]) };
    case 5: return { gpa: (1n << 64n) - 16n, len: 64 }; // wraps around 2^64
    case 6: return { gpa: 1n << 63n, len: 4096 };
    default: return { gpa: r.u64(), len: r.range(1, 8192) };
  }
}

/** Builds the chain of a chain.* / indirect.* / avail.* case around its (well-formed) request. */
export function genChain(r: Prng, c: FuzzCase, cls: string): void {
  const reqLen = c.request.length;
  const replyLen = r.pick([SLOT_REPLY_BYTES, 4096, 256]);
  switch (cls) {
    case 'chain.addr-outside': {
      const d = link(normalParts(r, reqLen, replyLen));
      const victim = d[r.below(d.length)];
      const o = outsideAddress(r);
      victim.gpa = o.gpa;
      victim.len = o.len;
      c.descs = d;
      return;
    }
    case 'chain.len-huge': {
      const d = link(normalParts(r, reqLen, replyLen));
      const victim = d[r.below(d.length)];
      victim.len = r.pick([0xffffffff, 0x80000000, FUZZ_RAM_SIZE, FUZZ_RAM_SIZE + 1, 0x10000000]);
      c.descs = d;
      return;
    }
    case 'chain.len-zero': {
      const d = normalParts(r, reqLen, replyLen);
      for (const x of d) if (r.chance(0.5)) x.len = 0;
      // sometimes add pure zero-length descriptors in front, between and at the end
      if (r.chance(0.5)) d.splice(r.below(d.length + 1), 0, { off: 0, len: 0, flags: r.pick([0, DESC_F_WRITE]), next: 0 });
      c.descs = link(d.slice(0, MAX_DIRECT));
      return;
    }
    case 'chain.loop': {
      const d = link(normalParts(r, reqLen, replyLen));
      const last = d.length - 1;
      d[last].flags |= DESC_F_NEXT;
      d[last].next = r.below(d.length); // itself or an earlier one
      c.descs = d;
      return;
    }
    case 'chain.next-out-of-range': {
      const d = link(normalParts(r, reqLen, replyLen));
      const victim = r.below(d.length);
      d[victim].flags |= DESC_F_NEXT;
      d[victim].next = r.pick([FUZZ_QUEUE_SIZE, FUZZ_QUEUE_SIZE + 1, 0x7fff, 0xffff]);
      d[victim].rawNext = true;
      c.descs = d;
      return;
    }
    case 'chain.order': {
      const d = normalParts(r, reqLen, replyLen);
      // a nonzero readable descriptor after the first writable one
      const extra: DescSpec = { off: SLOT_REQ, len: r.range(1, Math.max(1, reqLen)), flags: 0, next: 0 };
      const firstW = d.findIndex((x) => (x.flags & DESC_F_WRITE) !== 0);
      d.splice(firstW < 0 ? d.length : r.range(firstW + 1, d.length), 0, extra);
      if (firstW < 0) d.splice(d.length - 1, 0, { off: SLOT_REPLY, len: 64, flags: DESC_F_WRITE, next: 0 });
      c.descs = link(d.slice(0, MAX_DIRECT));
      return;
    }
    case 'chain.overlap': {
      const d = normalParts(r, reqLen, replyLen, 1, 1);
      switch (r.below(3)) {
        case 0: // reply written over the request
          d[1].off = SLOT_REQ + r.below(Math.max(1, reqLen));
          d[1].len = Math.min(d[1].len, SLOT_REQ_BYTES - (d[1].off - SLOT_REQ) + SLOT_REPLY_BYTES);
          break;
        case 1: // two writable descriptors over the same bytes
          d.push({ off: d[1].off + r.below(64), len: r.range(16, 256), flags: DESC_F_WRITE, next: 0 });
          break;
        default: // the same readable bytes twice
          d.splice(1, 0, { off: SLOT_REQ, len: reqLen, flags: 0, next: 0 });
      }
      c.descs = link(d);
      return;
    }
    case 'chain.no-writable':
      c.descs = link(normalParts(r, reqLen, 0));
      return;
    case 'chain.tiny-reply':
      c.descs = link(normalParts(r, reqLen, r.pick([1, 8, 15, 16, 17, 24, 100, 127, 128])));
      return;
    case 'chain.split': {
      const rd = split(r, SLOT_REQ, reqLen, r.range(2, 5), 0);
      const wr = split(r, SLOT_REPLY, replyLen, r.range(1, 3), DESC_F_WRITE);
      c.descs = link([...rd, ...wr].slice(0, MAX_DIRECT));
      if (c.descs.length < rd.length + wr.length) c.descs = link([...rd.slice(0, 4), ...wr.slice(0, 3)]);
      return;
    }
    case 'avail.bad-head':
      c.badHead = r.pick([FUZZ_QUEUE_SIZE, FUZZ_QUEUE_SIZE + 1, 0x8000, 0xffff]);
      return;
  }
  // indirect.*
  const entries = normalParts(r, reqLen, replyLen, r.range(1, 4), r.range(1, 3));
  const table: TableSpec = { off: SLOT_TABLE, descs: entries.map((e, i) => ({ ...e, next: i + 1 })) };
  link(table.descs); // table-relative indices double as raw next values
  const ind: DescSpec = { off: SLOT_TABLE, len: 16 * table.descs.length, flags: DESC_F_INDIRECT, next: 0 };
  c.tables = [table];
  c.descs = [ind];
  switch (cls) {
    case 'indirect.valid':
      return;
    case 'indirect.nested': {
      const inner: TableSpec = { off: SLOT_TABLE + 4096, descs: link(split(r, SLOT_REPLY, replyLen, 1, DESC_F_WRITE)) };
      c.tables.push(inner);
      const k = r.below(table.descs.length);
      table.descs[k] = { off: inner.off, len: 16 * inner.descs.length, flags: DESC_F_INDIRECT | (table.descs[k].flags & DESC_F_NEXT), next: table.descs[k].next };
      return;
    }
    case 'indirect.bad-len':
      ind.len = r.pick([0, 1, 8, 15, 17, 16 * table.descs.length + 8, 16 * 32769, 0xfffffff0, 0xffffffff]);
      return;
    case 'indirect.outside': {
      const o = outsideAddress(r);
      ind.gpa = o.gpa;
      if (r.chance(0.5)) ind.len = 16 * r.range(1, 64);
      return;
    }
    case 'indirect.with-next':
      ind.flags |= DESC_F_NEXT;
      ind.next = 0;
      c.descs = [ind, { off: SLOT_REPLY, len: 64, flags: DESC_F_WRITE, next: 0 }];
      return;
    case 'indirect.loop': {
      const last = table.descs.length - 1;
      table.descs[last].flags |= DESC_F_NEXT;
      table.descs[last].next = r.below(table.descs.length);
      return;
    }
    case 'indirect.next-oob': {
      const k = r.below(table.descs.length);
      table.descs[k].flags |= DESC_F_NEXT;
      table.descs[k].next = r.pick([table.descs.length, table.descs.length + 1, 0xffff]);
      return;
    }
    case 'indirect.too-many-segments': {
      // MAX_SEGMENTS + a few one-byte descriptors: the request header split byte by byte, then
      // one-byte writable ones.
      const n = MAX_SEGMENTS + r.range(1, 64);
      const descs: DescSpec[] = [];
      for (let i = 0; i < n; i++) {
        const w = i >= Math.min(reqLen, n - 16);
        descs.push({ off: w ? SLOT_REPLY + (i % SLOT_REPLY_BYTES) : SLOT_REQ + i, len: 1, flags: w ? DESC_F_WRITE : 0, next: 0 });
      }
      table.descs = link(descs);
      ind.len = 16 * n;
      return;
    }
    case 'indirect.after-direct': {
      const first: DescSpec = { off: SLOT_REQ, len: Math.min(reqLen, 8), flags: DESC_F_NEXT, next: 1 };
      table.descs = link(normalParts(r, reqLen, replyLen, 1, 1));
      table.descs[0].off += first.len;
      table.descs[0].len -= first.len;
      ind.len = 16 * table.descs.length;
      c.descs = [first, ind];
      return;
    }
  }
}
