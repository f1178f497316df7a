// The file-system options of the command line (src/cli/fs-options.ts): each one parsed into
// DaemonConfig in both dialects, defaults leave no trace, bad values are one-line errors with
// exit code 2.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DaemonConfig } from '../../../src/cli/config.js';
import { parseCommandLine } from '../../../src/cli/options.js';
import { nofileTarget } from '../../../src/passthrough/nofile-limit.js';

let root: string;
let share: string;

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'virtiofsd-ts-fsopt-')));
  share = join(root, 'share');
  mkdirSync(share);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const base = (): string[] => ['--fd=3', `--shared-dir=${share}`];

function config(...args: string[]): DaemonConfig {
  const r = parseCommandLine([...base(), ...args], { cwd: root });
  if (r.kind !== 'run') throw new Error(`expected run for ${args.join(' ')}: ${JSON.stringify(r)}`);
  return r.config;
}

function usageError(args: string[], pattern: RegExp): void {
  const r = parseCommandLine([...base(), ...args], { cwd: root });
  expect(r, args.join(' ')).toMatchObject({ kind: 'exit', code: 2 });
  if (r.kind !== 'exit') return;
  expect(r.stderr).toMatch(/^virtiofsd-ts: [^\n]+\n$/);
  expect(r.stderr).toMatch(pattern);
}

