import { describe, expect, it } from 'vitest';
import { DirectIoTable, type DirectIoRegistry } from '../../../src/fuse/direct-io.js';

/** A registry that records what the transport would serve: fh → "nodeid:fd:rw". */
function recorder(): DirectIoRegistry & { served: Map<number, string> } {
  const served = new Map<number, string>();
  return {
    served,
    register: (fh, nodeid, fd, read, write) => void served.set(fh, `${nodeid}:${fd}:${read ? 'r' : ''}${write ? 'w' : ''}`),
    unregister: (fh) => void served.delete(fh),
    clear: () => served.clear(),
    serving: () => undefined,
    whenIdle: () => Promise.resolve(),
  };
}

describe('DirectIoTable', () => {
  it('registers what was granted, nothing for no grant, and revokes only the named inode\'s handle', () => {
    const reg = recorder();
    const t = new DirectIoTable(reg);
    t.open();
    t.grant(2, 10, { fd: 7, read: true, write: false });
    t.grant(3, 11, undefined);
    t.grant(3, 12, { fd: 8, read: false, write: false });
    t.grant(3, 13, { fd: -1, read: true, write: true });
    expect([...reg.served]).toEqual([[10, '2:7:r']]);
    t.revoke(10, 3); // another inode's RELEASE: the file system refuses it and closes nothing
    expect(reg.served.has(10)).toBe(true);
    t.revoke(10, 2);
    expect(reg.served.size).toBe(0);
    expect(t.size).toBe(0);
  });

  it('suspends every handle of an inode, nested, including handles granted meanwhile', () => {
    const reg = recorder();
    const t = new DirectIoTable(reg);
    t.open();
    t.grant(2, 10, { fd: 7, read: true, write: true });
    t.grant(4, 20, { fd: 9, read: true, write: true });
    void t.suspend(2);
    void t.suspend(2);
    t.grant(2, 11, { fd: 8, read: true, write: false });
    expect([...reg.served.keys()]).toEqual([20]);
    t.resume(2);
    expect([...reg.served.keys()]).toEqual([20]);
    t.revoke(10, 2); // released while suspended: stays gone after resume
    t.resume(2);
    expect([...reg.served].sort()).toEqual([[11, '2:8:r'], [20, '4:9:rw']]);
    t.resume(2); // unbalanced: nothing
    expect(reg.served.size).toBe(2);
  });

  it('suspend() resolves only when the transport says the inode\'s in-flight requests are done', async () => {
    const reg = recorder();
    let idle!: () => void;
    reg.whenIdle = () => new Promise<void>((r) => (idle = r));
    const t = new DirectIoTable(reg);
    t.open();
    t.grant(2, 10, { fd: 7, read: true, write: true });
    let drained = false;
    const p = t.suspend(2).then(() => (drained = true));
    expect(reg.served.size).toBe(0); // unregistered at once, before anything else is popped
    await Promise.resolve();
    expect(drained).toBe(false);
    idle();
    await p;
    expect(drained).toBe(true);
  });

  it('clear() drops grants and suspensions, and refuses grants until the next session opens', () => {
    const reg = recorder();
    const t = new DirectIoTable(reg);
    t.grant(1, 5, { fd: 4, read: true, write: true }); // before any session: refused
    expect(reg.served.size).toBe(0);
    t.open();
    t.grant(2, 10, { fd: 7, read: true, write: true });
    void t.suspend(5);
    t.clear();
    expect(reg.served.size).toBe(0);
    // An OPEN finishing while the core drains the ending session: its descriptor is about to be
    // closed with the session, so it must not be registered (it would outlive it).
    t.grant(5, 31, { fd: 3, read: true, write: true });
    expect(reg.served.size).toBe(0);
    t.open();
    t.grant(5, 30, { fd: 3, read: true, write: true });
    expect(reg.served.has(30)).toBe(true);
  });
});
