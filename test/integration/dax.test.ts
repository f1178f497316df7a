// DAX end to end through the real daemon: our frontend owns the window and answers the
// back-end channel, as QEMU 11 (SHMEM_MAP) or Kata's QEMU (FS_MAP) would.
import { afterEach, describe, expect, it } from 'vitest';
import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { shmemBackingRefusal } from '../../src/frontend/backend-channel.js';
import { startSession, type Session } from '../helpers/daemon.js';
import { InitOut, Opcode } from '../../src/fuse/abi.js';
import { until } from '../helpers/wait.js';

const InitOutFlags2 = InitOut.flags2;
import { ErrnoError } from '../../src/filesystem/errors.js';

const R = 2 * 1024 * 1024;
const O_RDONLY = 0;
const O_RDWR = 2;
const MAP_ALIGNMENT = 1 << 26;

let s: Session | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

function setupmappingIn(fh: number | bigint, foffset: number, len: number, flags: number, moffset: number): Buffer {
  const b = Buffer.alloc(40);
  b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(fh)), 0);
  b.writeBigUInt64LE(BigInt(foffset), 8);
  b.writeBigUInt64LE(BigInt(len), 16);
  b.writeBigUInt64LE(BigInt(flags), 24);
  b.writeBigUInt64LE(BigInt(moffset), 32);
  return b;
}

function removemappingIn(ranges: [number, number][]): Buffer[] {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(ranges.length);
  const body = Buffer.alloc(16 * ranges.length);
  ranges.forEach(([m, l], i) => {
    body.writeBigUInt64LE(BigInt(m), 16 * i);
    body.writeBigUInt64LE(BigInt(l), 16 * i + 8);
  });
  return [head, body];
}

async function errno(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    if (e instanceof ErrnoError) return e.errno;
    throw e;
  }
}

