// The back-end's device-description requests in-process over a socketpair: GET_CONFIG for the
// mount tag (--tag) and GET_SHMEM_CONFIG for the DAX window (--dax-window), offered only when
// the device has them.
import { afterEach, describe, expect, it } from 'vitest';
import { native } from '../../../src/native/binding.js';
import { VhostUserBackend } from '../../../src/vhost/backend.js';
import { VirtioFsDevice } from '../../../src/transport/virtio-fs-device.js';
import { FLAG_NEED_REPLY, ProtocolFeature, Req, VERSION, u64Payload } from '../../../src/vhost/protocol.js';
import { silentLogger } from '../../../src/logger.js';

const handler = { handle: (r: { noReply(): void }) => r.noReply() };
let backend: VhostUserBackend | undefined;
let peer = -1;
afterEach(() => {
  backend?.close();
  if (peer >= 0) native.closeFd(peer);
  backend = undefined;
  peer = -1;
});

function connect(device: VirtioFsDevice): void {
  const [a, b] = native.socketPair();
  peer = b;
  backend = new VhostUserBackend(a, device, silentLogger, () => {});
}

function send(request: number, payload: Buffer, flags = 0): void {
  const m = Buffer.alloc(12 + payload.length);
  m.writeUInt32LE(request, 0);
  m.writeUInt32LE(VERSION | flags, 4);
  m.writeUInt32LE(payload.length, 8);
  payload.copy(m, 12);
  expect(native.socketSend(peer, m, 0, m.length)).toBe(m.length);
}

async function reply(): Promise<{ request: number; payload: Buffer }> {
  const buf = Buffer.alloc(4096);
  const fds = new Int32Array(9);
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 5));
    const n = native.socketRecv(peer, buf, 0, buf.length, fds);
    if (n > 0) return { request: buf.readUInt32LE(0), payload: Buffer.from(buf.subarray(12, 12 + buf.readUInt32LE(8))) };
  }
  throw new Error('no reply');
}

function device(extra: { tag?: string; daxWindow?: bigint }): VirtioFsDevice {
  return new VirtioFsDevice({ requestQueues: 2, handler, log: silentLogger, onReset: () => {}, ...extra });
}

describe('device description', () => {
  it('offers neither CONFIG nor SHMEM by default', async () => {
    connect(device({}));
    send(Req.GET_PROTOCOL_FEATURES, Buffer.alloc(0));
    const f = (await reply()).payload.readBigUInt64LE(0);
    expect(f & ProtocolFeature.CONFIG).toBe(0n);
    expect(f & ProtocolFeature.SHMEM).toBe(0n);
  });

  it('answers GET_CONFIG with the tag and queue count once CONFIG is negotiated', async () => {
    connect(device({ tag: 'myfs' }));
    send(Req.GET_PROTOCOL_FEATURES, Buffer.alloc(0));
    const f = (await reply()).payload.readBigUInt64LE(0);
    expect(f & ProtocolFeature.CONFIG).toBe(ProtocolFeature.CONFIG);
    send(Req.SET_PROTOCOL_FEATURES, u64Payload(ProtocolFeature.CONFIG | ProtocolFeature.REPLY_ACK));
    const req = Buffer.alloc(12 + 40);
    req.writeUInt32LE(0, 0);
    req.writeUInt32LE(40, 4);
    send(Req.GET_CONFIG, req);
    const r = await reply();
    expect(r.request).toBe(Req.GET_CONFIG);
    expect(r.payload.length).toBe(52);
    expect(r.payload.subarray(12, 16).toString()).toBe('myfs');
    expect(r.payload[16]).toBe(0);
    expect(r.payload.readUInt32LE(12 + 36)).toBe(1);
    // The config space is read-only.
    send(Req.SET_CONFIG, req, FLAG_NEED_REPLY);
    expect((await reply()).payload.readBigUInt64LE(0)).not.toBe(0n);
  });

  it('declares the DAX window as shared memory region 0', async () => {
    connect(device({ daxWindow: 256n << 20n }));
    send(Req.SET_PROTOCOL_FEATURES, u64Payload(ProtocolFeature.SHMEM));
    send(Req.GET_SHMEM_CONFIG, Buffer.alloc(0));
    const r = await reply();
    expect(r.payload.length).toBe(2056);
    expect(r.payload.readUInt32LE(0)).toBe(1);
    expect(r.payload.readBigUInt64LE(8)).toBe(256n << 20n);
  });

  it('refuses tags that do not fit the config space', () => {
    expect(() => device({ tag: 'x'.repeat(37) })).toThrow(RangeError);
    expect(() => device({ tag: '' })).toThrow(RangeError);
  });
});
