import { describe, expect, it } from 'vitest';
import { checkName, checkSymlinkTarget, isValidDirentName, readName, readSymlinkTarget } from '../../../src/fuse/names.js';
import { ByteReader, DecodeError } from '../../../src/fuse/codec.js';
import { E } from '../../../src/filesystem/errors.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('checkName', () => {
  const table: Array<[string, Buffer, number]> = [
    ['plain', b('file.txt'), 0],
    ['dotfile', b('.bashrc'), 0],
    ['three dots', b('...'), 0],
    ['dot dot x', b('..x'), 0],
    ['utf-8 bytes', Buffer.from('näme', 'utf8'), 0],
    ['255 bytes', Buffer.alloc(255, 0x61), 0],
    ['empty', b(''), E.EINVAL],
    ['dot', b('.'), E.EINVAL],
    ['dotdot', b('..'), E.EINVAL],
    ['slash inside', b('a/b'), E.EINVAL],
    ['leading slash', b('/etc'), E.EINVAL],
    ['only slash', b('/'), E.EINVAL],
    ['dotdot slash', b('../x'), E.EINVAL],
    ['256 bytes', Buffer.alloc(256, 0x61), E.ENAMETOOLONG],
    ['interior NUL', Buffer.from([0x61, 0, 0x62]), E.EINVAL],
  ];
  it.each(table)('%s', (_label, name, errno) => {
    expect(checkName(name)).toBe(errno);
  });
});

describe('checkSymlinkTarget', () => {
  const table: Array<[string, Buffer, number]> = [
    ['relative', b('../x/y'), 0],
    ['absolute', b('/etc/passwd'), 0],
    ['dotdot', b('..'), 0],
    ['4095 bytes', Buffer.alloc(4095, 0x61), 0],
    ['4096 bytes', Buffer.alloc(4096, 0x61), E.ENAMETOOLONG],
    ['empty', b(''), E.EINVAL],
  ];
  it.each(table)('%s', (_label, t, errno) => {
    expect(checkSymlinkTarget(t)).toBe(errno);
  });
});

describe('readName / readSymlinkTarget', () => {
  it('reads consecutive NUL-terminated strings', () => {
    const buf = b('name\0../target\0');
    const r = new ByteReader(buf, 0, buf.length);
    expect(readName(r).toString()).toBe('name');
    expect(readSymlinkTarget(r).toString()).toBe('../target');
    r.end();
  });

  it('missing NUL is EINVAL', () => {
    const buf = b('name');
    expect(() => readName(new ByteReader(buf, 0, buf.length))).toThrow(DecodeError);
  });

  it('carries ENAMETOOLONG', () => {
    const buf = Buffer.concat([Buffer.alloc(300, 0x61), Buffer.alloc(1)]);
    try {
      readName(new ByteReader(buf, 0, buf.length));
      expect.unreachable();
    } catch (err) {
      expect((err as DecodeError).errno).toBe(E.ENAMETOOLONG);
    }
  });

  it('refuses .. as a name', () => {
    const buf = b('..\0');
    try {
      readName(new ByteReader(buf, 0, buf.length));
      expect.unreachable();
    } catch (err) {
      expect((err as DecodeError).errno).toBe(E.EINVAL);
    }
  });
});

describe('isValidDirentName', () => {
  it.each([
    ['.', true],
    ['..', true],
    ['x', true],
    ['', false],
    ['a/b', false],
  ])('%s → %s', (name, ok) => {
    expect(isValidDirentName(b(name))).toBe(ok);
  });
  it('rejects > 255 bytes', () => {
    expect(isValidDirentName(Buffer.alloc(256, 0x61))).toBe(false);
  });
});
