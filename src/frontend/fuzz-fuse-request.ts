/**
 * FUSE requests for fuzz cases: the opcode table, a little-endian byte builder, the
 * fuse_in_header, and generators of arguments that are plausible in structure but carry
 * handles, node ids, sizes and names from the fixture or from the edges of their ranges.
 */
import type { FuzzTargets } from './fuzz-case-model.js';
import { Prng } from './prng.js';

export const IN_HEADER = 40;

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
export const NAME_OPS = [Op.LOOKUP, Op.MKDIR, Op.MKNOD, Op.UNLINK, Op.RMDIR, Op.SYMLINK, Op.CREATE, Op.TMPFILE, Op.RENAME, Op.RENAME2, Op.LINK, Op.GETXATTR, Op.SETXATTR, Op.REMOVEXATTR] as const;
export const FH_OPS = [Op.READ, Op.WRITE, Op.RELEASE, Op.RELEASEDIR, Op.FLUSH, Op.FSYNC, Op.FSYNCDIR, Op.READDIR, Op.READDIRPLUS, Op.GETATTR, Op.SETATTR, Op.LSEEK, Op.FALLOCATE, Op.COPY_FILE_RANGE, Op.GETLK, Op.SETLK, Op.IOCTL, Op.POLL, Op.SETUPMAPPING, Op.STATX] as const;
export const KNOWN_OPS = Object.values(Op).filter((o) => o !== Op.INIT && o !== Op.DESTROY && o !== Op.SETLKW);
export const UNKNOWN_OPS = [0, 7, 19, 53, 54, 63, 64, 100, 4096 /* CUSE_INIT */, 0x7fffffff, 0xffffffff];

const FIXTURE_NAMES = ['a', 'b', 'fz-file', 'fz', 'sub', 'x'];

export class Req {
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

export function header(opcode: number, nodeid: bigint | number, unique: bigint, bodyLen: number, lenOverride?: number, extlen = 0): Buffer {
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

export function nodeValue(r: Prng, t: FuzzTargets): bigint {
  return r.chance(0.6) ? BigInt(r.pick([1, t.dir, t.file])) : r.interestingU64();
}

export function goodName(r: Prng): string {
  return r.pick(FIXTURE_NAMES);
}

/** A name that is malformed for a component: '/', '.', '..', empty, too long, NULs inside. */
export function badName(r: Prng): Buffer {
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
export function argsFor(r: Prng, op: number, t: FuzzTargets, name: () => Buffer | string, nul: boolean): Req {
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
