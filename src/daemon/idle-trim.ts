/**
 * Giving back the memory start-up touched, once the daemon waits for its front-end.
 *
 * An idle Node daemon's RSS is mostly not its heap (~13 MiB) but the pages of the node
 * executable and its libraries that start-up ran or read (~40 MiB: bootstrap, module loader,
 * compilers, the built-in snapshot). They are clean file pages shared with the page cache, so
 * dropping this process's mappings of them loses nothing: a page needed again comes back with a
 * minor fault, and serving needs a few MiB of them (docs/sandbox.md, Memory, has the numbers).
 * native/memory_trim.cc says which mappings qualify.
 *
 * Two steps because of the sandbox: the mappings are listed while /proc is still reachable
 * (before enterSandbox), and dropped when start-up is over.
 */
import { memoryTrim } from '../native/memory-trim.js';
import type { Logger } from '../logger.js';

/** Step 1: before the sandbox hides /proc. */
export function planIdleTrim(log: Logger): void {
  const listed = memoryTrim.trimPlanFileMappings();
  if (listed < 0) log.debug(`memory trim: cannot read /proc/self/smaps (errno ${-listed}); nothing will be trimmed`);
}

/** Step 2: right after the readiness line, at the event loop's first idle moment. */
export function trimWhenIdle(log: Logger): void {
  setImmediate(() => {
    const dropped = memoryTrim.trimIdle();
    log.debug(`memory trim: ${(dropped / 1048576).toFixed(1)} MiB of start-up mappings handed back`);
  });
}
