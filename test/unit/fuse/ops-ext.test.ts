// The FUSE core's handlers beyond the core set (handlers-ext.ts) and the request extensions
// (extensions.ts): decoding, validation, reply layouts, and the deliberate answers (IOCTL,
// NOTIFY_REPLY). A MemFs grows the optional methods per test and records what it was given.
import { describe, expect, it } from 'vitest';
import type { CreateReply, FileLock, RequestContext, StatxReply } from '../../../src/filesystem/filesystem.js';
import { E, ErrnoError } from '../../../src/filesystem/errors.js';
import { EntryOut, InitFlag, Opcode, OpenOut } from '../../../src/fuse/abi.js';
import { cstr, errnoOfReply, expectReply, initIn, MemFs, request, rig, u32s, u64, type Rig } from './helpers.js';
import { until } from '../../helpers/wait.js';

const OFFSET_MAX = 0x7fff_ffff_ffff_ffffn;
type Seen = { ctx: RequestContext; args: unknown[] };

/** A rig whose MemFs has the optional methods (each records its arguments), INIT done. */
async function extRig(guestFlags?: bigint): Promise<Rig & { seen: Map<string, Seen[]>; fsx: Record<string, unknown> }> {
  const fs = new MemFs();
  const seen = new Map<string, Seen[]>();
  const record = (m: string, ctx: RequestContext, args: unknown[]): void => {
    const ctxCopy = { ...ctx, supplementaryGroups: ctx.supplementaryGroups, securityContext: ctx.securityContext } as RequestContext;
    (seen.get(m) ?? seen.set(m, []).get(m)!).push({ ctx: ctxCopy, args });
  };
  const fsx = fs as unknown as Record<string, unknown>;
  const entry = (nodeid: number) => ({ nodeid, generation: 0, attr: Buffer.alloc(104), entryTimeout: 1, attrTimeout: 1 });
  Object.assign(fsx, {
    setxattr: async (ctx: RequestContext, ...a: unknown[]) => record('setxattr', ctx, a),
    getxattr: async (ctx: RequestContext, node: number, n: Buffer, size: number) => {
      record('getxattr', ctx, [node, n, size]);
      return size === 0 ? 5 : Buffer.from('value');
    },
    listxattr: async (ctx: RequestContext, node: number, size: number) => {
      record('listxattr', ctx, [node, size]);
      return size === 0 ? 12 : Buffer.from('user.a\0user.b\0');
    },
    removexattr: async (ctx: RequestContext, ...a: unknown[]) => record('removexattr', ctx, a),
    getlk: async (ctx: RequestContext, ...a: unknown[]): Promise<FileLock> => {
      record('getlk', ctx, a);
      return { start: 10n, end: OFFSET_MAX, type: 1, pid: 4242 };
    },
    setlk: async (ctx: RequestContext, ...a: unknown[]) => record('setlk', ctx, a),
    fallocate: async (ctx: RequestContext, ...a: unknown[]) => record('fallocate', ctx, a),
    lseek: async (ctx: RequestContext, ...a: unknown[]) => {
      record('lseek', ctx, a);
      return 0x1_2345_6789n;
    },
    copyFileRange: async (ctx: RequestContext, ...a: unknown[]) => {
      record('copyFileRange', ctx, a);
      return 4096;
    },
    syncfs: async (ctx: RequestContext, ...a: unknown[]) => record('syncfs', ctx, a),
    tmpfile: async (ctx: RequestContext, ...a: unknown[]): Promise<CreateReply> => {
      record('tmpfile', ctx, a);
      return { fh: 77, openFlags: 0, entry: entry(55) };
    },
    statx: async (ctx: RequestContext, ...a: unknown[]): Promise<StatxReply> => {
      record('statx', ctx, a);
      return { statx: Buffer.alloc(256, 0xab), flags: 1, attrTimeout: 1.5 };
    },
  });
  if (guestFlags !== undefined) fs.initMask = guestFlags;
  const r = rig({}, fs);
  const o = await r.send(request({ opcode: Opcode.INIT }, initIn()));
  if (errnoOfReply(o) !== 0) throw new Error('INIT failed');
  return { ...r, seen, fsx };
}

