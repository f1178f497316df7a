// The option table of virtiofsd-ts: every option either dialect spells, once — the single source
// for the tokeniser (argv.ts), for yargs and for --help — plus the usage-error type every part of
// the command-line parsing throws (one line, exit code 2; see options.ts for the rules).

import { FS_COMPAT_HELP, FS_OPTION_SPECS } from './fs-options.js';

export const PROGRAM = 'virtiofsd-ts';

/** Exit code of every usage error. */
export const USAGE_ERROR = 2;

/** A usage error: options.ts turns it into one line on stderr and exit code 2. */
export class UsageError extends Error {}

export function fail(message: string): never {
  throw new UsageError(message);
}

export type Section = 'main' | 'legacy' | 'refused';

export interface OptionSpec {
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

export const OPTIONS: OptionSpec[] = [
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
  { key: 'dax-inode-min-size', value: 'SIZE', section: 'main', help: 'dax=inode guests: files smaller than SIZE use the page cache [default: 0]' },
  { key: 'dax-readonly-copies', section: 'main', help: 'QEMU 11: read-only DAX ranges from copies, never the file (docs/dax.md)' },
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
export const BY_NAME = new Map<string, OptionSpec>();
for (const spec of OPTIONS) {
  BY_NAME.set(spec.key, spec);
  for (const alias of spec.aliases ?? []) BY_NAME.set(alias, spec);
}

export function display(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

/** Families refused as a whole, even spellings we do not list (future peers' options). */
export function refusedFamily(name: string): boolean {
  return name.startsWith('dax') || name.startsWith('migration-');
}

export function notSupported(what: string, why?: string): never {
  fail(`${what} is not supported yet by ${PROGRAM}${why ? ` (${why})` : ''}`);
}

// ---------------------------------------------------------------------------------------------
// --help

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
