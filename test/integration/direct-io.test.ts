/**
 * Direct I/O is granted by the file-system stack, never decided beside it (src/fuse/direct-io.ts):
 * whatever a wrapper must see of a READ or WRITE is not served natively. Each case checks the
 * bytes the guest sees and, through SIGUSR1's statistics, which path answered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { startSession, type Session } from '../helpers/daemon.js';
import { daemonStats } from '../helpers/stats.js';

const R = 2 * 1024 * 1024;
const O_RDWR = 2;

let s: Session | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

describe('direct I/O through the file-system stack', () => {
  it('DAX: suspended on an inode while it has range copies, served natively before and after', async () => {
    s = await startSession({ args: ['--dax-window=16M', '--dax=shmem'], frontend: { daxWindowSize: 16 << 20 } });
    const fuse = s.fuse;
    await fuse.init(0xffffffff);
    const window = s.frontend.backend!.window;
    const path = `${s.daemon.shareDir}/ragged`;
    writeFileSync(path, Buffer.alloc(4096 + 65, 0x61));
    const e = await fuse.lookup(1, 'ragged');
    const rw = await fuse.open(e.nodeid, O_RDWR);

    // No mapping yet: the READ and the WRITE are the fast path's.
    let st = await daemonStats(s.daemon);
    const reads0 = st.fastPath!.reads;
    const writes0 = st.fastPath!.writes;
    expect((await fuse.read(e.nodeid, rw.fh, 0, 4)).toString()).toBe('aaaa');
    expect(await fuse.write(e.nodeid, rw.fh, 0, Buffer.from('b'))).toBe(1);
    st = await daemonStats(s.daemon);
    expect(st.fastPath!.reads).toBe(reads0 + 1);
    expect(st.fastPath!.writes).toBe(writes0 + 1);

    // A writable mapping of the ragged end gets a range copy: READ must write the guest's stores
    // back first and WRITE must reload the copy, so both go through the DAX wrapper.
    await fuse.setupmapping(e.nodeid, -1, 0, R, 3, 0);
    window.write(4096 + 10, Buffer.from('XYZ'));
    expect((await fuse.read(e.nodeid, rw.fh, 4096 + 10, 3)).toString()).toBe('XYZ');
    expect(await fuse.write(e.nodeid, rw.fh, 4096 + 20, Buffer.from('QQ'))).toBe(2);
    const view = Buffer.alloc(2);
    window.read(4096 + 20, view);
    expect(view.toString()).toBe('QQ');
    st = await daemonStats(s.daemon);
    expect(st.fastPath!.reads).toBe(reads0 + 1);
    expect(st.fastPath!.writes).toBe(writes0 + 1);

    // The copy is gone with the mapping: the handle is served natively again.
    await fuse.removemapping([[0, R]]);
    expect(readFileSync(path).subarray(4096 + 10, 4096 + 13).toString()).toBe('XYZ');
    expect((await fuse.read(e.nodeid, rw.fh, 4096 + 20, 2)).toString()).toBe('QQ');
    expect(await fuse.write(e.nodeid, rw.fh, 1, Buffer.from('c'))).toBe(1);
    st = await daemonStats(s.daemon);
    expect(st.fastPath!.reads).toBe(reads0 + 2);
    expect(st.fastPath!.writes).toBe(writes0 + 2);
    expect(readFileSync(path).subarray(0, 2).toString()).toBe('bc');
    await fuse.release(e.nodeid, rw.fh);
  });

  it('a remapped security.capability keeps WRITEs out of the fast path (CVE-2021-20263), READs in', async () => {
    s = await startSession({ args: ['--sandbox=none', '--seccomp=none', '--xattrmap=:map::user.virtiofs.:'] });
    const fuse = s.fuse;
    await fuse.init(0xffffffff);
    writeFileSync(`${s.daemon.shareDir}/f`, 'hello');
    const e = await fuse.lookup(1, 'f');
    const rw = await fuse.open(e.nodeid, O_RDWR);
    const before = await daemonStats(s.daemon);
    expect((await fuse.read(e.nodeid, rw.fh, 0, 5)).toString()).toBe('hello');
    expect(await fuse.write(e.nodeid, rw.fh, 0, Buffer.from('J'))).toBe(1);
    const after = await daemonStats(s.daemon);
    expect(after.fastPath!.reads).toBe(before.fastPath!.reads + 1);
    expect(after.fastPath!.writes).toBe(before.fastPath!.writes);
    expect(after.requests.WRITE).toBe((before.requests.WRITE ?? 0) + 1);
    await fuse.release(e.nodeid, rw.fh);
  });
});
