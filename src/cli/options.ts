// The command line of virtiofsd-ts: both dialects its users speak.
//
// - The Rust virtiofsd 1.x dialect (`--shared-dir D --socket-path P --cache never`, `--x=v` or
//   `--x v`), used by Kata (Go runtime and runtime-rs), by libvirt when --print-capabilities
//   advertises "separate-options", and by humans.
// - The C virtiofsd (QEMU ≤ 7.2) dialect: `-o source=D,cache=none,no_posix_lock`, `-f`, `-d`,
//   used by older Kata and by libvirt without "separate-options".
//
// Rules:
// - Every option either works, is a documented no-op (it asks for what we do anyway), or is
//   RECOGNISED AND REFUSED with one line and exit code 2. Nothing is silently ignored.
// - Every error is exactly one line on stderr and exit code 2; --help/--version/
//   --print-capabilities print to stdout and exit 0.
// - No process.exit here: the result says what to print and which code to exit with.
// - `-o` options are applied after the long options, whatever their position (as the Rust
//   virtiofsd does); otherwise the last occurrence of a repeated option wins.
//
// yargs does the tokenising (aliases, `--x=v`, short groups, missing values); a small scan of
// argv before it gives unknown options, stray arguments and `--flag=value` precise one-line
// errors and splits the glued legacy form `-ocache=auto` into `-o cache=auto`.

import { readFileSync, realpathSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import yargs from 'yargs';
import type { CachePolicy, DaemonConfig, DaxMode, LogLevel, SandboxMode, SeccompMode } from './config.js';
import { parseModcaps } from '../sandbox/capabilities.js';
import { capabilitiesJson } from './capabilities.js';
import { applyFsCompat, FS_COMPAT_HELP, FS_OPTION_SPECS, fsConfig, newFsCompat, type FsCompat } from './fs-options.js';

export type ParseResult =
  | {
      kind: 'run';
      config: DaemonConfig;
      /** Deprecation notes (e.g. `-f`, `-o`) for the daemon to log once its logger exists. */
      warnings: string[];
    }
  | { kind: 'exit'; code: number; stdout?: string; stderr?: string };

/** Test seams; production uses the defaults. */
export interface ParseEnvironment {
  /** Where `--socket-group NAME` is looked up (default /etc/group). */
  groupFile?: string;
  /** Base for a relative --shared-dir (default process.cwd()). */
  cwd?: string;
}

export const PROGRAM = 'virtiofsd-ts';

/** Exit code of every usage error. */
export const USAGE_ERROR = 2;

/** The longest path a Unix socket address holds (sun_path is 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

class UsageError extends Error {}

function fail(message: string): never {
  throw new UsageError(message);
}

// ---------------------------------------------------------------------------------------------
// The option table: one entry per option, the single source for yargs and for --help.

type Section = 'main' | 'legacy' | 'refused';

interface OptionSpec {
  /** The yargs key: a long name without dashes, or one letter for a short option. */
  key: string;
  /** Other spellings (long or one letter), e.g. `socket` for `socket-path`, `h` for `help`. */
  aliases?: string[];
  /** Metavariable when the option takes a value; absent for flags. */
  value?: string;
  /** Help text: one line. */
  help: string;
  section: Section;
  /** Refused options: why (appended to "... is not supported yet by virtiofsd-ts"). */
  why?: string;
}

