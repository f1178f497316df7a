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
// Parts: option-table.ts (every option, --help), argv.ts (tokenising: a pre-scan, the plain
// common case read directly, yargs for the rest), values.ts (checking each value), compat.ts
// (the -o list), fs-options.ts (the file-system options); this file builds the DaemonConfig.

import { readFileSync } from 'node:fs';
import type { DaemonConfig, DaxMode } from './config.js';
import { capabilitiesJson } from './capabilities.js';
import { fsConfig, newFsCompat } from './fs-options.js';
import { allStrings, flag, lastString, tokenize } from './argv.js';
import { applyCompat, splitCompat, type Settings } from './compat.js';
import { OPTIONS, PROGRAM, USAGE_ERROR, UsageError, fail, helpText, notSupported } from './option-table.js';
import { FILE_HANDLE_CAPABILITY, parseModcaps } from '../sandbox/capabilities.js';
import { checkModcaps, checkMountPoint, checkSharedDir, nonEmpty, parseCache, parseDaxInodeMinSize,
  parseDaxWindow, parseLogLevel, parseSandbox, parseSeccomp, parseUint, resolveGroup } from './values.js';

export { PROGRAM, USAGE_ERROR, helpText };

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

/** The longest path a Unix socket address holds (sun_path is 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

export function packageVersion(): string {
  // src/cli and dist/cli both sit two levels below the package root.
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  const { version } = JSON.parse(text) as { version?: unknown };
  return typeof version === 'string' ? version : 'unknown';
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
  const parsed = tokenize(argv);

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
  const inodeMinText = lastString(parsed, 'dax-inode-min-size');
  const daxInodeMinSize = inodeMinText === undefined ? undefined : parseDaxInodeMinSize(inodeMinText);
  const daxReadonlyCopies = flag(parsed, 'dax-readonly-copies');
  if (daxWindow === undefined && (daxInodeMinSize !== undefined || daxReadonlyCopies)) {
    fail(`${daxInodeMinSize !== undefined ? '--dax-inode-min-size' : '--dax-readonly-copies'} needs --dax-window SIZE`);
  }

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
  // File handles by default, unless the kept capabilities rule them out (then asking for them
  // is the error keptCapabilities reports).
  if (config.inodeFileHandles === undefined && s.modcaps !== undefined && parseModcaps(s.modcaps).remove.includes(FILE_HANDLE_CAPABILITY)) {
    config.inodeFileHandles = 'never';
  }
  // With a DAX window, not yet: QEMU 11's DAX guest test lost mmap-written blocks in 3 of 7 runs
  // with file handles and their descriptor cache, in none of 7 without (docs/dax.md).
  if (config.inodeFileHandles === undefined && daxWindow !== undefined) config.inodeFileHandles = 'never';
  if (tag !== undefined) config.tag = tag;
  if (daxWindow !== undefined) config.daxWindow = daxWindow;
  if (daxWindow !== undefined) config.dax = dax;
  if (daxInodeMinSize !== undefined) config.daxInodeMinSize = daxInodeMinSize;
  if (daxReadonlyCopies) config.daxReadonlyCopies = true;
  if (socketPath !== undefined) {
    nonEmpty(socketPath, '--socket-path');
    const bytes = Buffer.byteLength(socketPath);
    if (bytes > MAX_SOCKET_PATH) {
      fail(`--socket-path is too long (${bytes} bytes; a Unix socket path holds at most ${MAX_SOCKET_PATH})`);
    }
    // The sandbox's supervisor learns the path in a one-line report (src/daemon/stage.ts).
    if (/[\n\0]/.test(socketPath)) fail('--socket-path must not contain a newline or NUL');
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
