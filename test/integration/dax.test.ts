// DAX end to end through the real daemon: our frontend owns the window and answers the
// back-end channel, as QEMU 11 (SHMEM_MAP) or Kata's QEMU (FS_MAP) would.
import { afterEach, describe, expect, it } from 'vitest';
import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { shmemBackingRefusal } from '../../src/frontend/backend-channel.js';
import { startSession, type Session } from '../helpers/daemon.js';
import { Opcode } from '../../src/fuse/abi.js';
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
      // SIGUSR1 reports the DAX counters.
      s.daemon.child.kill('SIGUSR1');
      await new Promise((r) => setTimeout(r, 300));
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

describe('DAX off', () => {
  it('does not offer MAP_ALIGNMENT and answers SETUPMAPPING with ENOSYS without a window', async () => {
    s = await startSession();
    await s.fuse.init(0xffffffff);
    expect(s.fuse.initOut!.readUInt32LE(12) & MAP_ALIGNMENT).toBe(0);
    expect(await errno(s.fuse.call(Opcode.SETUPMAPPING, 1, [setupmappingIn(1, 0, R, 2, 0)], 0))).toBe(38);
  });
});
