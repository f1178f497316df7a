// Reply padding must be zeroed: uninitialised bytes in a reply leak daemon memory into the
// guest (a peer sent stack garbage in padding fields). Each reply buffer is pre-filled with a
// pattern; every byte up to out.len must be written by the daemon (two different patterns give
// the same reply), padding and reserved fields must be zero, and nothing beyond out.len may be
// touched.
import { writeFileSync } from 'node:fs';
import { constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSession, type Session } from '../../helpers/daemon.js';
import { requireRoot } from '../../helpers/prerequisites.js';
import { AttrOut, Dirent, DirentPlus, EntryOut, InitOut, Opcode, OpenOut, OutHeader, StatfsOut, WriteOut } from '../../../src/fuse/abi.js';
import { FUSE_KERNEL_MINOR_VERSION, FUSE_KERNEL_VERSION } from '../../../src/fuse/abi.js';
import type { FuseClient } from '../../../src/frontend/fuse-client.js';
import { rawWithFill } from './helpers.js';

const CAP = 8192;
let session: Session | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
});

function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s), Buffer.alloc(1)]);
}

/** Sends the request twice with different fills; returns the reply body (after the header). */
async function checked(fuse: FuseClient, build: () => Buffer, stable = true): Promise<Buffer> {
  const a = await rawWithFill(fuse, build(), CAP, 0xa5);
  const len = a.reply.readUInt32LE(OutHeader.len);
  expect(a.used).toBe(len);
  expect(a.reply.readInt32LE(OutHeader.error)).toBe(0);
  expect(a.reply.subarray(len).every((x) => x === 0xa5), 'bytes beyond out.len were written').toBe(true);
  if (stable) {
    const b = await rawWithFill(fuse, build(), CAP, 0x5a);
    expect(b.used).toBe(len);
    const x = a.reply.subarray(OutHeader.SIZE, len);
    const y = b.reply.subarray(OutHeader.SIZE, len);
    const diff = [...x.keys()].filter((i) => x[i] !== y[i]);
    expect(diff, 'reply bytes the daemon left unwritten').toEqual([]);
  }
  return a.reply.subarray(OutHeader.SIZE, len);
}

const zero = (b: Buffer, from: number, to: number, what: string): void => {
  expect([...b.subarray(from, to)], what).toEqual(new Array(to - from).fill(0));
};

/** Checks every dirent's name padding (plus: its entry_out too). */
function checkDirents(body: Buffer, plus: boolean): number {
  let off = 0;
  let n = 0;
  while (off < body.length) {
    const d = plus ? off + DirentPlus.dirent : off;
    const namelen = body.readUInt32LE(d + Dirent.namelen);
    const end = d + Dirent.name + namelen;
    const padded = (end + 7) & ~7;
    zero(body, end, padded, `dirent ${n} name padding`);
    off = padded;
    n++;
  }
  return n;
}

describe('reply padding', () => {
  // CI runs as root: a missing prerequisite is a failure, never a skip.
  beforeAll(() => requireRoot('the namespace sandbox'));

  it('INIT, LOOKUP, GETATTR, OPEN, CREATE, WRITE, READ, STATFS, READDIR(PLUS), errors: no stray bytes', async () => {
    session = await startSession();
    const { fuse, daemon } = session;
    for (const n of ['a', 'bb', 'ccc', 'dddd', 'eeeee', 'ffffff', 'ggggggg', 'hhhhhhhh']) writeFileSync(join(daemon.shareDir, n), n);

    // INIT (a new session each time: the reply is the same).
    const initIn = (): Buffer => {
      const a = Buffer.alloc(64);
      a.writeUInt32LE(FUSE_KERNEL_VERSION, 0);
      a.writeUInt32LE(FUSE_KERNEL_MINOR_VERSION, 4);
      a.writeUInt32LE(128 * 1024, 8);
      a.writeUInt32LE(0xffffffff, 12);
      return fuse.build(Opcode.INIT, 0, [a]);
    };
    const init = await checked(fuse, initIn);
    expect(init.length).toBe(InitOut.SIZE);
    zero(init, InitOut.flags2 + 4, InitOut.SIZE, 'fuse_init_out.unused');

    const lookup = await checked(fuse, () => fuse.build(Opcode.LOOKUP, 1, [cstr('a')]));
    expect(lookup.length).toBe(EntryOut.SIZE);
    const nodeid = Number(lookup.readBigUInt64LE(EntryOut.nodeid));

    const attr = await checked(fuse, () => fuse.build(Opcode.GETATTR, nodeid, [Buffer.alloc(16)]));
    expect(attr.length).toBe(AttrOut.SIZE);
    zero(attr, AttrOut.dummy, AttrOut.dummy + 4, 'fuse_attr_out.dummy');

    const openIn = Buffer.alloc(8);
    openIn.writeUInt32LE(fsc.O_RDWR, 0);
    const open = await checked(fuse, () => fuse.build(Opcode.OPEN, nodeid, [openIn]), false);
    zero(open, OpenOut.padding, OpenOut.SIZE, 'fuse_open_out.padding');
    const fh = open.readBigUInt64LE(OpenOut.fh);

    const writeIn = Buffer.alloc(40);
    writeIn.writeBigUInt64LE(fh, 0);
    writeIn.writeUInt32LE(3, 16);
    const write = await checked(fuse, () => fuse.build(Opcode.WRITE, nodeid, [writeIn, Buffer.from('xyz')]));
    expect(write.length).toBe(WriteOut.SIZE);
    zero(write, WriteOut.padding, WriteOut.SIZE, 'fuse_write_out.padding');

    const readIn = Buffer.alloc(40);
    readIn.writeBigUInt64LE(fh, 0);
    readIn.writeUInt32LE(4096, 16);
    expect((await checked(fuse, () => fuse.build(Opcode.READ, nodeid, [readIn]))).toString()).toBe('xyz');

    const createIn = Buffer.alloc(16);
    createIn.writeUInt32LE(fsc.O_RDWR, 0);
    createIn.writeUInt32LE(0o100644, 4);
    const create = await checked(fuse, () => fuse.build(Opcode.CREATE, 1, [createIn, cstr('new')]), false);
    zero(create, EntryOut.SIZE + OpenOut.padding, EntryOut.SIZE + OpenOut.SIZE, 'create: fuse_open_out.padding');

    const statfs = await checked(fuse, () => fuse.build(Opcode.STATFS, 1, []), false); // free counts move
    zero(statfs, StatfsOut.padding, StatfsOut.SIZE, 'fuse_kstatfs.padding and spare');

    const dir = await fuse.opendir(1);
    for (const [op, plus] of [[Opcode.READDIR, false], [Opcode.READDIRPLUS, true]] as const) {
      const rd = Buffer.alloc(40);
      rd.writeBigUInt64LE(BigInt(dir.fh), 0);
      rd.writeUInt32LE(4096, 16);
      const body = await checked(fuse, () => fuse.build(op, 1, [rd]), false);
      expect(checkDirents(body, plus)).toBeGreaterThanOrEqual(9);
    }

    // An error reply is the header alone; nothing after it is touched.
    const err = await rawWithFill(fuse, fuse.build(Opcode.LOOKUP, 1, [cstr('missing')]), CAP, 0xa5);
    expect(err.reply.readUInt32LE(OutHeader.len)).toBe(OutHeader.SIZE);
    expect(err.used).toBe(OutHeader.SIZE);
    expect(err.reply.readInt32LE(OutHeader.error)).toBeLessThan(0);
    expect(err.reply.subarray(OutHeader.SIZE).every((x) => x === 0xa5)).toBe(true);
  });
});