const OPTIONS: OptionSpec[] = [
  // Supported.
  { key: 'shared-dir', value: 'DIR', section: 'main', help: 'Shared directory to export (required; must be a directory)' },
  { key: 'socket-path', aliases: ['socket'], value: 'PATH', section: 'main', help: 'Create and listen on the vhost-user socket PATH (--socket: deprecated spelling)' },
  { key: 'fd', value: 'N', section: 'main', help: 'Serve the inherited, already listening socket N (instead of --socket-path)' },
  { key: 'mount', value: 'MNT', section: 'main', help: 'Mount the share on this host at MNT through /dev/fuse (instead of a socket)' },
  { key: 'socket-group', value: 'GROUP', section: 'main', help: 'Group of the --socket-path socket: a name in /etc/group or a numeric gid' },
  { key: 'cache', value: 'MODE', section: 'main', help: 'Cache policy: auto, always, metadata, never (legacy: none = never) [default: auto]' },
  { key: 'thread-pool-size', value: 'N', section: 'main', help: 'Syscall worker threads; 0 runs file-system calls inline [default: 0]' },
  { key: 'announce-submounts', section: 'main', help: 'Tell the guest which directories are mount points [default]' },
  { key: 'no-announce-submounts', section: 'main', help: 'Do not tell the guest which directories are mount points' },
  { key: 'log-level', value: 'LEVEL', section: 'main', help: 'Log level: error, warn, info, debug, trace, off [default: info]' },
  { key: 'syslog', section: 'main', help: 'Log to syslog instead of stderr' },
  { key: 'sandbox', value: 'MODE', section: 'main', help: 'Sandbox: namespace, chroot or none (see docs/sandbox.md) [default: namespace]' },
  { key: 'seccomp', value: 'ACTION', section: 'main', help: 'Seccomp action on calls outside the allow-list: kill, log, trap, none [default: kill]' },
  { key: 'modcaps', value: 'CAPS', section: 'main', help: 'Modify the kept capabilities, e.g. +sys_admin:-chown' },
  ...FS_OPTION_SPECS,
  { key: 'tag', value: 'TAG', section: 'main', help: 'Mount tag answered through GET_CONFIG (generic front-ends, e.g. QEMU 11)' },
  { key: 'dax-window', value: 'SIZE', section: 'main', help: 'DAX window size (e.g. 256M; a power of two ≥ 2M): enables DAX' },
  { key: 'dax', value: 'MODE', section: 'main', help: 'DAX protocol: auto (SHMEM if negotiated, else Kata FS_MAP), shmem, kata, never' },
  { key: 'print-capabilities', section: 'main', help: 'Print the vhost-user backend capabilities (JSON) and exit' },
  { key: 'version', aliases: ['V'], section: 'main', help: 'Print the version and exit' },
  { key: 'help', aliases: ['h'], section: 'main', help: 'Print this help and exit' },

  // The C virtiofsd's short options.
  { key: 'd', section: 'legacy', help: 'Debug logging (same as --log-level debug; wins over --log-level)' },
  { key: 'f', section: 'legacy', help: 'Foreground (no-op: virtiofsd-ts always runs in the foreground)' },
  { key: 'o', value: 'OPT[,OPT...]', section: 'legacy', help: 'C virtiofsd options, see below (repeatable)' },

  // Recognised, refused: these features are not implemented at this stage.
  { key: 'uid-map', value: 'MAP', section: 'refused', help: 'UID map of the sandbox user namespace' },
  { key: 'gid-map', value: 'MAP', section: 'refused', help: 'GID map of the sandbox user namespace' },
  { key: 'migration-mode', value: 'MODE', section: 'refused', help: 'Migration: how to transfer inodes' },
  { key: 'migration-on-error', value: 'MODE', section: 'refused', help: 'Migration: what to do on errors' },
  { key: 'migration-verify-handles', section: 'refused', help: 'Migration: verify inodes with file handles' },
  { key: 'migration-confirm-paths', section: 'refused', help: 'Migration: re-check paths at switch-over' },
  { key: 'daemonize', section: 'refused', help: 'Run in the background (C virtiofsd)', why: 'it always runs in the foreground' },
];

/** Every spelling (key or alias) → its spec. */
const BY_NAME = new Map<string, OptionSpec>();
for (const spec of OPTIONS) {
  BY_NAME.set(spec.key, spec);
  for (const alias of spec.aliases ?? []) BY_NAME.set(alias, spec);
}

