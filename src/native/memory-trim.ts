/**
 * Typed view of native/memory_trim.cc: handing start-up's memory back once the daemon is idle
 * (policy: src/daemon/idle-trim.ts).
 */
import { addon } from './load.js';

export interface MemoryTrimAddon {
  /**
   * Lists the read-only mappings of the executable and its shared libraries (text, read-only
   * data) without private copies, from /proc/self/smaps: bytes listed, or -errno.
   */
  trimPlanFileMappings: () => number;
  /** malloc_trim(0), then MADV_DONTNEED on the listed mappings: bytes dropped. */
  trimIdle: () => number;
}

export const memoryTrim = addon as MemoryTrimAddon;
