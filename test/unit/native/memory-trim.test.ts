// native/memory_trim.cc in a process of its own: after the trim the process keeps running
// normally (code, libraries, JIT, the addon itself fault back in) and its file-backed RSS is
// lower.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const addonPath = process.env.VIRTIOFSD_TS_ADDON ?? fileURLToPath(new URL('../../../build/Release/vfsnative.node', import.meta.url));

// Runs in a child node: plan, trim, then work that needs dropped pages back.
const SCRIPT = `
  const { readFileSync } = require('node:fs');
  const addon = require(process.argv[1]);
  const rssFile = () => Number(/RssFile:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
  const listed = addon.trimPlanFileMappings();
  const before = rssFile();
  const dropped = addon.trimIdle();
  const after = rssFile();
  // Work after the trim: the compiler, the addon, zlib, crypto.
  let x = 0;
  for (let i = 0; i < 2e6; i++) x += Math.sqrt(i);
  require('node:zlib').gzipSync(Buffer.alloc(1 << 20));
  require('node:crypto').createHash('sha256').update('x').digest('hex');
  const fd = addon.eventfdCreate(true);
  addon.closeFd(fd);
  console.log(JSON.stringify({ listed, dropped, before, after, x: x > 0 }));
`;

describe('memory trim', () => {
  it('drops clean file pages and the process keeps working', () => {
    const out = execFileSync(process.execPath, ['-e', SCRIPT, addonPath], {
      encoding: 'utf8',
    });
    const r = JSON.parse(out) as { listed: number; dropped: number; before: number; after: number; x: boolean };
    expect(r.x).toBe(true);
    expect(r.listed).toBeGreaterThan(10 << 20); // node's text and read-only data at least
    expect(r.dropped).toBe(r.listed);
    expect(r.after).toBeLessThan(r.before / 2);
  });
});