function display(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

/** Families refused as a whole, even spellings we do not list (future peers' options). */
function refusedFamily(name: string): boolean {
  return name.startsWith('dax') || name.startsWith('migration-');
}

function notSupported(what: string, why?: string): never {
  fail(`${what} is not supported yet by ${PROGRAM}${why ? ` (${why})` : ''}`);
}

// ---------------------------------------------------------------------------------------------
// Pre-scan: precise errors for what yargs would only call "Unknown argument", and the glued
// short form of -o.

function prescan(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--') {
      if (i + 1 < argv.length) fail(`unexpected argument '${argv[i + 1]}'; see --help`);
      continue;
    }
    if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      const name = token.slice(2, eq < 0 ? undefined : eq);
      const spec = BY_NAME.get(name);
      if (!spec || name.length === 1) {
        if (refusedFamily(name)) notSupported(`--${name}`);
        fail(`unknown option --${name}; see --help`);
      }
      if (spec.value === undefined && eq >= 0) fail(`option --${name} does not take a value`);
      out.push(token);
      if (spec.value !== undefined && eq < 0 && i + 1 < argv.length) out.push(argv[++i]);
      continue;
    }
    if (token.startsWith('-') && token.length > 1) {
      // A group of short options, e.g. -df, -o VALUE, -oVALUE, -fo VALUE.
      const letters = token.slice(1);
      let split = false;
      for (let k = 0; k < letters.length && !split; k++) {
        const letter = letters[k];
        const spec = BY_NAME.get(letter);
        if (!spec || letter === '-' || letter === '=') {
          const head = letters.split('=')[0];
          if (head.length > 1 && BY_NAME.has(head)) fail(`unknown option -${head} (did you mean --${head}?)`);
          fail(`unknown option -${letter}; see --help`);
        }
        if (spec.value === undefined) continue;
        // A short option with a value: the rest of the token is the value, else the next token.
        split = true;
        if (k > 0) out.push(`-${letters.slice(0, k)}`);
        out.push(`-${letter}`);
        let rest = letters.slice(k + 1);
        if (rest.startsWith('=')) rest = rest.slice(1);
        if (rest !== '') out.push(rest);
        else if (i + 1 < argv.length) out.push(argv[++i]);
      }
      if (!split) out.push(token);
      continue;
    }
    fail(`unexpected argument '${token}'; see --help`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// yargs

type Parsed = Record<string, unknown>;

function runYargs(argv: string[]): Parsed {
  let parser = yargs()
    .parserConfiguration({
      'camel-case-expansion': false,
      'boolean-negation': false, // --no-xattr etc. are options of their own
      'dot-notation': false,
      'duplicate-arguments-array': true, // repeated -o accumulate; others: the last wins (below)
      'flatten-duplicate-arrays': true,
      'greedy-arrays': false,
      'parse-numbers': false, // numbers are validated here, strictly
      'parse-positional-numbers': false,
      'strip-aliased': true,
      'populate--': false,
    })
    .locale('en') // the messages mapped in yargsMessage(), whatever LANG says
    .help(false)
    .version(false)
    .exitProcess(false)
    .showHelpOnFail(false)
    .strict()
    .fail((message: string | undefined, error: Error | undefined) => {
      throw new UsageError(yargsMessage(message ?? error?.message ?? 'invalid command line'));
    });
  for (const spec of OPTIONS) {
    parser = parser.option(spec.key, {
      type: spec.value === undefined ? 'boolean' : 'string',
      requiresArg: spec.value !== undefined,
      alias: spec.aliases,
    });
  }
  return parser.parseSync(argv) as Parsed;
}

/** yargs' messages, rewritten as ours. */
function yargsMessage(message: string): string {
  const missing = /^Not enough arguments following: (.+)$/.exec(message);
  if (missing) return `option ${display(missing[1])} requires a value`;
  const unknown = /^Unknown arguments?: ([^,]+)/.exec(message);
  if (unknown) return `unknown option ${display(unknown[1])}; see --help`;
  return message.split('\n')[0];
}

/** The last value of a repeatable valued option, or undefined if absent. */
function lastString(parsed: Parsed, key: string): string | undefined {
  const v = parsed[key];
  if (v === undefined) return undefined;
  const last = Array.isArray(v) ? v[v.length - 1] : v;
  return String(last);
}

function allStrings(parsed: Parsed, key: string): string[] {
  const v = parsed[key];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

function flag(parsed: Parsed, key: string): boolean {
  const v = parsed[key];
  return Array.isArray(v) ? v[v.length - 1] === true : v === true;
}

// ---------------------------------------------------------------------------------------------
// Values

function nonEmpty(value: string, what: string): string {
  if (value === '') fail(`option ${what} requires a value`);
  return value;
}

function parseUint(value: string, what: string, max: number): number {
  if (!/^[0-9]+$/.test(value)) fail(`invalid value '${value}' for ${what}: expected a non-negative integer`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n > max) fail(`invalid value '${value}' for ${what}: at most ${max}`);
  return n;
}

function parseCache(value: string, what: string): CachePolicy {
  switch (value) {
    case 'auto':
    case 'always':
    case 'never':
    case 'metadata':
      return value;
    case 'none': // the C virtiofsd's name for never
      return 'never';
    default:
      fail(`invalid value '${value}' for ${what}: expected auto, always, metadata or never`);
  }
}

function parseLogLevel(value: string, what: string): LogLevel {
  const v = value.toLowerCase(); // the Rust virtiofsd accepts any case
  switch (v) {
    case 'error':
    case 'warn':
    case 'info':
    case 'debug':
    case 'trace':
    case 'off':
      return v;
    case 'err': // the C virtiofsd's spelling
      return 'error';
    default:
      fail(`invalid value '${value}' for ${what}: expected error, warn, info, debug, trace or off`);
  }
}

function parseSandbox(value: string, what: string): SandboxMode {
  if (value === 'none' || value === 'namespace' || value === 'chroot') return value;
  fail(`invalid value '${value}' for ${what}: expected none, namespace or chroot`);
}

function parseSeccomp(value: string): SeccompMode {
  if (value === 'none' || value === 'kill' || value === 'log' || value === 'trap') return value;
  fail(`invalid value '${value}' for --seccomp: expected none, kill, log or trap`);
}

/** `--modcaps` / `-o modcaps=`: checked here, applied by the sandbox (src/sandbox/capabilities.ts). */
function checkModcaps(value: string, what: string): string {
  try {
    parseModcaps(nonEmpty(value, what));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    fail(`invalid value '${value}' for ${what}: ${(e as Error).message}`);
  }
  return value;
}

/** `--socket-group`: a numeric gid, or a name looked up in /etc/group (no NSS: Node has no getgrnam). */
/** --dax-window: bytes with an optional K/M/G suffix; a power of two of at least 2 MiB. */
function parseDaxWindow(text: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text.trim());
  if (m === null) fail(`invalid value '${text}' for --dax-window: expected a size like 256M`);
  const shift = { '': 0n, K: 10n, M: 20n, G: 30n }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  const bytes = BigInt(m[1]) << shift;
  if (bytes < 2n << 20n || (bytes & (bytes - 1n)) !== 0n || bytes > 1n << 40n) {
    fail(`--dax-window must be a power of two between 2M and 1T, not ${text}`);
  }
  return Number(bytes); // ≤ 2^40: exact, and plain JSON for the sandbox's re-exec
}

function resolveGroup(group: string, groupFile: string): number {
  if (/^[0-9]+$/.test(group)) return parseUint(group, '--socket-group', 0xfffffffe);
  let text: string;
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch (e) {
    fail(`--socket-group ${group}: cannot read ${groupFile}: ${(e as Error).message}`);
  }
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields.length >= 3 && fields[0] === group && /^[0-9]+$/.test(fields[2])) {
      return Number(fields[2]);
    }
  }
  fail(`--socket-group ${group}: no such group in ${groupFile} (give a numeric gid for NSS-only groups)`);
}

