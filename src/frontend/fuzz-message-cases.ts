/**
 * FUSE-message cases of `vufs fuzz` (classes fuse.*): a well-formed chain carrying a malformed
 * message — a short header, a length that disagrees with the bytes, unknown opcodes, names
 * without NUL or with '/', '..' and the like, huge forget and removemapping counts, stale or
 * invented handles and node ids, random arguments and bytes, extension lengths, INTERRUPTs,
 * reused uniques, ordinary requests on the hiprio queue, and INIT/DESTROY mid-session.
 */
import { SLOT_REPLY, SLOT_REPLY_BYTES, SLOT_REQ_BYTES, type FuzzCase, type FuzzTargets } from './fuzz-case-model.js';
import { link, normalParts } from './fuzz-chain-cases.js';
import {
  FH_OPS,
  IN_HEADER,
  KNOWN_OPS,
  NAME_OPS,
  Op,
  Req,
  UNKNOWN_OPS,
  argsFor,
  badName,
  goodName,
  header,
  isNoReplyOpcode,
  nodeValue,
} from './fuzz-fuse-request.js';
import { DESC_F_WRITE } from './layout.js';
import { Prng } from './prng.js';

/** Builds the request of a fuse.* case (malformed as its class says) and a well-formed chain for it. */
export function genMessage(r: Prng, c: FuzzCase, cls: string, t: FuzzTargets, unique: bigint): void {
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
