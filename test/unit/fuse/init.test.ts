import { describe, expect, it } from 'vitest';
import { InitFlag, InitOut, Opcode } from '../../../src/fuse/abi.js';
import { decodeInitIn, encodeInitOut, initOutSize, negotiateInit, SUPPORTED_INIT_FLAGS } from '../../../src/fuse/init.js';
import { ByteReader, DecodeError } from '../../../src/fuse/codec.js';
import { E } from '../../../src/filesystem/errors.js';
import { DEFAULT_GUEST_FLAGS, errnoOfReply, expectReply, initIn, request, rig } from './helpers.js';

function decode(buf: Buffer) {
  return decodeInitIn(new ByteReader(buf, 0, buf.length));
}

interface InitOutView {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: bigint;
  maxBackground: number;
  congestion: number;
  maxWrite: number;
  timeGran: number;
  maxPages: number;
  mapAlignment: number;
  size: number;
}

function view(payload: Buffer): InitOutView {
  const p = Buffer.concat([payload, Buffer.alloc(Math.max(0, 64 - payload.length))]);
  return {
    major: p.readUInt32LE(0),
    minor: p.readUInt32LE(4),
    maxReadahead: p.readUInt32LE(8),
    flags: BigInt(p.readUInt32LE(12)) | (BigInt(p.readUInt32LE(32)) << 32n),
    maxBackground: p.readUInt16LE(16),
    congestion: p.readUInt16LE(18),
    maxWrite: p.readUInt32LE(20),
    timeGran: p.readUInt32LE(24),
    maxPages: p.readUInt16LE(28),
    mapAlignment: p.readUInt16LE(30),
    size: payload.length,
  };
}

describe('negotiateInit (pure)', () => {
  const table: Array<[major: number, minor: number, kind: string, negotiatedMinor?: number]> = [
    [6, 38, 'error'],
    [7, 26, 'error'],
    [7, 27, 'accept', 27],
    [7, 31, 'accept', 31],
    [7, 37, 'accept', 37],
    [7, 38, 'accept', 38],
    [7, 39, 'accept', 39],
    [7, 40, 'accept', 39],
    [8, 0, 'retry'],
    [8, 38, 'retry'],
  ];
  it.each(table)('%i.%i → %s', (major, minor, kind, negotiated) => {
    const d = negotiateInit({ major, minor, maxReadahead: 0, flags: DEFAULT_GUEST_FLAGS }, { announceSubmounts: false });
    expect(d.kind).toBe(kind);
    if (d.kind === 'error') expect(d.errno).toBe(E.EPROTO);
    if (d.kind === 'accept') expect(d.minor).toBe(negotiated);
  });

  it('offers only the intersection of guest flags and what we implement', () => {
    const d = negotiateInit({ major: 7, minor: 38, maxReadahead: 0, flags: DEFAULT_GUEST_FLAGS }, { announceSubmounts: false });
    if (d.kind !== 'accept') throw new Error('expected accept');
    expect(d.offered).toBe(SUPPORTED_INIT_FLAGS);
    // Never offered: features we do not implement (the DAX ones belong to the DAX window).
    for (const f of [
      InitFlag.HANDLE_KILLPRIV,
      InitFlag.MAP_ALIGNMENT,
      InitFlag.EXPORT_SUPPORT,
      InitFlag.SUBMOUNTS,
      InitFlag.HAS_INODE_DAX,
      InitFlag.CACHE_SYMLINKS,
      InitFlag.NO_OPEN_SUPPORT,
      InitFlag.HAS_EXPIRE_ONLY,
    ]) {
      expect(d.offered & f).toBe(0n);
    }
    // Offered so that the file system can accept them when its options say so.
    for (const f of [
      InitFlag.POSIX_LOCKS,
      InitFlag.FLOCK_LOCKS,
      InitFlag.WRITEBACK_CACHE,
      InitFlag.DONT_MASK,
      InitFlag.POSIX_ACL,
      InitFlag.HANDLE_KILLPRIV_V2,
      InitFlag.SETXATTR_EXT,
      InitFlag.SECURITY_CTX,
      InitFlag.CREATE_SUPP_GROUP,
      InitFlag.DIRECT_IO_ALLOW_MMAP,
    ]) {
      expect(d.offered & f).toBe(f);
    }
    for (const f of [
      InitFlag.ASYNC_READ,
      InitFlag.PARALLEL_DIROPS,
      InitFlag.BIG_WRITES,
      InitFlag.AUTO_INVAL_DATA,
      InitFlag.DO_READDIRPLUS,
      InitFlag.READDIRPLUS_AUTO,
      InitFlag.ASYNC_DIO,
      InitFlag.ATOMIC_O_TRUNC,
      InitFlag.MAX_PAGES,
      InitFlag.INIT_EXT,
    ]) {
      expect(d.offered & f).toBe(f);
    }
  });

  it('never offers what the guest did not', () => {
    const d = negotiateInit({ major: 7, minor: 38, maxReadahead: 0, flags: InitFlag.ASYNC_READ }, { announceSubmounts: true });
    if (d.kind !== 'accept') throw new Error('expected accept');
    expect(d.offered).toBe(InitFlag.ASYNC_READ);
  });

  it('offers SUBMOUNTS only with announceSubmounts', () => {
    const d = negotiateInit({ major: 7, minor: 38, maxReadahead: 0, flags: DEFAULT_GUEST_FLAGS }, { announceSubmounts: true });
    if (d.kind !== 'accept') throw new Error('expected accept');
    expect(d.offered & InitFlag.SUBMOUNTS).toBe(InitFlag.SUBMOUNTS);
  });
});

