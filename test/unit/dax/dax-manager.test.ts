import { describe, expect, it } from 'vitest';
import { DaxManager, SETUPMAPPING_FLAG_READ, SETUPMAPPING_FLAG_WRITE, type MappingSource } from '../../../src/dax/dax-manager.js';
import { BackendReq, decodeFsMessage, decodeShmemMessage } from '../../../src/dax/wire.js';
import { ErrnoError } from '../../../src/filesystem/errors.js';
import { silentLogger } from '../../../src/logger.js';
import type { BackendChannel } from '../../../src/vhost/backend-channel.js';
import type { CopyIo } from '../../../src/dax/range-copy.js';

const MiB = 1n << 20n;
const R = 2n * MiB;

interface Sent {
  request: number;
  payload: Buffer;
  fds?: number[];
}

/** In-memory files for range copies: fd 42 is the mapped file (`size` bytes of a pattern). */
function memoryCopyIo(size: bigint) {
  const files = new Map<number, Buffer>([[42, Buffer.from(Array.from({ length: Number(size < 1n << 20n ? size : 0n) }, (_, i) => (i * 13) & 0xff))]]);
  let next = 100;
  const closed: number[] = [];
  const io: CopyIo = {
    createBuffer: (len) => {
      files.set(next, Buffer.alloc(len));
      return next++;
    },
    pread: async (fd, buf, pos) => files.get(fd)!.subarray(Number(pos)).copy(buf),
    pwrite: async (fd, buf, pos) => {
      let f = files.get(fd)!;
      if (Number(pos) + buf.length > f.length) files.set(fd, (f = Buffer.concat([f, Buffer.alloc(Number(pos) + buf.length - f.length)])));
      return buf.copy(f, Number(pos));
    },
    punchHole: async (fd, off, len) => (files.get(fd)!.fill(0, off, off + len), 0),
    fileSize: async (fd) => files.get(fd)!.length,
    close: (fd) => void closed.push(fd),
  };
  return { io, files, closed };
}

