// The vhost-user control channel of the real daemon: replies, acks, refusals, disconnects on
// undecodable messages, ring stop/restart (guest reboot) and device reset.
import { afterEach, describe, expect, it } from 'vitest';
import { native } from '../../src/native/binding.js';
import { FLAG_NEED_REPLY, Feature, ProtocolFeature, Req, u64Payload, vringStatePayload } from '../../src/vhost/protocol.js';
import { VhostUserFrontend } from '../../src/frontend/vhost-user-frontend.js';
import { FuseClient } from '../../src/frontend/fuse-client.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { until } from '../helpers/wait.js';

let daemon: RunningDaemon | undefined;
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
});

describe('vhost-user control channel', () => {
  it('offers the virtio-fs feature set', async () => {
    daemon = await startDaemon();
    const fe = VhostUserFrontend.connect({ socketPath: daemon.socketPath });
    const features = fe.requestU64(Req.GET_FEATURES);
    for (const f of [Feature.VERSION_1, Feature.RING_EVENT_IDX, Feature.RING_INDIRECT_DESC, Feature.PROTOCOL_FEATURES]) {
      expect(features & f).toBe(f);
    }
    const proto = fe.requestU64(Req.GET_PROTOCOL_FEATURES);
    for (const f of [ProtocolFeature.MQ, ProtocolFeature.REPLY_ACK, ProtocolFeature.CONFIGURE_MEM_SLOTS, ProtocolFeature.BACKEND_REQ, ProtocolFeature.RESET_DEVICE]) {
      expect(proto & f).toBe(f);
    }
    expect(fe.requestU64(Req.GET_QUEUE_NUM)).toBeGreaterThanOrEqual(2n);
    expect(fe.requestU64(Req.GET_MAX_MEM_SLOTS)).toBeGreaterThanOrEqual(32n);
    fe.close();
  });

  it('nacks requests it cannot honour and keeps the connection', async () => {
    daemon = await startDaemon();
    const fe = VhostUserFrontend.connect({ socketPath: daemon.socketPath });
    const nack = (req: number, payload: Buffer): bigint => {
      fe.send(req, payload, undefined, FLAG_NEED_REPLY);
      return fe.receiveReply(req).readBigUInt64LE(0);
    };
    expect(nack(200, Buffer.alloc(8))).not.toBe(0n); // unknown request
    expect(nack(Req.SET_VRING_NUM, vringStatePayload(1, 3))).not.toBe(0n); // not a power of two
    expect(nack(Req.SET_VRING_ENABLE, vringStatePayload(1, 7))).not.toBe(0n);
    expect(nack(Req.SET_FEATURES, u64Payload(1n << 60n))).not.toBe(0n); // never offered
    expect(nack(Req.SET_VRING_BASE, vringStatePayload(1, 0x10000))).not.toBe(0n);
    // Still serving: a FUSE session works on the same connection.
    const fuse = new FuseClient(fe);
    await fuse.init();
    expect((await fuse.getattr(1)).mode & 0o40000).toBe(0o40000);
    fe.close();
    expect(await daemon.exited).toBe(0);
  });

  const fatal: [string, (fd: number) => void][] = [
    ['an oversized payload', (fd) => sendRaw(fd, Req.SET_FEATURES, 0x1, Buffer.alloc(8), 1 << 20)],
    ['a bad version', (fd) => sendRaw(fd, Req.GET_FEATURES, 0x2, Buffer.alloc(0))],
    ['a wrong payload size', (fd) => sendRaw(fd, Req.SET_FEATURES, 0x1, Buffer.alloc(3))],
    ['a queue index out of range', (fd) => sendRaw(fd, Req.SET_VRING_NUM, 0x1, vringStatePayload(999, 256))],
    ['a mem table with more regions than fds', (fd) => {
      const p = Buffer.alloc(8 + 32 * 8);
      p.writeUInt32LE(2, 0);
      sendRaw(fd, Req.SET_MEM_TABLE, 0x1, p);
    }],
    ['a query it cannot answer', (fd) => sendRaw(fd, Req.GET_INFLIGHT_FD, 0x1, Buffer.alloc(24))],
  ];
  for (const [what, send] of fatal) {
    it(`logs and disconnects on ${what}, exiting 0`, async () => {
      daemon = await startDaemon();
      const fd = native.socketConnect(daemon.socketPath);
      send(fd);
      expect(await daemon.exited).toBe(0);
      expect(daemon.stderr()).toMatch(/protocol error|closing/i);
      native.closeFd(fd);
    });
  }

  it('stops a ring on GET_VRING_BASE and resumes it after a re-kick (guest reboot)', async () => {
    daemon = await startDaemon();
    const fe = VhostUserFrontend.connect({ socketPath: daemon.socketPath, queueSize: 64 });
    const fuse = new FuseClient(fe);
    await fuse.init();
    await fuse.getattr(1);
    // Stop every ring, as QEMU does when the guest reboots.
    const bases = fe.queues.map((q) => fe.getVringBase(q.index));
    expect(bases[1]).toBe(2); // INIT + GETATTR were consumed on the request queue
    // Restart from where we stopped, with new kick fds.
    for (const q of fe.queues) {
      fe.sendChecked(Req.SET_VRING_BASE, vringStatePayload(q.index, bases[q.index]));
      fe.sendChecked(Req.SET_VRING_KICK, u64Payload(BigInt(q.index)), [q.kickFd]);
    }
    await fuse.init(); // the rebooted guest's new session
    expect((await fuse.getattr(1)).mode & 0o40000).toBe(0o40000);
    fe.close();
  });

  it('answers requests in flight before reporting the base of a paused ring (VM stop/cont)', async () => {
    daemon = await startDaemon({ args: ['--thread-pool-size=1'] });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${daemon.shareDir}/f`, Buffer.alloc(1 << 20, 7));
    const fe = VhostUserFrontend.connect({ socketPath: daemon.socketPath, queueSize: 64 });
    const q = fe.queues[1];
    const fuse = new FuseClient(fe);
    await fuse.init();
    const e = await fuse.lookup(1, 'f');
    const { fh } = await fuse.open(e.nodeid, 0);
    let done = 0;
    const reads = Array.from({ length: 32 }, () => fuse.read(e.nodeid, fh, 0, 65536).then((b) => {
      expect(b.length).toBe(65536);
      done++;
    }));
    await new Promise((r) => setImmediate(r));
    // What QEMU does on `stop`: disable, then GET_VRING_BASE.
    fe.sendChecked(Req.SET_VRING_ENABLE, vringStatePayload(1, 0));
    const base = fe.getVringBase(1);
    // Every chain the daemon took was answered and published before it reported the base.
    expect(fe.ram.buf.readUInt16LE(q.usedOff + 2)).toBe(base);
    // `cont`: same base, new kick, enable.
    fe.sendChecked(Req.SET_VRING_BASE, vringStatePayload(1, base));
    fe.sendChecked(Req.SET_VRING_KICK, u64Payload(1n), [q.kickFd]);
    fe.sendChecked(Req.SET_VRING_ENABLE, vringStatePayload(1, 1));
    q.harvest();
    await Promise.all(reads);
    expect(done).toBe(32);
    expect((await fuse.getattr(1)).mode & 0o40000).toBe(0o40000);
    fe.close();
  });

  it('keeps serving the control channel when the guest corrupts a ring', async () => {
    daemon = await startDaemon();
    const fe = VhostUserFrontend.connect({ socketPath: daemon.socketPath, queueSize: 64 });
    const fuse = new FuseClient(fe);
    await fuse.init();
    const q = fe.queues[1];
    fe.ram.buf.writeUInt16LE(fe.ram.buf.readUInt16LE(q.availOff + 2) + 65, q.availOff + 2);
    native.eventfdWrite(q.kickFd); // a raw kick: the driver's own kick() would be suppressed
    // The daemon has handled the kick once it reports the ring broken.
    await until(() => /broken/.test(daemon!.stderr()), 'the daemon to find the ring broken');
    // The daemon is not spinning: it still answers the front-end.
    expect(fe.requestU64(Req.GET_FEATURES)).toBeGreaterThan(0n);
    fe.close();
    expect(await daemon.exited).toBe(0);
    expect(daemon.stderr(), daemon.stderr()).toMatch(/broken/);
  });

  it('serves again after RESET_DEVICE and a fresh handshake on new rings', async () => {
    daemon = await startDaemon();
    const fe = VhostUserFrontend.connect({ socketPath: daemon.socketPath });
    const fuse = new FuseClient(fe);
    await fuse.init();
    fe.sendChecked(Req.RESET_DEVICE, Buffer.alloc(0));
    fe.close();
    // The daemon serves one connection: after the frontend leaves it exits cleanly.
    expect(await daemon.exited).toBe(0);
  });

  it('maps memory added with ADD_MEM_REG and forgets it on REM_MEM_REG', async () => {
    daemon = await startDaemon();
    const fe = VhostUserFrontend.connect({ socketPath: daemon.socketPath });
    const fuse = new FuseClient(fe);
    await fuse.init();
    const extraFd = native.memfdCreate('extra', 1 << 20);
    const region = Buffer.alloc(40);
    region.writeBigUInt64LE(0x9000_0000n, 8);
    region.writeBigUInt64LE(1n << 20n, 16);
    region.writeBigUInt64LE(0x6000_0000_0000n, 24);
    fe.sendChecked(Req.ADD_MEM_REG, region, [extraFd]);
    // Overlapping the region again is refused.
    expect(() => fe.sendChecked(Req.ADD_MEM_REG, region, [extraFd])).toThrow(/refused/);
    fe.sendChecked(Req.REM_MEM_REG, region);
    expect(() => fe.sendChecked(Req.REM_MEM_REG, region)).toThrow(/refused/);
    native.closeFd(extraFd);
    expect((await fuse.getattr(1)).nlink).toBeGreaterThan(0);
    fe.close();
  });
});

function sendRaw(fd: number, request: number, flags: number, payload: Buffer, claimedSize = payload.length): void {
  const msg = Buffer.alloc(12 + payload.length);
  msg.writeUInt32LE(request, 0);
  msg.writeUInt32LE(flags, 4);
  msg.writeUInt32LE(claimedSize, 8);
  payload.copy(msg, 12);
  native.setBlocking(fd, true);
  expect(native.socketSend(fd, msg, 0, msg.length)).toBe(msg.length);
}
