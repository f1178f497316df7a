// The frontend's back-end request channel, driven by a test playing the daemon over a
// socketpair: FS_MAP / FS_UNMAP / FS_IO (Kata v6.1 layout and the older fixed-array one) and
// SHMEM_MAP / SHMEM_UNMAP (QEMU 11), with the DAX window checked byte for byte.
import { afterEach, describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../../src/native/binding.js';
import { BackendChannel, BackendReq, DaxWindow, FS_FLAG_MAP_R, FS_FLAG_MAP_W, decodeEntries } from '../../../src/frontend/backend-channel.js';
import { GuestRam, RAM_GPA } from '../../../src/frontend/guest-ram.js';

const NEED_REPLY = 1 << 3;
const WINDOW = 1 << 20;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function setup(): { ch: BackendChannel; peer: number; file: string; fd: number; ram: GuestRam } {
  const dir = mkdtempSync(join(tmpdir(), 'vufs-backend-'));
  const file = join(dir, 'data');
  const content = Buffer.alloc(4 * 4096);
  for (let i = 0; i < content.length; i++) content[i] = i % 251;
  writeFileSync(file, content);
  const fd = openSync(file, 'r+');
  const ram = new GuestRam(1 << 20);
  const ch = new BackendChannel(new DaxWindow(WINDOW, 0x2_0000_0000n), ram);
  ch.start();
  const peer = ch.backendFd;
  native.setBlocking(peer, true);
  cleanups.push(() => {
    ch.close();
    native.closeFd(peer);
    closeSync(fd);
    ram.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { ch, peer, file, fd, ram };
}

function fsPayload(entries: [number | bigint, number | bigint, number | bigint, number][]): Buffer {
  const p = Buffer.alloc(8 + 32 * entries.length);
  p.writeUInt16LE(entries.length, 4);
  entries.forEach(([fdOff, cOff, len, flags], i) => {
    p.writeBigUInt64LE(BigInt(fdOff), 8 + 32 * i);
    p.writeBigUInt64LE(BigInt(cOff), 16 + 32 * i);
    p.writeBigUInt64LE(BigInt(len), 24 + 32 * i);
    p.writeBigUInt64LE(BigInt(flags), 32 + 32 * i);
  });
  return p;
}

/** Sends a request as the daemon would and returns the u64 reply (NEED_REPLY set). */
async function request(peer: number, req: number, payload: Buffer, fds?: number[]): Promise<bigint> {
  const msg = Buffer.alloc(12 + payload.length);
  msg.writeUInt32LE(req, 0);
  msg.writeUInt32LE(1 | NEED_REPLY, 4);
  msg.writeUInt32LE(payload.length, 8);
  payload.copy(msg, 12);
  expect(native.socketSend(peer, msg, 0, msg.length, fds)).toBe(msg.length);
  const reply = Buffer.alloc(20);
  let have = 0;
  while (have < 20) {
    await new Promise((r) => setTimeout(r, 2)); // let the channel's watcher run
    if (native.pollReadable(peer, 0) !== 1) continue;
    const n = native.socketRecv(peer, reply, have, 20 - have, new Int32Array(2));
    expect(n).toBeGreaterThan(0);
    have += n;
  }
  expect(reply.readUInt32LE(0)).toBe(req);
  expect(reply.readUInt32LE(4) & 4).toBe(4); // REPLY
  return reply.readBigUInt64LE(12);
}

describe('BackendChannel (Kata FS_* and QEMU 11 SHMEM_*)', () => {
  it('FS_MAP maps file ranges at window offsets; the window reads the file', async () => {
    const { ch, peer, fd, file } = setup();
    expect(await request(peer, BackendReq.FS_MAP, fsPayload([[4096, 0, 8192, FS_FLAG_MAP_R | FS_FLAG_MAP_W], [0, 65536, 4096, FS_FLAG_MAP_R]]), [fd])).toBe(0n);
    const got = Buffer.alloc(8192);
    ch.window.read(0, got);
    expect(got.equals(readFileSync(file).subarray(4096, 12288))).toBe(true);
    // coherent and writable: a write through the window reaches the file
    expect(ch.window.write(10, Buffer.from('DAX'))).toBe(0);
    expect(readFileSync(file).subarray(4096 + 10, 4096 + 13).toString()).toBe('DAX');
    // a hole reads as zeros; writing into a hole faults
    const hole = Buffer.alloc(16, 1);
    ch.window.read(8192, hole);
    expect(hole.every((b) => b === 0)).toBe(true);
    expect(ch.window.write(8192, Buffer.alloc(1))).toBeLessThan(0);
    expect(ch.events.map((e) => e.name)).toEqual(['FS_MAP']);
  });

  it('FS_UNMAP splits partial overlaps and len = ~0 clears the window', async () => {
    const { ch, peer, fd } = setup();
    await request(peer, BackendReq.FS_MAP, fsPayload([[0, 0, 16384, FS_FLAG_MAP_R]]), [fd]);
    expect(await request(peer, BackendReq.FS_UNMAP, fsPayload([[0, 4096, 4096, 0]]))).toBe(0n);
    expect(ch.window.mappings.map((m) => [m.offset, m.len, m.fdOffset])).toEqual([[0, 4096, 0], [8192, 8192, 8192]]);
    expect(await request(peer, BackendReq.FS_UNMAP, fsPayload([[0, 0, 0xffff_ffff_ffff_ffffn, 0]]))).toBe(0n);
    expect(ch.window.mappings).toHaveLength(0);
  });

  it('refuses bad requests with -errno: unaligned, outside the window, no fd, bad sizes', async () => {
    const { peer, fd } = setup();
    const neg = (e: number): bigint => BigInt.asUintN(64, BigInt(-e));
    expect(await request(peer, BackendReq.FS_MAP, fsPayload([[0, 100, 4096, 1]]), [fd])).toBe(neg(22));
    expect(await request(peer, BackendReq.FS_MAP, fsPayload([[0, WINDOW, 4096, 1]]), [fd])).toBe(neg(22));
    expect(await request(peer, BackendReq.FS_MAP, fsPayload([[0, 0, 4096, 1]]))).toBe(neg(9));
    const bad = fsPayload([[0, 0, 4096, 1]]);
    bad.writeUInt16LE(5, 4); // count says 5, one entry present
    expect(await request(peer, BackendReq.FS_MAP, bad, [fd])).toBe(neg(22));
    expect(decodeEntries(Buffer.alloc(3))).toBeNull();
  });

  it('FS_IO moves bytes between the file and guest RAM, both directions', async () => {
    const { ch, peer, fd, file, ram } = setup();
    const off = ram.allocate(8192, 4096);
    const gpa = RAM_GPA + BigInt(off);
    expect(await request(peer, BackendReq.FS_IO, fsPayload([[4096, gpa, 4096, FS_FLAG_MAP_R]]), [fd])).toBe(4096n);
    expect(ram.buf.subarray(off, off + 4096).equals(readFileSync(file).subarray(4096, 8192))).toBe(true);
    ram.buf.write('written by FS_IO', off + 4096);
    expect(await request(peer, BackendReq.FS_IO, fsPayload([[0, gpa + 4096n, 16, FS_FLAG_MAP_W]]), [fd])).toBe(16n);
    expect(readFileSync(file).subarray(0, 16).toString()).toBe('written by FS_IO');
    // a guest address in neither RAM nor the window faults
    expect(await request(peer, BackendReq.FS_IO, fsPayload([[0, 0x10n, 16, FS_FLAG_MAP_R]]), [fd])).toBe(BigInt.asUintN(64, -14n));
    expect(ch.events.at(-1)!.result).toBe(-14);
  });

  it('understands the older fixed-array layout (256 bytes)', async () => {
    const { ch, peer, fd } = setup();
    const p = Buffer.alloc(256);
    p.writeBigUInt64LE(0n, 0); // fd_offset[0]
    p.writeBigUInt64LE(8192n, 64); // c_offset[0]
    p.writeBigUInt64LE(4096n, 128); // len[0]
    p.writeBigUInt64LE(1n, 192); // flags[0]
    expect(await request(peer, BackendReq.FS_MAP, p, [fd])).toBe(0n);
    expect(ch.window.mappings.map((m) => [m.offset, m.len])).toEqual([[8192, 4096]]);
  });

  it('SHMEM_MAP / SHMEM_UNMAP: exact-match unmap, reply 0 / 1', async () => {
    const { ch, peer, fd } = setup();
    const shm = (off: number, len: number, flags = 1): Buffer => {
      const p = Buffer.alloc(40);
      p.writeBigUInt64LE(0n, 8);
      p.writeBigUInt64LE(BigInt(off), 16);
      p.writeBigUInt64LE(BigInt(len), 24);
      p.writeBigUInt64LE(BigInt(flags), 32);
      return p;
    };
    expect(await request(peer, BackendReq.SHMEM_MAP, shm(0, 8192), [fd])).toBe(0n);
    expect(await request(peer, BackendReq.SHMEM_UNMAP, shm(0, 4096))).toBe(1n); // not an exact match
    expect(await request(peer, BackendReq.SHMEM_UNMAP, shm(0, 8192))).toBe(0n);
    expect(ch.window.mappings).toHaveLength(0);
    const other = shm(0, 4096);
    other.writeUInt8(1, 0); // shmid 1: no such region
    expect(await request(peer, BackendReq.SHMEM_MAP, other, [fd])).toBe(1n);
  });
});
