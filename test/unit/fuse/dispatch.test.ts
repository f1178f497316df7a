/** Every in-scope opcode round-trips through FuseServer to the FileSystem and back. */
import { describe, expect, it } from 'vitest';
import { FUSE_GETATTR_FH, FUSE_FSYNC_FDATASYNC, Opcode, RENAME_NOREPLACE } from '../../../src/fuse/abi.js';
import { E } from '../../../src/filesystem/errors.js';
import type { SetattrRequest } from '../../../src/filesystem/filesystem.js';
import {
  cstr,
  errnoOfReply,
  expectReply,
  initializedRig,
  readIn,
  request,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  u32s,
  u64,
  writeIn,
  type Rig,
} from './helpers.js';

function entryOut(p: Buffer, off = 0) {
  return {
    nodeid: Number(p.readBigUInt64LE(off)),
    generation: Number(p.readBigUInt64LE(off + 8)),
    entryValid: Number(p.readBigUInt64LE(off + 16)),
    attrValid: Number(p.readBigUInt64LE(off + 24)),
    entryValidNsec: p.readUInt32LE(off + 32),
    attrValidNsec: p.readUInt32LE(off + 36),
    attr: p.subarray(off + 40, off + 128),
    mode: p.readUInt32LE(off + 40 + 60),
    size: Number(p.readBigUInt64LE(off + 40 + 8)),
  };
}

function openOut(p: Buffer, off = 0) {
  return { fh: Number(p.readBigUInt64LE(off)), openFlags: p.readUInt32LE(off + 8), padding: p.readUInt32LE(off + 12) };
}

interface ParsedDirent {
  ino: bigint;
  off: bigint;
  type: number;
  name: string;
  nodeid?: number;
}

function parseDirents(p: Buffer, plus: boolean): ParsedDirent[] {
  const out: ParsedDirent[] = [];
  let pos = 0;
  while (pos < p.length) {
    const nodeid = plus ? Number(p.readBigUInt64LE(pos)) : undefined;
    const d = plus ? pos + 128 : pos;
    const namelen = p.readUInt32LE(d + 16);
    out.push({
      ino: p.readBigUInt64LE(d),
      off: p.readBigUInt64LE(d + 8),
      type: p.readUInt32LE(d + 20),
      name: p.subarray(d + 24, d + 24 + namelen).toString('latin1'),
      ...(plus ? { nodeid } : {}),
    });
    const size = (d - pos + 24 + namelen + 7) & ~7;
    expect(p.subarray(d + 24 + namelen, pos + size).every((x) => x === 0)).toBe(true);
    pos += size;
  }
  expect(pos).toBe(p.length);
  return out;
}

async function ok(r: Rig, bytes: Buffer) {
  const o = expectReply(await r.send(bytes));
  expect(-o.error || 0).toBe(0);
  return o;
}

