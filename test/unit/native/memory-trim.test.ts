// native/memory_trim.cc in a process of its own: smaps opened first and read at trim time, the
// trim drops only whole pages of the executable and libraries and lowers the process's file-backed RSS, and afterwards the process keeps
// running normally (code, libraries, JIT, the addon itself fault back in). How much is listed
// and dropped depends on the Node build and the machine: bench/memory.mjs prints the figures.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const addonPath = process.env.VIRTIOFSD_TS_ADDON ?? fileURLToPath(new URL('../../../build/Release/vfsnative.node', import.meta.url));

// Runs in a child node: open, trim, then work that needs dropped pages back. `bound` is an upper
// bound computed independently: every non-writable mapping of the executable or of a shared
// library (the trim may take fewer: not those with private copies).
const SCRIPT = `
  const { readFileSync, readlinkSync } = require('node:fs');
  const addon = require(process.argv[1]);
  const rssFile = () => Number(/RssFile:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
  const exe = readlinkSync('/proc/self/exe');
  let bound = 0;
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\\n')) {
    const f = line.split(/\\s+/);
    const path = f.slice(5).join(' ');
    if (f.length < 6 || f[1][1] === 'w' || !(path === exe || /\\.so/.test(path.slice(path.lastIndexOf('/') + 1)))) continue;
    const [start, end] = f[0].split('-').map((h) => parseInt(h, 16));
    bound += end - start;
  }
  const opened = addon.trimOpen();
  const before = rssFile();
  const dropped = addon.trimIdle();
  const after = rssFile();
  const again = addon.trimIdle(); // once: the descriptor is closed by the first
  // Work after the trim: the compiler, the addon, zlib, crypto.
  let x = 0;
  for (let i = 0; i < 2e6; i++) x += Math.sqrt(i);
  require('node:zlib').gzipSync(Buffer.alloc(1 << 20));
  require('node:crypto').createHash('sha256').update('x').digest('hex');
  const fd = addon.eventfdCreate(true);
  addon.closeFd(fd);
  console.log(JSON.stringify({ opened, bound, dropped, again, before, after, x: x > 0 }));
`;

describe('memory trim', () => {
  it('drops clean file pages and the process keeps working', () => {
    const out = execFileSync(process.execPath, ['-e', SCRIPT, addonPath], {
      encoding: 'utf8',
    });
    const r = JSON.parse(out) as { opened: number; bound: number; dropped: number; again: number; before: number; after: number; x: boolean };
    expect(r.x).toBe(true);
    expect(r.opened).toBe(0);
    // Whole pages of the executable and libraries, never more than they map.
    expect(r.dropped).toBeGreaterThan(0);
    expect(r.dropped % 4096).toBe(0);
    expect(r.dropped).toBeLessThanOrEqual(r.bound);
    // The process's mapped file pages went down with them.
    expect(r.after).toBeLessThan(r.before);
    expect(r.again).toBe(-9); // -EBADF: a second trim has nothing to read
  });
});
