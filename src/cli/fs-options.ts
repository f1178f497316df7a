// The command-line options of the file-system semantics (extended attributes, locks, caching,
// identity, credentials): their table entries, their -o words, and how they become DaemonConfig
// fields. options.ts owns the parsing machinery and calls in here; usage errors go through the
// `fail` it passes (one line, exit 2).
//
// Names and syntax follow the Rust virtiofsd (its README and main.rs), with the C virtiofsd's
// -o words for the same things, plus `-o posix_lock` / `-o flock` (C virtiofsd; the Rust one
// has no lock support and only accepts the no_ forms), also spelt --posix-lock / --flock here.
// A field is set only when the options ask for something other than the default (named beside
// the field in config.ts): spelling out a default (--no-xattr, -o no_flock) changes nothing.

import type { DaemonConfig } from './config.js';
import { IdMapper, parseIdMapRule, type IdMapRule } from '../passthrough/idmap.js';
import { parseXattrMap } from '../passthrough/xattrmap.js';

type Fail = (message: string) => never;
type Parsed = Record<string, unknown>;

/** Entries for options.ts's table (same shape as its OptionSpec). */
export const FS_OPTION_SPECS: { key: string; value?: string; help: string; section: 'main' }[] = [
  { key: 'xattr', section: 'main', help: 'Enable extended attributes' },
  { key: 'no-xattr', section: 'main', help: 'Disable extended attributes [default]' },
  { key: 'xattrmap', value: 'MAP', section: 'main', help: 'Translate xattr names (implies --xattr), e.g. :map::user.virtiofs.:' },
  { key: 'posix-acl', section: 'main', help: 'Enable POSIX ACLs (implies --xattr)' },
  { key: 'security-label', section: 'main', help: 'Set the guest\'s security labels on new files (implies --xattr)' },
  { key: 'killpriv-v2', section: 'main', help: 'Enable FUSE_HANDLE_KILLPRIV_V2' },
  { key: 'no-killpriv-v2', section: 'main', help: 'Disable FUSE_HANDLE_KILLPRIV_V2 [default]' },
  { key: 'posix-lock', section: 'main', help: 'Forward POSIX locks (fcntl) to the host as OFD locks (= -o posix_lock)' },
  { key: 'flock', section: 'main', help: 'Forward flock(2) locks to the host (= -o flock)' },
  { key: 'inode-file-handles', value: 'MODE', section: 'main', help: 'Hold inodes by file handle: never, prefer, mandatory [default: prefer]' },
  { key: 'rlimit-nofile', value: 'N', section: 'main', help: 'Open-file limit; 0 leaves it [default: min(1e6, nr_open, file-max - 16384)]' },
  { key: 'readonly', section: 'main', help: 'Refuse every change to the share (EROFS)' },
  { key: 'writeback', section: 'main', help: 'Enable the writeback cache' },
  { key: 'no-readdirplus', section: 'main', help: 'Disable READDIRPLUS' },
  { key: 'allow-direct-io', section: 'main', help: 'Honour O_DIRECT from the guest' },
  { key: 'allow-mmap', section: 'main', help: 'Allow shared mmap of files with --cache=metadata|never' },
  { key: 'preserve-noatime', section: 'main', help: 'Keep O_NOATIME from the guest (dropped by default)' },
  { key: 'translate-uid', value: 'MAP', section: 'main', help: 'Translate uids: guest:, host:, squash-guest:, squash-host:, forbid-guest:, map:' },
  { key: 'translate-gid', value: 'MAP', section: 'main', help: 'Translate gids (same forms as --translate-uid)' },
];

/** Help lines for the -o words (options.ts prints them in its -o section). */
export const FS_COMPAT_HELP: readonly [string, string][] = [
  ['xattr, no_xattr', 'Same as --xattr / --no-xattr'],
  ['xattrmap=MAP', 'Same as --xattrmap MAP'],
  ['posix_acl, no_posix_acl', 'Same as --posix-acl (no_: off)'],
  ['security_label, no_security_label', 'Same as --security-label (no_: off)'],
  ['killpriv_v2, no_killpriv_v2', 'Same as --killpriv-v2 / --no-killpriv-v2'],
  ['posix_lock, no_posix_lock', 'Forward POSIX locks (default: no_posix_lock)'],
  ['flock, no_flock', 'Forward flock locks (default: no_flock)'],
  ['writeback, no_writeback', 'Same as --writeback (no_: off)'],
  ['readdirplus, no_readdirplus', 'READDIRPLUS on (default) / off'],
  ['allow_direct_io, no_allow_direct_io', 'Same as --allow-direct-io (no_: off)'],
];

/** -o words seen (applied after the long options, last one wins). */
export interface FsCompat {
  words: Map<string, boolean>;
  xattrmap?: string;
}

export function newFsCompat(): FsCompat {
  return { words: new Map() };
}

const WORDS = ['xattr', 'posix_acl', 'security_label', 'killpriv_v2', 'posix_lock', 'flock', 'writeback', 'readdirplus', 'allow_direct_io'];

/** Takes one -o item if it is ours; false otherwise. */
export function applyFsCompat(item: string, c: FsCompat, fail: Fail): boolean {
  if (item.startsWith('xattrmap=')) {
    const value = item.slice('xattrmap='.length);
    if (value === '') fail('option -o xattrmap requires a value');
    c.xattrmap = value;
    return true;
  }
  const on = !item.startsWith('no_');
  const word = on ? item : item.slice(3);
  if (!WORDS.includes(word)) return false;
  c.words.delete(word); // re-insert: iteration order is the order of the last occurrence
  c.words.set(word, on);
  return true;
}

