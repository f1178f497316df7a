import { describe, expect, it } from 'vitest';
import { errnoForReply, splitTimeout, writeOutHeader } from '../../../src/fuse/reply.js';
import { DecodeError } from '../../../src/fuse/codec.js';
import { E, ErrnoError } from '../../../src/filesystem/errors.js';
import { Opcode } from '../../../src/fuse/abi.js';
import { errnoOfReply, initializedRig, request } from './helpers.js';

describe('errnoForReply: the one errno mapping', () => {
  const table: Array<[string, unknown, number]> = [
    ['ErrnoError ENOENT', new ErrnoError(E.ENOENT), E.ENOENT],
    ['ErrnoError EACCES with context', new ErrnoError(E.EACCES, 'opening x'), E.EACCES],
    ['DecodeError', new DecodeError('bad'), E.EINVAL],
    ['DecodeError ENAMETOOLONG', new DecodeError('long', E.ENAMETOOLONG), E.ENAMETOOLONG],
    ['Node system error (negative libuv errno)', Object.assign(new Error('x'), { errno: -E.ENOTDIR, code: 'ENOTDIR' }), E.ENOTDIR],
    ['Node error with code only', Object.assign(new Error('x'), { code: 'EEXIST' }), E.EEXIST],
    ['plain Error', new Error('bug'), E.EIO],
    ['TypeError', new TypeError('undefined is not a function'), E.EIO],
    ['string', 'oops', E.EIO],
    ['undefined', undefined, E.EIO],
    ['null', null, E.EIO],
    ['errno 0', Object.assign(new Error('x'), { errno: 0 }), E.EIO],
    ['errno above the wire range', new ErrnoError(512), E.EIO],
    ['errno 4095', new ErrnoError(4095), E.EIO],
    ['errno 511', new ErrnoError(511), 511],
    ['non-integer errno', { errno: 2.5 }, E.EIO],
    ['unknown code', { code: 'EWHATEVER' }, E.EIO],
  ];
  it.each(table)('%s', (_label, err, errno) => {
    expect(errnoForReply(err)).toBe(errno);
  });

  it('the server replies with exactly that errno', async () => {
    for (const [, err, errno] of table) {
      const r = await initializedRig();
      r.fs.statfs = async () => {
        throw err;
      };
      const o = await r.send(request({ opcode: Opcode.STATFS }));
      expect(errnoOfReply(o)).toBe(errno);
      expect(r.server.stats.errors.get(errno)).toBe(1);
    }
  });
});

describe('out header', () => {
  it('stores -errno and the unique', () => {
    const b = Buffer.alloc(16, 0xff);
    writeOutHeader(b, 0, 16, E.ENOENT, 0x89abcdef, 0x01234567);
    expect(b.readUInt32LE(0)).toBe(16);
    expect(b.readInt32LE(4)).toBe(-E.ENOENT);
    expect(b.readBigUInt64LE(8)).toBe(0x0123456789abcdefn);
    writeOutHeader(b, 0, 24, 0, 1, 0);
    expect(b.readInt32LE(4)).toBe(0);
  });
});

describe('splitTimeout', () => {
  it.each([
    [0, 0, 0],
    [1, 1, 0],
    [1.5, 1, 500_000_000],
    [0.000000001, 0, 1],
    [2.9999999999, 2, 999_999_999],
    [-1, 0, 0],
    [Number.NaN, 0, 0],
    [Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER, 0],
    [1e300, Number.MAX_SAFE_INTEGER, 0],
  ])('%s s → %i s + %i ns', (t, s, ns) => {
    expect(splitTimeout(t)).toEqual([s, ns]);
  });
});
