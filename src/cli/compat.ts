// The C virtiofsd's `-o` list (`-o source=DIR,cache=none,no_posix_lock`): items split at commas
// and applied to the settings the long options left, after them (as the Rust virtiofsd does).

import type { CachePolicy, LogLevel, SandboxMode } from './config.js';
import { applyFsCompat, type FsCompat } from './fs-options.js';
import { fail, notSupported } from './option-table.js';
import { checkModcaps, nonEmpty, parseCache, parseLogLevel, parseSandbox, parseUint } from './values.js';

export interface Settings {
  sharedDir?: string;
  cache: CachePolicy;
  threadPoolSize: number;
  announceSubmounts: boolean;
  logLevel: LogLevel;
  debug: boolean;
  sandbox?: SandboxMode;
  modcaps?: string;
  /** -o words of the file-system options (fs-options.ts). */
  fs: FsCompat;
}

/** Splits one -o argument at commas; `,,` is a literal comma (libvirt escapes paths so). */
export function splitCompat(arg: string): string[] {
  const items: string[] = [];
  let current = '';
  for (let i = 0; i < arg.length; i++) {
    if (arg[i] !== ',') {
      current += arg[i];
    } else if (arg[i + 1] === ',') {
      current += ',';
      i++;
    } else {
      items.push(current);
      current = '';
    }
  }
  items.push(current);
  return items.filter((item) => item !== '');
}

// The file-system words (xattr, posix_lock, flock, writeback, ... and their no_ forms, and
// xattrmap=) are handled by fs-options.ts.

// Recognised single words we cannot honour yet.
const COMPAT_REFUSED = new Map<string, string | undefined>([
  ['allow_root', undefined],
  ['norace', undefined],
]);

// Recognised key=value options we cannot honour yet.
const COMPAT_REFUSED_KEYS = new Map<string, string | undefined>([
  ['timeout', 'the cache timeouts follow --cache'],
  ['max_idle_threads', undefined],
]);

export function applyCompat(item: string, s: Settings): void {
  const eq = item.indexOf('=');
  if (eq < 0) {
    if (item === 'debug') s.debug = true;
    else if (item === 'announce_submounts') s.announceSubmounts = true;
    else if (applyFsCompat(item, s.fs, fail)) return;
    else if (COMPAT_REFUSED.has(item)) notSupported(`-o ${item}`, COMPAT_REFUSED.get(item));
    else if (item.startsWith('dax')) notSupported(`-o ${item}`);
    else fail(`unknown option -o ${item}; see --help`);
    return;
  }
  const key = item.slice(0, eq);
  const value = item.slice(eq + 1);
  const what = `-o ${key}`;
  if (applyFsCompat(item, s.fs, fail)) return;
  switch (key) {
    case 'source':
      s.sharedDir = nonEmpty(value, what);
      return;
    case 'cache':
      s.cache = parseCache(value, what);
      return;
    case 'log_level':
    case 'loglevel': // the Rust virtiofsd's compat spelling
      s.logLevel = parseLogLevel(value, what);
      return;
    case 'thread_pool_size':
      s.threadPoolSize = parseUint(value, what, 0x7fffffff);
      return;
    case 'sandbox':
      s.sandbox = parseSandbox(value, what);
      return;
    case 'modcaps':
      s.modcaps = checkModcaps(value, what);
      return;
    default:
      if (COMPAT_REFUSED_KEYS.has(key)) notSupported(what, COMPAT_REFUSED_KEYS.get(key));
      if (key.startsWith('dax')) notSupported(what);
      fail(`unknown option -o ${item}; see --help`);
  }
}
