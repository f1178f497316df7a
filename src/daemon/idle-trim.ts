/**
 * Giving back the memory start-up touched, once the daemon is idle.
 *
 * An idle Node daemon's RSS is mostly not its heap (~13 MiB) but the pages of the node
 * executable and its libraries that start-up ran or read (~40 MiB: bootstrap, module loader,
 * compilers, the built-in snapshot). They are clean file pages shared with the page cache, so
 * dropping this process's mappings of them loses nothing: a page needed again comes back with a
 * minor fault, and serving needs a few MiB of them (docs/sandbox.md, Memory, has the numbers).
 * native/memory_trim.cc says which mappings qualify.
 *
 * When: not at start-up's end but at the first quiet moment of the session. The front-end
 * connects right after the socket appears, and its handshake, the guest's FUSE INIT and first
 * requests would only fault the dropped pages back in — on the path a pod start waits on
 * (bench/startup.mjs). So the daemon checks what it served (vhost-user messages, FUSE requests)
 * every IDLE_CHECK_MS and trims once the counters stood still for a whole period while a FUSE
 * session is up; without one (the guest still boots, or never mounts) only after
 * QUIET_WITHOUT_SESSION_MS of quiet. Two steps because of the sandbox: smaps is opened while
 * /proc is still reachable (before enterSandbox) and read when the trim runs.
 */
import { memoryTrim } from '../native/memory-trim.js';
import type { Logger } from '../logger.js';

/** How long the daemon must have served nothing before it trims, with a FUSE session up. */
export const IDLE_CHECK_MS = 500;
/** ...and without one. */
export const QUIET_WITHOUT_SESSION_MS = 10_000;

/** Step 1: before the sandbox hides /proc. */
export function openIdleTrim(log: Logger): void {
  const r = memoryTrim.trimOpen();
  if (r < 0) log.debug(`memory trim: cannot open /proc/self/smaps (errno ${-r}); nothing will be trimmed`);
}

/**
 * Step 2, once listening: trims at the first check that finds `activity()` (a count of what the
 * daemon served) unchanged since the previous one while `sessionUp()`, or after
 * QUIET_WITHOUT_SESSION_MS unchanged without a session. The timer does not keep the process
 * alive.
 */
export function trimWhenIdle(log: Logger, activity: () => number, sessionUp: () => boolean): void {
  let last = activity();
  let quietMs = 0;
  const timer = setInterval(() => {
    const now = activity();
    if (now !== last) {
      last = now;
      quietMs = 0;
      return;
    }
    quietMs += IDLE_CHECK_MS;
    if (!sessionUp() && quietMs < QUIET_WITHOUT_SESSION_MS) return;
    clearInterval(timer);
    const dropped = memoryTrim.trimIdle();
    if (dropped < 0) log.debug(`memory trim: cannot read /proc/self/smaps (errno ${-dropped})`);
    else log.debug(`memory trim: ${(dropped / 1048576).toFixed(1)} MiB of start-up mappings handed back`);
  }, IDLE_CHECK_MS);
  timer.unref();
}
