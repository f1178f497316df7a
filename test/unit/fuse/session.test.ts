/** Session life cycle: INIT/DESTROY/reset ordering, draining, re-INIT, and FUSE_INTERRUPT. */
import { describe, expect, it } from 'vitest';
import { Opcode } from '../../../src/fuse/abi.js';
import { E } from '../../../src/filesystem/errors.js';
import { cstr, errnoOfReply, expectReply, initIn, initializedRig, request, rig, u64, type Rig } from './helpers.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((r) => setImmediate(r));

/** Instruments init/destroy to detect overlap with each other or with other calls. */
function watchOverlap(r: Rig): { overlaps: string[]; order: string[] } {
  const state = { active: 0, overlaps: [] as string[], order: [] as string[] };
  for (const m of ['init', 'destroy', 'getattr'] as const) {
    const orig = (r.fs as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[m].bind(r.fs);
    (r.fs as unknown as Record<string, unknown>)[m] = async (...args: unknown[]) => {
      if (state.active !== 0 && m !== 'getattr') state.overlaps.push(m);
      state.active++;
      state.order.push(m);
      try {
        await tick();
        return await orig(...args);
      } finally {
        state.active--;
      }
    };
  }
  return state;
}

describe('session life cycle', () => {
  it('DESTROY: fs.destroy, header-only reply, then EIO until the next INIT', async () => {
    const r = await initializedRig();
    const d = expectReply(await r.send(request({ opcode: Opcode.DESTROY, unique: 9 })));
    expect(d).toMatchObject({ error: 0, len: 16, unique: 9n });
    expect(r.fs.destroyed).toBe(1);
    expect(r.server.initialized).toBe(false);
    expect(r.server.session).toBeUndefined();
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.STATFS })))).toBe(E.EIO);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.DESTROY })))).toBe(E.EIO);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.INIT }, initIn())))).toBe(0);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.STATFS })))).toBe(0);
  });

  it('a second INIT while up starts a new session (destroy, then init)', async () => {
    const r = await initializedRig();
    r.fs.addFile(1, 'f', 'x');
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.INIT }, initIn({ minor: 31, flags: 1n }))))).toBe(0);
    expect(r.fs.destroyed).toBe(1);
    expect(r.fs.calls.map((c) => c[0])).toEqual(['init', 'destroy', 'init']);
    expect(r.server.session?.minor).toBe(31);
    expect(r.fs.node(1).children.size).toBe(0); // state was wiped
  });

  it('concurrent INIT/DESTROY/INIT/DESTROY run one at a time, in order, never overlapping', async () => {
    const r = rig();
    const w = watchOverlap(r);
    const outcomes = [
      r.send(request({ opcode: Opcode.INIT }, initIn())),
      r.send(request({ opcode: Opcode.DESTROY })),
      r.send(request({ opcode: Opcode.INIT }, initIn())),
      r.send(request({ opcode: Opcode.INIT }, initIn())),
      r.send(request({ opcode: Opcode.DESTROY })),
      r.send(request({ opcode: Opcode.DESTROY })),
    ];
    const results = await Promise.all(outcomes);
    // Arrival order: the third request (INIT while up) re-initialises; the last DESTROY finds
    // the session already down.
    expect(results.map(errnoOfReply)).toEqual([0, 0, 0, 0, 0, E.EIO]);
    expect(w.overlaps).toEqual([]);
    expect(w.order).toEqual(['init', 'destroy', 'init', 'destroy', 'init', 'destroy']);
    expect(r.server.initialized).toBe(false);
  });

  it('DESTROY waits for requests in flight; new requests meanwhile get EIO', async () => {
    const r = await initializedRig();
    const gate = deferred();
    r.fs.hold = { method: 'getattr', gate: gate.promise };
    const slow = r.send(request({ opcode: Opcode.GETATTR, nodeid: 1 }, Buffer.alloc(16)));
    await tick();
    expect(r.server.inFlight).toBe(1);
    const destroy = r.send(request({ opcode: Opcode.DESTROY }));
    await tick();
    await tick();
    expect(r.fs.destroyed).toBe(0);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.STATFS })))).toBe(E.EIO);
    gate.resolve();
    expect(errnoOfReply(await slow)).toBe(0);
    expect(errnoOfReply(await destroy)).toBe(0);
    expect(r.fs.destroyed).toBe(1);
    expect(r.fs.calls.map((c) => c[0])).toEqual(['init', 'getattr', 'destroy']);
  });

  it('re-INIT also drains requests in flight before destroying', async () => {
    const r = await initializedRig();
    const gate = deferred();
    r.fs.hold = { method: 'getattr', gate: gate.promise };
    const slow = r.send(request({ opcode: Opcode.GETATTR, nodeid: 1 }, Buffer.alloc(16)));
    const again = r.send(request({ opcode: Opcode.INIT }, initIn()));
    await tick();
    expect(r.fs.destroyed).toBe(0);
    gate.resolve();
    await Promise.all([slow, again]);
    expect(r.fs.calls.map((c) => c[0])).toEqual(['init', 'getattr', 'destroy', 'init']);
  });

  it('reset() (device reset) destroys and returns to un-initialised', async () => {
    const r = await initializedRig();
    await r.server.reset();
    expect(r.fs.destroyed).toBe(1);
    expect(r.server.initialized).toBe(false);
    await r.server.reset(); // idempotent
    expect(r.fs.destroyed).toBe(1);
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.INIT }, initIn())))).toBe(0);
  });

  it('FORGET during a session transition is dropped, not sent to a half-reset file system', async () => {
    const r = await initializedRig();
    const gate = deferred();
    r.fs.hold = { method: 'destroy', gate: gate.promise };
    const destroy = r.send(request({ opcode: Opcode.DESTROY }));
    await tick();
    expect((await r.send(request({ opcode: Opcode.FORGET, nodeid: 9 }, u64(1)))).kind).toBe('none');
    gate.resolve();
    await destroy;
    expect(r.fs.forgets).toEqual([]);
  });

  it('fs.destroy throwing still completes DESTROY', async () => {
    const r = await initializedRig();
    r.fs.destroy = async () => {
      throw new Error('boom');
    };
    expect(errnoOfReply(await r.send(request({ opcode: Opcode.DESTROY })))).toBe(0);
    expect(r.server.initialized).toBe(false);
  });
});