describe('decodeInitIn', () => {
  it('reads flags2 only with INIT_EXT', () => {
    const withExt = decode(initIn({ flags: InitFlag.INIT_EXT | InitFlag.HAS_INODE_DAX }));
    expect(withExt.flags).toBe(InitFlag.INIT_EXT | InitFlag.HAS_INODE_DAX);
    const b = initIn({ flags: InitFlag.ASYNC_READ, ext: true });
    b.writeUInt32LE(0xffffffff, 16); // garbage flags2 without INIT_EXT
    expect(decode(b).flags).toBe(InitFlag.ASYNC_READ);
  });

  it('accepts the 16-byte pre-7.36 struct', () => {
    const r = decode(initIn({ minor: 31, flags: InitFlag.ASYNC_READ }));
    expect(r).toEqual({ major: 7, minor: 31, maxReadahead: 131072, flags: InitFlag.ASYNC_READ });
  });

  it('requires 64 bytes when INIT_EXT is set, 16 always', () => {
    const full = initIn({ flags: InitFlag.INIT_EXT });
    expect(() => decode(full.subarray(0, 20))).toThrow(DecodeError);
    expect(() => decode(full.subarray(0, 12))).toThrow(DecodeError);
  });
});

describe('fuse_init_out encoding', () => {
  it.each([
    [3, 8],
    [5, 24],
    [22, 24],
    [23, 64],
    [27, 64],
    [38, 64],
  ])('guest minor %i reads %i bytes', (minor, size) => {
    expect(initOutSize(minor)).toBe(size);
  });

  it('zeroes reserved fields', () => {
    const b = Buffer.alloc(80, 0xaa);
    encodeInitOut(b, 16, 64, { maxReadahead: 1, flags: 0n, maxWrite: 4096, maxPages: 1 });
    expect(b.subarray(16 + 36, 80).every((x) => x === 0)).toBe(true); // unused[7]
    expect(b.readUInt16LE(16 + InitOut.mapAlignment)).toBe(0);
  });
});