for (const protocol of ['shmem', 'kata'] as const) {
  describe(`DAX window (${protocol})`, () => {
    it('maps a file range, reads and writes it through the window, and unmaps it', async () => {
      s = await startSession({ args: ['--dax-window=64M', `--dax=${protocol}`], frontend: { daxWindowSize: 64 << 20 } });
      const fuse = s.fuse;
      await fuse.init(0xffffffff);
      expect(fuse.initOut!.readUInt32LE(12) & MAP_ALIGNMENT).toBe(MAP_ALIGNMENT);
      expect(fuse.initOut!.readUInt16LE(30)).toBe(21);
      const data = Buffer.alloc(2 * R);
      for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
      writeFileSync(`${s.daemon.shareDir}/f`, data);
      const e = await fuse.lookup(1, 'f');
      const ro = await fuse.open(e.nodeid, O_RDONLY);
      // Read-only mapping of the second range at window slot 5.
      await fuse.call(Opcode.SETUPMAPPING, e.nodeid, [setupmappingIn(ro.fh, R, R, 2, 5 * R)], 0);
      const window = s.frontend.backend!.window;
      const got = Buffer.alloc(4096);
      window.read(5 * R + 8192, got);
      expect(got.equals(data.subarray(R + 8192, R + 8192 + 4096))).toBe(true);
      // Without a handle (fh = ~0), as Linux's fs/fuse/dax.c sends it: the daemon opens the inode.
      await fuse.call(Opcode.SETUPMAPPING, e.nodeid, [setupmappingIn(-1n, 0, R, 2, 7 * R)], 0);
      window.read(7 * R, got);
      expect(got.equals(data.subarray(0, 4096))).toBe(true);
      await fuse.call(Opcode.REMOVEMAPPING, 1, removemappingIn([[7 * R, R]]), 0);
      // A writable mapping needs a handle open for writing.
      expect(await errno(fuse.call(Opcode.SETUPMAPPING, e.nodeid, [setupmappingIn(ro.fh, 0, R, 3, 0)], 0))).toBe(13);
      const rw = await fuse.open(e.nodeid, O_RDWR);
      await fuse.call(Opcode.SETUPMAPPING, e.nodeid, [setupmappingIn(rw.fh, 0, R, 3, 0)], 0);
      expect(window.write(100, Buffer.from('through the window'))).toBeGreaterThanOrEqual(0);
      expect(readFileSync(`${s.daemon.shareDir}/f`).subarray(100, 118).toString()).toBe('through the window');
      // Validation: outside the window, misaligned, bad handle, huge REMOVEMAPPING count.
      expect(await errno(fuse.call(Opcode.SETUPMAPPING, e.nodeid, [setupmappingIn(ro.fh, 0, R, 2, 64 * 1024 * 1024)], 0))).toBe(22);
      expect(await errno(fuse.call(Opcode.SETUPMAPPING, e.nodeid, [setupmappingIn(ro.fh, 4096, R, 2, 0)], 0))).toBe(22);
      expect(await errno(fuse.call(Opcode.SETUPMAPPING, e.nodeid, [setupmappingIn(999, 0, R, 2, 0)], 0))).toBe(9);
      const huge = removemappingIn([[0, R]]);
      huge[0].writeUInt32LE(100000);
      expect(await errno(fuse.call(Opcode.REMOVEMAPPING, 1, huge, 0))).toBe(22);
      // Unmap both; a second removal of the same range is harmless.
      await fuse.call(Opcode.REMOVEMAPPING, 1, removemappingIn([[0, R], [5 * R, R]]), 0);
      await fuse.call(Opcode.REMOVEMAPPING, 1, removemappingIn([[0, R]]), 0);
      expect(window.mappings.length).toBe(0);
      // SIGUSR1 reports the DAX counters (one log record, whenever the signal is handled).
      const logged = s.daemon.stderr().length;
      s.daemon.child.kill('SIGUSR1');
      await until(() => /"dax":\{[^\n]*\n/.test(s!.daemon.stderr().slice(logged)), 'the whole statistics line');
      expect(s.daemon.stderr(), s.daemon.stderr()).toMatch(/"dax":\{"windowBytes":67108864,"mappedBytes":0,"mappings":0,"regions":0,"rangeCopies":0,"setups":3/);
    });
  });
}

describe('DAX range copies (shmem: QEMU 11 cannot map past EOF)', () => {
  const FATTR_SIZE = 8;
  const truncateIn = (size: number): Buffer => {
    const a = Buffer.alloc(88);
    a.writeUInt32LE(FATTR_SIZE, 0);
    a.writeBigUInt64LE(BigInt(size), 16);
    return a;
  };

  it('maps a ragged file as whole pages + a range copy that stays coherent with the file', async () => {
    s = await startSession({ args: ['--dax-window=16M', '--dax=shmem'], frontend: { daxWindowSize: 16 << 20 } });
    const fuse = s.fuse;
    await fuse.init(0xffffffff);
    const backend = s.frontend.backend!;
    const window = backend.window;
    const path = `${s.daemon.shareDir}/ragged`;
    const data = Buffer.alloc(4096 + 65);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
    writeFileSync(path, data);
    const e = await fuse.lookup(1, 'ragged');
    // A writable mapping without a handle, as Linux sends it: one page of file + a range copy.
    await fuse.setupmapping(e.nodeid, -1, 0, R, 3, 2 * R);
    expect(backend.lastRefusal, backend.lastRefusal).toBeUndefined();
    expect(window.mappings.map((m) => [m.offset - 2 * R, m.len])).toEqual([[0, 4096], [4096, R - 4096]]);
    const view = Buffer.alloc(8192);
    window.read(2 * R, view);
    expect(view.subarray(0, data.length).equals(data)).toBe(true);
    expect(view.subarray(data.length).every((b) => b === 0)).toBe(true);

    // A store through the window into the tail reaches the file at FLUSH, without growing it.
    const rw = await fuse.open(e.nodeid, O_RDWR);
    window.write(2 * R + 4096 + 10, Buffer.from('XYZ'));
    await fuse.flush(e.nodeid, rw.fh);
    let host = readFileSync(path);
    expect(host.length).toBe(data.length);
    expect(host.subarray(4096 + 10, 4096 + 13).toString()).toBe('XYZ');

    // An extending WRITE (Linux's DAX sends those as ordinary writes) shows in the window.
    expect(await fuse.write(e.nodeid, rw.fh, 4096 + 65, Buffer.from('appended'))).toBe(8);
    window.read(2 * R + 4096 + 65, view.subarray(0, 8));
    expect(view.subarray(0, 8).toString()).toBe('appended');
    // A READ sees a store made through the window (written back first).
    window.write(2 * R + 4096, Buffer.from('R'));
    expect((await fuse.read(e.nodeid, rw.fh, 4096, 1)).toString()).toBe('R');

    // Truncation zeroes what lay past the new end; growing again shows zeros, not old bytes.
    await fuse.setattr(e.nodeid, truncateIn(4096 + 20));
    await fuse.setattr(e.nodeid, truncateIn(4096 + 100));
    window.read(2 * R + 4096, view.subarray(0, 100));
    expect(view.subarray(20, 100).every((b) => b === 0)).toBe(true);
    expect(view.subarray(10, 13).toString()).toBe('XYZ');
    host = readFileSync(path);
    expect(host.length).toBe(4096 + 100);
    expect(host.subarray(4096 + 20).every((b) => b === 0)).toBe(true);

    // A last store, then REMOVEMAPPING: written back, both regions unmapped exactly.
    window.write(2 * R + 4096 + 50, Buffer.from('bye'));
    await fuse.removemapping([[2 * R, R]]);
    expect(window.mappings.length).toBe(0);
    host = readFileSync(path);
    expect(host.length).toBe(4096 + 100);
    expect(host.subarray(4096 + 50, 4096 + 53).toString()).toBe('bye');
    await fuse.release(e.nodeid, rw.fh);
  });

  it('maps an empty and a tiny file entirely from range copies, never asking QEMU to grow the file', async () => {
    s = await startSession({ args: ['--dax-window=16M', '--dax=shmem'], frontend: { daxWindowSize: 16 << 20 } });
    const fuse = s.fuse;
    await fuse.init(0xffffffff);
    const backend = s.frontend.backend!;
    writeFileSync(`${s.daemon.shareDir}/empty`, '');
    writeFileSync(`${s.daemon.shareDir}/tiny`, 'sixty-five bytes or so, shorter than a page: the sha256 file case\n');
    const empty = await fuse.lookup(1, 'empty');
    const tiny = await fuse.lookup(1, 'tiny');
    await fuse.setupmapping(empty.nodeid, -1, 0, R, 2, 0);
    await fuse.setupmapping(tiny.nodeid, -1, 0, R, 2, R);
    expect(backend.lastRefusal, backend.lastRefusal).toBeUndefined();
    const got = Buffer.alloc(4096);
    backend.window.read(R, got);
    expect(got.toString('latin1').replace(/\0+$/, '')).toBe(readFileSync(`${s.daemon.shareDir}/tiny`, 'latin1'));
    backend.window.read(0, got);
    expect(got.every((b) => b === 0)).toBe(true);
    // A read-only tail is never written back: the files are untouched by the session's end.
    await fuse.destroy();
    expect(readFileSync(`${s.daemon.shareDir}/empty`).length).toBe(0);
  });

  it('--dax-readonly-copies: read-only ranges never map the file, even where sharing would be safe', async () => {
    s = await startSession({ args: ['--dax-window=16M', '--dax=shmem', '--dax-readonly-copies'], frontend: { daxWindowSize: 16 << 20 } });
    await s.fuse.init(0xffffffff);
    const path = `${s.daemon.shareDir}/rc`;
    writeFileSync(path, Buffer.alloc(8192, 0x72));
    const e = await s.fuse.lookup(1, 'rc');
    await s.fuse.setupmapping(e.nodeid, -1, 0, R, 2, 0);
    s.frontend.backend!.window.write(0, Buffer.from('scribble'));
    await s.fuse.removemapping([[0, R]]);
    expect(readFileSync(path).equals(Buffer.alloc(8192, 0x72))).toBe(true);
  });

  it('with --readonly: refuses writable mappings and maps read-only ranges from copies the guest cannot write through', async () => {
    s = await startSession({ args: ['--dax-window=16M', '--dax=shmem', '--readonly'], frontend: { daxWindowSize: 16 << 20 } });
    await s.fuse.init(0xffffffff);
    const path = `${s.daemon.shareDir}/ro`;
    writeFileSync(path, Buffer.alloc(8192, 0x72));
    const e = await s.fuse.lookup(1, 'ro');
    expect(await errno(s.fuse.setupmapping(e.nodeid, -1, 0, R, 3, 0))).toBe(30); // EROFS
    await s.fuse.setupmapping(e.nodeid, -1, 0, R, 2, 0);
    const window = s.frontend.backend!.window;
    expect(window.mappings.map((m) => m.len)).toEqual([R]); // one copy, not the file
    window.write(0, Buffer.from('scribble')); // QEMU 11 maps it writable: a guest could do this
    await s.fuse.removemapping([[0, R]]);
    expect(readFileSync(path).equals(Buffer.alloc(8192, 0x72))).toBe(true);
  });

  it('a remount (DESTROY, then INIT on the same device) unmaps the old session\'s ranges first', async () => {
    s = await startSession({ args: ['--dax-window=16M', '--dax=shmem'], frontend: { daxWindowSize: 16 << 20 } });
    await s.fuse.init(0xffffffff);
    writeFileSync(`${s.daemon.shareDir}/m`, Buffer.alloc(3 * 4096 + 10, 0x6d));
    let e = await s.fuse.lookup(1, 'm');
    await s.fuse.setupmapping(e.nodeid, -1, 0, R, 2, 0);
    expect(s.frontend.backend!.window.mappings.length).toBe(2); // whole pages + the ragged end
    await s.fuse.destroy();
    await s.fuse.init(0xffffffff);
    expect(s.frontend.backend!.window.mappings.length).toBe(0);
    e = await s.fuse.lookup(1, 'm');
    await s.fuse.setupmapping(e.nodeid, -1, 0, R, 2, 0); // QEMU refuses a map over a mapping
    expect(s.frontend.backend!.lastRefusal, s.frontend.backend!.lastRefusal).toBeUndefined();
  });

  it('drops the mappings of an inode the guest forgets (and writes its copies back)', async () => {
    s = await startSession({ args: ['--dax-window=16M', '--dax=shmem'], frontend: { daxWindowSize: 16 << 20 } });
    await s.fuse.init(0xffffffff);
    writeFileSync(`${s.daemon.shareDir}/gone`, 'forget me');
    const e = await s.fuse.lookup(1, 'gone');
    await s.fuse.setupmapping(e.nodeid, -1, 0, R, 3, 3 * R);
    const window = s.frontend.backend!.window;
    window.write(3 * R, Buffer.from('F'));
    expect(window.mappings.length).toBe(1);
    await s.fuse.batchForget([[e.nodeid, 1]]);
    const path = `${s.daemon.shareDir}/gone`;
    // FORGET has no reply: wait for the unmapping and the write-back that follows it.
    await until(() => window.mappings.length === 0 && readFileSync(path, 'utf8') === 'Forget me', 'the unmapping and the write-back');
    expect(window.mappings.length).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe('Forget me');
  });

  it('emulates QEMU 11.1: a SHMEM_MAP past the end of a file or of a read-only fd is refused', async () => {
    s = await startSession({ args: ['--dax-window=16M', '--dax=shmem'], frontend: { daxWindowSize: 16 << 20 } });
    const fd = openSync(`${s.daemon.shareDir}/x`, 'w+');
    try {
      writeFileSync(fd, 'short');
      expect(s.frontend.backend!.window.mappings.length).toBe(0);
      // The channel's refusal rule, checked directly.
      expect(shmemBackingRefusal(fd, 0n, BigInt(R))).toMatch(/too small/);
      expect(shmemBackingRefusal(fd, 0n, 4096n)).toMatch(/too small/);
      ftruncateSync(fd, 0);
      expect(shmemBackingRefusal(fd, 0n, 4096n)).toMatch(/ftruncate/);
      ftruncateSync(fd, 8192);
      expect(shmemBackingRefusal(fd, 4096n, 4096n)).toBeUndefined();
      // QEMU 11.1 maps every region writable: a read-only descriptor fails.
      const ro = openSync(`${s.daemon.shareDir}/x`, 'r');
      expect(shmemBackingRefusal(ro, 0n, 4096n)).toMatch(/Permission denied/);
      closeSync(ro);
    } finally {
      closeSync(fd);
    }
  });
});

describe('FS_IO (Kata): READ into and WRITE from buffers in the DAX window', () => {
  /** Sends one request whose data descriptor points at `gpa` (outside the memory table). */
  function sendWithForeignData(sess: Session, request: Buffer, foreign: { gpa: bigint; len: number; writable: boolean }): Promise<{ usedLen: number; error: number }> {
    const ram = sess.frontend.ram;
    const q = sess.frontend.queues[1];
    const inOff = ram.allocate(request.length);
    request.copy(ram.buf, inOff);
    // READ: header, then the data into the window; WRITE: data from the window, then
    // fuse_out_header + fuse_write_out.
    const outLen = foreign.writable ? 16 : 24;
    const outOff = ram.allocate(outLen);
    const segs = [{ offset: inOff, len: request.length, writable: false }];
    if (foreign.writable) segs.push({ offset: outOff, len: outLen, writable: true });
    segs.push({ offset: 0, len: foreign.len, writable: foreign.writable, gpa: foreign.gpa } as (typeof segs)[number]);
    if (!foreign.writable) segs.push({ offset: outOff, len: outLen, writable: true });
    return new Promise((resolve) => {
      q.add(segs, (usedLen) => resolve({ usedLen, error: ram.buf.readInt32LE(outOff + 4) }));
      q.kick();
    });
  }
  const readIn = (fh: number, offset: number, size: number): Buffer => {
    const b = Buffer.alloc(40);
    b.writeBigUInt64LE(BigInt(fh), 0);
    b.writeBigUInt64LE(BigInt(offset), 8);
    b.writeUInt32LE(size, 16);
    return b;
  };
  const writeIn = (fh: number, offset: number, size: number): Buffer => {
    const b = Buffer.alloc(40);
    b.writeBigUInt64LE(BigInt(fh), 0);
    b.writeBigUInt64LE(BigInt(offset), 8);
    b.writeUInt32LE(size, 16);
    return b;
  };

  it('moves the bytes through the front-end (FS_IO) when a buffer lies in the window', async () => {
    s = await startSession({ args: ['--dax-window=64M', '--dax=kata'], frontend: { daxWindowSize: 64 << 20 } });
    const fuse = s.fuse;
    await fuse.init(0xffffffff);
    const share = s.daemon.shareDir;
    writeFileSync(`${share}/a`, Buffer.alloc(R, 0x61));
    const b = Buffer.alloc(8192);
    for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 7) & 0xff;
    writeFileSync(`${share}/b`, b);
    const a = await fuse.lookup(1, 'a');
    const aw = await fuse.open(a.nodeid, O_RDWR);
    await fuse.setupmapping(a.nodeid, aw.fh, 0, R, 3, 0); // a's first range at window offset 0
    const window = s.frontend.backend!.window;

    // READ of b into "an mmap of a": the reply data goes into the window, i.e. into file a.
    const bn = await fuse.lookup(1, 'b');
    const br = await fuse.open(bn.nodeid, O_RDONLY);
    const r = await sendWithForeignData(s, fuse.build(Opcode.READ, bn.nodeid, [readIn(br.fh, 0, 8192)]), { gpa: window.gpa + 4096n, len: 8192, writable: true });
    expect(r.error).toBe(0);
    expect(r.usedLen).toBe(16 + 8192);
    expect(readFileSync(`${share}/a`).subarray(4096, 4096 + 8192).equals(b)).toBe(true);
    const fsIo = s.frontend.backend!.events.filter((e) => e.name === 'FS_IO');
    expect(fsIo.length).toBeGreaterThan(0);

    // WRITE to c from the window: c gets a's bytes (which now hold b's).
    const { entry: c, fh: cw } = await fuse.create(1, 'c', 0o644, O_RDWR);
    const wr = fuse.build(Opcode.WRITE, c.nodeid, [writeIn(cw, 0, 8192)]);
    wr.writeUInt32LE(wr.length + 8192, 0); // the header's length counts the payload, wherever it lies
    const w = await sendWithForeignData(s, wr, { gpa: window.gpa + 4096n, len: 8192, writable: false });
    expect(w.error).toBe(0);
    expect(w.usedLen).toBe(24);
    expect(readFileSync(`${share}/c`).equals(b)).toBe(true);
    await fuse.release(c.nodeid, cw);
  });

  it('without a Kata window a descriptor outside guest memory is refused, and the daemon serves on', async () => {
    s = await startSession({ args: ['--dax-window=64M', '--dax=shmem'], frontend: { daxWindowSize: 64 << 20 } });
    await s.fuse.init(0xffffffff);
    writeFileSync(`${s.daemon.shareDir}/b`, 'bytes');
    const bn = await s.fuse.lookup(1, 'b');
    const br = await s.fuse.open(bn.nodeid, O_RDONLY);
    const r = await sendWithForeignData(s, s.fuse.build(Opcode.READ, bn.nodeid, [readIn(br.fh, 0, 4096)]), { gpa: 0x7_0000_0000n, len: 4096, writable: true });
    expect(r.usedLen).toBe(0); // returned empty: the guest sees an I/O error
    expect((await s.fuse.read(bn.nodeid, br.fh, 0, 5)).toString()).toBe('bytes');
  });
});

describe('per-inode DAX (dax=inode guests)', () => {
  const HAS_INODE_DAX_FLAGS2 = 1 << 1; // bit 33 of the 64-bit flags
  const FUSE_ATTR_DAX = 2;
  it('offers HAS_INODE_DAX with a window and marks regular files FUSE_ATTR_DAX in every attribute reply', async () => {
    s = await startSession({ args: ['--dax-window=16M'], frontend: { daxWindowSize: 16 << 20 } });
    const out = await s.fuse.init(0xffffffff, 0xffffffff);
    expect(out.readUInt32LE(InitOutFlags2) & HAS_INODE_DAX_FLAGS2).toBe(HAS_INODE_DAX_FLAGS2);
    writeFileSync(`${s.daemon.shareDir}/f`, 'data');
    const f = await s.fuse.lookup(1, 'f');
    expect(f.attr.flags & FUSE_ATTR_DAX).toBe(FUSE_ATTR_DAX);
    expect((await s.fuse.getattr(f.nodeid)).flags & FUSE_ATTR_DAX).toBe(FUSE_ATTR_DAX);
    const d = await s.fuse.mkdir(1, 'd');
    expect(d.attr.flags & FUSE_ATTR_DAX).toBe(0);
    const c = await s.fuse.create(1, 'c', 0o644, O_RDWR);
    expect(c.entry.attr.flags & FUSE_ATTR_DAX).toBe(FUSE_ATTR_DAX);
    const plus = await s.fuse.listDir(1, true);
    expect(plus.find((e) => e.name === 'f')?.entry?.attr.flags).toBe(FUSE_ATTR_DAX);
    expect(plus.find((e) => e.name === 'd')?.entry?.attr.flags).toBe(0);
  });

  it('--dax-inode-min-size leaves smaller files to the page cache', async () => {
    s = await startSession({ args: ['--dax-window=16M', '--dax-inode-min-size=4K'], frontend: { daxWindowSize: 16 << 20 } });
    await s.fuse.init(0xffffffff, 0xffffffff);
    writeFileSync(`${s.daemon.shareDir}/small`, 'x'.repeat(4095));
    writeFileSync(`${s.daemon.shareDir}/big`, 'x'.repeat(4096));
    expect((await s.fuse.lookup(1, 'small')).attr.flags & FUSE_ATTR_DAX).toBe(0);
    expect((await s.fuse.lookup(1, 'big')).attr.flags & FUSE_ATTR_DAX).toBe(FUSE_ATTR_DAX);
  });

  it('offers neither without a window', async () => {
    s = await startSession();
    const out = await s.fuse.init(0xffffffff, 0xffffffff);
    expect(out.readUInt32LE(InitOutFlags2) & HAS_INODE_DAX_FLAGS2).toBe(0);
    writeFileSync(`${s.daemon.shareDir}/f`, 'data');
    expect((await s.fuse.lookup(1, 'f')).attr.flags & FUSE_ATTR_DAX).toBe(0);
  });
});

describe('DAX off', () => {
  it('does not offer MAP_ALIGNMENT and answers SETUPMAPPING with ENOSYS without a window', async () => {
    s = await startSession();
    await s.fuse.init(0xffffffff);
    expect(s.fuse.initOut!.readUInt32LE(12) & MAP_ALIGNMENT).toBe(0);
    expect(await errno(s.fuse.call(Opcode.SETUPMAPPING, 1, [setupmappingIn(1, 0, R, 2, 0)], 0))).toBe(38);
  });
});
