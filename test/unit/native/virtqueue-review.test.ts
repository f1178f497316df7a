// Regressions from the data-path review: a guest that corrupts its avail index must not hang
// the event loop; a restarted ring continues from the used index the guest sees; a memory
// region larger than its file is refused (it would raise SIGBUS on first touch).
import { describe, expect, it } from 'vitest';
import { native } from '../../../src/native/binding.js';
import { VirtqueueTransport } from '../../../src/transport/virtqueue-transport.js';
import { silentLogger } from '../../../src/logger.js';

const SIZE = 8;
const RAM = 1 << 20;

function ring(): { buf: Buffer; mem: ReturnType<typeof mk>['mem']; vq: ReturnType<typeof mk>['vq'] } {
  return mk();
}
function mk() {
  const fd = native.memfdCreate('g', RAM);
  const buf = native.mapShared(fd, RAM, 0);
  const mem = new native.GuestMemory();
  expect(mem.addRegion(fd, 0n, BigInt(RAM), 0x10000n, 0n)).toBe(0);
  native.closeFd(fd);
  const vq = new native.VirtQueue(mem);
  return { buf, mem, vq };
}

describe('virtqueue review regressions', () => {
  it('stops serving a ring whose avail index jumped past the queue, without spinning', () => {
    const { buf, vq } = ring();
    expect(vq.start(SIZE, 0x10000n, 0x11000n, 0x12000n, true, 0)).toBe('');
    buf.writeUInt16LE(SIZE + 1, 0x1000 + 2);
    const kick = native.eventfdCreate(true);
    const t = new VirtqueueTransport(1, vq, SIZE, kick, { handle: (r) => r.noReply() }, silentLogger);
    const t0 = Date.now();
    t.start(); // would loop forever before the fix
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(vq.broken()).toBe(true);
    expect(vq.enableNotification()).toBe(false);
    t.stop();
    // A restart clears the broken state.
    buf.writeUInt16LE(0, 0x1000 + 2);
    expect(vq.start(SIZE, 0x10000n, 0x11000n, 0x12000n, true, 0)).toBe('');
    expect(vq.broken()).toBe(false);
    native.closeFd(kick);
  });

  it('continues from the used index in guest memory after a restart', () => {
    const { buf, vq } = ring();
    buf.writeUInt16LE(5, 0x2000 + 2); // used->idx as the guest last saw it
    expect(vq.start(SIZE, 0x10000n, 0x11000n, 0x12000n, false, 5)).toBe('');
    // One chain: descriptor 0, readable.
    buf.writeBigUInt64LE(0x40000n, 0);
    buf.writeUInt32LE(16, 8);
    buf.writeUInt16LE(0, 0x1000 + 4 + 2 * (5 % SIZE));
    buf.writeUInt16LE(6, 0x1000 + 2);
    const infos = new Uint32Array(4 * SIZE);
    expect(vq.pop(infos, SIZE, Buffer.alloc(SIZE * 64), 64)).toBe(1);
    expect(vq.inFlight()).toBe(1);
    vq.complete(0, Buffer.alloc(0), 0, 0, 0);
    expect(vq.inFlight()).toBe(0);
    vq.flush();
    expect(buf.readUInt16LE(0x2000 + 2)).toBe(6);
    // The element went to slot 5, where the guest looks next.
    expect(buf.readUInt32LE(0x2000 + 4 + 8 * 5)).toBe(0);
  });

  it('refuses a memory region larger than the file backing it', () => {
    const fd = native.memfdCreate('small', 4096);
    const mem = new native.GuestMemory();
    expect(mem.addRegion(fd, 0n, 8192n, 0n, 0n)).toBeLessThan(0);
    expect(mem.addRegion(fd, 0n, 4096n, 0n, 4096n)).toBeLessThan(0);
    expect(mem.addRegion(fd, 0n, 4096n, 0n, 0n)).toBe(0);
    native.closeFd(fd);
  });
});
