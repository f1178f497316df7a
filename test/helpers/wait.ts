/**
 * Waiting for an event instead of sleeping. A test that sleeps N ms and then assumes another
 * process or thread has got somewhere (is blocked on a lock, holds it, has sent a request)
 * passes or fails with the machine's load: on a busy CI runner the other side has not been
 * scheduled yet, and the test either fails or — worse — checks nothing. These helpers poll for
 * the state itself. The deadline only matters when the event never comes; it is long enough
 * for a loaded 2-core machine and shorter than vitest's testTimeout, so the failure names what
 * was awaited instead of being a bare timeout.
 */
import { readFileSync } from 'node:fs';

export const WAIT_MS = 20_000;

/** Resolves once `cond()` is true; rejects with `what` after `timeoutMs`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = WAIT_MS, everyMs = 10): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export type LockKind = 'FLOCK' | 'POSIX' | 'OFDLCK';

/**
 * /proc/locks lines about inode `ino`: `held` granted locks, `blocked` waiters (the "->" lines).
 * A blocked waiter is the kernel's own word that someone sleeps in F_SETLKW / F_OFD_SETLKW /
 * flock(LOCK_EX) on that file — the daemon's wait on the share, or a host process's.
 */
export function locksOn(ino: number | bigint, kind?: LockKind): { held: number; blocked: number } {
  let held = 0;
  let blocked = 0;
  for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
    // "3: -> OFDLCK ADVISORY  WRITE -1 fe:00:2154492 0 EOF" (maj:min:inode)
    const f = line.trim().split(/\s+/);
    const waiting = f[1] === '->';
    const rest = waiting ? f.slice(2) : f.slice(1);
    if (rest.length < 5 || !rest[4].endsWith(`:${ino}`)) continue;
    if (kind !== undefined && rest[0] !== kind) continue;
    if (waiting) blocked++;
    else held++;
  }
  return { held, blocked };
}

/** Waits until `n` (default: at least one) waiters are blocked on a lock of inode `ino`. */
export async function untilBlockedOnLock(ino: number | bigint, what: string, n?: number, kind?: LockKind): Promise<void> {
  await until(() => (n === undefined ? locksOn(ino, kind).blocked > 0 : locksOn(ino, kind).blocked === n), `${what} (a blocked waiter in /proc/locks for inode ${ino})`);
}

/** Process state letter (R, S, D, ...) and kernel wait channel of `pid`; undefined once it is gone. */
export function procState(pid: number): { state: string; wchan: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: the state follows the last ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return { state, wchan: readFileSync(`/proc/${pid}/wchan`, 'utf8') };
  } catch {
    return undefined;
  }
}
