/**
 * What the vhost-user back-end needs from a device (virtio-fs here): a small interface in the
 * spirit of rust-vmm's VhostUserBackend. The back-end owns the protocol, the memory table and
 * every descriptor; the device only serves queues it is handed.
 */
import type { VirtQueue } from '../native/binding.js';

export interface VhostUserDevice {
  /** Queues the device supports (GET_QUEUE_NUM). */
  readonly maxQueues: number;
  /** Largest queue size accepted in SET_VRING_NUM. */
  readonly maxQueueSize: number;
  /** Device-specific virtio feature bits offered besides the ring/transport ones. */
  readonly deviceFeatures: bigint;

  /**
   * Queue `index` is started and enabled: serve it. `kickFd` is watched by the device and
   * stays owned by the back-end; `queueSize` is the negotiated ring size.
   */
  startQueue(index: number, queue: VirtQueue, kickFd: number, queueSize: number): void;
  /** Stop serving queue `index` (GET_VRING_BASE, disable, reset, disconnect). */
  stopQueue(index: number): void;
  /** The front-end reset the device (RESET_DEVICE / RESET_OWNER) or went away. */
  reset(): void;
}
