/**
 * Malformed requests: each gets the right errno (or no reply where the protocol has none), is
 * counted, never reaches the file system, and the server answers a valid request afterwards.
 */
import { describe, expect, it } from 'vitest';
import { Opcode } from '../../../src/fuse/abi.js';
import { E } from '../../../src/filesystem/errors.js';
import { cstr, errnoOfReply, expectReply, initializedRig, readIn, request, rig, u32s, u64, writeIn, type Rig } from './helpers.js';

async function stillServes(r: Rig): Promise<void> {
  const o = expectReply(await r.send(request({ opcode: Opcode.STATFS, nodeid: 1 })));
  expect(o.error).toBe(0);
  expect(o.len).toBe(96);
}

function fsCalls(r: Rig): string[] {
  return r.fs.calls.map((c) => c[0]).filter((m) => m !== 'init' && m !== 'statfs');
}

interface Case {
  name: string;
  bytes: () => Buffer;
  errno: number | 'none';
  opts?: { replyCapacity?: number; staged?: number; totalLength?: number };
}

const cases: Case[] = [
  { name: 'request shorter than fuse_in_header', bytes: () => request({ opcode: Opcode.GETATTR }).subarray(0, 39), errno: 'none' },
  { name: 'empty request', bytes: () => Buffer.alloc(0), errno: 'none' },
  { name: 'header len larger than the request', bytes: () => request({ opcode: Opcode.GETATTR, len: 200 }, Buffer.alloc(16)), errno: E.EINVAL },
  { name: 'header len smaller than the request', bytes: () => request({ opcode: Opcode.GETATTR, len: 40 }, Buffer.alloc(16)), errno: E.EINVAL },
  { name: 'len mismatch on FORGET → dropped', bytes: () => request({ opcode: Opcode.FORGET, len: 4096 }, u64(1)), errno: 'none' },
  { name: 'short FORGET', bytes: () => request({ opcode: Opcode.FORGET }, Buffer.alloc(4)), errno: 'none' },
  { name: 'short INTERRUPT', bytes: () => request({ opcode: Opcode.INTERRUPT }), errno: 'none' },
  { name: 'short BATCH_FORGET', bytes: () => request({ opcode: Opcode.BATCH_FORGET }, u32s(1)), errno: 'none' },
  { name: 'GETATTR without fuse_getattr_in', bytes: () => request({ opcode: Opcode.GETATTR }, Buffer.alloc(8)), errno: E.EINVAL },
  { name: 'SETATTR short struct', bytes: () => request({ opcode: Opcode.SETATTR }, Buffer.alloc(87)), errno: E.EINVAL },
  { name: 'READ short struct', bytes: () => request({ opcode: Opcode.READ }, Buffer.alloc(39)), errno: E.EINVAL },
  { name: 'LOOKUP without NUL', bytes: () => request({ opcode: Opcode.LOOKUP }, Buffer.from('abc')), errno: E.EINVAL },
  { name: 'LOOKUP empty name', bytes: () => request({ opcode: Opcode.LOOKUP }, cstr('')), errno: E.EINVAL },
  { name: 'LOOKUP without any name', bytes: () => request({ opcode: Opcode.LOOKUP }), errno: E.EINVAL },
  { name: 'LOOKUP name with /', bytes: () => request({ opcode: Opcode.LOOKUP }, cstr('etc/passwd')), errno: E.EINVAL },
  { name: 'LOOKUP ..', bytes: () => request({ opcode: Opcode.LOOKUP }, cstr('..')), errno: E.EINVAL },
  { name: 'LOOKUP .', bytes: () => request({ opcode: Opcode.LOOKUP }, cstr('.')), errno: E.EINVAL },
  { name: 'LOOKUP 256-byte name', bytes: () => request({ opcode: Opcode.LOOKUP }, cstr('a'.repeat(256))), errno: E.ENAMETOOLONG },
  { name: 'LOOKUP trailing bytes after the name', bytes: () => request({ opcode: Opcode.LOOKUP }, cstr('a'), Buffer.from('junk')), errno: E.EINVAL },
  { name: 'MKDIR ..', bytes: () => request({ opcode: Opcode.MKDIR }, u32s(0o755, 0), cstr('..')), errno: E.EINVAL },
  { name: 'MKDIR name with /', bytes: () => request({ opcode: Opcode.MKDIR }, u32s(0o755, 0), cstr('a/b')), errno: E.EINVAL },
  { name: 'MKNOD missing NUL', bytes: () => request({ opcode: Opcode.MKNOD }, u32s(0o100644, 0, 0, 0), Buffer.from('x')), errno: E.EINVAL },
  { name: 'CREATE .', bytes: () => request({ opcode: Opcode.CREATE }, u32s(0, 0o644, 0, 0), cstr('.')), errno: E.EINVAL },
  { name: 'UNLINK ..', bytes: () => request({ opcode: Opcode.UNLINK }, cstr('..')), errno: E.EINVAL },
  { name: 'RMDIR with /', bytes: () => request({ opcode: Opcode.RMDIR }, cstr('/')), errno: E.EINVAL },
  { name: 'RENAME new name ..', bytes: () => request({ opcode: Opcode.RENAME }, u64(1), cstr('a'), cstr('..')), errno: E.EINVAL },
  { name: 'RENAME missing second name', bytes: () => request({ opcode: Opcode.RENAME }, u64(1), cstr('a')), errno: E.EINVAL },
  { name: 'RENAME2 unknown flag', bytes: () => request({ opcode: Opcode.RENAME2 }, u64(1), u32s(0x10, 0), cstr('a'), cstr('b')), errno: E.EINVAL },
  { name: 'LINK name with /', bytes: () => request({ opcode: Opcode.LINK }, u64(1), cstr('../x')), errno: E.EINVAL },
  { name: 'SYMLINK name ..', bytes: () => request({ opcode: Opcode.SYMLINK }, cstr('..'), cstr('t')), errno: E.EINVAL },
  { name: 'SYMLINK absolute name', bytes: () => request({ opcode: Opcode.SYMLINK }, cstr('/etc/x'), cstr('t')), errno: E.EINVAL },
  { name: 'SYMLINK without target', bytes: () => request({ opcode: Opcode.SYMLINK }, cstr('ln')), errno: E.EINVAL },
  { name: 'SYMLINK empty target', bytes: () => request({ opcode: Opcode.SYMLINK }, cstr('ln'), cstr('')), errno: E.EINVAL },
  { name: 'SYMLINK 4096-byte target', bytes: () => request({ opcode: Opcode.SYMLINK }, cstr('ln'), cstr('t'.repeat(4096))), errno: E.ENAMETOOLONG },
  { name: 'WRITE size larger than its payload', bytes: () => request({ opcode: Opcode.WRITE }, writeIn(1, 0, Buffer.alloc(10), 11)), errno: E.EINVAL },
  { name: 'WRITE size 4 GiB - 1 with no payload', bytes: () => request({ opcode: Opcode.WRITE }, writeIn(1, 0, Buffer.alloc(0), 0xffffffff)), errno: E.EINVAL },
  { name: 'WRITE short struct', bytes: () => request({ opcode: Opcode.WRITE }, Buffer.alloc(20)), errno: E.EINVAL },
  { name: 'total_extlen beyond the request', bytes: () => request({ opcode: Opcode.GETATTR, extlen: 100 }, Buffer.alloc(16)), errno: E.EINVAL },
  { name: 'reply buffer smaller than the out header', bytes: () => request({ opcode: Opcode.GETATTR }, Buffer.alloc(16)), errno: 'none', opts: { replyCapacity: 8 } },
  { name: 'reply buffer too small for fuse_attr_out', bytes: () => request({ opcode: Opcode.GETATTR }, Buffer.alloc(16)), errno: E.ERANGE, opts: { replyCapacity: 100 } },
  { name: 'reply buffer too small for CREATE', bytes: () => request({ opcode: Opcode.CREATE }, u32s(0, 0o644, 0, 0), cstr('x')), errno: E.ERANGE, opts: { replyCapacity: 16 + 143 } },
  { name: 'totalLength says more than was staged or readable', bytes: () => request({ opcode: Opcode.LOOKUP, len: 60 }, cstr('abc')), errno: E.EINVAL, opts: { totalLength: 60, staged: 40 } },
];

