/**
 * --readonly is a wrapper over the FileSystem seam: every method that can change the share
 * must answer EROFS without reaching the inner file system. METHOD_KINDS classifies each
 * method (its type makes the table exhaustive); this test makes the classification binding:
 * a `modifies` method that ReadOnlyFileSystem does not refuse fails here, and so does a
 * FileSystem method (found on the delegating base) that is not classified.
 */
import { describe, expect, it } from 'vitest';
import { DelegatingFileSystem } from '../../../src/filesystem/delegating.js';
import { E, ErrnoError } from '../../../src/filesystem/errors.js';
import type { FileSystem } from '../../../src/filesystem/filesystem.js';
import { METHOD_KINDS } from '../../../src/filesystem/method-kinds.js';
import { ReadOnlyFileSystem } from '../../../src/passthrough/read-only.js';

/** An inner file system that records every call and answers something harmless. */
function spy(): { fs: FileSystem; calls: string[] } {
  const calls: string[] = [];
  const fs = new Proxy({} as FileSystem, {
    get: (_t, key) =>
      typeof key === 'string'
        ? (...args: unknown[]) => {
            calls.push(key);
            if (key === 'forget') return undefined;
            if (key === 'knows') return true;
            if (key === 'lookupSync' || key === 'getattrSync') return undefined;
            if (key === 'open') return Promise.resolve({ fh: 1, openFlags: 0, directIo: { fd: 3, read: true, write: true } });
            void args;
            return Promise.resolve(0n);
          }
        : undefined,
  });
  return { fs, calls };
}

const methods = Object.getOwnPropertyNames(DelegatingFileSystem.prototype).filter((m) => m !== 'constructor');
const ctx = { uid: 0, gid: 0, pid: 1 };
/** Enough arguments for any method; flags 0 = O_RDONLY / a read-only mapping. */
const args = (n: number): unknown[] => [ctx, ...Array.from({ length: n }, () => 0)];

async function outcome(p: unknown): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    return e instanceof ErrnoError ? e.errno : -1;
  }
}

describe('ReadOnlyFileSystem', () => {
  it('every FileSystem method is classified', () => {
    expect(methods.length).toBeGreaterThan(40);
    const unclassified = methods.filter((m) => !(m in METHOD_KINDS));
    expect(unclassified).toEqual([]);
    expect(Object.keys(METHOD_KINDS).sort()).toEqual([...methods].sort());
  });

  for (const method of methods) {
    const kind = (METHOD_KINDS as Record<string, string>)[method];
    if (kind === 'modifies') {
      it(`${method}: EROFS, the inner file system never called`, async () => {
        const { fs, calls } = spy();
        const ro = new ReadOnlyFileSystem(fs) as unknown as Record<string, (...a: unknown[]) => unknown>;
        expect(await outcome(ro[method](...args(9)))).toBe(E.EROFS);
        expect(calls).toEqual([]);
      });
    } else if (kind === 'reads' || kind === 'session') {
      it(`${method}: passed through`, async () => {
        const { fs, calls } = spy();
        const ro = new ReadOnlyFileSystem(fs) as unknown as Record<string, (...a: unknown[]) => unknown>;
        const r = ro[method](...(method === 'forget' || method === 'knows' ? [1, 1n] : method === 'init' ? [{ minor: 38, flags: 0n }] : args(9)));
        if (r instanceof Promise) await r;
        expect(calls).toEqual([method]);
      });
    }
  }

  it('every byFlags method has its own test below', () => {
    expect(methods.filter((m) => (METHOD_KINDS as Record<string, string>)[m] === 'byFlags').sort()).toEqual(['open', 'setupmapping']);
  });

  it('open: EROFS for writing, O_TRUNC or O_CREAT; read-only opens pass with no write grant', async () => {
    const { fs, calls } = spy();
    const ro = new ReadOnlyFileSystem(fs);
    for (const flags of [1, 2, 0o1000, 0o100]) expect(await outcome(ro.open(ctx, 2, flags))).toBe(E.EROFS);
    expect(calls).toEqual([]);
    const reply = await ro.open(ctx, 2, 0);
    expect(reply.directIo).toEqual({ fd: 3, read: true, write: false });
  });

  it('setupmapping: EROFS for a writable mapping, read-only ones pass', async () => {
    const { fs, calls } = spy();
    const ro = new ReadOnlyFileSystem(fs);
    expect(await outcome(ro.setupmapping(ctx, 2, 1, 0n, 4096n, 1 | 2, 0n))).toBe(E.EROFS);
    expect(calls).toEqual([]);
    await ro.setupmapping(ctx, 2, 1, 0n, 4096n, 2, 0n);
    expect(calls).toEqual(['setupmapping']);
  });
});
