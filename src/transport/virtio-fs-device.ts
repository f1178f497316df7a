/**
 * The virtio-fs device behind the vhost-user back-end: queue 0 is the high-priority queue
 * (FORGET, INTERRUPT), queues 1..N carry requests. Every queue feeds the same FUSE core.
 */
import type { FuseFastPath, VirtQueue } from '../native/binding.js';
import type { VhostUserDevice } from '../vhost/device.js';
import type { FuseRequestHandler } from '../fuse/transport.js';
import type { Logger } from '../logger.js';
import type { ForeignMemoryIo } from './foreign-memory.js';
import { VirtqueueTransport } from './virtqueue-transport.js';

/** QEMU's vhost-user-fs-pci allows queue-size up to 1024; the virtio maximum is 32768. */
const MAX_QUEUE_SIZE = 32768;

export interface VirtioFsDeviceOptions {
  /** Request queues offered (the guest uses what QEMU's num-request-queues asks for). */
  requestQueues: number;
  handler: FuseRequestHandler;
  log: Logger;
  /** Called on device reset or disconnect: the FUSE session is over. */
  onReset: () => void;
  /** Mount tag answered through GET_CONFIG (`--tag`); without it QEMU supplies the tag. */
  tag?: string;
  /** DAX window size declared as shared memory region 0 (`--dax-window`). */
  daxWindow?: bigint;
  /**
   * Who moves bytes of chains that point outside our memory table, asked when a queue starts
   * (after feature negotiation): Kata's FS_IO while its DAX protocol is in use, else nobody.
   */
  foreignIo?: () => ForeignMemoryIo | undefined;
  /** Native READ/WRITE fast path shared by the request queues (src/transport/fast-path.ts). */
  fastPath?: FuseFastPath;
}

/** struct virtio_fs_config { u8 tag[36]; le32 num_request_queues; } */
const TAG_SIZE = 36;
export const VIRTIO_FS_CONFIG_SIZE = 40;

export function virtioFsConfig(tag: string, requestQueues: number): Buffer {
  const b = Buffer.alloc(VIRTIO_FS_CONFIG_SIZE);
  const bytes = Buffer.from(tag, 'utf8');
  if (bytes.length === 0 || bytes.length > TAG_SIZE) throw new RangeError(`a virtio-fs tag is 1..${TAG_SIZE} bytes`);
  bytes.copy(b, 0);
  b.writeUInt32LE(requestQueues, TAG_SIZE);
  return b;
}

export class VirtioFsDevice implements VhostUserDevice {
  readonly maxQueues: number;
  readonly maxQueueSize = MAX_QUEUE_SIZE;
  readonly deviceFeatures = 0n;
  readonly config: Buffer | undefined;
  readonly shmemRegions: bigint[];
  private readonly transports = new Map<number, VirtqueueTransport>();

  constructor(private readonly options: VirtioFsDeviceOptions) {
    this.maxQueues = 1 + options.requestQueues;
    // The config space tells a generic front-end's guest how many request queues to use. The
    // guest refuses the device if that exceeds the queues the VMM created (num_vqs - 1), which
    // we cannot know: announce one, which every front-end provides.
    this.config = options.tag !== undefined ? virtioFsConfig(options.tag, 1) : undefined;
    this.shmemRegions = options.daxWindow !== undefined ? [options.daxWindow] : [];
  }

  startQueue(index: number, queue: VirtQueue, kickFd: number, queueSize: number): void {
    this.stopQueue(index);
    const t = new VirtqueueTransport(index, queue, queueSize, kickFd, this.options.handler, this.options.log, this.options.fastPath, this.options.foreignIo?.());
    this.transports.set(index, t);
    t.start();
  }

  pauseQueue(index: number): void {
    this.transports.get(index)?.pause();
  }

  resumeQueue(index: number, kickFd: number): void {
    this.transports.get(index)?.resume(kickFd);
  }

  drainQueue(index: number, timeoutMs: number): Promise<boolean> {
    return this.transports.get(index)?.drained(timeoutMs) ?? Promise.resolve(true);
  }

  stopQueue(index: number): void {
    const t = this.transports.get(index);
    if (t === undefined) return;
    t.stop();
    this.transports.delete(index);
  }

  reset(): void {
    for (const index of [...this.transports.keys()]) this.stopQueue(index);
    this.options.onReset();
  }

  /** Per-queue counters for metrics and the SIGUSR1 dump. */
  queueStats(): Record<number, { requests: number; batches: number; malformed: number }> {
    const out: Record<number, { requests: number; batches: number; malformed: number }> = {};
    for (const [i, t] of this.transports) {
      out[i] = { ...t.stats, malformed: t.queue.counters().malformed };
    }
    return out;
  }
}