const lkIn = (fh: number, owner: bigint, start: bigint, end: bigint, type: number, pid: number, flags = 0): Buffer =>
  Buffer.concat([u64(fh), u64(owner), u64(start), u64(end), u32s(type, pid), u32s(flags, 0)]);

describe('extended attributes', () => {
  it('SETXATTR: 16-byte fuse_setxattr_in with SETXATTR_EXT, 8 without; value exactly `size` bytes', async () => {
    const r = await extRig();
    const o = await r.send(request({ opcode: Opcode.SETXATTR, nodeid: 5 }, u32s(3, 1, 1, 0), cstr('user.x'), Buffer.from('abc')));
    expect(errnoOfReply(o)).toBe(0);
    const [node, n, v, flags, xflags] = r.seen.get('setxattr')![0].args as [number, Buffer, Buffer, number, number];
    expect([node, n.toString(), v.toString(), flags, xflags]).toEqual([5, 'user.x', 'abc', 1, 1]);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETXATTR }, u32s(4, 0, 0, 0), cstr('user.x'), Buffer.from('abc'))))).toBe(E.EINVAL);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETXATTR }, u32s(2, 0, 0, 0), cstr('user.x'), Buffer.from('abc'))))).toBe(E.EINVAL);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETXATTR }, u32s(0, 0, 0, 0), cstr(''))))).toBe(E.ERANGE);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETXATTR }, u32s(0, 0, 0, 0), cstr('u'.repeat(256)))))).toBe(E.ERANGE);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETXATTR }, u32s(65537, 0, 0, 0), cstr('user.x'), Buffer.alloc(65537))))).toBe(E.E2BIG);
    // A 64 KiB value through a transport that staged only 8 KiB is copied in full.
    const big = request({ opcode: Opcode.SETXATTR }, u32s(65536, 0, 0, 0), cstr('user.big'), Buffer.alloc(65536, 7));
    expect(errnoOfReply(await r.send(big, { staged: 8192 }))).toBe(0);
    expect((r.seen.get('setxattr')!.at(-1)!.args[2] as Buffer).length).toBe(65536);
  });

  it('SETXATTR without SETXATTR_EXT reads the 8-byte struct', async () => {
    const r = await extRig(~InitFlag.SETXATTR_EXT);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETXATTR }, u32s(2, 0), cstr('user.y'), Buffer.from('hi'))))).toBe(0);
    expect((r.seen.get('setxattr')![0].args[2] as Buffer).toString()).toBe('hi');
  });

  it('GETXATTR / LISTXATTR: size 0 → fuse_getxattr_out; else the bytes; ERANGE when they do not fit', async () => {
    const r = await extRig();
    const q = expectReply(await r.send(request({ opcode: Opcode.GETXATTR }, u32s(0, 0), cstr('user.x'))));
    expect(q.payload.length).toBe(8);
    expect(q.payload.readUInt32LE(0)).toBe(5);
    const v = expectReply(await r.send(request({ opcode: Opcode.GETXATTR }, u32s(100, 0), cstr('user.x'))));
    expect(v.payload.toString()).toBe('value');
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.GETXATTR }, u32s(3, 0), cstr('user.x'))))).toBe(E.ERANGE);
    // The size passed down is capped by the guest's reply buffer.
    await r.send(request({ opcode: Opcode.GETXATTR }, u32s(60000, 0), cstr('user.x')), { replyCapacity: 16 + 100 });
    expect(r.seen.get('getxattr')!.at(-1)!.args[2]).toBe(100);
    const l = expectReply(await r.send(request({ opcode: Opcode.LISTXATTR }, u32s(0, 0))));
    expect(l.payload.readUInt32LE(0)).toBe(12);
    expect(expectReply(await r.send(request({ opcode: Opcode.LISTXATTR }, u32s(64, 0)))).payload.toString()).toBe('user.a\0user.b\0');
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.LISTXATTR }, u32s(0, 0)), { replyCapacity: 20 }))).toBe(E.ERANGE);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.REMOVEXATTR, nodeid: 9 }, cstr('user.z'))))).toBe(0);
    expect((r.seen.get('removexattr')![0].args[1] as Buffer).toString()).toBe('user.z');
  });
});