describe('dispatch round trips', () => {
  it('LOOKUP: entry_out with split timeouts, fuse_attr from the StatRecord, ctx from the header', async () => {
    const r = await initializedRig();
    const id = r.fs.addFile(1, 'hello', 'world');
    const o = await ok(r, request({ opcode: Opcode.LOOKUP, nodeid: 1, unique: 77, uid: 5, gid: 6, pid: 7 }, cstr('hello')));
    expect(o.unique).toBe(77n);
    expect(o.len).toBe(16 + 128);
    const e = entryOut(o.payload);
    expect(e).toMatchObject({ nodeid: id, generation: 7, entryValid: 1, entryValidNsec: 500_000_000, attrValid: 2, attrValidNsec: 250_000_000 });
    expect(Buffer.compare(e.attr, r.fs.attr(r.fs.node(id)).subarray(0, 88))).toBe(0);
    expect(r.fs.lastCtx).toMatchObject({ uid: 5, gid: 6, pid: 7 });
    expect(r.fs.lastCtx?.interrupted?.()).toBe(false);
  });

  it('LOOKUP of a missing name → ENOENT', async () => {
    const r = await initializedRig();
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.LOOKUP }, cstr('nope'))))).toBe(E.ENOENT);
  });

  it('GETATTR honours FUSE_GETATTR_FH', async () => {
    const r = await initializedRig();
    const id = r.fs.addFile(1, 'f', 'abc');
    const o = await ok(r, request({ opcode: Opcode.GETATTR, nodeid: id }, u32s(0, 0), u64(99)));
    expect(o.len).toBe(16 + 104);
    expect(Number(o.payload.readBigUInt64LE(0))).toBe(2); // attr_valid
    expect(o.payload.readUInt32LE(8)).toBe(250_000_000);
    expect(o.payload.readUInt32LE(12)).toBe(0); // dummy
    expect(Number(o.payload.readBigUInt64LE(16 + 8))).toBe(3); // size
    await ok(r, request({ opcode: Opcode.GETATTR, nodeid: id }, u32s(FUSE_GETATTR_FH, 0), u64(99)));
    const getattrs = r.fs.calls.filter((c) => c[0] === 'getattr');
    expect(getattrs).toEqual([
      ['getattr', id, undefined],
      ['getattr', id, 99],
    ]);
  });

  it('SETATTR decodes fuse_setattr_in (signed times; fh only with FATTR_FH; a huge fh is EBADF)', async () => {
    const r = await initializedRig();
    const id = r.fs.addFile(1, 'f', 'abcdef');
    const b = Buffer.alloc(88);
    b.writeUInt32LE(1 | 8 | 16, 0); // MODE | SIZE | ATIME
    b.writeBigUInt64LE(7n, 8); // fh, not valid without FATTR_FH
    b.writeBigUInt64LE(2n, 16); // size
    b.writeBigInt64LE(-100n, 32); // atime before 1970
    b.writeUInt32LE(123, 56); // atimensec
    b.writeUInt32LE(0o600, 68); // mode
    b.writeUInt32LE(11, 76);
    b.writeUInt32LE(12, 80);
    const o = await ok(r, request({ opcode: Opcode.SETATTR, nodeid: id }, b));
    expect(Number(o.payload.readBigUInt64LE(16 + 8))).toBe(2);
    const req = r.fs.calls.find((c) => c[0] === 'setattr')![2] as SetattrRequest;
    expect(req).toMatchObject({ valid: 1 | 8 | 16, fh: undefined, size: 2n, atime: -100n, atimensec: 123, mode: 0o600, uid: 11, gid: 12 });
    // With FATTR_FH, a handle beyond 2^53 cannot be one the file system handed out: EBADF from
    // the core, the file system never asked.
    const calls = r.fs.calls.length;
    b.writeUInt32LE(1 | 64, 0); // MODE | FH
    b.writeBigUInt64LE(0xffff_ffff_ffff_fff0n, 8);
    const bad = expectReply(await r.send(request({ opcode: Opcode.SETATTR, nodeid: id }, b)));
    expect(bad.error).toBe(-9);
    expect(r.fs.calls.length).toBe(calls);
  });

  it('SYMLINK then READLINK', async () => {
    const r = await initializedRig();
    const o = await ok(r, request({ opcode: Opcode.SYMLINK, nodeid: 1 }, cstr('ln'), cstr('../target/x')));
    const e = entryOut(o.payload);
    expect(e.mode & 0o170000).toBe(S_IFLNK);
    expect(r.fs.calls.at(-1)).toEqual(['symlink', 1, 'ln', '../target/x']);
    const l = await ok(r, request({ opcode: Opcode.READLINK, nodeid: e.nodeid }));
    expect(l.payload.toString()).toBe('../target/x');
    expect(l.len).toBe(16 + 11);
  });

  it('MKNOD and MKDIR pass mode, rdev, umask', async () => {
    const r = await initializedRig();
    await ok(r, request({ opcode: Opcode.MKNOD, nodeid: 1 }, u32s(S_IFREG | 0o640, 0x0801, 0o022, 0), cstr('node')));
    expect(r.fs.calls.at(-1)).toEqual(['mknod', 1, 'node', S_IFREG | 0o640, 0x0801, 0o022]);
    const o = await ok(r, request({ opcode: Opcode.MKDIR, nodeid: 1 }, u32s(0o755, 0o027), cstr('dir')));
    expect(r.fs.calls.at(-1)).toEqual(['mkdir', 1, 'dir', 0o755, 0o027]);
    expect(entryOut(o.payload).mode & 0o170000).toBe(S_IFDIR);
  });

  it('UNLINK and RMDIR', async () => {
    const r = await initializedRig();
    r.fs.addFile(1, 'f', '');
    r.fs.addDir(1, 'd');
    const u = await ok(r, request({ opcode: Opcode.UNLINK, nodeid: 1 }, cstr('f')));
    expect(u.len).toBe(16);
    await ok(r, request({ opcode: Opcode.RMDIR, nodeid: 1 }, cstr('d')));
    expect(r.fs.node(1).children.size).toBe(0);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.UNLINK, nodeid: 1 }, cstr('f'))))).toBe(E.ENOENT);
  });

  it('RENAME and RENAME2', async () => {
    const r = await initializedRig();
    r.fs.addFile(1, 'a', '');
    const d = r.fs.addDir(1, 'd');
    await ok(r, request({ opcode: Opcode.RENAME, nodeid: 1 }, u64(d), cstr('a'), cstr('b')));
    expect(r.fs.calls.at(-1)).toEqual(['rename', 1, 'a', d, 'b', 0]);
    await ok(r, request({ opcode: Opcode.RENAME2, nodeid: d }, u64(1), u32s(RENAME_NOREPLACE, 0), cstr('b'), cstr('c')));
    expect(r.fs.calls.at(-1)).toEqual(['rename', d, 'b', 1, 'c', RENAME_NOREPLACE]);
    const bad = await r.send(request({ opcode: Opcode.RENAME2, nodeid: 1 }, u64(1), u32s(8, 0), cstr('c'), cstr('e')));
    expect(errnoOfReply(bad)).toBe(E.EINVAL);
  });

  it('LINK: header nodeid is the new parent', async () => {
    const r = await initializedRig();
    const f = r.fs.addFile(1, 'f', '');
    const d = r.fs.addDir(1, 'd');
    const o = await ok(r, request({ opcode: Opcode.LINK, nodeid: d }, u64(f), cstr('g')));
    expect(entryOut(o.payload).nodeid).toBe(f);
    expect(r.fs.calls.at(-1)).toEqual(['link', f, d, 'g']);
  });

  it('OPEN passes the guest flags untouched (O_CREAT/O_EXCL/O_TRUNC included)', async () => {
    const r = await initializedRig();
    const f = r.fs.addFile(1, 'f', '');
    const flags = 0o2 | 0o100 | 0o200 | 0o1000; // O_RDWR | O_CREAT | O_EXCL | O_TRUNC
    const o = await ok(r, request({ opcode: Opcode.OPEN, nodeid: f }, u32s(flags, 0)));
    expect(o.len).toBe(32);
    expect(openOut(o.payload)).toMatchObject({ openFlags: 2, padding: 0 });
    expect(r.fs.calls.at(-1)).toEqual(['open', f, flags]);
  });

  it('CREATE: entry_out followed by open_out', async () => {
    const r = await initializedRig();
    const o = await ok(r, request({ opcode: Opcode.CREATE, nodeid: 1 }, u32s(0o101, 0o644, 0o022, 0), cstr('new')));
    expect(o.len).toBe(16 + 144);
    const e = entryOut(o.payload);
    const h = openOut(o.payload, 128);
    expect(r.fs.handles.get(h.fh)).toBe(e.nodeid);
    expect(h.openFlags).toBe(1);
    expect(r.fs.calls.at(-1)).toEqual(['create', 1, 'new', 0o644, 0o101, 0o022]);
  });

  it('WRITE then READ move data through the transport', async () => {
    const r = await initializedRig();
    const f = r.fs.addFile(1, 'f', '');
    const fh = openOut((await ok(r, request({ opcode: Opcode.OPEN, nodeid: f }, u32s(2, 0)))).payload).fh;
    const data = Buffer.from('0123456789abcdef');
    const w = await ok(r, request({ opcode: Opcode.WRITE, nodeid: f }, writeIn(fh, 4, data, data.length, 0x4)));
    expect(w.len).toBe(24);
    expect(w.payload.readUInt32LE(0)).toBe(16);
    expect(w.payload.readUInt32LE(4)).toBe(0);
    expect(r.fs.calls.at(-1)).toEqual(['write', f, fh, 4n, 16, 0x4]);
    expect(r.files.get(r.fs.node(f).fd).subarray(4).toString()).toBe('0123456789abcdef');

    const rd = await ok(r, request({ opcode: Opcode.READ, nodeid: f }, readIn(fh, 6, 100)));
    expect(rd.len).toBe(16 + 14);
    expect(rd.payload.toString()).toBe('23456789abcdef');
    expect(r.fs.calls.at(-1)).toEqual(['read', f, fh, 6n, 100]);
  });

  it('READ at EOF replies with just the header', async () => {
    const r = await initializedRig();
    const f = r.fs.addFile(1, 'f', 'xy');
    const fh = openOut((await ok(r, request({ opcode: Opcode.OPEN, nodeid: f }, u32s(0, 0)))).payload).fh;
    const rd = await ok(r, request({ opcode: Opcode.READ, nodeid: f }, readIn(fh, 10, 4096)));
    expect(rd.len).toBe(16);
  });

  it('READ size is capped by the reply buffer and maxRead', async () => {
    const r = await initializedRig({ maxRead: 8192 });
    const f = r.fs.addFile(1, 'f', Buffer.alloc(20000, 0x61));
    const fh = openOut((await ok(r, request({ opcode: Opcode.OPEN, nodeid: f }, u32s(0, 0)))).payload).fh;
    const small = expectReply(await r.send(request({ opcode: Opcode.READ, nodeid: f }, readIn(fh, 0, 4096)), { replyCapacity: 16 + 100 }));
    expect(small.len).toBe(116);
    expect(r.fs.calls.at(-1)).toEqual(['read', f, fh, 0n, 100]);
    const big = expectReply(await r.send(request({ opcode: Opcode.READ, nodeid: f }, readIn(fh, 0, 1 << 20))));
    expect(big.len).toBe(16 + 8192);
  });

  it('FLUSH, FSYNC, RELEASE', async () => {
    const r = await initializedRig();
    const f = r.fs.addFile(1, 'f', '');
    const fh = openOut((await ok(r, request({ opcode: Opcode.OPEN, nodeid: f }, u32s(0, 0)))).payload).fh;
    await ok(r, request({ opcode: Opcode.FLUSH, nodeid: f }, u64(fh), u32s(0, 0), u64(0xabcn)));
    expect(r.fs.calls.at(-1)).toEqual(['flush', f, fh, 0xabcn]);
    await ok(r, request({ opcode: Opcode.FSYNC, nodeid: f }, u64(fh), u32s(FUSE_FSYNC_FDATASYNC, 0)));
    expect(r.fs.calls.at(-1)).toEqual(['fsync', f, fh, true]);
    await ok(r, request({ opcode: Opcode.FSYNC, nodeid: f }, u64(fh), u32s(0, 0)));
    expect(r.fs.calls.at(-1)).toEqual(['fsync', f, fh, false]);
    await ok(r, request({ opcode: Opcode.RELEASE, nodeid: f }, u64(fh), u32s(0o2, 1), u64(0)));
    expect(r.fs.calls.at(-1)).toEqual(['release', f, fh, 0o2]);
    expect(r.fs.handles.has(fh)).toBe(false);
  });

  it('OPENDIR, READDIR, FSYNCDIR, RELEASEDIR', async () => {
    const r = await initializedRig();
    r.fs.addFile(1, 'file1', 'x');
    r.fs.addDir(1, 'sub');
    const fh = openOut((await ok(r, request({ opcode: Opcode.OPENDIR, nodeid: 1 }, u32s(0, 0)))).payload).fh;
    const o = await ok(r, request({ opcode: Opcode.READDIR, nodeid: 1 }, readIn(fh, 0, 4096)));
    const list = parseDirents(o.payload, false);
    expect(list.map((d) => d.name)).toEqual(['.', '..', 'file1', 'sub']);
    expect(list.map((d) => d.off)).toEqual([1n, 2n, 3n, 4n]);
    expect(list[2].type).toBe(8);
    expect(list[3].type).toBe(4);
    // continue from cookie 2
    const rest = parseDirents((await ok(r, request({ opcode: Opcode.READDIR, nodeid: 1 }, readIn(fh, 2, 4096)))).payload, false);
    expect(rest.map((d) => d.name)).toEqual(['file1', 'sub']);
    // a small buffer holds only whole entries
    const two = parseDirents((await ok(r, request({ opcode: Opcode.READDIR, nodeid: 1 }, readIn(fh, 0, 70)))).payload, false);
    expect(two.map((d) => d.name)).toEqual(['.', '..']);
    await ok(r, request({ opcode: Opcode.FSYNCDIR, nodeid: 1 }, u64(fh), u32s(1, 0)));
    expect(r.fs.calls.at(-1)).toEqual(['fsyncdir', 1, fh, true]);
    await ok(r, request({ opcode: Opcode.RELEASEDIR, nodeid: 1 }, u64(fh), u32s(0, 0), u64(0)));
    expect(r.fs.calls.at(-1)).toEqual(['releasedir', 1, fh]);
  });

  it('READDIRPLUS: entries carry entry_out; refused entries keep lookup counts balanced', async () => {
    const r = await initializedRig();
    const a = r.fs.addFile(1, 'a', 'x');
    const b = r.fs.addFile(1, 'b', 'y');
    const fh = openOut((await ok(r, request({ opcode: Opcode.OPENDIR, nodeid: 1 }, u32s(0, 0)))).payload).fh;
    const all = parseDirents((await ok(r, request({ opcode: Opcode.READDIRPLUS, nodeid: 1 }, readIn(fh, 0, 4096)))).payload, true);
    expect(all.map((d) => [d.name, d.nodeid])).toEqual([
      ['.', 0],
      ['..', 0],
      ['a', a],
      ['b', b],
    ]);
    expect(r.fs.node(a).lookups).toBe(1);
    // room for 3 entries of 160 bytes: 'b' is refused and its reference dropped by the core
    const some = parseDirents((await ok(r, request({ opcode: Opcode.READDIRPLUS, nodeid: 1 }, readIn(fh, 0, 3 * 160 + 10)))).payload, true);
    expect(some.map((d) => d.name)).toEqual(['.', '..', 'a']);
    expect(r.fs.node(a).lookups).toBe(2);
    expect(r.fs.node(b).lookups).toBe(1);
  });

  it('READDIR error before any entry → errno; after some → the entries', async () => {
    const r = await initializedRig();
    r.fs.addFile(1, 'a', '');
    const fh = openOut((await ok(r, request({ opcode: Opcode.OPENDIR, nodeid: 1 }, u32s(0, 0)))).payload).fh;
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.READDIR, nodeid: 1 }, readIn(fh + 1000, 0, 4096))))).toBe(E.EBADF);
    r.fs.readdir = async (_c, _n, _f, _o, _p, sink) => {
      sink({ ino: 1n, off: 1n, type: 4, name: Buffer.from('.') }, undefined);
      throw new Error('disk on fire');
    };
    const o = await ok(r, request({ opcode: Opcode.READDIR, nodeid: 1 }, readIn(fh, 0, 4096)));
    expect(parseDirents(o.payload, false).map((d) => d.name)).toEqual(['.']);
  });

  it('STATFS: fuse_kstatfs with zeroed spare', async () => {
    const r = await initializedRig();
    const o = await ok(r, request({ opcode: Opcode.STATFS, nodeid: 1 }));
    expect(o.len).toBe(16 + 80);
    const p = o.payload;
    expect([0, 8, 16, 24, 32].map((i) => p.readBigUInt64LE(i))).toEqual([1000n, 500n, 400n, 100n, 50n]);
    expect([40, 44, 48, 52].map((i) => p.readUInt32LE(i))).toEqual([4096, 255, 4096, 0]);
    expect(p.subarray(56, 80).every((x) => x === 0)).toBe(true);
  });

  it('ACCESS', async () => {
    const r = await initializedRig();
    await ok(r, request({ opcode: Opcode.ACCESS, nodeid: 1 }, u32s(4, 0)));
    expect(r.fs.calls.at(-1)).toEqual(['access', 1, 4]);
  });

  it('FORGET and BATCH_FORGET: fs.forget, no reply', async () => {
    const r = await initializedRig();
    expect((await r.send(request({ opcode: Opcode.FORGET, nodeid: 5 }, u64(3)))).kind).toBe('none');
    const batch = Buffer.concat([u32s(2, 0), u64(6), u64(1), u64(7), u64(0xffff_ffff_ffffn)]);
    expect((await r.send(request({ opcode: Opcode.BATCH_FORGET, nodeid: 0 }, batch))).kind).toBe('none');
    expect(r.fs.forgets).toEqual([
      [5, 3n],
      [6, 1n],
      [7, 0xffff_ffff_ffffn],
    ]);
    expect(r.server.stats.forgets).toBe(3);
  });

  it('ops the file system lacks, ops served nowhere, and unknown opcodes → ENOSYS', async () => {
    const r = await initializedRig();
    // MemFs has none of the optional methods (xattrs, locks, lseek, tmpfile, ...).
    const optional = [Opcode.GETXATTR, Opcode.SETXATTR, Opcode.SETLK, Opcode.GETLK, Opcode.LSEEK, Opcode.TMPFILE, Opcode.SYNCFS, Opcode.STATX];
    for (const opcode of [...optional, Opcode.BMAP, Opcode.POLL, Opcode.SETUPMAPPING, Opcode.REMOVEMAPPING, 7, 19, 63, 64, 5000, 0xffffffff]) {
      const o = await r.send(request({ opcode }, u64(0), u64(0)));
      expect(errnoOfReply(o), `opcode ${opcode}`).toBe(E.ENOSYS);
    }
    expect(r.server.stats.unknownOpcodes).toBe(3);
  });

  it('ids beyond 2^53 never reach the file system: ESTALE for a node, EBADF for a handle', async () => {
    const r = await initializedRig();
    const id = r.fs.addFile(1, 'f', 'abcdef');
    const calls = r.fs.calls.length;
    const huge = 0x0020_0000_0000_0001n;
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.GETATTR, nodeid: huge }, u32s(0, 0), u64(0))))).toBe(E.ESTALE);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.READ, nodeid: id }, u64(huge), u64(0), u32s(10, 0, 0, 0, 0, 0))))).toBe(E.EBADF);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.LINK, nodeid: 1 }, u64(huge), cstr('l'))))).toBe(E.ESTALE);
    expect(r.fs.calls.length).toBe(calls);
  });

  it('SETUPMAPPING: fh all ones (what Linux sends) means no handle; other ids decode as handles', async () => {
    const r = await initializedRig();
    const id = r.fs.addFile(1, 'f', 'abcdef');
    const seen: unknown[] = [];
    (r.fs as unknown as Record<string, unknown>).setupmapping = (_c: unknown, nodeid: number, fh: number | undefined) => {
      seen.push([nodeid, fh]);
      return Promise.resolve();
    };
    const args = (fh: bigint): Buffer[] => [u64(fh), u64(0), u64(2 << 20), u64(2), u64(0)];
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETUPMAPPING, nodeid: id }, ...args(0xffff_ffff_ffff_ffffn))))).toBe(0);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETUPMAPPING, nodeid: id }, ...args(5n))))).toBe(0);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETUPMAPPING, nodeid: id }, ...args(0xffff_ffff_ffff_fff0n))))).toBe(E.EBADF);
    expect(seen).toEqual([
      [id, undefined],
      [id, 5],
    ]);
  });

  it('a FileSystem without a method → ENOSYS for that opcode', async () => {
    const r = await initializedRig();
    (r.fs as unknown as Record<string, unknown>).access = undefined;
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.ACCESS, nodeid: 1 }, u32s(4, 0))))).toBe(E.ENOSYS);
  });

  it('counts requests by opcode', async () => {
    const r = await initializedRig();
    await r.send(request({ opcode: Opcode.STATFS }));
    await r.send(request({ opcode: Opcode.STATFS }));
    expect(r.server.stats.requests[Opcode.STATFS]).toBe(2);
    expect(r.server.stats.requests[Opcode.INIT]).toBe(1);
  });
});