function checkSharedDir(dir: string, cwd: string): string {
  const absolute = resolvePath(cwd, dir);
  let real: string;
  try {
    real = realpathSync(absolute);
    if (!statSync(real).isDirectory()) fail(`shared directory '${dir}' is not a directory`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') fail(`shared directory '${dir}' does not exist`);
    if (code === 'EACCES') fail(`shared directory '${dir}' is not accessible: permission denied`);
    fail(`shared directory '${dir}': ${(e as Error).message}`);
  }
  return real;
}

/**
 * `--mount MNT`: an existing directory, canonical, and neither inside the share nor containing
 * it — either way the daemon's own look-ups could enter its own mount and wait for itself.
 * (Whether it is empty is checked right before mounting: see src/daemon/host-mount.ts.)
 */
function checkMountPoint(dir: string, sharedDir: string, cwd: string): string {
  let real: string;
  try {
    real = realpathSync(resolvePath(cwd, dir));
    if (!statSync(real).isDirectory()) fail(`mount point '${dir}' is not a directory`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') fail(`mount point '${dir}' does not exist`);
    if (code === 'ENOTCONN') fail(`mount point '${dir}' is a dead FUSE mount: unmount it first (umount '${dir}')`);
    fail(`mount point '${dir}': ${(e as Error).message}`);
  }
  const within = (inner: string, outer: string): boolean => inner === outer || inner.startsWith(outer === '/' ? '/' : `${outer}/`);
  if (within(real, sharedDir)) fail(`mount point '${dir}' is inside the shared directory (the daemon would serve its own mount)`);
  // Mounted over, the share's own path would lead into the mount: anything that resolves a path
  // below the share (mount points, /proc/self/mountinfo entries) would wait for itself.
  if (within(sharedDir, real)) fail(`the shared directory is inside mount point '${dir}' (the mount would hide it)`);
  return real;
}

// ---------------------------------------------------------------------------------------------
// The legacy -o list

interface Settings {
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
function splitCompat(arg: string): string[] {
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

function applyCompat(item: string, s: Settings): void {
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

// ---------------------------------------------------------------------------------------------
// --help, --version

function column(left: string, help: string): string {
  const pad = 32;
  return left.length < pad ? `  ${left.padEnd(pad)}${help}` : `  ${left}\n  ${''.padEnd(pad)}${help}`;
}

function optionLeft(spec: OptionSpec): string {
  const names = [spec.key, ...(spec.aliases ?? [])]
    .sort((a, b) => Number(a.length > 1) - Number(b.length > 1)) // -h, --help
    .map(display)
    .join(', ');
  return spec.value === undefined ? names : `${names} ${spec.value}`;
}

export function helpText(): string {
  const lines: string[] = [
    `Usage: ${PROGRAM} --shared-dir DIR (--socket-path PATH | --fd N | --mount MNT) [OPTIONS]`,
    '',
    'A vhost-user-fs (virtio-fs) backend: serves one host directory to a guest.',
    'Long options take their value as --option VALUE or --option=VALUE.',
    '',
    'Options:',
  ];
  for (const spec of OPTIONS.filter((o) => o.section === 'main')) lines.push(column(optionLeft(spec), spec.help));
  lines.push('', 'C virtiofsd compatibility:');
  for (const spec of OPTIONS.filter((o) => o.section === 'legacy')) lines.push(column(optionLeft(spec), spec.help));
  lines.push(
    '',
    '  -o options (comma-separated, repeatable; ",," is a literal comma; applied after long options):',
    column('  source=DIR', 'Same as --shared-dir DIR'),
    column('  cache=MODE', 'auto, always, metadata, none (= never), never'),
    column('  log_level=LEVEL', 'err, warn, info, debug (also trace, off; loglevel= too)'),
    column('  thread_pool_size=N', 'Same as --thread-pool-size N'),
    column('  sandbox=MODE', 'Same as --sandbox MODE'),
    column('  modcaps=CAPS', 'Same as --modcaps CAPS'),
    column('  announce_submounts', 'Same as --announce-submounts'),
    column('  debug', 'Same as -d'),
    ...FS_COMPAT_HELP.map(([word, help]) => column(`  ${word}`, help)),
    '    Refused, not supported yet: timeout=, max_idle_threads=, allow_root, norace, dax*',
    '',
    `Not supported yet (recognised, refused with exit code ${USAGE_ERROR}):`,
  );
  for (const spec of OPTIONS.filter((o) => o.section === 'refused')) lines.push(column(optionLeft(spec), spec.help));
  lines.push(column('--dax*, --migration-*', 'Any DAX or migration option'));
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}

export function packageVersion(): string {
  // src/cli and dist/cli both sit two levels below the package root.
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return String((JSON.parse(text) as { version?: unknown }).version ?? 'unknown');
}

// ---------------------------------------------------------------------------------------------

export function parseCommandLine(argv: string[], env: ParseEnvironment = {}): ParseResult {
  try {
    return parse(argv, env);
  } catch (e) {
    const usage = e instanceof UsageError;
    const message = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ');
    return { kind: 'exit', code: usage ? USAGE_ERROR : 1, stderr: `${PROGRAM}: ${message}\n` };
  }
}

function parse(argv: string[], env: ParseEnvironment): ParseResult {
  const parsed = runYargs(prescan(argv));

  if (flag(parsed, 'help')) return { kind: 'exit', code: 0, stdout: helpText() };
  if (flag(parsed, 'version')) return { kind: 'exit', code: 0, stdout: `${PROGRAM} ${packageVersion()}\n` };
  if (flag(parsed, 'print-capabilities')) return { kind: 'exit', code: 0, stdout: capabilitiesJson() };

  // Refused long options, in table order.
  for (const spec of OPTIONS) {
    if (spec.section !== 'refused') continue;
    const present = spec.value === undefined ? flag(parsed, spec.key) : parsed[spec.key] !== undefined;
    if (present) notSupported(`--${spec.key}`, spec.why);
  }

  const warnings: string[] = [];
  const s: Settings = {
    cache: 'auto',
    threadPoolSize: 0,
    announceSubmounts: true,
    logLevel: 'info',
    debug: flag(parsed, 'd'),
    fs: newFsCompat(),
  };

  const sharedDir = lastString(parsed, 'shared-dir');
  if (sharedDir !== undefined) s.sharedDir = nonEmpty(sharedDir, '--shared-dir');
  const cache = lastString(parsed, 'cache');
  if (cache !== undefined) s.cache = parseCache(cache, '--cache');
  const pool = lastString(parsed, 'thread-pool-size');
  if (pool !== undefined) s.threadPoolSize = parseUint(pool, '--thread-pool-size', 0x7fffffff);
  // --announce-submounts / --no-announce-submounts: the last one wins (as in the Rust virtiofsd).
  const announce = argv.lastIndexOf('--announce-submounts');
  const noAnnounce = argv.lastIndexOf('--no-announce-submounts');
  if (announce >= 0 || noAnnounce >= 0) s.announceSubmounts = announce > noAnnounce;
  const level = lastString(parsed, 'log-level');
  if (level !== undefined) s.logLevel = parseLogLevel(level, '--log-level');
  const sandbox = lastString(parsed, 'sandbox');
  if (sandbox !== undefined) s.sandbox = parseSandbox(sandbox, '--sandbox');
  const seccomp = lastString(parsed, 'seccomp');
  const seccompMode = seccomp === undefined ? undefined : parseSeccomp(seccomp);
  const modcaps = lastString(parsed, 'modcaps');
  if (modcaps !== undefined) s.modcaps = checkModcaps(modcaps, '--modcaps');

  const tag = lastString(parsed, 'tag');
  if (tag !== undefined && (Buffer.byteLength(tag) === 0 || Buffer.byteLength(tag) > 36)) fail('--tag must be 1 to 36 bytes');
  const daxWindowText = lastString(parsed, 'dax-window');
  const daxWindow = daxWindowText === undefined ? undefined : parseDaxWindow(daxWindowText);
  const daxText = lastString(parsed, 'dax');
  if (daxText !== undefined && !['auto', 'shmem', 'kata', 'never'].includes(daxText)) {
    fail(`invalid value '${daxText}' for --dax: expected auto, shmem, kata or never`);
  }
  const dax = (daxText ?? 'auto') as DaxMode;
  if (daxWindow === undefined && (dax === 'shmem' || dax === 'kata')) fail(`--dax=${dax} needs --dax-window SIZE`);

  const compat = allStrings(parsed, 'o');
  for (const arg of compat) for (const item of splitCompat(arg)) applyCompat(item, s);

  if (flag(parsed, 'f')) warnings.push("-f has no effect (virtiofsd-ts always runs in the foreground); please remove it");
  if (flag(parsed, 'd')) warnings.push("-d is deprecated; please use '--log-level debug'");
  if (compat.length > 0) {
    warnings.push("-o options are deprecated; please use the long options (e.g. '--cache auto' for '-o cache=auto')");
  }
  if (argv.some((a) => a === '--socket' || a.startsWith('--socket='))) {
    warnings.push("--socket is deprecated; please use '--socket-path'");
  }

  // Where to listen.
  const socketPath = lastString(parsed, 'socket-path');
  const fdText = lastString(parsed, 'fd');
  const mountText = lastString(parsed, 'mount');
  if (socketPath !== undefined && fdText !== undefined) fail('--socket-path and --fd cannot be used together');
  if (mountText !== undefined && (socketPath !== undefined || fdText !== undefined)) {
    fail(`--mount cannot be used with ${socketPath !== undefined ? '--socket-path' : '--fd'} (it serves the host, not a VM)`);
  }
  if (socketPath === undefined && fdText === undefined && mountText === undefined) {
    fail('missing --socket-path PATH or --fd N (or --mount MNT); see --help');
  }
  const config: DaemonConfig = {
    sharedDir: '',
    cache: s.cache,
    threadPoolSize: s.threadPoolSize,
    announceSubmounts: s.announceSubmounts,
    logLevel: s.debug ? 'debug' : s.logLevel,
    syslog: flag(parsed, 'syslog'),
    // virtiofsd's defaults. --mount serves this host through /dev/fuse: its mount must be
    // visible here, and it mounts and unmounts while serving, so it runs without either.
    sandbox: s.sandbox ?? (mountText === undefined ? 'namespace' : 'none'),
    seccomp: seccompMode ?? (mountText === undefined ? 'kill' : 'none'),
  };
  if (mountText !== undefined && config.sandbox !== 'none') fail(`--sandbox=${config.sandbox} cannot be used with --mount (the mount must be visible on the host)`);
  if (mountText !== undefined && config.seccomp !== 'none') fail(`--seccomp=${config.seccomp} cannot be used with --mount (it mounts and unmounts while serving)`);
  if (s.modcaps !== undefined) config.modcaps = s.modcaps;
  Object.assign(config, fsConfig(parsed, argv, s.fs, fail, warnings));
  if (tag !== undefined) config.tag = tag;
  if (daxWindow !== undefined) config.daxWindow = daxWindow;
  if (daxWindow !== undefined) config.dax = dax;
  if (socketPath !== undefined) {
    nonEmpty(socketPath, '--socket-path');
    const bytes = Buffer.byteLength(socketPath);
    if (bytes > MAX_SOCKET_PATH) {
      fail(`--socket-path is too long (${bytes} bytes; a Unix socket path holds at most ${MAX_SOCKET_PATH})`);
    }
    config.socketPath = socketPath;
  }
  if (fdText !== undefined) config.fd = parseUint(nonEmpty(fdText, '--fd'), '--fd', 0x7fffffff);

  const group = lastString(parsed, 'socket-group');
  if (group !== undefined) {
    nonEmpty(group, '--socket-group');
    if (config.fd !== undefined) fail('--socket-group cannot be used with --fd (the socket is not ours to chgrp)');
    if (mountText !== undefined) fail('--socket-group cannot be used with --mount (there is no socket)');
    config.socketGroup = group;
    config.socketGid = resolveGroup(group, env.groupFile ?? '/etc/group');
  }

  if (s.sharedDir === undefined) fail('missing --shared-dir DIR (or -o source=DIR); see --help');
  config.sharedDir = checkSharedDir(s.sharedDir, env.cwd ?? process.cwd());
  if (mountText !== undefined) config.mount = checkMountPoint(nonEmpty(mountText, '--mount'), config.sharedDir, env.cwd ?? process.cwd());

  return { kind: 'run', config, warnings };
}
