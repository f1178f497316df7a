/**
 * Shared by the security regression tests: a directory next to the share holding a secret
 * (what an escape would reach), the serving process of a daemon, its descriptors, and raw
 * requests whose whole reply buffer is pre-filled so unwritten or non-zero padding shows.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FuseClient } from '../../../src/frontend/fuse-client.js';
import { startSession, type Session } from '../../helpers/daemon.js';
import type { Segment } from '../../../src/frontend/driver-queue.js';
import { OutHeader } from '../../../src/fuse/abi.js';
import { servingPid } from '../sandbox/helpers.js';

export { servingPid };

export const SANDBOXES = ['namespace', 'none'] as const;

/** <workDir>/outside/secret: a sibling of the share a guest must never reach. */
export function makeOutside(shareDir: string): string {
  const outside = join(dirname(shareDir), 'outside');
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'secret'), 'top secret\n');
  return outside;
}

export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, prefix: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      out.push(prefix + e.name);
      if (e.isDirectory()) walk(join(d, e.name), `${prefix}${e.name}/`);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** open(2) flags of every descriptor of `pid` that refers to the inode at `path`. */
export function descriptorsOf(pid: number, path: string): number[] {
  const want = statSync(path);
  const flags: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const st = statSync(`/proc/${pid}/fd/${fd}`); // follows the magic link; stat opens nothing
      if (st.dev !== want.dev || st.ino !== want.ino) continue;
      flags.push(parseInt(/flags:\s*([0-7]+)/.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))![1], 8));
    } catch {
      /* closed meanwhile */
    }
  }
  return flags;
}

export const O_PATH = 0o10000000;

/**
 * Sends `request` with a reply buffer of `capacity` bytes pre-filled with `fill`; returns the
 * used length and the whole reply buffer as the device left it.
 */
export async function rawWithFill(fuse: FuseClient, request: Buffer, capacity: number, fill = 0xa5): Promise<{ used: number; reply: Buffer }> {
  const fe = fuse.frontend;
  const ram = fe.ram;
  const q = fe.queues[1];
  const inOff = ram.allocate(request.length);
  request.copy(ram.buf, inOff);
  const outOff = ram.allocate(capacity);
  ram.buf.fill(fill, outOff, outOff + capacity);
  const segs: Segment[] = [
    { offset: inOff, len: request.length, writable: false },
    { offset: outOff, len: capacity, writable: true },
  ];
  while (q.free < segs.length) await q.whenSpace();
  const used = await new Promise<number>((resolve) => {
    q.add(segs, resolve);
    q.kick();
  });
  const reply = Buffer.from(ram.buf.subarray(outOff, outOff + capacity));
  ram.free(inOff, request.length);
  ram.free(outOff, capacity);
  return { used, reply };
}

export function outError(reply: Buffer): number {
  return reply.readInt32LE(OutHeader.error);
}

export function cleanup(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

/** startSession() for a daemon started through a wrapper command (e.g. `prlimit --nofile=N:N --`). */
export function startWrappedSession(prefix: string[], args: string[] = []): Promise<Session> {
  return startSession({ wrapper: prefix, args });
}
