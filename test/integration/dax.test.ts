// DAX end to end through the real daemon: our frontend owns the window and answers the
// back-end channel, as QEMU 11 (SHMEM_MAP) or Kata's QEMU (FS_MAP) would.
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
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
      expect(s.daemon.stderr(), s.daemon.stderr()).toMatch(/"dax":\{"windowBytes":67108864,"mappedBytes":0,"mappings":0,"setups":3/);
    });
  });
}

describe('DAX off', () => {
  it('does not offer MAP_ALIGNMENT and answers SETUPMAPPING with ENOSYS without a window', async () => {
    s = await startSession();
    await s.fuse.init(0xffffffff);
    expect(s.fuse.initOut!.readUInt32LE(12) & MAP_ALIGNMENT).toBe(0);
    expect(await errno(s.fuse.call(Opcode.SETUPMAPPING, 1, [setupmappingIn(1, 0, R, 2, 0)], 0))).toBe(38);
  });
});