describe('INIT through the server', () => {
  it('7.38 guest: we answer 7.39, 64-byte reply, max_write 1 MiB, max_pages 256, time_gran 1, readahead echoed', async () => {
    const r = rig();
    const o = expectReply(await r.send(request({ opcode: Opcode.INIT, unique: 1 }, initIn({ readahead: 65536 }))));
    expect(o.error).toBe(0);
    expect(o.unique).toBe(1n);
    const v = view(o.payload);
    expect(v).toMatchObject({
      major: 7,
      minor: 39,
      maxReadahead: 65536,
      maxWrite: 1 << 20,
      maxPages: 256,
      timeGran: 1,
      mapAlignment: 0,
      maxBackground: 0xffff,
      size: 64,
    });
    expect(v.flags).toBe(SUPPORTED_INIT_FLAGS);
    expect(r.fs.session).toEqual({ minor: 38, flags: SUPPORTED_INIT_FLAGS });
    expect(r.server.session).toEqual({ minor: 38, flags: SUPPORTED_INIT_FLAGS });
  });

  const table: Array<[major: number, minor: number, errno: number, replyMinor?: number]> = [
    [6, 38, E.EPROTO],
    [7, 26, E.EPROTO],
    [7, 27, 0, 39],
    [7, 31, 0, 39],
    [7, 37, 0, 39],
    [7, 38, 0, 39],
    [7, 39, 0, 39],
    [7, 40, 0, 39],
  ];
  it.each(table)('%i.%i → errno %i', async (major, minor, errno) => {
    const r = rig();
    const flags = minor >= 36 ? DEFAULT_GUEST_FLAGS : DEFAULT_GUEST_FLAGS & 0xffff_ffffn & ~InitFlag.INIT_EXT;
    const o = await r.send(request({ opcode: Opcode.INIT }, initIn({ major, minor, flags })));
    expect(errnoOfReply(o)).toBe(errno);
    expect(r.server.initialized).toBe(errno === 0);
    if (errno === 0) {
      const v = view(expectReply(o).payload);
      expect(v.minor).toBe(39);
      expect(r.fs.session?.minor).toBe(Math.min(minor, 39));
      if (minor < 36) expect(v.flags >> 32n).toBe(0n);
    } else {
      expect(r.fs.calls.length).toBe(0);
    }
  });

  it('major 8: answers 7.39 only, stays uninitialised, and accepts the 7.x retry', async () => {
    const r = rig();
    const o = expectReply(await r.send(request({ opcode: Opcode.INIT }, initIn({ major: 8, minor: 0 }))));
    expect(o.error).toBe(0);
    const v = view(o.payload);
    expect(v).toMatchObject({ major: 7, minor: 39, maxWrite: 0, flags: 0n });
    expect(r.server.initialized).toBe(false);
    expect(r.fs.calls.length).toBe(0);
    const again = await r.send(request({ opcode: Opcode.INIT }, initIn()));
    expect(errnoOfReply(again)).toBe(0);
    expect(r.server.initialized).toBe(true);
  });

  it('applies the file system mask', async () => {
    const r = rig();
    r.fs.initMask = ~(InitFlag.DO_READDIRPLUS | InitFlag.READDIRPLUS_AUTO);
    const o = expectReply(await r.send(request({ opcode: Opcode.INIT }, initIn())));
    const v = view(o.payload);
    expect(v.flags & InitFlag.DO_READDIRPLUS).toBe(0n);
    expect(v.flags & InitFlag.ASYNC_READ).toBe(InitFlag.ASYNC_READ);
  });

  it('announceSubmounts puts SUBMOUNTS in the reply', async () => {
    const r = rig({ announceSubmounts: true });
    const o = expectReply(await r.send(request({ opcode: Opcode.INIT }, initIn())));
    expect(view(o.payload).flags & InitFlag.SUBMOUNTS).toBe(InitFlag.SUBMOUNTS);
  });

  it('maxWrite option drives max_write and max_pages', async () => {
    const r = rig({ maxWrite: 128 * 1024 });
    const o = expectReply(await r.send(request({ opcode: Opcode.INIT }, initIn())));
    expect(view(o.payload)).toMatchObject({ maxWrite: 128 * 1024, maxPages: 32 });
  });

  it('fs.init failure → its errno, session stays down', async () => {
    const r = rig();
    r.fs.init = async () => {
      throw Object.assign(new Error('nope'), { code: 'EACCES' });
    };
    const o = await r.send(request({ opcode: Opcode.INIT }, initIn()));
    expect(errnoOfReply(o)).toBe(E.EACCES);
    expect(r.server.initialized).toBe(false);
  });

  it('short INIT → EINVAL', async () => {
    const r = rig();
    const o = await r.send(request({ opcode: Opcode.INIT }, initIn().subarray(0, 10)));
    expect(errnoOfReply(o)).toBe(E.EINVAL);
  });

  it('a reply buffer too small for fuse_init_out → ERANGE, no state change', async () => {
    const r = rig();
    const o = await r.send(request({ opcode: Opcode.INIT }, initIn()), { replyCapacity: 40 });
    expect(errnoOfReply(o)).toBe(E.ERANGE);
    expect(r.server.initialized).toBe(false);
  });
});
