/**
 * Fuzz case generation for `vufs fuzz` — pure: no I/O, no native code. A case is a complete,
 * printable description of one submission: the descriptor chain (direct descriptors and any
 * indirect tables, addresses relative to the case's slot of guest RAM or absolute), the request
 * bytes, and which queue it goes to. `generateCase(seed, index, targets)` depends only on its
 * arguments, so case N replays alone.
 *
 * `walkChain` is the oracle's view of a chain: whether a device must treat it as malformed,
 * and where its writable bytes are. It follows the virtio 1.x rules for split rings
 * (§2.7.4 – §2.7.5) plus the limits every daemon applies (zero-length descriptors are ignored;
 * at most 1024 segments).
 */
import { Prng } from './prng.js';
import { DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, RAM_GPA } from './layout.js';

// ---------------------------------------------------------------------------------------------
// Fixed geometry (part of a case's meaning: keep stable so old seeds replay the same)

/** Guest RAM size of a fuzz session. */
export const FUZZ_RAM_SIZE = 32 << 20;
/** Each in-flight case owns one slot of guest RAM: request, reply and indirect-table areas. */
export const SLOT_BYTES = 64 << 10;
export const SLOT_REQ = 0;
export const SLOT_REQ_BYTES = 16384;
export const SLOT_REPLY = 16384;
export const SLOT_REPLY_BYTES = 8192;
export const SLOT_TABLE = 24576;
export const SLOT_TABLE_BYTES = SLOT_BYTES - SLOT_TABLE;
/** Direct descriptors a case may use. */
export const MAX_DIRECT = 8;
/** Queue size the fuzzer sets up (next indices ≥ this are out of range). */
export const FUZZ_QUEUE_SIZE = 1024;
/** Segments per chain a device accepts (Linux's and ours; longer chains are malformed). */
export const MAX_SEGMENTS = 1024;
const RAM_END = RAM_GPA + BigInt(FUZZ_RAM_SIZE);

// ---------------------------------------------------------------------------------------------
// Case model

export interface DescSpec {
  /** Slot-relative offset, used when `gpa` is absent. */
  off: number;
  /** Absolute guest-physical address (outside-RAM cases). */
  gpa?: bigint;
  len: number;
  flags: number;
  /**
   * Direct descriptors: index into the case's `descs` (the runner maps it to the real
   * descriptor index) unless `rawNext`, then written as is. Table entries: written as is.
   */
  next: number;
  rawNext?: boolean;
}

export interface TableSpec {
  /** Slot-relative offset of the table (in the table area). */
  off: number;
  descs: DescSpec[];
}

export interface FuzzCase {
  index: number;
  /** "chain.loop", "fuse.name-no-nul", ... (the report groups by it). */
  cls: string;
  /** 0 = hiprio, 1 = the request queue. */
  queue: 0 | 1;
  descs: DescSpec[];
  tables: TableSpec[];
  /** Bytes placed at SLOT_REQ. */
  request: Buffer;
  /** Publish this raw avail value instead of a chain: the device must skip it, returning nothing. */
  badHead?: number;
  /** fuse_in_header.unique when the header is intact (a reply must echo it), else null. */
  unique: bigint | null;
  /** Opcode in an intact header, else -1. */
  opcode: number;
  /** The request may end or restart the FUSE session (INIT, DESTROY). */
  resetsSession: boolean;
  /** Forgets lookup references (the fixture nodes may become stale). */
  forgets: boolean;
}

/** Node ids and handles of the fixture the fuzzer prepared (resolved at run time). */
export interface FuzzTargets {
  dir: number;
  file: number;
  fileFh: number;
  dirFh: number;
}

// ---------------------------------------------------------------------------------------------
// FUSE request building

const IN_HEADER = 40;

