/**
 * What a `vufs fuzz` case is. A case is a complete, printable description of one submission:
 * the descriptor chain (direct descriptors and any indirect tables, addresses relative to the
 * case's slot of guest RAM or absolute), the request bytes, and which queue it goes to. The
 * slot geometry is part of a case's meaning, so it lives here beside the case's shape.
 */
import { RAM_GPA } from './layout.js';

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
/** End of guest RAM (exclusive) as a guest-physical address. */
export const RAM_END = RAM_GPA + BigInt(FUZZ_RAM_SIZE);

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
