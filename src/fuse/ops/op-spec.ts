/**
 * What an opcode handler is and what it gets from the server. Each file in this folder serves
 * one group of opcodes and exports its rows of the opcode table (../opcodes.ts): for each
 * request, the size of its fixed argument struct, the size of its fixed reply, the FileSystem
 * method it needs, and the handler that decodes (bounds-checked), calls the file system once and
 * encodes the reply.
 */
import type { FileSystem, NodeId } from '../../filesystem/filesystem.js';
import type { Logger } from '../../logger.js';
import type { FuseCall } from '../call.js';
import type { DirectIoTable } from '../direct-io.js';
import type { DirentEncoderHooks } from '../dirents.js';

/** What handlers need from the server. */
export interface Core {
  readonly fs: FileSystem;
  /** The INIT flags of the session (0 before INIT). */
  readonly sessionFlags: bigint;
  /** Cap for READ and READDIR sizes (besides the guest's reply buffer). */
  readonly maxRead: number;
  /** Largest WRITE payload accepted (what INIT announced as max_write). */
  readonly maxWrite: number;
  readonly logger: Logger;
  /** Direct I/O grants of open handles, when the transport serves them (../direct-io.ts). */
  readonly directIo: DirectIoTable | undefined;
  /** Drops lookup references the guest will never learn about; never throws. */
  forgetQuietly(nodeid: NodeId, count: bigint): void;
  /** READDIRPLUS: entries the guest will not get lose their lookup reference (../dirents.ts). */
  readonly direntHooks: DirentEncoderHooks;
}

export interface OpSpec {
  readonly opcode: number;
  /** Bytes of fixed argument struct that must follow fuse_in_header. */
  readonly inSize: number;
  /** Bytes of fixed reply payload (checked against replyCapacity up front), or VARIABLE. */
  readonly outSize: number;
  /** The FileSystem method the handler calls; ENOSYS when the file system lacks it. */
  readonly method: keyof FileSystem;
  /** Whether the handler reads the whole request from `buf` (false: WRITE, data via transport). */
  readonly wholeRequest: boolean;
  readonly run: (core: Core, c: FuseCall) => Promise<void>;
  /**
   * A synchronous form of `run` for the hot metadata requests: true once it answered, false —
   * before doing anything — when the file system cannot serve it synchronously now (the server
   * then calls `run`). Throws like `run`.
   */
  readonly runSync: ((core: Core, c: FuseCall) => boolean) | undefined;
}

/** OpSpec.outSize of a reply whose size depends on the request (READ, READDIR, xattrs). */
export const VARIABLE = -1;

/** One row of the opcode table. */
export function op(
  opcode: number,
  method: keyof FileSystem,
  inSize: number,
  outSize: number,
  run: (core: Core, c: FuseCall) => Promise<void>,
  options: { wholeRequest?: boolean; runSync?: (core: Core, c: FuseCall) => boolean } = {},
): OpSpec {
  return { opcode, method, inSize, outSize, run, wholeRequest: options.wholeRequest ?? true, runSync: options.runSync };
}
