// Shared by the semantics tests that drive the real daemon through our frontend: request
// builders for the opcodes FuseClient has no method for, and a re-INIT with chosen flags.
import type { Session } from '../../helpers/daemon.js';
import { ErrnoError } from '../../../src/filesystem/errors.js';
import { InHeader, InitOut, Opcode } from '../../../src/fuse/abi.js';
import type { FuseReply } from '../../../src/frontend/fuse-client.js';

export const OFFSET_MAX = 0x7fff_ffff_ffff_ffffn;

export function u32s(...vals: number[]): Buffer {
  const b = Buffer.alloc(vals.length * 4);
  vals.forEach((v, i) => b.writeUInt32LE(v >>> 0, i * 4));
  return b;
}

export function u64(v: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)));
  return b;
}

/** INIT again (a new session, as after a guest reboot) offering `flags` (64-bit). */
export async function reinit(s: Session, flags: bigint): Promise<bigint> {
  const out = await s.fuse.init(Number(flags & 0xffff_ffffn), Number(flags >> 32n));
  return BigInt(out.readUInt32LE(InitOut.flags)) | (BigInt(out.readUInt32LE(InitOut.flags2)) << 32n);
}

/** Every INIT flag a Linux 6.x guest may offer (bits 0..36 but INIT_RESERVED). */
export const GUEST_FLAGS = ((1n << 37n) - 1n) & ~(1n << 31n);

/** A request built by FuseClient, its unique, and a way to send it. */
export function prepared(s: Session, opcode: number, nodeid: number, args: Buffer[]): { bytes: Buffer; unique: bigint } {
  const bytes = s.fuse.build(opcode, nodeid, args);
  return { bytes, unique: bytes.readBigUInt64LE(InHeader.unique) };
}

/** Sends raw bytes; resolves with the reply body, rejects with ErrnoError on an error reply. */
export async function send(s: Session, bytes: Buffer, replyBody: number): Promise<Buffer> {
  const r: FuseReply = await s.fuse.raw(bytes, 16 + replyBody);
  if (r.error !== 0) throw new ErrnoError(-r.error, `opcode ${bytes.readUInt32LE(InHeader.opcode)}`);
  return r.body;
}

/** FUSE_INTERRUPT of `unique`, on the hiprio queue (no reply). */
export async function interrupt(s: Session, unique: bigint): Promise<void> {
  await s.fuse.raw(s.fuse.build(Opcode.INTERRUPT, 0, [u64(unique)]), 0, s.frontend.queues[0]);
}

export function lkIn(fh: number, owner: bigint, type: number, start = 0n, end = OFFSET_MAX, flags = 0, pid = 1): Buffer {
  return Buffer.concat([u64(fh), u64(owner), u64(start), u64(end), u32s(type, pid), u32s(flags, 0)]);
}

export async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ErrnoError) return e.errno;
    throw e;
  }
  return 0;
}

/** Open descriptors of process `pid`. */
export async function fdsOf(pid: number): Promise<number> {
  const { readdirSync } = await import('node:fs');
  return readdirSync(`/proc/${pid}/fd`).length;
}