export const Op = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, READLINK: 5, SYMLINK: 6, MKNOD: 8, MKDIR: 9,
  UNLINK: 10, RMDIR: 11, RENAME: 12, LINK: 13, OPEN: 14, READ: 15, WRITE: 16, STATFS: 17,
  RELEASE: 18, FSYNC: 20, SETXATTR: 21, GETXATTR: 22, LISTXATTR: 23, REMOVEXATTR: 24, FLUSH: 25,
  INIT: 26, OPENDIR: 27, READDIR: 28, RELEASEDIR: 29, FSYNCDIR: 30, GETLK: 31, SETLK: 32,
  SETLKW: 33, ACCESS: 34, CREATE: 35, INTERRUPT: 36, BMAP: 37, DESTROY: 38, IOCTL: 39, POLL: 40,
  NOTIFY_REPLY: 41, BATCH_FORGET: 42, FALLOCATE: 43, READDIRPLUS: 44, RENAME2: 45, LSEEK: 46,
  COPY_FILE_RANGE: 47, SETUPMAPPING: 48, REMOVEMAPPING: 49, SYNCFS: 50, TMPFILE: 51, STATX: 52,
} as const;

const NO_REPLY = new Set<number>([Op.FORGET, Op.BATCH_FORGET, Op.INTERRUPT]);
export function isNoReplyOpcode(op: number): boolean {
  return NO_REPLY.has(op);
}

/** Opcodes whose request ends in one or two names. */
const NAME_OPS = [Op.LOOKUP, Op.MKDIR, Op.MKNOD, Op.UNLINK, Op.RMDIR, Op.SYMLINK, Op.CREATE, Op.TMPFILE, Op.RENAME, Op.RENAME2, Op.LINK, Op.GETXATTR, Op.SETXATTR, Op.REMOVEXATTR] as const;
const FH_OPS = [Op.READ, Op.WRITE, Op.RELEASE, Op.RELEASEDIR, Op.FLUSH, Op.FSYNC, Op.FSYNCDIR, Op.READDIR, Op.READDIRPLUS, Op.GETATTR, Op.SETATTR, Op.LSEEK, Op.FALLOCATE, Op.COPY_FILE_RANGE, Op.GETLK, Op.SETLK, Op.IOCTL, Op.POLL, Op.SETUPMAPPING, Op.STATX] as const;
const KNOWN_OPS = Object.values(Op).filter((o) => o !== Op.INIT && o !== Op.DESTROY && o !== Op.SETLKW);
const UNKNOWN_OPS = [0, 7, 19, 53, 54, 63, 64, 100, 4096 /* CUSE_INIT */, 0x7fffffff, 0xffffffff];

const FIXTURE_NAMES = ['a', 'b', 'fz-file', 'fz', 'sub', 'x'];