function flag(parsed: Parsed, key: string): boolean {
  const v = parsed[key];
  return Array.isArray(v) ? v[v.length - 1] === true : v === true;
}

function lastString(parsed: Parsed, key: string): string | undefined {
  const v = parsed[key];
  if (v === undefined) return undefined;
  return String(Array.isArray(v) ? v[v.length - 1] : v);
}

function allStrings(parsed: Parsed, key: string): string[] {
  const v = parsed[key];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** `--x` vs `--no-x`: the later one wins; undefined when neither was given. */
function lastOf(argv: readonly string[], on: string, off: string): boolean | undefined {
  const a = argv.lastIndexOf(on);
  const b = argv.lastIndexOf(off);
  return a < 0 && b < 0 ? undefined : a > b;
}

function idRules(specs: string[], what: string, fail: Fail): IdMapRule[] {
  const rules: IdMapRule[] = [];
  for (const spec of specs) {
    try {
      rules.push(parseIdMapRule(spec));
    } catch (e) {
      fail(`invalid value '${spec}' for ${what}: ${(e as Error).message}`);
    }
  }
  try {
    new IdMapper(rules);
  } catch (e) {
    fail(`${what}: ${(e as Error).message}`);
  }
  return rules;
}

/** The DaemonConfig fields of these options (only those given), and their warnings. */
export function fsConfig(parsed: Parsed, argv: readonly string[], compat: FsCompat, fail: Fail, warnings: string[]): Partial<DaemonConfig> {
  const out: Partial<DaemonConfig> = {};
  const bool = (key: keyof DaemonConfig, value: boolean | undefined): void => {
    if (value === undefined) return;
    if (value === (key === 'readdirplus')) delete (out as Record<string, unknown>)[key]; // the default
    else (out as Record<string, unknown>)[key] = value;
  };
  bool('xattr', lastOf(argv, '--xattr', '--no-xattr'));
  bool('killprivV2', lastOf(argv, '--killpriv-v2', '--no-killpriv-v2'));
  if (flag(parsed, 'posix-acl')) bool('posixAcl', true);
  if (flag(parsed, 'security-label')) bool('securityLabel', true);
  if (flag(parsed, 'posix-lock')) bool('posixLock', true);
  if (flag(parsed, 'flock')) bool('flock', true);
  if (flag(parsed, 'readonly')) bool('readonly', true);
  if (flag(parsed, 'writeback')) bool('writeback', true);
  if (flag(parsed, 'no-readdirplus')) bool('readdirplus', false);
  if (flag(parsed, 'allow-direct-io')) bool('allowDirectIo', true);
  if (flag(parsed, 'allow-mmap')) bool('allowMmap', true);
  if (flag(parsed, 'preserve-noatime')) bool('preserveNoatime', true);

  // -o words come after the long options.
  const key: Record<string, keyof DaemonConfig> = {
    xattr: 'xattr',
    posix_acl: 'posixAcl',
    security_label: 'securityLabel',
    killpriv_v2: 'killprivV2',
    posix_lock: 'posixLock',
    flock: 'flock',
    writeback: 'writeback',
    readdirplus: 'readdirplus',
    allow_direct_io: 'allowDirectIo',
  };
  for (const [word, on] of compat.words) bool(key[word], on);

  const map = compat.xattrmap ?? lastString(parsed, 'xattrmap');
  if (map !== undefined) {
    const what = compat.xattrmap !== undefined ? '-o xattrmap' : '--xattrmap';
    try {
      out.xattrmap = parseXattrMap(map);
    } catch (e) {
      fail(`invalid value for ${what}: ${(e as Error).message}`);
    }
  }

  const ifh = lastString(parsed, 'inode-file-handles');
  if (ifh !== undefined) {
    if (ifh === 'fallback') warnings.push("--inode-file-handles=fallback is deprecated; please use 'prefer'");
    if (ifh === 'prefer' || ifh === 'fallback') out.inodeFileHandles = 'prefer';
    else if (ifh === 'mandatory') out.inodeFileHandles = 'mandatory';
    else if (ifh === 'never') out.inodeFileHandles = 'never';
    else fail(`invalid value '${ifh}' for --inode-file-handles: expected never, prefer or mandatory`);
  }

  const nofile = lastString(parsed, 'rlimit-nofile');
  if (nofile !== undefined) {
    if (!/^[0-9]+$/.test(nofile) || !Number.isSafeInteger(Number(nofile))) {
      fail(`invalid value '${nofile}' for --rlimit-nofile: expected a non-negative integer`);
    }
    const n = Number(nofile);
    // Fewer descriptors than Node itself keeps open at start-up could not serve anything.
    if (n !== 0 && n < 64) fail(`invalid value '${nofile}' for --rlimit-nofile: at least 64 (or 0: leave the limit)`);
    out.rlimitNofile = n;
  }

  const uids = allStrings(parsed, 'translate-uid');
  const gids = allStrings(parsed, 'translate-gid');
  if (uids.length > 0) out.translateUid = idRules(uids, '--translate-uid', fail);
  if (gids.length > 0) out.translateGid = idRules(gids, '--translate-gid', fail);
  if (out.posixAcl === true && (uids.length > 0 || gids.length > 0)) {
    fail('--translate-uid/--translate-gid cannot be used with --posix-acl (ACLs name host ids)');
  }
  return out;
}