describe('malformed requests', () => {
  it.each(cases)('$name', async ({ bytes, errno, opts }) => {
    const r = await initializedRig();
    const before = r.server.stats.malformed;
    const o = await r.send(bytes(), opts);
    if (errno === 'none') expect(o.kind).toBe('none');
    else expect(errnoOfReply(o)).toBe(errno);
    expect(r.server.stats.malformed).toBe(before + 1);
    expect(fsCalls(r)).toEqual([]);
    await stillServes(r);
  });

  it('request before INIT → EIO (FORGET/INTERRUPT dropped), then INIT works', async () => {
    const r = rig();
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.GETATTR }, Buffer.alloc(16))))).toBe(E.EIO);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.LOOKUP }, cstr('x'))))).toBe(E.EIO);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.GETXATTR }, Buffer.alloc(8))))).toBe(E.EIO);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.DESTROY })))).toBe(E.EIO);
    expect((await r.send(request({ opcode: Opcode.FORGET, nodeid: 3 }, u64(1)))).kind).toBe('none');
    expect((await r.send(request({ opcode: Opcode.BATCH_FORGET }, u32s(1, 0), u64(3), u64(1)))).kind).toBe('none');
    expect(r.fs.calls).toEqual([]);
    const { initIn } = await import('./helpers.js');
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.INIT }, initIn())))).toBe(0);
    await stillServes(r);
  });

  it('BATCH_FORGET with a huge count processes only the records present', async () => {
    const r = await initializedRig();
    const body = Buffer.concat([u32s(0xffffffff, 0), u64(5), u64(1), u64(6), u64(2), Buffer.alloc(7)]);
    expect((await r.send(request({ opcode: Opcode.BATCH_FORGET }, body))).kind).toBe('none');
    expect(r.fs.forgets).toEqual([
      [5, 1n],
      [6, 2n],
    ]);
    expect(r.server.stats.malformed).toBe(1);
    await stillServes(r);
  });

  it('BATCH_FORGET with a count smaller than the records uses the count', async () => {
    const r = await initializedRig();
    const body = Buffer.concat([u32s(1, 0), u64(5), u64(1), u64(6), u64(2)]);
    expect((await r.send(request({ opcode: Opcode.BATCH_FORGET }, body))).kind).toBe('none');
    expect(r.fs.forgets).toEqual([[5, 1n]]);
    expect(r.server.stats.malformed).toBe(0);
  });

  it('BATCH_FORGET larger than the staged prefix is read in chunks', async () => {
    const r = await initializedRig();
    const n = 1000;
    const recs: Buffer[] = [];
    for (let i = 0; i < n; i++) recs.push(u64(i + 2), u64(1));
    const o = await r.send(request({ opcode: Opcode.BATCH_FORGET }, u32s(n, 0), ...recs), { staged: 48 + 16 * 3 + 5 });
    expect(o.kind).toBe('none');
    expect(r.fs.forgets.length).toBe(n);
    expect(r.fs.forgets[999]).toEqual([1001, 1n]);
  });

  it('WRITE larger than maxWrite → EINVAL', async () => {
    const r = await initializedRig({ maxWrite: 4096 });
    const f = r.fs.addFile(1, 'f', '');
    const o = await r.send(request({ opcode: Opcode.WRITE, nodeid: f }, writeIn(1, 0, Buffer.alloc(4097))));
    expect(errnoOfReply(o)).toBe(E.EINVAL);
    expect(fsCalls(r)).toEqual([]);
  });

  it('only a staged prefix: the core copies what it needs through readInput', async () => {
    const r = await initializedRig();
    const id = r.fs.addFile(1, 'a-long-file-name', 'x');
    const o = await r.send(request({ opcode: Opcode.LOOKUP }, cstr('a-long-file-name')), { staged: 40 });
    expect(errnoOfReply(o)).toBe(0);
    expect(Number(expectReply(o).payload.readBigUInt64LE(0))).toBe(id);
    // WRITE: only header + fuse_write_in needs staging; data goes through writeInputToFile
    const fh = expectReply(await r.send(request({ opcode: Opcode.OPEN, nodeid: id }, u32s(2, 0)))).payload.readUInt32LE(0);
    const data = Buffer.alloc(10000, 0x5a);
    const w = expectReply(await r.send(request({ opcode: Opcode.WRITE, nodeid: id }, writeIn(fh, 0, data)), { staged: 80 }));
    expect(w.payload.readUInt32LE(0)).toBe(10000);
    expect(r.files.get(r.fs.node(id).fd).equals(data)).toBe(true);
    const w2 = expectReply(await r.send(request({ opcode: Opcode.WRITE, nodeid: id }, writeIn(fh, 0, data)), { staged: 41 }));
    expect(w2.error).toBe(0);
  });

  it('a file system bug (non-errno throw) → EIO, and the server keeps serving', async () => {
    const r = await initializedRig();
    r.fs.lookup = async () => {
      throw new TypeError('cannot read properties of undefined');
    };
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.LOOKUP }, cstr('x'))))).toBe(E.EIO);
    await stillServes(r);
  });

  it('an invalid Entry from the file system → EIO and the reference is dropped', async () => {
    const r = await initializedRig();
    r.fs.lookup = async () => ({ nodeid: 42, generation: 0, attr: Buffer.alloc(10), entryTimeout: 1, attrTimeout: 1 });
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.LOOKUP }, cstr('x'))))).toBe(E.EIO);
    expect(r.fs.forgets).toEqual([[42, 1n]]);
    r.fs.lookup = async () => ({ nodeid: -5, generation: 0, attr: Buffer.alloc(104), entryTimeout: 1, attrTimeout: 1 });
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.LOOKUP }, cstr('x'))))).toBe(E.EIO);
  });

  it('READLINK target larger than the reply buffer → ERANGE', async () => {
    const r = await initializedRig();
    r.fs.readlink = async () => Buffer.alloc(300, 0x61);
    const o = await r.send(request({ opcode: Opcode.READLINK, nodeid: 1 }), { replyCapacity: 16 + 299 });
    expect(errnoOfReply(o)).toBe(E.ERANGE);
    const ok = expectReply(await r.send(request({ opcode: Opcode.READLINK, nodeid: 1 }), { replyCapacity: 16 + 300 }));
    expect(ok.len).toBe(316);
  });

  it('READDIR never exceeds the reply buffer', async () => {
    const r = await initializedRig();
    for (let i = 0; i < 50; i++) r.fs.addFile(1, `file-${i}`, '');
    const fh = expectReply(await r.send(request({ opcode: Opcode.OPENDIR, nodeid: 1 }, u32s(0, 0)))).payload.readUInt32LE(0);
    for (const cap of [16, 17, 47, 48, 100, 300]) {
      const o = expectReply(await r.send(request({ opcode: Opcode.READDIRPLUS, nodeid: 1 }, readIn(fh, 0, 4096)), { replyCapacity: cap }));
      expect(o.len).toBeLessThanOrEqual(cap);
    }
  });

  it('a file system that never replies to the sink properly cannot overflow READ', async () => {
    const r = await initializedRig();
    const id = r.fs.addFile(1, 'f', Buffer.alloc(100000, 1));
    r.fs.read = async (_c, nodeid, _fh, offset, _size, out) => {
      // ignores `size`, asks for far more, twice
      const fd = r.fs.node(nodeid).fd;
      const a = await out.writeFromFile(fd, offset, 1 << 30);
      const b = await out.writeFromFile(fd, offset + BigInt(a), 1 << 30);
      return a + b + 12345;
    };
    const o = expectReply(await r.send(request({ opcode: Opcode.READ, nodeid: id }, readIn(1, 0, 4096)), { replyCapacity: 16 + 1000 }));
    expect(o.len).toBe(16 + 1000);
  });

  it('a file system cannot write more than the WRITE payload', async () => {
    const r = await initializedRig();
    const id = r.fs.addFile(1, 'f', '');
    r.fs.write = async (_c, nodeid, _fh, offset, data) => {
      const fd = r.fs.node(nodeid).fd;
      const n = await data.readToFile(fd, offset, 1 << 30);
      const more = await data.readToFile(fd, offset, 100);
      return n + more + 99;
    };
    const o = expectReply(await r.send(request({ opcode: Opcode.WRITE, nodeid: id }, writeIn(1, 0, Buffer.from('abc')))));
    expect(o.payload.readUInt32LE(0)).toBe(3);
    expect(r.files.get(r.fs.node(id).fd).toString()).toBe('abc');
  });

  it('a reply the core cannot encode (bad StatfsReply) → EIO', async () => {
    const r = await initializedRig();
    r.fs.statfs = async () => ({ blocks: 'x' as unknown as bigint, bfree: 0n, bavail: 0n, files: 0n, ffree: 0n, bsize: 0, namelen: 0, frsize: 0 });
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.STATFS })))).toBe(E.EIO);
  });
});
