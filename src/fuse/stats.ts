/** What the FUSE core counts per session: requests by opcode, errors by errno, malformed input. */
import { OPCODE_TABLE_SIZE } from './abi.js';

export interface FuseStats {
  /** Requests received, indexed by opcode (OPCODE_TABLE_SIZE entries). */
  readonly requests: number[];
  /** Requests whose opcode is ≥ OPCODE_TABLE_SIZE. */
  unknownOpcodes: number;
  /** Error replies sent, by positive errno. */
  readonly errors: Map<number, number>;
  /** Requests that failed validation: dropped, or answered with an errno. */
  malformed: number;
  /** FUSE_INTERRUPT requests received. */
  interrupts: number;
  /** fuse_forget_one records processed (FORGET counts 1, BATCH_FORGET its entries). */
  forgets: number;
}

export function createFuseStats(): FuseStats {
  return {
    requests: new Array<number>(OPCODE_TABLE_SIZE).fill(0),
    unknownOpcodes: 0,
    errors: new Map(),
    malformed: 0,
    interrupts: 0,
    forgets: 0,
  };
}
