// The device-side split virtqueue, driven in-process over a real memfd "guest memory": we
// play the driver by writing descriptors and ring entries into the shared Buffer, then check
// what the native queue pops, stages, completes and refuses.
import { beforeEach, describe, expect, it } from 'vitest';
import { native, type GuestMemory, type VirtQueue } from '../../../src/native/binding.js';

const SIZE = 16;
const GPA = 0x10000n;
const UVA = 0x7000_0000n;
const MEM = 1 << 20;
const DESC = 0;
const AVAIL = 4096;
const USED = 8192;
const F_NEXT = 1;
const F_WRITE = 2;
const F_INDIRECT = 4;
const SLOT = 256;

interface Ring {
  buf: Buffer;
  mem: GuestMemory;
  q: VirtQueue;
  infos: Uint32Array;
  arena: Buffer;
  availIdx: number;
}

function setup(eventIdx = false): Ring {
  const fd = native.memfdCreate('vq-test', MEM);
  const buf = native.mapShared(fd, MEM, 0);
  const mem = new native.GuestMemory();
  expect(mem.addRegion(fd, GPA, BigInt(MEM), UVA, 0n)).toBe(0);
  native.closeFd(fd);
  const q = new native.VirtQueue(mem);
  expect(q.start(SIZE, UVA + BigInt(DESC), UVA + BigInt(AVAIL), UVA + BigInt(USED), eventIdx, 0)).toBe('');
  return { buf, mem, q, infos: new Uint32Array(4 * SIZE), arena: Buffer.alloc(SIZE * SLOT), availIdx: 0 };
}

function desc(r: Ring, i: number, addr: bigint, len: number, flags: number, next = 0, table = DESC): void {
  const off = table + 16 * i;
  r.buf.writeBigUInt64LE(addr, off);
  r.buf.writeUInt32LE(len, off + 8);
  r.buf.writeUInt16LE(flags, off + 12);
  r.buf.writeUInt16LE(next, off + 14);
}

function publish(r: Ring, head: number): void {
  r.buf.writeUInt16LE(head, AVAIL + 4 + 2 * (r.availIdx % SIZE));
  r.availIdx = (r.availIdx + 1) & 0xffff;
  r.buf.writeUInt16LE(r.availIdx, AVAIL + 2);
}

function pop(r: Ring): number {
  return r.q.pop(r.infos, SIZE, r.arena, SLOT);
}

function usedIdx(r: Ring): number {
  return r.buf.readUInt16LE(USED + 2);
}

function usedElem(r: Ring, i: number): { id: number; len: number } {
  const off = USED + 4 + 8 * i;
  return { id: r.buf.readUInt32LE(off), len: r.buf.readUInt32LE(off + 4) };
}

