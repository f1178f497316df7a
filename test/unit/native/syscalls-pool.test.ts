// The same syscalls on our worker pool (its own file: the pool cannot shrink, and vitest runs
// each file in its own worker). Results arrive through the callback; fsuid/fsgid are switched
// in the pool thread that makes the call.
import { constants as osc } from 'node:os';
import * as nfs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as s from '../../../src/native/syscalls.js';
import { C, sys } from '../../../src/native/syscalls.js';

const E = osc.errno;
const b = (x: string): Buffer => Buffer.from(x);
let dir: string;
let dirFd: number;

beforeAll(async () => {
  process.umask(0);
  sys.setPoolSize(2);
  dir = nfs.mkdtempSync(join(tmpdir(), 'vfs-syspool-'));
  nfs.chmodSync(dir, 0o777);
  dirFd = await s.openat2(C.AT_FDCWD, b(dir), C.O_PATH | C.O_DIRECTORY, 0, 0);
  expect(dirFd).toBeGreaterThanOrEqual(0);
});

afterAll(async () => {
  await s.close(dirFd);
  nfs.rmSync(dir, { recursive: true, force: true });
});

describe('native syscalls (pool of 2)', () => {
  it('delivers results through the callback, asynchronously', async () => {
    expect(sys.getPoolSize()).toBe(2);
    let sync = true;
    const r = await new Promise<number>((resolve) => {
      const ret = sys.sys_fsync(-1, false, (n) => {
        expect(sync).toBe(false);
        resolve(n);
      });
      expect(ret).toBeUndefined();
      sync = false;
    });
    expect(r).toBe(-E.EBADF);
    // Without a callback the call still runs inline.
    expect(sys.sys_close(-1)).toBe(-E.EBADF);
  });

  it('the promise wrappers return promises and never reject', async () => {
    const p = s.close(-1);
    expect(p).toBeInstanceOf(Promise);
    expect(await p).toBe(-E.EBADF);
  });

  it('creates files owned by the guest ids from pool threads, many at once', async () => {
    const jobs: Array<Promise<number>> = [];
    for (let i = 0; i < 40; i++) {
      jobs.push(Promise.resolve(s.mkdirat(dirFd, b(`d${i}`), 0o755, 1000 + i, 2000 + i)));
      jobs.push(Promise.resolve(s.mkdirat(dirFd, b(`r${i}`), 0o755, -1, -1)));
    }
    expect(await Promise.all(jobs)).toEqual(new Array(80).fill(0));
    for (let i = 0; i < 40; i++) {
      const st = nfs.statSync(join(dir, `d${i}`));
      expect([st.uid, st.gid]).toEqual([1000 + i, 2000 + i]);
      const rt = nfs.statSync(join(dir, `r${i}`));
      expect([rt.uid, rt.gid]).toEqual([0, 0]);
    }
  });

  it('fills output buffers off the JS thread (statx, pread, getdents64)', async () => {
    nfs.writeFileSync(join(dir, 'f'), 'pooled data');
    const fd = await s.openat2(dirFd, b('f'), C.O_RDONLY, 0, C.RESOLVE_BENEATH);
    expect(fd).toBeGreaterThanOrEqual(0);
    const rec = Buffer.alloc(C.STAT_RECORD_SIZE);
    expect(await s.statx(fd, null, 0, rec)).toBe(0);
    expect(rec.readBigUInt64LE(8)).toBe(11n);
    const buf = Buffer.alloc(32);
    expect(await s.pread(fd, buf, 0, 32, 0n)).toBe(11);
    expect(buf.subarray(0, 11).toString()).toBe('pooled data');
    expect(await s.close(fd)).toBe(0);
    const dfd = await s.openat2(dirFd, b('.'), C.O_RDONLY | C.O_DIRECTORY, 0, C.RESOLVE_BENEATH);
    const dents = Buffer.alloc(8192);
    expect(await s.getdents64(dfd, dents)).toBeGreaterThan(0);
    await s.close(dfd);
  });

  it('reports errno from pool threads', async () => {
    expect(await s.openat2(dirFd, b('../escape'), C.O_PATH, 0, C.RESOLVE_BENEATH)).toBe(-E.EXDEV);
    expect(await s.unlinkat(dirFd, b('missing'), 0)).toBe(-E.ENOENT);
    expect(await s.openat2(dirFd, Buffer.from([0x61, 0]), C.O_PATH, 0, 0)).toBe(-E.EINVAL);
  });
});
