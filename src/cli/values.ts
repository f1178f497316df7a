// Checking and converting option values (both dialects share them): each returns the value in
// DaemonConfig's terms or fails with a one-line usage error naming the option as spelt (`what`).

import { readFileSync, realpathSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { CachePolicy, LogLevel, SandboxMode, SeccompMode } from './config.js';
import { parseModcaps } from '../sandbox/capabilities.js';
import { UsageError, fail } from './option-table.js';

export function nonEmpty(value: string, what: string): string {
  if (value === '') fail(`option ${what} requires a value`);
  return value;
}

export function parseUint(value: string, what: string, max: number): number {
  if (!/^[0-9]+$/.test(value)) fail(`invalid value '${value}' for ${what}: expected a non-negative integer`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n > max) fail(`invalid value '${value}' for ${what}: at most ${max}`);
  return n;
}

export function parseCache(value: string, what: string): CachePolicy {
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

export function parseLogLevel(value: string, what: string): LogLevel {
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

export function parseSandbox(value: string, what: string): SandboxMode {
  if (value === 'none' || value === 'namespace' || value === 'chroot') return value;
  fail(`invalid value '${value}' for ${what}: expected none, namespace or chroot`);
}

export function parseSeccomp(value: string): SeccompMode {
  if (value === 'none' || value === 'kill' || value === 'log' || value === 'trap') return value;
  fail(`invalid value '${value}' for --seccomp: expected none, kill, log or trap`);
}

/** `--modcaps` / `-o modcaps=`: checked here, applied by the sandbox (src/sandbox/capabilities.ts). */
export function checkModcaps(value: string, what: string): string {
  try {
    parseModcaps(nonEmpty(value, what));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    fail(`invalid value '${value}' for ${what}: ${(e as Error).message}`);
  }
  return value;
}

/** A size in bytes with an optional K/M/G suffix (powers of 1024), as a bigint. */
function parseSize(text: string, what: string): bigint {
  const m = /^(\d+)([KMG]?)$/i.exec(text.trim());
  if (m === null) fail(`invalid value '${text}' for ${what}: expected a size like 256M`);
  const shift = { '': 0n, K: 10n, M: 20n, G: 30n }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  return BigInt(m[1]) << shift;
}

/** --dax-window: bytes with an optional K/M/G suffix; a power of two of at least 2 MiB. */
export function parseDaxWindow(text: string): number {
  const bytes = parseSize(text, '--dax-window');
  if (bytes < 2n << 20n || (bytes & (bytes - 1n)) !== 0n || bytes > 1n << 40n) {
    fail(`--dax-window must be a power of two between 2M and 1T, not ${text}`);
  }
  return Number(bytes); // ≤ 2^40: exact, and plain JSON for the sandbox's re-exec
}

/** --dax-inode-min-size: bytes with an optional K/M/G suffix, at most 2^53 - 1. */
export function parseDaxInodeMinSize(text: string): number {
  const bytes = parseSize(text, '--dax-inode-min-size');
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) fail(`--dax-inode-min-size is too large: ${text}`);
  return Number(bytes);
}

/** `--socket-group`: a numeric gid, or a name looked up in /etc/group (no NSS: Node has no getgrnam). */
export function resolveGroup(group: string, groupFile: string): number {
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

export function checkSharedDir(dir: string, cwd: string): string {
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
export function checkMountPoint(dir: string, sharedDir: string, cwd: string): string {
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