describe('FUSE_INTERRUPT', () => {
  it('marks a request in flight as interrupted, no reply', async () => {
    const r = await initializedRig();
    r.fs.addFile(1, 'f', '');
    const gate = deferred();
    r.fs.hold = { method: 'lookup', gate: gate.promise };
    const slow = r.send(request({ opcode: Opcode.LOOKUP, unique: 500 }, cstr('f')));
    await tick();
    const ctx = r.fs.lastCtx!;
    expect(ctx.interrupted?.()).toBe(false);
    expect((await r.send(request({ opcode: Opcode.INTERRUPT, unique: 501 }, u64(500)))).kind).toBe('none');
    expect(ctx.interrupted?.()).toBe(true);
    gate.resolve();
    expect(errnoOfReply(await slow)).toBe(0);
    expect(r.server.stats.interrupts).toBe(1);
  });

  it('an INTERRUPT that arrives before its request still applies', async () => {
    const r = await initializedRig();
    r.fs.addFile(1, 'f', '');
    await r.send(request({ opcode: Opcode.INTERRUPT }, u64(600)));
    await r.send(request({ opcode: Opcode.LOOKUP, unique: 600 }, cstr('f')));
    expect(r.fs.lastCtx?.interrupted?.()).toBe(true);
    // consumed: a later request reusing the unique is not interrupted
    await r.send(request({ opcode: Opcode.LOOKUP, unique: 600 }, cstr('f')));
    expect(r.fs.lastCtx?.interrupted?.()).toBe(false);
  });

  it('remembers a bounded number of early INTERRUPTs', async () => {
    const r = await initializedRig();
    r.fs.addFile(1, 'f', '');
    for (let i = 0; i < 5000; i++) await r.send(request({ opcode: Opcode.INTERRUPT }, u64(10_000 + i)));
    await r.send(request({ opcode: Opcode.LOOKUP, unique: 10_000 }, cstr('f')));
    expect(r.fs.lastCtx?.interrupted?.()).toBe(false); // evicted
    await r.send(request({ opcode: Opcode.LOOKUP, unique: 14_999 }, cstr('f')));
    expect(r.fs.lastCtx?.interrupted?.()).toBe(true);
  });
});
