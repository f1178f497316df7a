/**
 * Typed view of native/memory_trim.cc: handing start-up's memory back once the daemon is idle
 * (policy: src/daemon/idle-trim.ts).
 */
import { addon } from './load.js';

export interface MemoryTrimAddon {
  /** Opens /proc/self/smaps for a later trimIdle() (call before the sandbox hides /proc): 0 or -errno. */
  trimOpen: () => number;
  /**
   * malloc_trim(0), then MADV_DONTNEED on the read-only mappings of the executable and its shared
   * libraries without private copies, as smaps lists them now: bytes dropped, or -errno (smaps not
   * opened or not readable). Once: it closes the descriptor.
   */
  trimIdle: () => number;
}

export const memoryTrim = addon as MemoryTrimAddon;