describe('locks', () => {
  it('GETLK decodes fuse_lk_in and encodes fuse_lk_out', async () => {
    const r = await extRig();
    const o = expectReply(await r.send(request({ opcode: Opcode.GETLK, nodeid: 3 }, lkIn(7, 0xabcn, 5n, 9n, 1, 321))));
    expect(r.seen.get('getlk')![0].args).toEqual([3, 7, 0xabcn, { start: 5n, end: 9n, type: 1, pid: 321 }, 0]);
    expect(o.payload.length).toBe(24);
    expect([o.payload.readBigUInt64LE(0), o.payload.readBigUInt64LE(8), o.payload.readUInt32LE(16), o.payload.readUInt32LE(20)]).toEqual([10n, OFFSET_MAX, 1, 4242]);
  });

  it('SETLK and SETLKW differ only in `wait`; flock flag and ranges are checked', async () => {
    const r = await extRig();
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETLK, nodeid: 3 }, lkIn(7, 1n, 0n, OFFSET_MAX, 2, 1, 1))))).toBe(0);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETLKW, nodeid: 3 }, lkIn(7, 1n, 0n, 0n, 0, 1))))).toBe(0);
    const [a, b] = r.seen.get('setlk')!;
    expect(a.args.slice(4)).toEqual([1, false]);
    expect(b.args.slice(4)).toEqual([0, true]);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETLK }, lkIn(7, 1n, 9n, 5n, 1, 1))))).toBe(E.EINVAL);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETLK }, lkIn(7, 1n, 0n, OFFSET_MAX + 1n, 1, 1))))).toBe(E.EINVAL);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETLK }, lkIn(7, 1n, 0n, 1n, 1, 1).subarray(0, 40))))).toBe(E.EINVAL);
  });

  it('a waiting SETLKW hears FUSE_INTERRUPT through onInterrupt, also when it arrived first', async () => {
    const r = await extRig();
    let release: ((err?: Error) => void) | undefined;
    r.fsx.setlk = (ctx: RequestContext) =>
      new Promise<void>((resolve, reject) => {
        release = (err) => (err ? reject(err) : resolve());
        ctx.onInterrupt?.(() => reject(new ErrnoError(E.EINTR)));
      });
    const waiting = r.send(request({ opcode: Opcode.SETLKW, unique: 500 }, lkIn(1, 1n, 0n, 0n, 1, 1)));
    await until(() => release !== undefined, 'the SETLKW to reach the file system');
    expect((await r.send(request({ opcode: Opcode.INTERRUPT, unique: 501 }, u64(500)))).kind).toBe('none');
    expect(errnoOfReply(await waiting)).toBe(E.EINTR);
    // INTERRUPT before its request: remembered, delivered when the request starts.
    await r.send(request({ opcode: Opcode.INTERRUPT, unique: 503 }, u64(502)));
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SETLKW, unique: 502 }, lkIn(1, 1n, 0n, 0n, 1, 1))))).toBe(E.EINTR);
    void release;
  });

  it('the end of the session interrupts requests still waiting (DESTROY does not hang on them)', async () => {
    const r = await extRig();
    let started = false;
    r.fsx.setlk = (ctx: RequestContext) => {
      started = true;
      return new Promise<void>((_, reject) => ctx.onInterrupt?.(() => reject(new ErrnoError(E.EINTR))));
    };
    const waiting = r.send(request({ opcode: Opcode.SETLKW }, lkIn(1, 1n, 0n, 0n, 1, 1)));
    await until(() => started, 'the SETLKW to reach the file system');
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.DESTROY })))).toBe(0);
    expect(errnoOfReply(await waiting)).toBe(E.EINTR);
  });
});

