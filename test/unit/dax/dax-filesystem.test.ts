/**
 * DaxFileSystem's use of DirectIoControl: a SETUPMAPPING may fill a range copy from the file, so
 * it must not start before the inode's natively served WRITEs (pooled, already off the ring)
 * have finished — a WRITE landing after the fill would leave the copy stale.
 */
import { describe, expect, it } from 'vitest';
import { DaxFileSystem } from '../../../src/dax/dax-filesystem.js';
import type { DaxManager } from '../../../src/dax/dax-manager.js';
import type { DirectIoControl, FileSystem, RequestContext } from '../../../src/filesystem/filesystem.js';

const ctx = {} as RequestContext;

function fixture() {
  const events: string[] = [];
  let copies = false;
  const dax = {
    endSession: () => Promise.resolve(),
    setup: (nodeid: number) => {
      events.push(`setup ${nodeid}`);
      copies = true;
      return Promise.resolve();
    },
    remove: () => {
      copies = false;
      return Promise.resolve();
    },
    hasCopies: () => copies,
    hasMappings: () => copies,
  } as unknown as DaxManager;
  const inner = { init: () => Promise.resolve(0n) } as unknown as FileSystem;
  const idle: (() => void)[] = [];
  const control: DirectIoControl = {
    suspend: (nodeid) => {
      events.push(`suspend ${nodeid}`);
      return new Promise<void>((r) => idle.push(r));
    },
    resume: (nodeid) => void events.push(`resume ${nodeid}`),
  };
  return { events, dax, inner, control, idle };
}

describe('DaxFileSystem and direct I/O', () => {
  it('suspends once, waits for in-flight native requests before setting up, resumes when the copies are gone', async () => {
    const f = fixture();
    const fs = new DaxFileSystem(f.inner, f.dax);
    await fs.init({ minor: 39, flags: 0n, directIo: f.control });
    const a = fs.setupmapping(ctx, 5, 1, 0n, 2n << 20n, 0, 0n);
    const b = fs.setupmapping(ctx, 5, 1, 2n << 20n, 2n << 20n, 0, 2n << 20n);
    await new Promise((r) => setImmediate(r));
    expect(f.events).toEqual(['suspend 5']); // neither setup ran: a pooled WRITE may still be landing
    f.idle.forEach((r) => r());
    await Promise.all([a, b]);
    expect(f.events).toEqual(['suspend 5', 'setup 5', 'setup 5']); // copies exist: still suspended
    await fs.removemapping(ctx, [{ moffset: 0n, len: 4n << 20n }]);
    expect(f.events.at(-1)).toBe('resume 5');
  });
});