describe('file-system options', () => {
  it('flags, long and -o forms', () => {
    expect(config('--xattr').xattr).toBe(true);
    expect(config('-o', 'xattr').xattr).toBe(true);
    expect(config('--posix-acl').posixAcl).toBe(true);
    expect(config('-o', 'posix_acl').posixAcl).toBe(true);
    expect(config('--security-label').securityLabel).toBe(true);
    expect(config('-o', 'security_label').securityLabel).toBe(true);
    expect(config('--killpriv-v2').killprivV2).toBe(true);
    expect(config('-o', 'killpriv_v2').killprivV2).toBe(true);
    expect(config('--posix-lock').posixLock).toBe(true);
    expect(config('-o', 'posix_lock').posixLock).toBe(true);
    expect(config('--flock').flock).toBe(true);
    expect(config('-o', 'flock').flock).toBe(true);
    expect(config('--readonly').readonly).toBe(true);
    expect(config('--writeback').writeback).toBe(true);
    expect(config('-o', 'writeback').writeback).toBe(true);
    expect(config('--no-readdirplus').readdirplus).toBe(false);
    expect(config('-o', 'no_readdirplus').readdirplus).toBe(false);
    expect(config('--allow-direct-io').allowDirectIo).toBe(true);
    expect(config('-o', 'allow_direct_io').allowDirectIo).toBe(true);
    expect(config('--allow-mmap').allowMmap).toBe(true);
    expect(config('--preserve-noatime').preserveNoatime).toBe(true);
  });

  it('spelling out a default leaves the configuration as it is', () => {
    const plain = config();
    for (const args of [
      ['--no-xattr'], ['--no-killpriv-v2'], ['-o', 'no_xattr,no_posix_lock,no_flock,readdirplus'],
      ['-o', 'no_writeback,no_allow_direct_io,no_killpriv_v2,no_posix_acl,no_security_label'], ['--xattr', '--no-xattr'],
    ]) {
      expect(config(...args), args.join(' ')).toEqual(plain);
    }
  });

  it('the last of --x / --no-x wins; -o words come after the long options', () => {
    expect(config('--no-xattr', '--xattr').xattr).toBe(true);
    expect(config('--killpriv-v2', '--no-killpriv-v2').killprivV2).toBeUndefined();
    expect(config('-o', 'xattr', '--no-xattr').xattr).toBe(true);
    expect(config('--xattr', '-o', 'no_xattr').xattr).toBeUndefined();
    expect(config('-o', 'posix_lock,no_posix_lock').posixLock).toBeUndefined();
    expect(config('-o', 'no_readdirplus,readdirplus').readdirplus).toBeUndefined();
  });

  it('--xattrmap / -o xattrmap= are parsed into rules', () => {
    expect(config('--xattrmap', ':map::user.virtiofs.:').xattrmap).toEqual([
      { type: 'prefix', client: true, server: true, key: '', prepend: 'user.virtiofs.' },
      { type: 'bad', client: true, server: true, key: '', prepend: '' },
    ]);
    expect(config('-o', 'xattrmap=/ok/all///').xattrmap).toEqual([{ type: 'ok', client: true, server: true, key: '', prepend: '' }]);
    usageError(['--xattrmap', ':prefix:client:trusted.'], /invalid value for --xattrmap: rule 1: incomplete rule/);
    usageError(['--xattrmap', ':tomato:all:::'], /rule 1: unknown type 'tomato'/);
    usageError(['--xattrmap', ':ok:everywhere:::'], /rule 1: unknown scope 'everywhere'/);
    usageError(['--xattrmap', ':map:a.:b.: :ok:all:::'], /rule 2: a 'map' rule must be the last one/);
    usageError(['--xattrmap', '   '], /no rules given/);
    usageError(['-o', 'xattrmap='], /option -o xattrmap requires a value/);
  });

  it('--inode-file-handles never|prefer|mandatory (fallback = prefer, deprecated)', () => {
    expect(config('--inode-file-handles=prefer').inodeFileHandles).toBe('prefer');
    expect(config('--inode-file-handles=mandatory').inodeFileHandles).toBe('mandatory');
    expect(config('--inode-file-handles=never').inodeFileHandles).toBe('never');
    expect(config().inodeFileHandles).toBeUndefined(); // the default: prefer, quietly
    const r = parseCommandLine([...base(), '--inode-file-handles=fallback'], { cwd: root });
    expect(r).toMatchObject({ kind: 'run', config: { inodeFileHandles: 'prefer' } });
    if (r.kind === 'run') expect(r.warnings.join('\n')).toMatch(/fallback is deprecated/);
    usageError(['--inode-file-handles=always'], /invalid value 'always' for --inode-file-handles/);
  });

  it('--rlimit-nofile N (0 = leave the limit)', () => {
    expect(config('--rlimit-nofile', '4096').rlimitNofile).toBe(4096);
    expect(config('--rlimit-nofile=0').rlimitNofile).toBe(0);
    usageError(['--rlimit-nofile=-1'], /invalid value '-1' for --rlimit-nofile/);
    usageError(['--rlimit-nofile=many'], /invalid value 'many' for --rlimit-nofile/);
    usageError(['--rlimit-nofile=10'], /at least 64/);
  });

  it('--translate-uid / --translate-gid: every form, repeatable, overlaps refused', () => {
    const c = config(
      '--translate-uid', 'squash-guest:0:1001:4294967295',
      '--translate-uid', 'host:1001:1000:1',
      '--translate-gid=map:0:100:10',
      '--translate-gid=forbid-guest:50:5',
    );
    expect(c.translateUid).toEqual([
      { kind: 'squash-guest', from: 0, to: 1001, count: 4294967295 },
      { kind: 'host', from: 1001, to: 1000, count: 1 },
    ]);
    expect(c.translateGid).toEqual([
      { kind: 'map', from: 0, to: 100, count: 10 },
      { kind: 'forbid-guest', from: 50, to: 0, count: 5 },
    ]);
    expect(config('--translate-uid=guest:1000:2000:10').translateUid).toEqual([{ kind: 'guest', from: 1000, to: 2000, count: 10 }]);
    expect(config('--translate-uid=squash-host:0:65534:65536').translateUid?.[0].kind).toBe('squash-host');
    usageError(['--translate-uid', 'guest:1:2'], /invalid value 'guest:1:2' for --translate-uid: expected guest:/);
    usageError(['--translate-uid', 'sideways:1:2:3'], /unknown mapping type 'sideways'/);
    usageError(['--translate-uid', 'forbid-guest:1:2:3'], /expected forbid-guest:<guest base>:<count>/);
    usageError(['--translate-gid', 'map:1:x:3'], /target 'x' is not a number/);
    usageError(['--translate-gid', 'map:1:2:0'], /count must be at least 1/);
    usageError(['--translate-gid', 'guest:4294967295:0:2'], /exceeds the 32-bit id space/);
    usageError(['--translate-uid=guest:0:1000:10', '--translate-uid=squash-guest:5:1:1'], /--translate-uid: id ranges \[0, 10\) and \[5, 6\) overlap/);
    // Different directions may overlap: host:1000 and guest:1000 are independent.
    expect(config('--translate-uid=guest:1000:0:1', '--translate-uid=host:1000:0:1').translateUid).toHaveLength(2);
    usageError(['--posix-acl', '--translate-uid=map:0:1000:1'], /cannot be used with --posix-acl/);
    usageError(['-o', 'posix_acl', '--translate-gid=map:0:1000:1'], /cannot be used with --posix-acl/);
  });

  it('flags do not take values', () => {
    usageError(['--xattr=1'], /option --xattr does not take a value/);
    usageError(['--readonly=yes'], /option --readonly does not take a value/);
  });

  it('--help lists them', () => {
    const r = parseCommandLine(['--help']);
    if (r.kind !== 'exit') throw new Error('expected exit');
    for (const o of ['--posix-lock', '--flock', '--readonly', '--translate-gid', 'posix_lock, no_posix_lock', 'xattrmap=MAP']) expect(r.stdout).toContain(o);
  });
});

describe('RLIMIT_NOFILE target', () => {
  const procSys = (nrOpen: number, fileMax: number | bigint): string => {
    const dir = mkdtempSync(join(root, 'sys-'));
    writeFileSync(join(dir, 'nr_open'), `${nrOpen}\n`);
    writeFileSync(join(dir, 'file-max'), `${fileMax}\n`);
    return dir;
  };
  const cfg = (rlimitNofile?: number): DaemonConfig => ({ ...config(), ...(rlimitNofile === undefined ? {} : { rlimitNofile }) });

  it('defaults to min(1000000, nr_open, file-max - 16384); an explicit value wins; 0 leaves it', () => {
    expect(nofileTarget(cfg(), procSys(1048576, 9223372036854775807n))).toBe(1_000_000);
    expect(nofileTarget(cfg(), procSys(500_000, 9223372036854775807n))).toBe(500_000);
    expect(nofileTarget(cfg(), procSys(1048576, 100_000))).toBe(100_000 - 16384);
    expect(nofileTarget(cfg(4096), procSys(1048576, 100_000))).toBe(4096);
    expect(nofileTarget(cfg(0), procSys(1048576, 100_000))).toBeUndefined();
    expect(nofileTarget(cfg(), join(root, 'missing'))).toBe(1_000_000);
  });
});