describe('data operations', () => {
  it('FALLOCATE: mode and range passed; zero length EINVAL, past OFFSET_MAX EFBIG', async () => {
    const r = await extRig();
    const fa = (off: bigint, len: bigint, mode: number): Buffer => Buffer.concat([u64(4), u64(off), u64(len), u32s(mode, 0)]);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.FALLOCATE, nodeid: 2 }, fa(4096n, 8192n, 3))))).toBe(0);
    expect(r.seen.get('fallocate')![0].args).toEqual([2, 4, 3, 4096n, 8192n]);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.FALLOCATE }, fa(0n, 0n, 0))))).toBe(E.EINVAL);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.FALLOCATE }, fa(OFFSET_MAX, 2n, 0))))).toBe(E.EFBIG);
  });

  it('LSEEK answers fuse_lseek_out; COPY_FILE_RANGE fuse_write_out with the length clamped', async () => {
    const r = await extRig();
    const o = expectReply(await r.send(request({ opcode: Opcode.LSEEK, nodeid: 2 }, u64(4), u64(100), u32s(3, 0))));
    expect(o.payload.readBigUInt64LE(0)).toBe(0x1_2345_6789n);
    expect(r.seen.get('lseek')![0].args).toEqual([2, 4, 100n, 3]);
    const cfr = Buffer.concat([u64(1), u64(10), u64(6), u64(2), u64(20), u64(1n << 40n), u64(0)]);
    const c = expectReply(await r.send(request({ opcode: Opcode.COPY_FILE_RANGE, nodeid: 5 }, cfr)));
    expect(c.payload.readUInt32LE(0)).toBe(4096);
    expect(r.seen.get('copyFileRange')![0].args).toEqual([5, 1, 10n, 6, 2, 20n, 0xffff_f000n, 0n]);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.SYNCFS, nodeid: 8 }, u64(0))))).toBe(0);
    expect(r.seen.get('syncfs')![0].args).toEqual([8]);
  });

  it('STATX: fuse_statx_out with the first 144 bytes of struct statx, the rest zero', async () => {
    const r = await extRig();
    const o = expectReply(await r.send(request({ opcode: Opcode.STATX, nodeid: 4 }, u32s(1, 0), u64(9), u32s(0x2000, 0x800))));
    expect(r.seen.get('statx')![0].args).toEqual([4, 9, 0x2000, 0x800]);
    expect(o.payload.length).toBe(288);
    expect([o.payload.readBigUInt64LE(0), o.payload.readUInt32LE(8), o.payload.readUInt32LE(12)]).toEqual([1n, 500_000_000, 1]);
    expect(o.payload.subarray(32, 32 + 144).every((b) => b === 0xab)).toBe(true);
    expect(o.payload.subarray(32 + 144).every((b) => b === 0)).toBe(true);
    expect(o.payload.subarray(16, 32).every((b) => b === 0)).toBe(true);
  });

  it('TMPFILE: fuse_create_in and the VFS\'s "/" name; fuse_entry_out + fuse_open_out', async () => {
    const r = await extRig();
    const o = expectReply(await r.send(request({ opcode: Opcode.TMPFILE, nodeid: 1 }, u32s(2, 0o100600, 0o22, 0), cstr('/'))));
    expect(r.seen.get('tmpfile')![0].args).toEqual([1, 0o100600, 2, 0o22]);
    expect(o.payload.length).toBe(EntryOut.SIZE + OpenOut.SIZE);
    expect(o.payload.readBigUInt64LE(0)).toBe(55n);
    expect(o.payload.readBigUInt64LE(EntryOut.SIZE)).toBe(77n);
  });

  it('IOCTL answers ENOTTY; NOTIFY_REPLY gets no reply', async () => {
    const r = await extRig();
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.IOCTL }, Buffer.alloc(32))))).toBe(E.ENOTTY);
    expect((await r.send(request({ opcode: Opcode.NOTIFY_REPLY }, Buffer.alloc(32)))).kind).toBe('none');
  });
});

