// The frontend's driver-side ring against the daemon's native device-side ring, in one
// process over one memfd: chains go in through DriverQueue, come out of the native VirtQueue's
// pop, are completed and flushed, and DriverQueue harvests them — including the EVENT_IDX
// notification suppression on both sides, raw (fuzzer) descriptors, and device misbehaviour.
import { afterEach, describe, expect, it } from 'vitest';
import { native, type GuestMemory, type VirtQueue } from '../../../src/native/binding.js';
import { GuestRam, RAM_GPA, RAM_UVA } from '../../../src/frontend/guest-ram.js';
import { DESC_F_NEXT, DESC_F_WRITE, DriverQueue } from '../../../src/frontend/driver-queue.js';

const SIZE = 16;
const SLOT = 256;

interface Rig {
  ram: GuestRam;
  mem: GuestMemory;
  dq: DriverQueue;
  vq: VirtQueue;
  infos: Uint32Array;
  arena: Buffer;
}

const rigs: Rig[] = [];

function rig(eventIdx: boolean): Rig {
  const ram = new GuestRam(1 << 20);
  const mem = new native.GuestMemory();
  expect(mem.addRegion(ram.fd, RAM_GPA, BigInt(ram.size), RAM_UVA, 0n)).toBe(0);
  const dq = new DriverQueue(ram, 1, SIZE, eventIdx);
  const vq = new native.VirtQueue(mem);
  expect(vq.start(SIZE, ram.uva(dq.descOff), ram.uva(dq.availOff), ram.uva(dq.usedOff), eventIdx, 0)).toBe('');
  vq.setCallFd(dq.callFd);
  const r = { ram, mem, dq, vq, infos: new Uint32Array(4 * SIZE), arena: Buffer.alloc(SIZE * SLOT) };
  rigs.push(r);
  return r;
}

afterEach(() => {
  for (const r of rigs.splice(0)) {
    r.vq.stop();
    r.dq.close();
    r.ram.close();
  }
});

function pop(r: Rig): number[] {
  const n = r.vq.pop(r.infos, SIZE, r.arena, SLOT);
  return Array.from({ length: n }, (_, i) => r.infos[4 * i]);
}