function setup(protocol: 'kata' | 'shmem', opts: { status?: bigint; maxMappings?: number; size?: bigint } = {}) {
  const sent: Sent[] = [];
  const status = { value: opts.status ?? 0n };
  const channel = {
    isOpen: true,
    request: (request: number, payload: Buffer, fds?: number[]) => {
      sent.push({ request, payload, fds });
      return Promise.resolve(status.value);
    },
  } as unknown as BackendChannel;
  const pins: string[] = [];
  const tails = memoryCopyIo(opts.size ?? 64n * R);
  const source: MappingSource = {
    async pinForMapping(nodeid, fh, write) {
      if (fh !== 7) throw new ErrnoError(9, 'bad fh');
      if (write && nodeid === 3) throw new ErrnoError(13, 'read-only handle');
      pins.push(`pin ${nodeid}`);
      return { fd: 42, size: opts.size ?? 64n * R, unpin: () => pins.push(`unpin ${nodeid}`) };
    },
  };
  const m = new DaxManager({
    windowBytes: 16n * R,
    protocol: () => protocol,
    channel: () => channel,
    source,
    log: silentLogger,
    maxMappings: opts.maxMappings === undefined ? undefined : () => opts.maxMappings!,
    copyIo: tails.io,
  });
  return { m, sent, pins, tails, status };
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

describe('DAX manager', () => {
  it('maps through Kata FS_MAP with the fd and records the slot', async () => {
    const { m, sent, pins } = setup('kata');
    await m.setup(2, 7, 4n * R, R, SETUPMAPPING_FLAG_READ | SETUPMAPPING_FLAG_WRITE, 3n * R);
    expect(sent).toHaveLength(1);
    expect(sent[0].request).toBe(BackendReq.FS_MAP);
    expect(sent[0].fds).toEqual([42]);
    const msg = decodeFsMessage(sent[0].payload);
    expect(msg.entries[0]).toEqual({ fdOffset: 4n * R, cacheOffset: 3n * R, len: R, flags: 3n });
    expect(m.table.get(3)).toMatchObject({ nodeid: 2, writable: true, len: Number(R) });
    expect(pins).toEqual(['pin 2', 'unpin 2']);
    await m.remove([{ moffset: 3n * R, len: R }]);
    expect(sent[1].request).toBe(BackendReq.FS_UNMAP);
    expect(decodeFsMessage(sent[1].payload).entries[0].cacheOffset).toBe(3n * R);
    expect(m.table.get(3)).toBeUndefined();
    expect(m.snapshot()).toMatchObject({ setups: 1, removes: 1, mappedBytes: 0 });
  });

  it('maps through SHMEM_MAP and unmaps before remapping a slot', async () => {
    const { m, sent } = setup('shmem');
    await m.setup(2, 7, 0n, R, SETUPMAPPING_FLAG_READ, 0n);
    await m.setup(2, 7, 0n, R, SETUPMAPPING_FLAG_READ | SETUPMAPPING_FLAG_WRITE, 0n);
    expect(sent.map((s) => s.request)).toEqual([BackendReq.SHMEM_MAP, BackendReq.SHMEM_UNMAP, BackendReq.SHMEM_MAP]);
    expect(decodeShmemMessage(sent[2].payload)).toMatchObject({ shmid: 0, shmOffset: 0n, len: R, flags: 1n });
    await m.forgetInode(2);
    expect(sent.at(-1)!.request).toBe(BackendReq.SHMEM_UNMAP);
    expect(m.table.mappedSlots()).toEqual([]);
  });

  it('validates every guest-chosen number', async () => {
    const { m, sent } = setup('kata');
    const cases: [bigint, bigint, number, bigint, number][] = [
      [0n, R, 0, 16n * R, 22], // window offset beyond the window
      [0n, R, 0, 15n * R + MiB, 22], // not 2 MiB aligned
      [MiB, R, 0, 0n, 22], // file offset not aligned
      [0n, R + 4096n, 0, 0n, 22], // longer than a range
      [0n, 0n, 0, 0n, 22], // empty
      [0n, 100n, 0, 0n, 22], // not page sized
      [(1n << 63n) - R, R, 0, 0n, 22], // overflow
      [0n, R, 4, 0n, 22], // unknown flag
    ];
    for (const [foff, len, flags, moff, want] of cases) expect(await errno(m.setup(2, 7, foff, len, flags, moff))).toBe(want);
    expect(await errno(m.setup(2, 8, 0n, R, 0, 0n))).toBe(9); // bad handle
    expect(await errno(m.setup(3, 7, 0n, R, SETUPMAPPING_FLAG_WRITE, 0n))).toBe(13); // write on a read handle
    expect(await errno(m.remove([]))).toBe(22);
    expect(await errno(m.remove(Array.from({ length: 257 }, () => ({ moffset: 0n, len: R }))))).toBe(22);
    expect(await errno(m.remove([{ moffset: 0n, len: 17n * R }]))).toBe(22);
    expect(sent).toHaveLength(0);
  });

  it('reports front-end failures and the memory-slot budget as errnos', async () => {
    expect(await errno(setup('kata', { status: BigInt.asUintN(64, -5n) }).m.setup(2, 7, 0n, R, 0, 0n))).toBe(5);
    const { m } = setup('shmem', { maxMappings: 1 }); // a whole-file range takes one region
    await m.setup(2, 7, 0n, R, 0, 0n);
    expect(await errno(m.setup(2, 7, R, R, 0, R))).toBe(28); // ENOSPC
    await m.setup(2, 7, 0n, R, 0, 0n); // remapping an existing slot needs no new slot
  });

  it('with SHMEM maps the whole pages of the file and backs the rest of the range with a range copy', async () => {
    const small = setup('shmem', { size: 5000n });
    await small.m.setup(2, 7, 0n, R, SETUPMAPPING_FLAG_READ | SETUPMAPPING_FLAG_WRITE, 0n);
    const maps = small.sent.map((x) => ({ ...decodeShmemMessage(x.payload), fds: x.fds }));
    expect(maps.map((x) => [x.fdOffset, x.shmOffset, x.len, x.fds])).toEqual([
      [0n, 0n, 4096n, [42]], // the file's one whole page
      [0n, 4096n, R - 4096n, [100]], // the range copy: file bytes 4096..5000, then zeros
    ]);
    const buffer = small.tails.files.get(100)!;
    expect(buffer.length).toBe(Number(R) - 4096);
    expect(buffer.subarray(0, 904).equals(small.tails.files.get(42)!.subarray(4096))).toBe(true);
    expect(small.m.table.get(0)).toMatchObject({ len: Number(R), fileLen: 4096 });
    expect(small.m.table.regionCount()).toBe(2);
    expect(small.pins).toEqual(['pin 2']); // held by the range copy

    // A store into the buffer is written back below EOF only, and only where it differs.
    buffer.write('hello', 10);
    buffer.write('past EOF', 2000);
    await small.m.writeBack(2);
    const file = small.tails.files.get(42)!;
    expect(file.length).toBe(5000);
    expect(file.subarray(4106, 4111).toString()).toBe('hello');
    // The file changes the ordinary way: reload shows it.
    file.write('new', 4200);
    await small.m.reload(2, 4200n, 3n);
    expect(buffer.subarray(104, 107).toString()).toBe('new');

    // Removal unmaps both regions exactly, writes back, closes the buffer and the pin.
    buffer.write('last', 0);
    await small.m.remove([{ moffset: 0n, len: R }]);
    expect(small.sent.slice(2).map((x) => [x.request, decodeShmemMessage(x.payload).shmOffset, decodeShmemMessage(x.payload).len])).toEqual([
      [BackendReq.SHMEM_UNMAP, 0n, 4096n],
      [BackendReq.SHMEM_UNMAP, 4096n, R - 4096n],
    ]);
    expect(file.subarray(4096, 4100).toString()).toBe('last');
    expect(small.tails.closed).toEqual([100]);
    expect(small.pins).toEqual(['pin 2', 'unpin 2']);

    // An empty file: one region, all buffer; never a SHMEM_MAP of the file itself.
    const empty = setup('shmem', { size: 0n });
    await empty.m.setup(2, 7, 0n, R, SETUPMAPPING_FLAG_READ, 0n);
    expect(empty.sent.map((x) => x.fds)).toEqual([[100]]);
    // Kata's QEMU maps past EOF (as mmap does): no range copy.
    const kata = setup('kata', { size: 100n });
    await kata.m.setup(2, 7, 0n, R, 0, 0n);
    expect(decodeFsMessage(kata.sent[0].payload).entries[0].len).toBe(R);
    expect(kata.m.table.get(0)?.copy).toBeUndefined();
  });

  it('serialises concurrent setups of one slot: the replaced copy is closed, none leaks', async () => {
    const t = setup('shmem', { size: 100n });
    const rw = SETUPMAPPING_FLAG_READ | SETUPMAPPING_FLAG_WRITE;
    await Promise.all([t.m.setup(2, 7, 0n, R, rw, 0n), t.m.setup(2, 7, 0n, R, rw, 0n), t.m.remove([{ moffset: 0n, len: R }])]);
    await t.m.remove([{ moffset: 0n, len: R }]);
    expect(t.tails.closed.sort()).toEqual([100, 101]);
    expect(t.pins.filter((p) => p.startsWith('pin')).length).toBe(t.pins.filter((p) => p.startsWith('unpin')).length);
  });

  it('writes back only what the guest stored: changes the host made meanwhile survive', async () => {
    const t = setup('shmem', { size: 100n });
    await t.m.setup(2, 7, 0n, R, SETUPMAPPING_FLAG_READ | SETUPMAPPING_FLAG_WRITE, 0n);
    const copy = t.tails.files.get(100)!;
    const file = t.tails.files.get(42)!;
    file.write('H', 60); // the host rewrites a byte the copy holds
    const grown = Buffer.concat([file, Buffer.from('appended by the host')]); // and appends
    t.tails.files.set(42, grown);
    copy.write('G', 10); // the guest stores through the window
    await t.m.writeBack(2);
    const now = t.tails.files.get(42)!;
    expect(now.subarray(10, 11).toString()).toBe('G');
    expect(now.subarray(60, 61).toString()).toBe('H');
    expect(now.subarray(100).toString()).toBe('appended by the host');
    // Nothing stored since: a second write-back writes nothing.
    now.write('h', 10);
    await t.m.writeBack(2);
    expect(t.tails.files.get(42)!.subarray(10, 11).toString()).toBe('h');
  });

  it('ends a session by unmapping what it mapped and writing every range copy back', async () => {
    const t = setup('shmem', { size: 100n });
    await t.m.setup(2, 7, 0n, R, SETUPMAPPING_FLAG_READ | SETUPMAPPING_FLAG_WRITE, 4n * R);
    t.tails.files.get(100)!.write('bye', 50);
    await t.m.endSession();
    // A remount keeps the device: the front-end must not keep the old session's mappings.
    expect(t.sent.at(-1)!.request).toBe(BackendReq.SHMEM_UNMAP);
    expect(decodeShmemMessage(t.sent.at(-1)!.payload)).toMatchObject({ shmOffset: 4n * R, len: R });
    expect(t.tails.files.get(42)!.subarray(50, 53).toString()).toBe('bye');
    expect(t.m.table.mappedSlots()).toEqual([]);
    expect(t.tails.closed).toEqual([100]);
  });

  it('ends a session even when the front-end already dropped the mappings (device reset)', async () => {
    const t = setup('kata');
    await t.m.setup(2, 7, 0n, R, SETUPMAPPING_FLAG_READ, 0n);
    await t.m.setup(2, 7, R, R, SETUPMAPPING_FLAG_READ, 2n * R);
    t.status.value = BigInt.asUintN(64, -22n); // the front-end refuses: nothing mapped there any more
    await t.m.endSession();
    expect(t.m.table.mappedSlots()).toEqual([]);
  });
});
