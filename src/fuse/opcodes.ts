/**
 * The opcode table: every request the file system serves, by opcode, from the group files in
 * ops/ — one file per family of opcodes, each holding decode, encode and bookkeeping for its
 * requests (docs/architecture.md has the table opcode → transport, core and passthrough files).
 *
 * INIT, DESTROY, FORGET, BATCH_FORGET, INTERRUPT and NOTIFY_REPLY change session state or never
 * reply: the server (server.ts) handles those itself.
 */
import { OPCODE_TABLE_SIZE } from './abi.js';
import { ATTRIBUTE_OPS } from './ops/attributes.js';
import { DAX_OPS } from './ops/dax.js';
import { DIRECTORY_OPS } from './ops/directories.js';
import { ENTRY_OPS } from './ops/entries.js';
import { FILE_OPS } from './ops/files.js';
import { LOCK_OPS } from './ops/locks.js';
import type { OpSpec } from './ops/op-spec.js';
import { XATTR_OPS } from './ops/xattr.js';

export type { Core, OpSpec } from './ops/op-spec.js';

function table(...groups: (readonly OpSpec[])[]): readonly (OpSpec | undefined)[] {
  const t: (OpSpec | undefined)[] = new Array<OpSpec | undefined>(OPCODE_TABLE_SIZE).fill(undefined);
  for (const group of groups) {
    for (const spec of group) {
      if (t[spec.opcode] !== undefined) throw new Error(`opcode ${spec.opcode} defined twice`);
      t[spec.opcode] = spec;
    }
  }
  return t;
}

/** Opcode-indexed; undefined = not served here (ENOSYS, or handled by the server itself). */
export const OPS = table(ENTRY_OPS, ATTRIBUTE_OPS, FILE_OPS, DIRECTORY_OPS, XATTR_OPS, LOCK_OPS, DAX_OPS);
