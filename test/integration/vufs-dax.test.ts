// The frontend's DAX read/write path (DaxReader) against the real daemon: files read and
// written through the window via SETUPMAPPING / REMOVEMAPPING, reclaim under each policy, and
// `vufs dax-advise` on a recorded trace.
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSession, REPO, type Session } from '../helpers/daemon.js';
import { DaxReader } from '../../src/frontend/dax-reader.js';
import { TraceWriter } from '../../src/dax/trace.js';

const R = 2 * 1024 * 1024;
const O_RDONLY = 0;
const O_RDWR = 2;

let s: Session | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i + 4 <= len; i += 4) b.writeUInt32LE(((i + seed) * 2654435761) >>> 0, i);
  return b;
}

describe('vufs DAX path', () => {
  it('reads a file through the window, writes through it to the host, and unmaps', async () => {
    s = await startSession({ args: ['--dax-window=64M'], frontend: { daxWindowSize: 64 << 20 } });
    const data = pattern(3 * R + 12345, 1);
    writeFileSync(join(s.daemon.shareDir, 'f'), data);
    const e = await s.fuse.lookup(1, 'f');
    const { fh } = await s.fuse.open(e.nodeid, O_RDWR);
    const dax = new DaxReader(s.fuse, s.frontend.backend!.window, { policy: 'lru' });
    const file = { nodeid: e.nodeid, fh, size: data.length, writable: true };
    // A read spanning two ranges, and the short tail of the last one.
    const got = Buffer.alloc(8192);
    expect(await dax.read(file, R - 4096, got)).toBe(8192);
    expect(got.equals(data.subarray(R - 4096, R + 4096))).toBe(true);
    const tail = Buffer.alloc(65536);
    expect(await dax.read(file, 3 * R, tail)).toBe(12345);
    expect(tail.subarray(0, 12345).equals(data.subarray(3 * R))).toBe(true);
    expect(dax.setups).toBe(3);
    // Hits: no further setup.
    expect(await dax.read(file, R + 100, Buffer.alloc(100))).toBe(100);
    expect(dax.setups).toBe(3);
    expect(dax.stats().hits).toBeGreaterThan(0);
    // Writing upgrades the read-only mapping to READ|WRITE and reaches the host file.
    await dax.write(file, R + 10, Buffer.from('through the window'));
    expect(readFileSync(join(s.daemon.shareDir, 'f')).subarray(R + 10, R + 28).toString()).toBe('through the window');
    await expect(dax.write(file, data.length - 2, Buffer.from('xyz'))).rejects.toThrow(/beyond the end/);
    // QEMU 11 maps no region past EOF: the ragged last page is the daemon's copy; read-only
    // ranges share the file through a read-write descriptor (guest root is host root here).
    expect(s.frontend.backend!.window.mappings.map((m) => m.len)).toEqual([R, R, 12288, 4096]);
    await dax.unmapAll();
    expect(dax.removes).toBe(3);
    expect(s.frontend.backend!.window.mappings.length).toBe(0);
    await s.fuse.release(e.nodeid, fh);
  });

  it('forgets a range whose upgrade to writable fails, and maps it afresh on the next access', async () => {
    s = await startSession({ args: ['--dax-window=64M'], frontend: { daxWindowSize: 64 << 20 } });
    const data = pattern(R, 3);
    writeFileSync(join(s.daemon.shareDir, 'ro'), data);
    const e = await s.fuse.lookup(1, 'ro');
    const { fh } = await s.fuse.open(e.nodeid, O_RDONLY);
    const dax = new DaxReader(s.fuse, s.frontend.backend!.window, { policy: 'lru' });
    // The caller claims a writable handle; the daemon knows better and refuses the upgrade.
    const file = { nodeid: e.nodeid, fh, size: data.length, writable: true };
    const got = Buffer.alloc(4096);
    expect(await dax.read(file, 0, got)).toBe(4096);
    await expect(dax.write(file, 0, Buffer.from('no'))).rejects.toThrow();
    expect(await dax.read(file, 8192, got)).toBe(4096);
    expect(got.equals(data.subarray(8192, 12288))).toBe(true);
    expect(dax.setups).toBe(3); // map, failed upgrade, map again
    await dax.unmapAll();
    await s.fuse.release(e.nodeid, fh);
  });

  for (const policy of ['lru', 'clock', 'arc']) {
    it(`evicts under ${policy} in a window smaller than the working set and keeps the data right`, async () => {
      s = await startSession({ args: ['--dax-window=64M'], frontend: { daxWindowSize: 64 << 20 } });
      const files = [pattern(6 * R, 7), pattern(6 * R, 8)];
      files.forEach((d, i) => writeFileSync(join(s!.daemon.shareDir, `g${i}`), d));
      const handles: { nodeid: number; fh: number; size: number; writable: boolean }[] = [];
      for (let i = 0; i < files.length; i++) {
        const e = await s.fuse.lookup(1, `g${i}`);
        handles.push({ nodeid: e.nodeid, fh: (await s.fuse.open(e.nodeid, O_RDONLY)).fh, size: files[i].length, writable: false });
      }
      const dax = new DaxReader(s.fuse, s.frontend.backend!.window, { windowBytes: 8 << 20, policy });
      expect(dax.slots).toBe(4);
      let seed = 12345;
      const rnd = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      const check = async (): Promise<void> => {
        const i = rnd(2);
        const off = rnd(6 * R / 4096) * 4096;
        const b = Buffer.alloc(4096);
        await dax.read(handles[i], off, b);
        expect(b.equals(files[i].subarray(off, off + 4096))).toBe(true);
      };
      // Eight readers at once over 12 ranges with 4 slots.
      await Promise.all(Array.from({ length: 8 }, async () => {
        for (let k = 0; k < 40; k++) await check();
      }));
      const st = dax.stats();
      expect(st.evictions).toBeGreaterThan(0);
      expect(st.removes).toBe(st.evictions);
      expect(st.hits + st.misses).toBe(320);
      expect(s.frontend.backend!.window.mappings.length).toBeLessThanOrEqual(4);
      await dax.unmapAll();
      expect(s.frontend.backend!.window.mappings.length).toBe(0);
    });
  }

  it('vufs dax-advise turns a recorded trace into a miss-ratio table and an SVG', async () => {
    s = await startSession({ args: ['--dax-window=64M'], frontend: { daxWindowSize: 64 << 20 } });
    const dir = mkdtempSync(join(tmpdir(), 'vufs-dax-'));
    const data = pattern(8 * R, 3);
    writeFileSync(join(s.daemon.shareDir, 'h'), data);
    const e = await s.fuse.lookup(1, 'h');
    const { fh } = await s.fuse.open(e.nodeid, O_RDONLY);
    const trace = new TraceWriter(join(dir, 't.jsonl'));
    const dax = new DaxReader(s.fuse, s.frontend.backend!.window, { windowBytes: 4 << 20, policy: 'clock', trace });
    const b = Buffer.alloc(4096);
    for (let k = 0; k < 200; k++) await dax.read({ nodeid: e.nodeid, fh, size: data.length, writable: false }, ((k * 7919) % 4096) * 4096, b);
    await trace.close();
    await dax.unmapAll();
    const out = execFileSync(process.execPath, [join(REPO, 'dist/cli/vufs.js'), 'dax-advise', '--trace', join(dir, 't.jsonl'), '--sizes', '2M,4M,8M,16M', '--svg', join(dir, 'a.svg')]).toString();
    expect(out).toMatch(/accesses: 200, distinct 2 MiB ranges: 8/);
    expect(out).toMatch(/window\s+lru\s+clock\s+arc/);
    expect(out).toMatch(/16M\s+4\.0%\s+4\.0%\s+4\.0%/); // only the 8 cold misses
    const svg = readFileSync(join(dir, 'a.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const json = JSON.parse(execFileSync(process.execPath, [join(REPO, 'dist/cli/vufs.js'), 'dax-advise', '--trace', join(dir, 't.jsonl'), '--json']).toString()) as { distinctRanges: unknown };
    expect(json.distinctRanges).toBe(8);
  });
});