describe('split virtqueue (device side)', () => {
  let r: Ring;
  beforeEach(() => {
    r = setup();
  });

  it('pops a chain, stages its readable bytes and completes it', () => {
    const reqOff = 0x20000;
    r.buf.write('hello request', reqOff);
    desc(r, 0, GPA + BigInt(reqOff), 13, F_NEXT, 1);
    desc(r, 1, GPA + 0x30000n, 100, F_WRITE);
    publish(r, 0);
    expect(pop(r)).toBe(1);
    expect([...r.infos.subarray(0, 4)]).toEqual([0, 13, 100, 13]);
    expect(r.arena.subarray(0, 13).toString()).toBe('hello request');
    expect(r.q.complete(0, Buffer.from('reply!'), 0, 6, 6)).toBe(true);
    expect(usedIdx(r)).toBe(0); // not published before flush
    expect(r.q.flush()).toBe(true);
    expect(usedIdx(r)).toBe(1);
    expect(usedElem(r, 0)).toEqual({ id: 0, len: 6 });
    expect(r.buf.subarray(0x30000, 0x30006).toString()).toBe('reply!');
    expect(r.q.complete(0, Buffer.from('x'), 0, 1, 1)).toBe(false); // no longer in flight
  });

  it('gathers a request split across descriptors and an indirect table', () => {
    r.buf.write('abc', 0x20000);
    r.buf.write('defgh', 0x20100);
    const table = 0x40000;
    desc(r, 0, GPA + 0x20000n, 3, F_NEXT, 1, table);
    desc(r, 1, GPA + 0x20100n, 5, F_NEXT, 2, table);
    desc(r, 2, GPA + 0x30000n, 64, F_WRITE, 0, table);
    desc(r, 3, GPA + BigInt(table), 48, F_INDIRECT);
    publish(r, 3);
    expect(pop(r)).toBe(1);
    expect([...r.infos.subarray(0, 4)]).toEqual([3, 8, 64, 8]);
    expect(r.arena.subarray(3 * SLOT, 3 * SLOT + 8).toString()).toBe('abcdefgh');
    const dst = Buffer.alloc(4);
    expect(r.q.readInput(3, 2, dst, 0, 4)).toBe(4);
    expect(dst.toString()).toBe('cdef');
  });

  const malformed: [string, (r: Ring) => number][] = [
    ['address outside guest memory', (r) => (desc(r, 0, GPA + BigInt(MEM), 16, 0), 0)],
    ['length running past the region', (r) => (desc(r, 0, GPA + BigInt(MEM - 8), 16, 0), 0)],
    ['address wrapping around 2^64', (r) => (desc(r, 0, 0xffff_ffff_ffff_fff0n, 0x20, 0), 0)],
    ['a loop', (r) => (desc(r, 0, GPA, 8, F_NEXT, 1), desc(r, 1, GPA, 8, F_NEXT, 0), 0)],
    ['next index out of the queue', (r) => (desc(r, 0, GPA, 8, F_NEXT, 999), 0)],
    ['readable after writable', (r) => (desc(r, 0, GPA, 8, F_WRITE | F_NEXT, 1), desc(r, 1, GPA, 8, 0), 0)],
    ['indirect with NEXT', (r) => (desc(r, 0, GPA + 0x40000n, 16, F_INDIRECT | F_NEXT, 1), desc(r, 1, GPA, 8, 0), 0)],
    ['indirect table of odd length', (r) => (desc(r, 0, GPA + 0x40000n, 17, F_INDIRECT), 0)],
    ['empty indirect table', (r) => (desc(r, 0, GPA + 0x40000n, 0, F_INDIRECT), 0)],
    ['indirect table outside memory', (r) => (desc(r, 0, GPA + BigInt(MEM), 32, F_INDIRECT), 0)],
    [
      'nested indirect table',
      (r) => (desc(r, 0, GPA + 0x40000n, 16, F_INDIRECT, 0, 0x40000), desc(r, 0, GPA + 0x40000n, 16, F_INDIRECT), 0),
    ],
    [
      'indirect loop',
      (r) => (desc(r, 0, GPA, 8, F_NEXT, 1, 0x40000), desc(r, 1, GPA, 8, F_NEXT, 0, 0x40000), desc(r, 0, GPA + 0x40000n, 32, F_INDIRECT), 0),
    ],
  ];

  for (const [name, build] of malformed) {
    it(`returns a chain with ${name} empty and keeps serving`, () => {
      const head = build(r);
      publish(r, head);
      expect(pop(r)).toBe(0);
      r.q.flush();
      expect(usedIdx(r)).toBe(1);
      expect(usedElem(r, 0)).toEqual({ id: head, len: 0 });
      expect(r.q.counters().malformed).toBe(1);
      // A good chain afterwards still works.
      desc(r, 5, GPA + 0x20000n, 8, F_NEXT, 6);
      desc(r, 6, GPA + 0x30000n, 8, F_WRITE);
      publish(r, 5);
      expect(pop(r)).toBe(1);
      expect(r.infos[0]).toBe(5);
    });
  }

  it('skips an avail entry naming a descriptor beyond the queue, and a head made available twice', () => {
    publish(r, 200);
    expect(pop(r)).toBe(0);
    desc(r, 2, GPA + 0x20000n, 8, 0);
    publish(r, 2);
    publish(r, 2);
    expect(pop(r)).toBe(1);
    expect(r.q.counters().malformed).toBe(2);
  });

  it('refuses to believe an avail index that moved by more than the queue size', () => {
    r.buf.writeUInt16LE(SIZE + 1, AVAIL + 2);
    expect(pop(r)).toBe(0);
    expect(r.q.counters().malformed).toBe(1);
  });

  it('clamps the used length to the writable bytes and never writes past them', () => {
    desc(r, 0, GPA + 0x20000n, 8, F_NEXT, 1);
    desc(r, 1, GPA + 0x30000n, 4, F_WRITE);
    r.buf.fill(0xee, 0x30000, 0x30010);
    publish(r, 0);
    expect(pop(r)).toBe(1);
    r.q.complete(0, Buffer.from('0123456789'), 0, 10, 10);
    r.q.flush();
    expect(usedElem(r, 0)).toEqual({ id: 0, len: 4 });
    expect(r.buf.subarray(0x30000, 0x30005)).toEqual(Buffer.from([0x30, 0x31, 0x32, 0x33, 0xee]));
  });

  it('does file I/O straight between a descriptor chain and a file', async () => {
    const { mkdtempSync, openSync, readFileSync, writeFileSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/vq-');
    writeFileSync(`${dir}/f`, 'file contents here');
    const fd = openSync(`${dir}/f`, 'r+');
    r.buf.write('HDR-PAYLOAD', 0x20000);
    desc(r, 0, GPA + 0x20000n, 11, F_NEXT, 1);
    desc(r, 1, GPA + 0x30000n, 4, F_WRITE | F_NEXT, 2);
    desc(r, 2, GPA + 0x31000n, 8, F_WRITE);
    publish(r, 0);
    expect(pop(r)).toBe(1);
    // Read 10 bytes at file offset 5 into reply offset 2: spans both writable descriptors.
    expect(r.q.preadInto(0, fd, 2, 10, 5n)).toBe(10);
    expect(r.buf.subarray(0x30002, 0x30004).toString() + r.buf.subarray(0x31000, 0x31008).toString()).toBe('contents h');
    // Write request bytes 4.. (PAYLOAD) to the file at offset 0.
    expect(r.q.pwriteFrom(0, fd, 4, 7, 0n)).toBe(7);
    expect(readFileSync(`${dir}/f`, 'utf8').startsWith('PAYLOAD')).toBe(true);
  });

  it('suppresses interrupts with EVENT_IDX until the driver asks', () => {
    r = setup(true);
    for (const head of [0, 1]) {
      desc(r, head, GPA + 0x20000n, 8, 0);
      publish(r, head);
    }
    expect(pop(r)).toBe(2);
    // used_event (after the avail ring) = 0: the driver wants a call once entry 0 is used.
    r.buf.writeUInt16LE(0, AVAIL + 4 + 2 * SIZE);
    // complete() publishes at once when that crosses used_event (the interrupt is due anyway).
    r.q.complete(0, Buffer.alloc(0), 0, 0, 0);
    expect(r.buf.readUInt16LE(USED + 2)).toBe(1);
    expect(r.q.counters().notifications).toBe(1);
    expect(r.q.flush()).toBe(false); // nothing left to publish
    r.q.complete(1, Buffer.alloc(0), 0, 0, 0);
    expect(r.buf.readUInt16LE(USED + 2)).toBe(1); // not due: left for the batch publish
    expect(r.q.flush()).toBe(false); // driver has not moved used_event
    expect(r.buf.readUInt16LE(USED + 2)).toBe(2);
    expect(r.q.counters().notifications).toBe(1);
    // enableNotification publishes avail_event = last avail index and re-checks.
    expect(r.q.enableNotification()).toBe(false);
    expect(r.buf.readUInt16LE(USED + 4 + 8 * SIZE)).toBe(2);
  });

  it('stops and reports the next avail index; refuses rings outside memory', () => {
    desc(r, 0, GPA + 0x20000n, 8, 0);
    publish(r, 0);
    expect(pop(r)).toBe(1);
    expect(r.q.stop()).toBe(1);
    expect(pop(r)).toBe(0);
    expect(r.q.start(SIZE, 0x1234n, UVA, UVA, false, 0)).not.toBe('');
    expect(r.q.start(3, UVA, UVA, UVA, false, 0)).not.toBe('');
  });

  it('keeps in-flight I/O safe when the memory table changes under it', () => {
    desc(r, 0, GPA + 0x20000n, 8, F_NEXT, 1);
    desc(r, 1, GPA + 0x30000n, 8, F_WRITE);
    publish(r, 0);
    expect(pop(r)).toBe(1);
    expect(r.mem.removeRegion(GPA, BigInt(MEM))).toBe(0);
    // The rings are no longer mapped: remap stops the queue with a reason...
    expect(r.q.remap()).not.toBe('');
    // ...and the chain popped before is no longer in flight, so nothing touches freed memory.
    expect(r.q.complete(0, Buffer.from('x'), 0, 1, 1)).toBe(false);
  });
});