describe('request extensions (CREATE, MKNOD, MKDIR, SYMLINK, TMPFILE)', () => {
  const secctx = (name: string, value: string): Buffer => {
    const body = Buffer.concat([u32s(value.length, 0), cstr(name), Buffer.from(value)]);
    const padded = Buffer.concat([body, Buffer.alloc((8 - (body.length % 8)) % 8)]);
    return Buffer.concat([u32s(8 + padded.length, 1), padded]);
  };
  const groups = (...g: number[]): Buffer => {
    const body = Buffer.concat([u32s(g.length), u32s(...g)]);
    const padded = Buffer.concat([body, Buffer.alloc((8 - (body.length % 8)) % 8)]);
    return Buffer.concat([u32s(8 + padded.length, 32), padded]);
  };

  /** A MKDIR whose extension area (total_extlen) holds `ext`. */
  const mkdirWith = (ext: Buffer): Buffer => request({ opcode: Opcode.MKDIR, extlen: ext.length / 8 }, u32s(0o755, 0), cstr('d'), ext);

  it('7.38 form: security context and supplementary group reach the file system', async () => {
    const r = await extRig();
    let ctxSeen: RequestContext | undefined;
    const mkdir = r.fs.mkdir.bind(r.fs);
    r.fs.mkdir = (ctx, ...a) => {
      ctxSeen = { ...ctx, supplementaryGroups: ctx.supplementaryGroups, securityContext: ctx.securityContext };
      return mkdir(ctx, ...a);
    };
    expect(errnoOfReply(await r.send(mkdirWith(Buffer.concat([secctx('security.selinux', 'system_u:object_r:x_t:s0'), groups(3000)]))))).toBe(0);
    expect(ctxSeen?.securityContext?.name.toString()).toBe('security.selinux');
    expect(ctxSeen?.securityContext?.value.toString()).toBe('system_u:object_r:x_t:s0');
    expect(ctxSeen?.supplementaryGroups).toEqual([3000]);
  });

  it('7.36/7.37 form: the security-context block right after the name', async () => {
    const r = await extRig();
    const o = await r.send(request({ opcode: Opcode.CREATE }, u32s(2, 0o100644, 0, 0), cstr('f'), secctx('security.selinux', 'ctx')));
    expect(errnoOfReply(o)).toBe(0);
    const sym = await r.send(request({ opcode: Opcode.SYMLINK }, cstr('l'), cstr('target'), u32s(8, 0)));
    expect(errnoOfReply(sym)).toBe(0); // nr_secctx 0: no context (no LSM in the guest)
  });

  it('malformed or unexpected extensions are EINVAL', async () => {
    const r = await extRig();
    for (const ext of [
      u32s(4, 1), // size below the header
      u32s(64, 1), // larger than the request
      u32s(8, 33), // unknown type
      Buffer.concat([groups(1), groups(2)]), // repeated
      Buffer.concat([u32s(16, 2), u32s(0, 0)]), // two contexts
      Buffer.concat([u32s(16, 32), u32s(1000, 0)]), // more groups than bytes
    ]) {
      expect(errnoOfReply(await r.send(mkdirWith(ext))), ext.toString('hex')).toBe(E.EINVAL);
    }
    // Not negotiated: trailing bytes after the name stay an error.
    const plain = await extRig(~(InitFlag.SECURITY_CTX | InitFlag.CREATE_SUPP_GROUP));
    expect(errnoOfReply(await plain.send(request({ opcode: Opcode.MKDIR }, u32s(0o755, 0), cstr('d'), Buffer.alloc(8))))).toBe(E.EINVAL);
    expect(errnoOfReply(await plain.send(request({ opcode: Opcode.MKDIR }, u32s(0o755, 0), cstr('d'), groups(1))))).toBe(E.EINVAL);
  });
});
