// dist/cli/virtiofsd.cjs (src/cli/virtiofsd.cts) compiles the daemon's bundle with V8's code
// cache. V8 checks a cache against the source's length only: the loader must use it only for the
// very bundle it was made from, or a bundle patched since (same length) would run old code. And a
// broken or missing cache only costs time.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/daemon.js';

let root = '';
let cli = '';
beforeEach(() => {
  // A copy of the package's dist/cli next to the real build/ and package.json.
  root = mkdtempSync(join(tmpdir(), 'vfs-code-cache-'));
  cli = join(root, 'dist', 'cli');
  mkdirSync(cli, { recursive: true });
  for (const f of ['virtiofsd.cjs', 'virtiofsd.bundle.cjs', 'virtiofsd.bundle.cjs.cache']) copyFileSync(join(REPO, 'dist', 'cli', f), join(cli, f));
  for (const f of ['build', 'package.json', 'node_modules']) symlinkSync(join(REPO, f), join(root, f));
});
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

function run(...args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [join(cli, 'virtiofsd.cjs'), ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('the code cache', () => {
  it('holds the bundle it was made for', () => {
    const cache = readFileSync(join(cli, 'virtiofsd.bundle.cjs.cache'));
    const bundle = readFileSync(join(cli, 'virtiofsd.bundle.cjs'));
    expect(Number(cache.readBigUInt64LE(0))).toBe(bundle.length);
    expect(cache.subarray(8, 8 + bundle.length).equals(bundle)).toBe(true);
    expect(cache.length).toBeGreaterThan(8 + bundle.length); // and V8's data after it
  });

  it('is not used for a bundle changed since, even of the same length', () => {
    expect(run('--no-such-option').stderr).toBe('virtiofsd-ts: unknown option --no-such-option; see --help\n');
    const path = join(cli, 'virtiofsd.bundle.cjs');
    const before = readFileSync(path, 'latin1');
    const after = before.replaceAll('unknown option --${', 'UNKNOWN OPTION --${');
    expect(after).not.toBe(before);
    expect(after.length).toBe(before.length);
    writeFileSync(path, after, 'latin1');
    const r = run('--no-such-option');
    expect(r.stderr).toBe('virtiofsd-ts: UNKNOWN OPTION --no-such-option; see --help\n');
    expect(r.status).toBe(2);
  });

  it('a truncated, empty or missing cache only costs time', () => {
    const path = join(cli, 'virtiofsd.bundle.cjs.cache');
    const full = readFileSync(path);
    for (const broken of [full.subarray(0, full.length - 1000), full.subarray(0, 5), Buffer.alloc(0)]) {
      writeFileSync(path, broken);
      const r = run('--version');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^virtiofsd-ts \d+\.\d+\.\d+/);
    }
    rmSync(path);
    expect(run('--version').status).toBe(0);
  });
});
