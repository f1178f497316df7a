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
  /** Virtio config space (GET_CONFIG); offering CONFIG only when defined. */
  readonly config?: Buffer;
  /** Sizes of the device's shared memory regions (GET_SHMEM_CONFIG); SHMEM only when non-empty. */
  readonly shmemRegions: bigint[];

  /**
   * Queue `index` is started and enabled: serve it. `kickFd` is watched by the device and
   * stays owned by the back-end; `queueSize` is the negotiated ring size.
   */
  startQueue(index: number, queue: VirtQueue, kickFd: number, queueSize: number): void;
  /** Stop taking requests from queue `index` (SET_VRING_ENABLE 0); replies still go out. */
  pauseQueue(index: number): void;
  /** Take requests again, watching `kickFd` (SET_VRING_ENABLE 1, or a new SET_VRING_KICK). */
  resumeQueue(index: number, kickFd: number): void;
  /** Resolves true once every request taken from the queue has been answered, false on timeout. */
  drainQueue(index: number, timeoutMs: number): Promise<boolean>;
  /** Stop serving queue `index` for good (GET_VRING_BASE, reset, disconnect). */
  stopQueue(index: number): void;
  /** The front-end reset the device (RESET_DEVICE / RESET_OWNER) or went away. */
  reset(): void;
}
