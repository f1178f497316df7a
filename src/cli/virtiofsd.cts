/**
 * dist/cli/virtiofsd.cjs: what the `virtiofsd-ts` launcher (native/launcher/launcher.c) runs.
 * It loads the daemon's single bundled file (dist/cli/virtiofsd.bundle.cjs, built by esbuild
 * from src/cli/virtiofsd.ts) with V8's code cache (dist/cli/virtiofsd.bundle.cjs.cache, written
 * at build time by src/packaging/code-cache.ts): compiling the ~0.4 MB bundle and the functions
 * start-up runs is otherwise a fifth of the daemon's time to its first reply. A cache V8 refuses
 * (another Node version), a stale or a missing one only costs that time back.
 *
 * CommonJS and builtins only: this file runs before anything else.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';

/** Set by src/packaging/code-cache.ts: write the cache to this path when the process exits. */
const WRITE_ENV = 'VIRTIOFSD_TS_WRITE_CODE_CACHE';

const bundle = join(__dirname, 'virtiofsd.bundle.cjs');
const cachePath = `${bundle}.cache`;
const bundleBytes = readFileSync(bundle);
// latin1, not utf8: esbuild writes the code as ASCII (it escapes every other character in
// strings and names), so only comments can hold other bytes, and there a byte-per-character
// reading changes nothing that runs — while it saves UTF-8 decoding, ~1.3 ms of every start.
const source = bundleBytes.toString('latin1');

/**
 * The cache file: an 8-byte little-endian length, the exact bundle the cache was made from, then
 * V8's cached data. V8 checks a cache against the source's length only, so a bundle changed
 * since (a patch of the same length) would run the cache's old code: the cache is used only when
 * the bundle is byte for byte the one it was made from (one memcmp).
 */
function cachedDataFor(bytes: Buffer): Buffer | undefined {
  let file: Buffer;
  try {
    file = readFileSync(cachePath);
  } catch {
    return undefined; // not built (or not readable): compile from source
  }
  if (file.length < 8) return undefined;
  const length = Number(file.readBigUInt64LE(0));
  if (length !== bytes.length || file.length < 8 + length || !file.subarray(8, 8 + length).equals(bytes)) return undefined;
  return file.subarray(8 + length);
}

// The bundle's first line is its #! line, which CommonJS's wrapper would make a syntax error.
const script = new Script(Module.wrap(source.startsWith('#!') ? `//${source}` : source), { filename: bundle, cachedData: cachedDataFor(bundleBytes) });

const writeTo = process.env[WRITE_ENV];
// Only for the build step: never in a process the sandbox started (it would write into the share).
if (writeTo !== undefined && process.env.VIRTIOFSD_TS_LAUNCHED === undefined && process.env.VIRTIOFSD_TS_SANDBOX_STAGE === undefined) {
  delete process.env[WRITE_ENV];
  // At exit the cache holds every function start-up and the first requests compiled.
  process.once('exit', () => {
    const header = Buffer.alloc(8);
    header.writeBigUInt64LE(BigInt(bundleBytes.length));
    writeFileSync(writeTo, Buffer.concat([header, bundleBytes, script.createCachedData()]), { mode: 0o644 });
  });
}

type ModuleWrapper = (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
const wrapper = script.runInThisContext() as ModuleWrapper;
const bundleModule = new Module(bundle, module);
bundleModule.filename = bundle;
wrapper.call(bundleModule.exports, bundleModule.exports, Module.createRequire(bundle), bundleModule, bundle, __dirname);
