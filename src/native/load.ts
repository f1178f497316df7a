// Loads the compiled addon exactly once. Every typed view of it (binding.ts for the data path,
// syscalls.ts for the passthrough's system calls) imports `addon` from here.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// src/native or dist/native → package root is two levels up.
const root = join(here, '..', '..');

function addonPath(): string {
  const override = process.env.VIRTIOFSD_TS_ADDON;
  if (override) return override;
  for (const flavour of ['Release', 'Debug']) {
    const candidate = join(root, 'build', flavour, 'vfsnative.node');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`native addon not built: run "npm install" in ${root}`);
}

// process.dlopen, not require(): the path is already absolute and final, and require() would
// resolve it again (stat, realpath: ~1 ms of every start, bench/startup.mjs).
const loaded: { exports: unknown } = { exports: {} };
process.dlopen(loaded, addonPath());

// `unknown`: each typed view (binding.ts, syscalls.ts, ...) asserts the part of it it uses.
export const addon: unknown = loaded.exports;