describe('DriverQueue against the native device queue', () => {
  it('round-trips chains, frees their descriptors, and reuses them', () => {
    const r = rig(false);
    const req = r.ram.allocate(64);
    const rep = r.ram.allocate(64);
    r.ram.buf.write('hello', req);
    const got: number[] = [];
    for (let round = 0; round < 3 * SIZE; round++) {
      expect(r.dq.add([{ offset: req, len: 5, writable: false }, { offset: rep, len: 64, writable: true }], (len) => got.push(len))).toBe(true);
      const heads = pop(r);
      expect(heads).toHaveLength(1);
      expect(r.infos[1]).toBe(5); // readable bytes
      expect(r.infos[2]).toBe(64); // writable bytes
      expect(r.arena.subarray(heads[0] * SLOT, heads[0] * SLOT + 5).toString()).toBe('hello');
      expect(r.vq.complete(heads[0], Buffer.from('reply'), 0, 5, 5)).toBe(true);
      r.vq.flush();
      expect(r.dq.harvest()).toBe(1);
    }
    expect(got).toEqual(new Array(3 * SIZE).fill(5));
    expect(r.dq.free).toBe(SIZE);
    expect(r.ram.buf.toString('latin1', rep, rep + 5)).toBe('reply');
  });

  it('refuses chains when descriptors run out, and accepts them again after completion', () => {
    const r = rig(false);
    const off = r.ram.allocate(64);
    const seg = [{ offset: off, len: 8, writable: false }, { offset: off, len: 8, writable: true }];
    for (let i = 0; i < SIZE / 2; i++) expect(r.dq.add(seg, () => {})).toBe(true);
    expect(r.dq.add(seg, () => {})).toBe(false);
    const heads = pop(r);
    expect(heads).toHaveLength(SIZE / 2);
    for (const h of heads) r.vq.complete(h, Buffer.alloc(0), 0, 0, 0);
    r.vq.flush();
    r.dq.harvest();
    expect(r.dq.free).toBe(SIZE);
    expect(r.dq.add(seg, () => {})).toBe(true);
  });

  it('persistent chains are published again and again without re-writing them', () => {
    const r = rig(true);
    const off = r.ram.allocate(64);
    const head = r.dq.allocChain(2, true);
    r.dq.setDescRam(head, off, 8, false, false);
    r.dq.setDescRam(r.dq.descIndex(head, 1), off + 8, 8, true, true);
    let seen = 0;
    r.dq.onUsed = (h, len) => {
      expect(h).toBe(head);
      expect(len).toBe(4);
      seen++;
    };
    for (let i = 0; i < 100; i++) {
      r.dq.publish(head);
      const heads = pop(r);
      expect(heads).toEqual([head]);
      r.vq.complete(head, Buffer.from('abcd'), 0, 4, 4);
      r.vq.flush();
      r.dq.harvest();
    }
    expect(seen).toBe(100);
    expect(r.dq.free).toBe(SIZE - 2);
    r.dq.freeChain(head);
    expect(r.dq.free).toBe(SIZE);
  });

  it('with EVENT_IDX, kicks only when the device asked for it and gets interrupts only when it asked', () => {
    const r = rig(true);
    const off = r.ram.allocate(64);
    const seg = [{ offset: off, len: 8, writable: false }, { offset: off, len: 8, writable: true }];
    r.dq.add(seg, () => {});
    r.dq.kick();
    expect(r.dq.stats.kicks).toBe(1); // avail_event 0: the device wants the first one
    expect(pop(r)).toHaveLength(1);
    // The device is busy (has not re-enabled): further kicks are suppressed.
    r.dq.add(seg, () => {});
    r.dq.kick();
    expect(r.dq.stats.kicks).toBe(1);
    expect(r.dq.stats.kicksSuppressed).toBe(1);
    // The device drains, re-enables (writes avail_event), and sees the pending chain itself.
    expect(r.vq.enableNotification()).toBe(true);
    expect(pop(r)).toHaveLength(1);
    expect(r.vq.enableNotification()).toBe(false);
    r.dq.add(seg, () => {});
    r.dq.kick();
    expect(r.dq.stats.kicks).toBe(2);
    // used_event: the driver harvested nothing yet, so the first completion interrupts.
    const h = pop(r)[0];
    // complete() publishes and signals at once when the interrupt is due.
    r.vq.complete(h, Buffer.alloc(0), 0, 0, 0);
    expect(r.vq.flush()).toBe(false);
    expect(native.eventfdRead(r.dq.callFd)).toBeGreaterThan(0);
    expect(r.dq.harvest()).toBe(1);
  });

  it('raw descriptors: whatever is written, the free list stays the driver’s own', () => {
    const r = rig(false);
    const head = r.dq.allocChain(3);
    const idx = [0, 1, 2].map((i) => r.dq.descIndex(head, i));
    // a loop: 0 → 1 → 2 → 0
    r.dq.writeRawDescriptor(idx[0], r.ram.gpa(0), 8, DESC_F_NEXT, idx[1]);
    r.dq.writeRawDescriptor(idx[1], r.ram.gpa(8), 8, DESC_F_NEXT, idx[2]);
    r.dq.writeRawDescriptor(idx[2], r.ram.gpa(16), 8, DESC_F_NEXT | DESC_F_WRITE, idx[0]);
    let used = -1;
    r.dq.publish(head, (len) => (used = len));
    expect(pop(r)).toHaveLength(0); // malformed: returned at once with length 0
    r.vq.flush();
    r.dq.harvest();
    expect(used).toBe(0);
    expect(r.dq.free).toBe(SIZE);
    // the next allocation hands out sane, distinct descriptors
    const h2 = r.dq.allocChain(SIZE);
    const all = new Set(Array.from({ length: SIZE }, (_, i) => r.dq.descIndex(h2, i)));
    expect(all.size).toBe(SIZE);
  });

  it('counts device misbehaviour instead of throwing: unknown used ids, index jumps', () => {
    const r = rig(false);
    const errors: string[] = [];
    r.dq.onDeviceError = (m) => errors.push(m);
    // Play a broken device: a used entry for descriptor 5, which was never made available.
    const u32 = r.ram.u32;
    const u16 = r.ram.u16;
    u32[(r.dq.usedOff + 4) >> 2] = 5;
    u32[((r.dq.usedOff + 4) >> 2) + 1] = 0;
    u16[(r.dq.usedOff >> 1) + 1] = 1;
    expect(r.dq.harvest()).toBe(1);
    expect(r.dq.deviceErrors).toBe(1);
    expect(errors[0]).toMatch(/descriptor 5/);
    u16[(r.dq.usedOff >> 1) + 1] = 1 + 3 * SIZE;
    r.dq.harvest();
    expect(r.dq.deviceErrors).toBe(2);
    expect(r.dq.free).toBe(SIZE);
  });

  it('abandoned chains are counted when they come back late', () => {
    const r = rig(false);
    const off = r.ram.allocate(64);
    let called = false;
    r.dq.add([{ offset: off, len: 8, writable: false }], () => (called = true));
    const head = pop(r)[0];
    r.dq.abandon(head);
    r.vq.complete(head, Buffer.alloc(0), 0, 0, 0);
    r.vq.flush();
    r.dq.harvest();
    expect(called).toBe(false);
    expect(r.dq.lateCompletions).toBe(1);
    expect(r.dq.free).toBe(SIZE);
  });

  it('publishRawHead with an out-of-range head: the device skips it, the ring keeps working', () => {
    const r = rig(false);
    r.dq.publishRawHead(SIZE + 3);
    expect(pop(r)).toHaveLength(0);
    const off = r.ram.allocate(64);
    r.dq.add([{ offset: off, len: 8, writable: false }, { offset: off, len: 8, writable: true }], () => {});
    expect(pop(r)).toHaveLength(1);
    expect(r.vq.broken()).toBe(false);
  });
});