class Req {
  readonly parts: Buffer[] = [];
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint | number): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)));
    this.parts.push(b);
    return this;
  }
  bytes(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  zero(n: number): this {
    this.parts.push(Buffer.alloc(n));
    return this;
  }
  name(s: string | Buffer, nul = true): this {
    this.parts.push(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
    if (nul) this.parts.push(Buffer.alloc(1));
    return this;
  }
  get body(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function header(opcode: number, nodeid: bigint | number, unique: bigint, bodyLen: number, lenOverride?: number, extlen = 0): Buffer {
  const h = Buffer.alloc(IN_HEADER);
  h.writeUInt32LE((lenOverride ?? IN_HEADER + bodyLen) >>> 0, 0);
  h.writeUInt32LE(opcode >>> 0, 4);
  h.writeBigUInt64LE(unique, 8);
  h.writeBigUInt64LE(BigInt.asUintN(64, BigInt(nodeid)), 16);
  // uid, gid, pid = 0 (root), pid 1
  h.writeUInt32LE(1, 32);
  h.writeUInt16LE(extlen, 36);
  return h;
}

/** File offsets / lengths: small, page-ish, or far beyond any file (never a huge real allocation). */
function fileOffset(r: Prng): bigint {
  return r.pick([
    () => 0n, () => 1n, () => 4095n, () => 4096n, () => 65536n, () => 1n << 20n,
    () => BigInt(r.below(16 << 20)), () => 1n << 62n, () => (1n << 63n) - 1n, () => (1n << 64n) - 1n,
    () => (1n << 63n),
  ])();
}

function ioSize(r: Prng): number {
  return r.pick([0, 1, 7, 4095, 4096, 4097, 8192, 65536, 1 << 20, (1 << 20) + 1, 0x7fffffff, 0xffffffff, r.below(1 << 16)]);
}

function fhValue(r: Prng, t: FuzzTargets, good: number): bigint {
  if (r.chance(0.3)) return BigInt(good);
  if (r.chance(0.2)) return BigInt(r.pick([t.fileFh, t.dirFh]));
  return r.interestingU64();
}

function nodeValue(r: Prng, t: FuzzTargets): bigint {
  return r.chance(0.6) ? BigInt(r.pick([1, t.dir, t.file])) : r.interestingU64();
}

function goodName(r: Prng): string {
  return r.pick(FIXTURE_NAMES);
}

/** A name that is malformed for a component: '/', '.', '..', empty, too long, NULs inside. */
function badName(r: Prng): Buffer {
  switch (r.below(9)) {
    case 0: return Buffer.from('a/b');
    case 1: return Buffer.from(r.pick(['/', '/etc/passwd', '../../etc', 'fz/..']));
    case 2: return Buffer.from(r.pick(['.', '..']));
    case 3: return Buffer.alloc(0);
    case 4: return Buffer.alloc(256, 0x61);
    case 5: return Buffer.alloc(r.range(257, 4200), 0x62);
    case 6: return Buffer.from('a\0b');
    case 7: {
      const b = Buffer.alloc(r.range(1, 40));
      r.fill(b);
      return b;
    }
    default: return Buffer.from('\xff\xfe', 'latin1');
  }
}

/** Arguments of `op` with plausible structure (handles/nodes from the fixture or garbage). */
function argsFor(r: Prng, op: number, t: FuzzTargets, name: () => Buffer | string, nul: boolean): Req {
  const q = new Req();
  switch (op) {
    case Op.LOOKUP: case Op.UNLINK: case Op.RMDIR: case Op.REMOVEXATTR:
      return q.name(name(), nul);
    case Op.MKDIR:
      return q.u32(r.pick([0o755, 0o777, 0o7777, 0xffffffff])).u32(0o022).name(name(), nul);
    case Op.MKNOD: {
      // Only harmless device numbers: 0:0, /dev/null, /dev/zero — never a real disk.
      const fmt = r.pick([0o100000, 0o010000, 0o140000, 0o020000, 0o060000, 0o040000, 0o120000, 0]);
      return q.u32(fmt | r.pick([0o644, 0o7777])).u32(r.pick([0, 0x103, 0x105])).u32(0o022).u32(0).name(name(), nul);
    }
    case Op.SYMLINK:
      return q.name(name(), nul).name(r.pick(['target', '/etc/passwd', '../../..', '', 'x'.repeat(5000)]), r.chance(0.8));
    case Op.CREATE: case Op.TMPFILE:
      return q.u32(r.pick([2, 0o102, 0o302, 0o1102, 0xffffffff, r.u32()])).u32(r.pick([0o644, 0o170777, 0])).u32(0o022).u32(0).name(name(), nul);
    case Op.RENAME:
      return q.u64(nodeValue(r, t)).name(name(), nul).name(name(), nul);
    case Op.RENAME2:
      return q.u64(nodeValue(r, t)).u32(r.pick([0, 1, 2, 4, 7, r.u32()])).u32(0).name(name(), nul).name(name(), nul);
    case Op.LINK:
      return q.u64(nodeValue(r, t)).name(name(), nul);
    case Op.GETXATTR:
      return q.u32(ioSize(r)).u32(0).name(r.chance(0.5) ? 'user.x' : name(), nul);
    case Op.SETXATTR: {
      const value = Buffer.alloc(r.pick([r.below(300), r.below(300), 8160, 12000]), 0x76);
      q.u32(r.chance(0.8) ? value.length : ioSize(r)).u32(r.pick([0, 1, 2, 3, r.u32()]));
      if (r.chance(0.3)) q.u32(r.u32()).u32(0); // fuse_setxattr_in's 7.33 extension
      return q.name(r.chance(0.5) ? r.pick(['user.x', 'security.capability', 'trusted.t', 'system.posix_acl_access']) : name(), nul).bytes(value);
    }
    case Op.LISTXATTR:
      return q.u32(ioSize(r)).u32(0);
    case Op.GETATTR:
      return q.u32(r.pick([0, 1, r.u32()])).u32(0).u64(fhValue(r, t, t.fileFh));
    case Op.SETATTR: {
      const valid = r.chance(0.5) ? r.u32() & 0xfff : r.pick([1, 8, 0x40, 0x48, 0x30, 0x180, 0x800]);
      const size = r.chance(0.7) ? fileOffset(r) : r.interestingU64();
      q.u32(valid).u32(0).u64(fhValue(r, t, t.fileFh)).u64(size).u64(r.u64());
      q.u64(r.interestingU64()).u64(r.interestingU64()).u64(r.interestingU64());
      q.u32(r.interestingU32()).u32(r.interestingU32()).u32(r.interestingU32());
      return q.u32(r.pick([0o644, 0o4755, 0o170777, r.u32()])).u32(0).u32(r.pick([0, 65534, r.u32()])).u32(r.pick([0, 65534, r.u32()])).u32(0);
    }
    case Op.OPEN: case Op.OPENDIR:
      return q.u32(r.pick([0, 1, 2, 0o100, 0o1000, 0o2000, 0o40000, 0o200000, 0o4010000, r.u32()])).u32(r.pick([0, 1, r.u32()]));
    case Op.READ: case Op.READDIR: case Op.READDIRPLUS:
      return q.u64(fhValue(r, t, op === Op.READ ? t.fileFh : t.dirFh)).u64(fileOffset(r)).u32(ioSize(r)).u32(r.pick([0, 2, r.u32()])).u64(r.u64()).u32(r.pick([0, 2, 0o40000, r.u32()])).u32(0);
    case Op.WRITE: {
      const data = Buffer.alloc(r.pick([0, 1, 100, 4096, r.below(6000), 8192, 8193, 12000]), 0x77);
      const size = r.chance(0.7) ? data.length : ioSize(r);
      return q.u64(fhValue(r, t, t.fileFh)).u64(fileOffset(r)).u32(size).u32(r.pick([0, 1, 2, 4, r.u32()])).u64(r.u64()).u32(r.pick([0, 2, r.u32()])).u32(0).bytes(data);
    }
    case Op.RELEASE: case Op.RELEASEDIR: case Op.FLUSH:
      // Releasing the fixture's handles would make later cases less interesting: mostly garbage.
      return q.u64(r.chance(0.1) ? fhValue(r, t, t.fileFh) : r.interestingU64()).u32(r.u32()).u32(r.pick([0, 1, 2, r.u32()])).u64(r.u64());
    case Op.FSYNC: case Op.FSYNCDIR:
      return q.u64(fhValue(r, t, op === Op.FSYNC ? t.fileFh : t.dirFh)).u32(r.pick([0, 1, r.u32()])).u32(0);
    case Op.STATFS: case Op.READLINK: case Op.DESTROY:
      return q;
    case Op.ACCESS:
      return q.u32(r.pick([0, 1, 2, 4, 7, r.u32()])).u32(0);
    case Op.SYNCFS:
      return q.u64(r.pick([0n, r.u64()]));
    case Op.GETLK: case Op.SETLK: case Op.SETLKW:
      return q.u64(fhValue(r, t, t.fileFh)).u64(r.u64()).u64(fileOffset(r)).u64(fileOffset(r)).u32(r.pick([0, 1, 2, r.u32()])).u32(r.u32()).u32(r.pick([0, 1])).u32(0);
    case Op.BMAP:
      return q.u64(r.interestingU64()).u32(r.interestingU32()).u32(0);
    case Op.IOCTL:
      return q.u64(fhValue(r, t, t.fileFh)).u32(r.u32()).u32(r.u32()).u64(r.u64()).u32(ioSize(r)).u32(ioSize(r));
    case Op.POLL:
      return q.u64(fhValue(r, t, t.fileFh)).u64(r.u64()).u32(r.u32()).u32(r.u32());
    case Op.FALLOCATE:
      return q.u64(fhValue(r, t, t.fileFh)).u64(fileOffset(r)).u64(r.pick([0n, 1n, 4096n, 1n << 20n, 1n << 62n, (1n << 64n) - 1n])).u32(r.pick([0, 1, 2, 3, 8, 16, 0x20, 0x40, r.u32()])).u32(0);
    case Op.LSEEK:
      return q.u64(fhValue(r, t, t.fileFh)).u64(fileOffset(r)).u32(r.pick([0, 1, 2, 3, 4, 5, r.u32()])).u32(0);
    case Op.COPY_FILE_RANGE:
      return q.u64(fhValue(r, t, t.fileFh)).u64(fileOffset(r)).u64(nodeValue(r, t)).u64(fhValue(r, t, t.fileFh)).u64(fileOffset(r)).u64(r.pick([0n, 1n, 4096n, 1n << 20n, 1n << 62n, (1n << 64n) - 1n])).u64(r.pick([0n, 1n, r.u64()]));
    case Op.SETUPMAPPING:
      return q.u64(fhValue(r, t, t.fileFh)).u64(fileOffset(r)).u64(r.interestingU64()).u64(r.pick([0n, 1n, 2n, 3n, r.u64()])).u64(r.interestingU64());
    case Op.REMOVEMAPPING: {
      const n = r.below(4);
      q.u32(r.chance(0.5) ? n : r.interestingU32()).u32(0);
      for (let i = 0; i < n; i++) q.u64(r.interestingU64()).u64(r.interestingU64());
      return q;
    }
    case Op.STATX:
      return q.u32(r.pick([0, 1, r.u32()])).u32(0).u64(fhValue(r, t, t.fileFh)).u32(r.u32()).u32(r.u32());
    case Op.INTERRUPT:
      return q.u64(r.interestingU64());
    case Op.FORGET:
      return q.u64(r.interestingU64());
    case Op.BATCH_FORGET: {
      const n = r.below(5);
      q.u32(r.chance(0.3) ? n : r.pick([n + 1, 0x1000, 0x10000, 0x7fffffff, 0xffffffff, r.u32()])).u32(0);
      for (let i = 0; i < n; i++) q.u64(nodeValue(r, t)).u64(r.interestingU64());
      return q;
    }
    case Op.NOTIFY_REPLY:
      return q.u64(r.u64()).u32(r.u32()).u32(0);
    case Op.INIT: {
      q.u32(r.pick([7, 7, 6, 8, 0, r.u32()])).u32(r.pick([27, 31, 36, 38, 39, 5, 0, r.u32()])).u32(r.u32()).u32(r.u32());
      return q.u32(r.u32()).zero(44);
    }
    default: {
      const b = Buffer.alloc(r.below(128));
      r.fill(b);
      return q.bytes(b);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Case generation

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

/** A well-formed request most chain cases carry: something cheap that needs a reply. */
function plainRequest(r: Prng, t: FuzzTargets, unique: bigint): { request: Buffer; opcode: number } {
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
function link(descs: DescSpec[]): DescSpec[] {
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
function normalParts(r: Prng, reqLen: number, replyLen: number, readParts = r.range(1, 3), writeParts = r.range(1, 2)): DescSpec[] {
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

function genChain(r: Prng, c: FuzzCase, cls: string): void {
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

function genMessage(r: Prng, c: FuzzCase, cls: string, t: FuzzTargets, unique: bigint): void {
  let op: number = r.pick(KNOWN_OPS);
  let nodeid: bigint = BigInt(r.pick([1, t.dir, t.file]));
  let args: Buffer;
  let lenOverride: number | undefined;
  let extlen = 0;
  switch (cls) {
    case 'fuse.short-header': {
      const body = Buffer.alloc(r.below(IN_HEADER));
      r.fill(body);
      if (body.length >= 8) body.writeUInt32LE(r.pick([body.length, IN_HEADER, r.u32()]), 0);
      if (body.length >= 8) body.writeUInt32LE(r.pick(KNOWN_OPS), 4);
      c.request = body;
      setChain(r, c);
      return;
    }
    case 'fuse.len-mismatch':
      args = argsFor(r, op, t, () => goodName(r), true).body;
      lenOverride = r.pick([0, 1, IN_HEADER - 1, IN_HEADER, IN_HEADER + args.length - 1, IN_HEADER + args.length + 1, IN_HEADER + args.length + 4096, 0xffffffff, r.u32()]);
      if (lenOverride === IN_HEADER + args.length) lenOverride++;
      break;
    case 'fuse.unknown-opcode':
      op = r.pick(UNKNOWN_OPS);
      args = argsFor(r, -1, t, () => goodName(r), true).body;
      break;
    case 'fuse.name-no-nul':
      op = r.pick(NAME_OPS);
      args = argsFor(r, op, t, () => (r.chance(0.5) ? goodName(r) : badName(r)), false).body;
      break;
    case 'fuse.name-bad':
      op = r.pick(NAME_OPS);
      args = argsFor(r, op, t, () => badName(r), true).body;
      break;
    case 'fuse.forget-huge':
      op = r.pick([Op.BATCH_FORGET, Op.BATCH_FORGET, Op.FORGET]);
      nodeid = op === Op.FORGET ? nodeValue(r, t) : 0n;
      args = argsFor(r, op, t, () => goodName(r), true).body;
      if (r.chance(0.8)) c.queue = 0;
      c.forgets = true;
      break;
    case 'fuse.removemapping-huge':
      op = r.pick([Op.REMOVEMAPPING, Op.REMOVEMAPPING, Op.SETUPMAPPING]);
      args = argsFor(r, op, t, () => goodName(r), true).body;
      break;
    case 'fuse.bad-fh':
      op = r.pick(FH_OPS);
      nodeid = BigInt(op === Op.READDIR || op === Op.READDIRPLUS || op === Op.RELEASEDIR || op === Op.FSYNCDIR ? t.dir : t.file);
      args = argsFor(r, op, t, () => goodName(r), true).body;
      break;
    case 'fuse.bad-nodeid':
      nodeid = r.chance(0.5) ? r.interestingU64() : BigInt(r.pick([0, 2, 3, 1000, 0x7fffffff]));
      args = argsFor(r, op, t, () => goodName(r), true).body;
      break;
    case 'fuse.random-args': {
      nodeid = nodeValue(r, t);
      args = argsFor(r, op, t, () => (r.chance(0.9) ? goodName(r) : badName(r)), r.chance(0.95)).body;
      // flip a few bytes, truncate or extend
      const m = r.below(4);
      if (m === 1 && args.length > 0) {
        for (let i = r.range(1, 4); i > 0; i--) args[r.below(args.length)] ^= 1 << r.below(8);
      } else if (m === 2) {
        args = args.subarray(0, r.below(args.length + 1));
      } else if (m === 3) {
        const extra = Buffer.alloc(r.below(64));
        r.fill(extra);
        args = Buffer.concat([args, extra]);
      }
      if (op === Op.MKNOD && args.length >= 8) args.writeUInt32LE(0, 4); // rdev 0:0 — never a real device
      break;
    }
    case 'fuse.random-bytes': {
      args = Buffer.alloc(r.below(512));
      r.fill(args);
      nodeid = nodeValue(r, t);
      if (op === Op.MKNOD) op = Op.GETATTR;
      if (op === Op.FORGET || op === Op.BATCH_FORGET) c.forgets = true;
      break;
    }
    case 'fuse.ext-len': {
      args = argsFor(r, op, t, () => goodName(r), true).body;
      extlen = r.pick([1, 2, 0xff, 0xffff, Math.ceil(args.length / 8), Math.floor(args.length / 8)]);
      break;
    }
    case 'fuse.interrupt':
      op = Op.INTERRUPT;
      nodeid = 0n;
      args = new Req().u64(r.chance(0.5) ? unique - 2n : r.interestingU64()).body;
      c.queue = r.chance(0.8) ? 0 : 1;
      break;
    case 'fuse.dup-unique':
      args = argsFor(r, op, t, () => goodName(r), true).body;
      unique = BigInt(r.pick([0, 1, 7, 0xffffffff]));
      break;
    case 'fuse.hiprio-misuse':
      // An ordinary request on the hiprio queue, which the kernel uses for FORGET and INTERRUPT only.
      nodeid = nodeValue(r, t);
      args = argsFor(r, op, t, () => goodName(r), true).body;
      c.queue = 0;
      break;
    case 'fuse.init':
      op = r.chance(0.8) ? Op.INIT : Op.DESTROY;
      nodeid = 0n;
      args = argsFor(r, op, t, () => goodName(r), true).body;
      c.resetsSession = true;
      break;
    default:
      throw new Error(`no generator for class ${cls}`);
  }
  if (op === Op.FORGET || op === Op.BATCH_FORGET) c.forgets = true;
  if (op === Op.INIT || op === Op.DESTROY) c.resetsSession = true;
  if (args.length > SLOT_REQ_BYTES - IN_HEADER) args = args.subarray(0, SLOT_REQ_BYTES - IN_HEADER);
  c.request = Buffer.concat([header(op, nodeid, unique, args.length, lenOverride, extlen), args]);
  c.unique = unique;
  c.opcode = op;
  setChain(r, c);
}

/** A well-formed chain for a message case: request readable, 8 KiB writable (or none for no-reply ops). */
function setChain(r: Prng, c: FuzzCase): void {
  const noReply = c.opcode >= 0 && isNoReplyOpcode(c.opcode);
  const replyLen = noReply && r.chance(0.8) ? 0 : r.pick([SLOT_REPLY_BYTES, SLOT_REPLY_BYTES, 4096, 16]);
  let d = normalParts(r, c.request.length, replyLen, r.range(1, 2), 1);
  if (d.length === 0) d = [{ off: SLOT_REPLY, len: 16, flags: DESC_F_WRITE, next: 0 }];
  c.descs = link(d);
}

// ---------------------------------------------------------------------------------------------
// The oracle's walk

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

/** JSON-friendly rendering of a case (bigints as hex, request as hex). */
export function describeCase(c: FuzzCase): Record<string, unknown> {
  const desc = (d: DescSpec): Record<string, unknown> => ({
    ...(d.gpa !== undefined ? { gpa: '0x' + d.gpa.toString(16) } : { off: d.off }),
    len: d.len,
    flags: d.flags,
    next: d.next,
    ...(d.rawNext === true ? { rawNext: true } : {}),
  });
  return {
    index: c.index,
    cls: c.cls,
    queue: c.queue,
    opcode: c.opcode,
    unique: c.unique === null ? null : c.unique.toString(),
    ...(c.badHead !== undefined ? { badHead: c.badHead } : {}),
    descs: c.descs.map(desc),
    tables: c.tables.map((t) => ({ off: t.off, descs: t.descs.length <= 16 ? t.descs.map(desc) : `${t.descs.length} descriptors` })),
    request: c.request.length <= 512 ? c.request.toString('hex') : c.request.subarray(0, 512).toString('hex') + `… (${c.request.length} bytes)`,
  };
}
