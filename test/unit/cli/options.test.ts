import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DaemonConfig } from '../../../src/cli/config.js';
import { parseCommandLine, type ParseEnvironment, type ParseResult } from '../../../src/cli/options.js';
import { capabilities, capabilitiesJson } from '../../../src/cli/capabilities.js';

let root: string; // realpath of a scratch directory
let share: string; // an existing directory
let file: string; // an existing regular file
let groupFile: string;
let env: ParseEnvironment;

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'virtiofsd-ts-cli-')));
  share = join(root, 'share');
  mkdirSync(share);
  file = join(root, 'file');
  writeFileSync(file, 'x');
  symlinkSync(share, join(root, 'link'));
  mkdirSync(join(root, 'with,comma'));
  groupFile = join(root, 'group');
  writeFileSync(groupFile, 'root:x:0:\nkvm:x:108:alice,bob\nbroken\nvirtiofs:x:4242:\n');
  env = { groupFile, cwd: root };
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function parse(argv: string[]): ParseResult {
  return parseCommandLine(argv, env);
}

function run(argv: string[]): { config: DaemonConfig; warnings: string[] } {
  const result = parse(argv);
  if (result.kind !== 'run') throw new Error(`expected a run result for ${argv.join(' ')}, got ${JSON.stringify(result)}`);
  return result;
}

/** Asserts a usage error: exit 2, nothing on stdout, exactly one line on stderr. */
function usageError(argv: string[], pattern: RegExp): string {
  const result = parse(argv);
  expect(result, argv.join(' ')).toMatchObject({ kind: 'exit', code: 2 });
  if (result.kind !== 'exit') throw new Error('unreachable');
  expect(result.stdout).toBeUndefined();
  expect(result.stderr).toMatch(/^virtiofsd-ts: [^\n]+\n$/);
  expect(result.stderr).toMatch(pattern);
  return result.stderr!;
}

const base = () => ['--fd=3', `--shared-dir=${share}`];

describe('real invocations', () => {
  it('Kata Go runtime (current)', () => {
    const { config, warnings } = run([
      '--syslog', '--cache=auto', `--shared-dir=${share}`, '--fd=3', '--thread-pool-size=1', '--announce-submounts',
    ]);
    expect(config).toEqual({
      fd: 3,
      sharedDir: share,
      cache: 'auto',
      threadPoolSize: 1,
      announceSubmounts: true,
      logLevel: 'info',
      syslog: true,
      sandbox: 'namespace',
      seccomp: 'kill',
    });
    expect(warnings).toEqual([]);
  });

  it('Kata Go runtime with guest SELinux adds --xattr', () => {
    const { config } = run(['--syslog', '--cache=auto', `--shared-dir=${share}`, '--fd=3', '--thread-pool-size=1', '--announce-submounts', '--xattr']);
    expect(config.xattr).toBe(true);
  });

  it('Kata Go runtime (C virtiofsd era)', () => {
    const { config, warnings } = run(['--syslog', '-o', 'cache=auto', '-o', 'no_posix_lock', '-o', `source=${share}`, '--fd=3', '-f']);
    expect(config).toEqual({
      fd: 3,
      sharedDir: share,
      cache: 'auto',
      threadPoolSize: 0,
      announceSubmounts: true,
      logLevel: 'info',
      syslog: true,
      sandbox: 'namespace',
      seccomp: 'kill',
    });
    expect(warnings.join('\n')).toMatch(/-f has no effect/);
    expect(warnings.join('\n')).toMatch(/-o options are deprecated/);
  });

  it('Kata runtime-rs', () => {
    const sock = join(root, 'vhost-user-fs.sock');
    const { config } = run(['--socket-path', sock, '--shared-dir', share, '--cache', 'never']);
    expect(config).toEqual({
      socketPath: sock,
      sharedDir: share,
      cache: 'never',
      threadPoolSize: 0,
      announceSubmounts: true,
      logLevel: 'info',
      syslog: false,
      sandbox: 'namespace',
      seccomp: 'kill',
    });
  });

  it('libvirt with "separate-options"', () => {
    const { config } = run([
      '--fd=21', '--shared-dir', share, '--cache', 'never', '--sandbox', 'none', '--thread-pool-size=16', '--log-level', 'debug',
    ]);
    expect(config).toMatchObject({ fd: 21, sharedDir: share, cache: 'never', sandbox: 'none', threadPoolSize: 16, logLevel: 'debug' });
  });

  it('libvirt without "separate-options" (C dialect, escaped commas in the path)', () => {
    const dir = join(root, 'with,comma');
    const { config } = run([
      '--fd=21', '-o', `source=${dir.replace(/,/g, ',,')},cache=none,no_xattr,no_flock,no_posix_lock`, '--thread-pool-size=4', '-d',
    ]);
    expect(config).toMatchObject({ fd: 21, sharedDir: dir, cache: 'never', threadPoolSize: 4, logLevel: 'debug' });
  });

  it('a legacy line asking for locks (libvirt refuses them itself) gets them', () => {
    expect(run(['--fd=3', '-o', `source=${share},posix_lock`]).config.posixLock).toBe(true);
    expect(run(['--fd=3', '-o', `source=${share},flock`]).config.flock).toBe(true);
  });

  it('a human with --socket-path and --socket-group', () => {
    const { config } = run(['--socket-path=/run/vfs.sock', '--socket-group=kvm', '--shared-dir', share]);
    expect(config).toMatchObject({ socketPath: '/run/vfs.sock', socketGroup: 'kvm', socketGid: 108 });
  });
});

describe('defaults', () => {
  it('fills every field', () => {
    expect(run(base()).config).toEqual({
      fd: 3,
      sharedDir: share,
      cache: 'auto',
      threadPoolSize: 0,
      announceSubmounts: true,
      logLevel: 'info',
      syslog: false,
      sandbox: 'namespace',
      seccomp: 'kill',
    });
  });

  it('gives a plain-data config (JSON round trip is lossless)', () => {
    const { config } = run([...base(), '--cache', 'metadata']);
    expect(JSON.parse(JSON.stringify(config))).toEqual(config);
  });
});

describe('value syntax', () => {
  const valued: Array<[string, string, Partial<DaemonConfig>]> = [
    ['--cache', 'always', { cache: 'always' }],
    ['--thread-pool-size', '8', { threadPoolSize: 8 }],
    ['--log-level', 'trace', { logLevel: 'trace' }],
    ['--sandbox', 'none', { sandbox: 'none' }],
    ['--seccomp', 'none', { seccomp: 'none' }],
  ];
  for (const [option, value, expected] of valued) {
    it(`${option} VALUE and ${option}=VALUE`, () => {
      expect(run([...base(), option, value]).config).toMatchObject(expected);
      expect(run([...base(), `${option}=${value}`]).config).toMatchObject(expected);
    });
  }

  it('--shared-dir, --fd and --socket-path in both forms', () => {
    expect(run(['--fd', '5', '--shared-dir', share]).config).toMatchObject({ fd: 5, sharedDir: share });
    expect(run(['--fd=5', `--shared-dir=${share}`]).config).toMatchObject({ fd: 5, sharedDir: share });
    expect(run(['--socket-path', '/tmp/a.sock', '--shared-dir', share]).config.socketPath).toBe('/tmp/a.sock');
    expect(run(['--socket-path=/tmp/a.sock', '--shared-dir', share]).config.socketPath).toBe('/tmp/a.sock');
  });

  it('--socket is the deprecated spelling of --socket-path', () => {
    const { config, warnings } = run(['--socket', '/tmp/b.sock', '--shared-dir', share]);
    expect(config.socketPath).toBe('/tmp/b.sock');
    expect(warnings.join('\n')).toMatch(/--socket is deprecated/);
  });

  it('the last occurrence wins', () => {
    expect(run([...base(), '--cache', 'always', '--cache=never']).config.cache).toBe('never');
    expect(run([...base(), '--log-level=warn', '--log-level', 'error']).config.logLevel).toBe('error');
    expect(run(['--fd=3', '--fd=4', '--shared-dir', file, `--shared-dir=${share}`]).config).toMatchObject({ fd: 4, sharedDir: share });
    expect(run(['--socket-path=/a', '--socket=/b', '--shared-dir', share]).config.socketPath).toBe('/b');
  });

  it('values may start with a digit or look like numbers; they stay strings where they are paths', () => {
    const dir = join(root, '123');
    mkdirSync(dir);
    expect(run(['--fd=3', '--shared-dir', '123']).config.sharedDir).toBe(dir);
  });
});

describe('each supported option', () => {
  it('--cache: auto, always, never, metadata, and legacy none = never', () => {
    for (const mode of ['auto', 'always', 'never', 'metadata'] as const) {
      expect(run([...base(), `--cache=${mode}`]).config.cache).toBe(mode);
    }
    expect(run([...base(), '--cache=none']).config.cache).toBe('never');
  });

  it('--thread-pool-size: 0 and more', () => {
    expect(run([...base(), '--thread-pool-size=0']).config.threadPoolSize).toBe(0);
    expect(run([...base(), '--thread-pool-size=64']).config.threadPoolSize).toBe(64);
  });

  it('--announce-submounts / --no-announce-submounts: on by default, last one wins', () => {
    expect(run(base()).config.announceSubmounts).toBe(true);
    expect(run([...base(), '--announce-submounts']).config.announceSubmounts).toBe(true);
    expect(run([...base(), '--no-announce-submounts']).config.announceSubmounts).toBe(false);
    expect(run([...base(), '--announce-submounts', '--no-announce-submounts']).config.announceSubmounts).toBe(false);
    expect(run([...base(), '--no-announce-submounts', '--announce-submounts']).config.announceSubmounts).toBe(true);
    expect(run([...base(), '--no-announce-submounts', '-o', 'announce_submounts']).config.announceSubmounts).toBe(true);
  });

  it('--log-level: every level, any case', () => {
    for (const level of ['error', 'warn', 'info', 'debug', 'trace', 'off'] as const) {
      expect(run([...base(), '--log-level', level]).config.logLevel).toBe(level);
    }
    expect(run([...base(), '--log-level', 'DEBUG']).config.logLevel).toBe('debug');
    expect(run([...base(), '--log-level', 'err']).config.logLevel).toBe('error'); // the C spelling
  });

  it('-d is debug and wins over --log-level', () => {
    expect(run([...base(), '-d']).config.logLevel).toBe('debug');
    expect(run([...base(), '-d', '--log-level', 'error']).config.logLevel).toBe('debug');
    expect(run([...base(), '-d']).warnings.join('\n')).toMatch(/-d is deprecated/);
  });

  it('-f is accepted (we always run in the foreground); short options group', () => {
    expect(run([...base(), '-f']).config).toEqual(run(base()).config);
    expect(run([...base(), '-fd']).config.logLevel).toBe('debug');
    expect(run([...base(), '-df']).config.logLevel).toBe('debug');
  });

  it('--syslog', () => {
    expect(run([...base(), '--syslog']).config.syslog).toBe(true);
    expect(run(base()).config.syslog).toBe(false);
  });

  it('--sandbox namespace and --seccomp kill are the defaults, as in virtiofsd', () => {
    expect(run(base()).config).toMatchObject({ sandbox: 'namespace', seccomp: 'kill' });
    expect(run([...base(), '--sandbox', 'none', '--seccomp', 'none']).config).toMatchObject({ sandbox: 'none', seccomp: 'none' });
  });

  it('--sandbox namespace|chroot|none and --seccomp kill|log|trap|none', () => {
    for (const mode of ['namespace', 'chroot', 'none'] as const) {
      expect(run([...base(), '--sandbox', mode]).config.sandbox).toBe(mode);
      expect(run([...base(), `--sandbox=${mode}`]).config.sandbox).toBe(mode);
    }
    for (const action of ['kill', 'log', 'trap', 'none'] as const) {
      expect(run([...base(), '--seccomp', action]).config.seccomp).toBe(action);
    }
  });

  it('--mount runs without the sandbox and seccomp; asking for them is a usage error', () => {
    const mnt = join(root, 'mnt');
    mkdirSync(mnt, { recursive: true });
    const mountBase = [`--shared-dir=${share}`, `--mount=${mnt}`];
    expect(run(mountBase).config).toMatchObject({ sandbox: 'none', seccomp: 'none' });
    expect(run([...mountBase, '--sandbox=none', '--seccomp=none']).config).toMatchObject({ sandbox: 'none', seccomp: 'none' });
    usageError([...mountBase, '--sandbox=namespace'], /--sandbox=namespace cannot be used with --mount/);
    usageError([...mountBase, '--seccomp=kill'], /--seccomp=kill cannot be used with --mount/);
  });

  it('--modcaps: +name:-name, any case, with or without CAP_; kept as given', () => {
    expect(run([...base(), '--modcaps', '+sys_admin:-chown']).config.modcaps).toBe('+sys_admin:-chown');
    expect(run([...base(), '--modcaps=+CAP_SYS_ADMIN']).config.modcaps).toBe('+CAP_SYS_ADMIN');
    expect(run(base()).config.modcaps).toBeUndefined();
    usageError([...base(), '--modcaps', 'sys_admin'], /invalid value 'sys_admin' for --modcaps: 'sys_admin': expected '\+' or '-'/);
    usageError([...base(), '--modcaps', '+bogus'], /invalid value '\+bogus' for --modcaps: unknown capability 'bogus'/);
    usageError([...base(), '--modcaps', '+chown::-fowner'], /empty item/);
    usageError([...base(), '--modcaps='], /option --modcaps requires a value/);
  });

  it('no-op spellings of our defaults are accepted', () => {
    const plain = run(base()).config;
    expect(run([...base(), '--no-xattr']).config).toEqual(plain);
    expect(run([...base(), '--no-killpriv-v2']).config).toEqual(plain);
  });

  it('--inode-file-handles: prefer unless given, never when --modcaps drops what handles need', () => {
    expect(run(base()).config.inodeFileHandles).toBeUndefined(); // prefer, falling back quietly
    expect(run([...base(), '--inode-file-handles=never']).config.inodeFileHandles).toBe('never');
    expect(run([...base(), '--modcaps=-dac_read_search']).config.inodeFileHandles).toBe('never');
    expect(run([...base(), '-o', 'modcaps=-DAC_READ_SEARCH']).config.inodeFileHandles).toBe('never');
    expect(run([...base(), '--modcaps=-chown']).config.inodeFileHandles).toBeUndefined();
    expect(run([...base(), '--dax-window=64M']).config.inodeFileHandles).toBe('never');
    expect(run([...base(), '--dax-window=64M', '--inode-file-handles=prefer']).config.inodeFileHandles).toBe('prefer');
    // Asked for explicitly: kept (the sandbox then refuses to drop the capability, with a reason).
    expect(run([...base(), '--modcaps=-dac_read_search', '--inode-file-handles=prefer']).config.inodeFileHandles).toBe('prefer');
  });

  it('--socket-group: a name from the group file, or a numeric gid', () => {
    const withGroup = (g: string) => run(['--socket-path=/tmp/s', `--socket-group=${g}`, '--shared-dir', share]).config;
    expect(withGroup('virtiofs')).toMatchObject({ socketGroup: 'virtiofs', socketGid: 4242 });
    expect(withGroup('root')).toMatchObject({ socketGroup: 'root', socketGid: 0 });
    expect(withGroup('1234')).toMatchObject({ socketGroup: '1234', socketGid: 1234 });
  });

  it('--socket-group defaults to /etc/group', () => {
    const result = parseCommandLine(['--socket-path=/tmp/s', '--socket-group=root', '--shared-dir', share]);
    expect(result).toMatchObject({ kind: 'run', config: { socketGid: 0 } });
  });

  it('--shared-dir is made absolute and canonical', () => {
    expect(run(['--fd=3', '--shared-dir', 'share']).config.sharedDir).toBe(share);
    expect(run(['--fd=3', '--shared-dir', './share/']).config.sharedDir).toBe(share);
    expect(run(['--fd=3', '--shared-dir', join(root, 'link')]).config.sharedDir).toBe(share);
  });

  it('--fd 0 is allowed', () => {
    expect(run(['--fd', '0', '--shared-dir', share]).config.fd).toBe(0);
  });
});

describe('legacy -o options', () => {
  it('several -o and comma-separated lists combine', () => {
    const { config } = run([
      '--fd=3', '-o', `source=${share},cache=always`, '-o', 'log_level=warn', '-o', 'thread_pool_size=2,announce_submounts',
    ]);
    expect(config).toMatchObject({ sharedDir: share, cache: 'always', logLevel: 'warn', threadPoolSize: 2, announceSubmounts: true });
  });

  it('glued forms: -oOPT and -o=OPT', () => {
    expect(run(['--fd=3', `-osource=${share}`, '-ocache=never']).config).toMatchObject({ sharedDir: share, cache: 'never' });
    expect(run(['--fd=3', `-o=source=${share}`]).config.sharedDir).toBe(share);
    expect(run(['--fd=3', `-fosource=${share}`]).config.sharedDir).toBe(share);
  });

  it('cache=auto|always|none|never|metadata', () => {
    const cache = (v: string) => run([...base(), '-o', `cache=${v}`]).config.cache;
    expect(cache('auto')).toBe('auto');
    expect(cache('always')).toBe('always');
    expect(cache('none')).toBe('never');
    expect(cache('never')).toBe('never');
    expect(cache('metadata')).toBe('metadata');
  });

  it('log_level / loglevel, with the C spelling err', () => {
    expect(run([...base(), '-o', 'log_level=err']).config.logLevel).toBe('error');
    expect(run([...base(), '-o', 'loglevel=debug']).config.logLevel).toBe('debug');
    expect(run([...base(), '-o', 'log_level=info']).config.logLevel).toBe('info');
    expect(run([...base(), '-o', 'log_level=warn']).config.logLevel).toBe('warn');
  });

  it('-o debug is -d', () => {
    expect(run([...base(), '-o', 'debug']).config.logLevel).toBe('debug');
  });

  it('-o options are applied after the long options', () => {
    expect(run([...base(), '-o', 'cache=always', '--cache', 'never']).config.cache).toBe('always');
    expect(run(['--fd=3', '-o', `source=${share}`, '--shared-dir', file]).config.sharedDir).toBe(share);
  });

  it('sandbox=namespace|chroot|none and modcaps= are accepted', () => {
    for (const mode of ['namespace', 'chroot', 'none']) expect(run([...base(), '-o', `sandbox=${mode}`]).config.sandbox).toBe(mode);
    expect(run([...base(), '-o', 'modcaps=+sys_admin']).config.modcaps).toBe('+sys_admin');
    expect(run([...base(), '--modcaps=-chown', '-o', 'modcaps=+sys_admin']).config.modcaps).toBe('+sys_admin');
  });

  it('no-op words are accepted', () => {
    const plain = run(base()).config;
    for (const word of [
      'no_xattr', 'no_posix_lock', 'no_flock', 'readdirplus', 'no_writeback', 'no_allow_direct_io',
      'no_killpriv_v2', 'no_posix_acl', 'no_security_label',
    ]) {
      expect(run([...base(), '-o', word]).config, word).toEqual(plain);
    }
  });

  it('empty items are skipped', () => {
    expect(run([...base(), '-o', 'no_xattr,', '-o', ',cache=never']).config.cache).toBe('never');
    // ",," is an escaped comma (libvirt), not an empty item.
    usageError([...base(), '-o', 'no_xattr,,cache=never'], /unknown option -o no_xattr,cache=never/);
  });

  it('refused words and keys', () => {
    for (const item of ['allow_root', 'norace', 'dax', 'dax=always', 'timeout=5', 'max_idle_threads=4']) {
      const key = item.split('=')[0];
      usageError([...base(), '-o', item], new RegExp(`-o ${key} is not supported yet by virtiofsd-ts`));
    }
  });

  it('unknown and malformed items', () => {
    usageError([...base(), '-o', 'bogus'], /unknown option -o bogus; see --help/);
    usageError([...base(), '-o', 'bogus=1'], /unknown option -o bogus=1/);
    usageError([...base(), '-o', 'xattr=1'], /unknown option -o xattr=1/);
    usageError([...base(), '-o', 'cache=fast'], /invalid value 'fast' for -o cache/);
    usageError([...base(), '-o', 'log_level=loud'], /invalid value 'loud' for -o log_level/);
    usageError([...base(), '-o', 'thread_pool_size=-1'], /invalid value '-1' for -o thread_pool_size/);
    usageError([...base(), '-o', 'sandbox=jail'], /invalid value 'jail' for -o sandbox/);
    usageError(['--fd=3', '-o', 'source='], /option -o source requires a value/);
    usageError([...base(), '-o'], /option -o requires a value/);
  });
});

describe('refused options (recognised, not implemented yet)', () => {
  const flags = ['migration-verify-handles', 'migration-confirm-paths', 'daemonize'];
  for (const name of flags) {
    it(`--${name}`, () => {
      usageError([...base(), `--${name}`], new RegExp(`^virtiofsd-ts: --${name} is not supported yet by virtiofsd-ts`));
    });
  }

  const valued: Array<[string, string]> = [
    ['uid-map', ':0:1000:1:'],
    ['gid-map', ':0:1000:1:'],
    ['migration-mode', 'find-paths'],
    ['migration-on-error', 'abort'],
  ];
  for (const [name, value] of valued) {
    it(`--${name} VALUE and --${name}=VALUE`, () => {
      const re = new RegExp(`--${name} is not supported yet by virtiofsd-ts`);
      usageError([...base(), `--${name}`, value], re);
      usageError([...base(), `--${name}=${value}`], re);
    });
  }

  it('--tag, --dax-window and --dax', () => {
    const ok = parseCommandLine([...base(), '--tag', 'myfs', '--dax-window', '256M', '--dax=shmem']);
    expect(ok.kind).toBe('run');
    if (ok.kind === 'run') {
      expect(ok.config.tag).toBe('myfs');
      expect(ok.config.daxWindow).toBe(256 * 1024 * 1024);
      expect(ok.config.dax).toBe('shmem');
    }
    usageError([...base(), '--tag', 'x'.repeat(37)], /--tag must be 1 to 36 bytes/);
    usageError([...base(), '--dax-window', '3M'], /power of two/);
    usageError([...base(), '--dax-window', 'big'], /invalid value/);
    usageError([...base(), '--dax=kata'], /needs --dax-window/);
    usageError([...base(), '--dax-window=4M', '--dax=fast'], /invalid value 'fast' for --dax/);
  });

  it('--dax-inode-min-size and --dax-readonly-copies', () => {
    const ok = parseCommandLine([...base(), '--dax-window', '64M', '--dax-inode-min-size', '1M', '--dax-readonly-copies']);
    expect(ok.kind).toBe('run');
    if (ok.kind === 'run') {
      expect(ok.config.daxInodeMinSize).toBe(1 << 20);
      expect(ok.config.daxReadonlyCopies).toBe(true);
    }
    usageError([...base(), '--dax-inode-min-size', '1M'], /--dax-inode-min-size needs --dax-window/);
    usageError([...base(), '--dax-readonly-copies'], /--dax-readonly-copies needs --dax-window/);
    usageError([...base(), '--dax-window=4M', '--dax-inode-min-size=lots'], /invalid value 'lots' for --dax-inode-min-size/);
  });

  it('any other --dax* or --migration-* option', () => {
    usageError([...base(), '--dax-window-size=1G'], /--dax-window-size is not supported yet/);
    usageError([...base(), '--migration-whatever'], /--migration-whatever is not supported yet/);
  });


});

describe('usage errors', () => {
  it('unknown options', () => {
    expect(usageError([...base(), '--foo'], /x*/)).toBe('virtiofsd-ts: unknown option --foo; see --help\n');
    usageError([...base(), '--foo=bar'], /unknown option --foo; see --help/);
    usageError([...base(), '-x'], /unknown option -x; see --help/);
    usageError([...base(), '-dx'], /unknown option -x; see --help/);
    usageError([...base(), '--d'], /unknown option --d; see --help/);
    usageError([...base(), '--o', 'cache=auto'], /unknown option --o/);
    usageError([...base(), '-socket-path', '/tmp/s'], /unknown option -socket-path \(did you mean --socket-path\?\)/);
    usageError([...base(), '--no-syslog'], /unknown option --no-syslog/);
    usageError([...base(), '--Syslog'], /unknown option --Syslog/);
  });

  it('stray arguments', () => {
    usageError([...base(), 'extra'], /unexpected argument 'extra'; see --help/);
    usageError([...base(), '--', 'extra'], /unexpected argument 'extra'/);
    usageError([...base(), '-'], /unexpected argument '-'/);
    usageError([...base(), '--syslog', 'yes'], /unexpected argument 'yes'/);
  });

  it('"--" alone is harmless', () => {
    expect(run([...base(), '--']).config.fd).toBe(3);
  });

  it('a flag given a value', () => {
    usageError([...base(), '--syslog=true'], /option --syslog does not take a value/);
    usageError([...base(), '-d=x'], /option -d does not take a value/);
    usageError([...base(), '--announce-submounts=1'], /option --announce-submounts does not take a value/);
    usageError([...base(), '--xattr=on'], /option --xattr does not take a value/);
  });

  it('a missing value', () => {
    usageError([...base(), '--cache'], /option --cache requires a value/);
    usageError(['--shared-dir', '--fd=3'], /option --shared-dir requires a value/);
    usageError([...base(), '--socket-path'], /option --socket-path requires a value/);
    usageError([`--shared-dir=${share}`, '--fd'], /option --fd requires a value/);
    usageError(['--fd=3', '--shared-dir='], /option --shared-dir requires a value/);
    usageError(['--socket-path=', '--shared-dir', share], /option --socket-path requires a value/);
    usageError(['--fd=', '--shared-dir', share], /option --fd requires a value/);
    usageError([...base(), '--log-level'], /option --log-level requires a value/);
    usageError([...base(), '--tag'], /option --tag requires a value/);
  });

  it('bad choices', () => {
    usageError([...base(), '--cache=fast'], /invalid value 'fast' for --cache: expected auto, always, metadata or never/);
    usageError([...base(), '--log-level=loud'], /invalid value 'loud' for --log-level/);
    usageError([...base(), '--sandbox=jail'], /invalid value 'jail' for --sandbox: expected none, namespace or chroot/);
    usageError([...base(), '--seccomp=allow'], /invalid value 'allow' for --seccomp/);
    usageError([...base(), '--inode-file-handles=sometimes'], /invalid value 'sometimes' for --inode-file-handles/);
  });

  it('bad numbers', () => {
    for (const bad of ['-1', '1.5', 'three', '0x10', ' 3', '+3', '1e3']) {
      usageError([`--fd=${bad}`, '--shared-dir', share], /invalid value .* for --fd: expected a non-negative integer/);
      usageError([...base(), `--thread-pool-size=${bad}`], /invalid value .* for --thread-pool-size/);
    }
    usageError(['--fd=99999999999', '--shared-dir', share], /invalid value '99999999999' for --fd: at most/);
    usageError([...base(), '--fd', '-1'], /invalid value '-1' for --fd/);
  });

  it('where to listen: exactly one of --socket-path / --fd', () => {
    usageError(['--shared-dir', share], /missing --socket-path PATH or --fd N \(or --mount MNT\); see --help/);
    usageError(['--socket-path=/tmp/s', '--fd=3', '--shared-dir', share], /--socket-path and --fd cannot be used together/);
  });

  it('--socket-path longer than a Unix socket address holds', () => {
    usageError([`--socket-path=/tmp/${'x'.repeat(103)}`, '--shared-dir', share], /--socket-path is too long \(108 bytes/);
    expect(run([`--socket-path=/tmp/${'x'.repeat(102)}`, '--shared-dir', share]).config.socketPath).toHaveLength(107);
  });

  it('--socket-path with a newline (the sandbox supervisor learns the path as one line)', () => {
    usageError(['--socket-path=/tmp/a.sock\nb', '--shared-dir', share], /--socket-path must not contain a newline or NUL/);
  });

  it('--socket-group errors', () => {
    usageError([...base(), '--socket-group=kvm'], /--socket-group cannot be used with --fd/);
    usageError(['--socket-path=/tmp/s', '--socket-group=nosuch', '--shared-dir', share], /--socket-group nosuch: no such group in .*group/);
    usageError(['--socket-path=/tmp/s', '--socket-group=broken', '--shared-dir', share], /no such group/);
    usageError(['--socket-path=/tmp/s', '--socket-group=', '--shared-dir', share], /option --socket-group requires a value/);
    usageError(['--socket-path=/tmp/s', '--socket-group=99999999999', '--shared-dir', share], /invalid value '99999999999' for --socket-group/);
    const result = parseCommandLine(['--socket-path=/tmp/s', '--socket-group=kvm', '--shared-dir', share], {
      groupFile: join(root, 'missing-group-file'),
    });
    expect(result).toMatchObject({ kind: 'exit', code: 2 });
    expect(result.kind === 'exit' && result.stderr).toMatch(/^virtiofsd-ts: --socket-group kvm: cannot read [^\n]*\n$/);
  });

  it('--shared-dir: required, must exist, must be a directory', () => {
    usageError(['--fd=3'], /missing --shared-dir DIR \(or -o source=DIR\); see --help/);
    usageError(['--fd=3', '--shared-dir', join(root, 'nope')], /shared directory '.*nope' does not exist/);
    usageError(['--fd=3', '--shared-dir', join(file, 'below')], /shared directory '.*below' does not exist/);
    usageError(['--fd=3', '--shared-dir', file], /shared directory '.*file' is not a directory/);
    usageError(['--fd=3', '-o', `source=${file}`], /is not a directory/);
  });

  it('the first error wins and errors never print help', () => {
    const result = parse(['--foo', '--bar', 'x']);
    expect(result).toEqual({ kind: 'exit', code: 2, stderr: 'virtiofsd-ts: unknown option --foo; see --help\n' });
  });
});

describe('--help, --version, --print-capabilities', () => {
  it('--help / -h list every option, exit 0', () => {
    for (const flag of ['--help', '-h']) {
      const result = parse([flag]);
      expect(result).toMatchObject({ kind: 'exit', code: 0 });
      if (result.kind !== 'exit') throw new Error('unreachable');
      expect(result.stderr).toBeUndefined();
      const text = result.stdout!;
      expect(text).toMatch(/^Usage: virtiofsd-ts /);
      for (const option of [
        '--shared-dir', '--socket-path', '--socket', '--fd', '--socket-group', '--cache', '--thread-pool-size',
        '--announce-submounts', '--no-announce-submounts', '--log-level', '--syslog', '--sandbox', '--seccomp',
        '--no-xattr', '--no-killpriv-v2', '--inode-file-handles', '--rlimit-nofile', '--print-capabilities',
        '--version', '-V', '--help', '-h', '-d', '-f', '-o', '--xattr', '--posix-acl', '--security-label',
        '--xattrmap', '--translate-uid', '--translate-gid', '--uid-map', '--gid-map', '--readonly', '--writeback',
        '--allow-direct-io', '--allow-mmap', '--no-readdirplus', '--preserve-noatime', '--killpriv-v2', '--modcaps',
        '--tag', '--dax-window', '--migration-mode', '--migration-on-error', '--migration-verify-handles', '--migration-confirm-paths',
        '--daemonize', '--dax*', 'source=DIR', 'cache=MODE', 'log_level=LEVEL', 'no_posix_lock', 'posix_lock',
      ]) {
        expect(text).toContain(option);
      }
      for (const line of text.trimEnd().split('\n')) expect(line.length, line).toBeLessThanOrEqual(120);
    }
  });

  it('--help wins over everything but syntax errors', () => {
    expect(parse(['--help', '--xattr', '--sandbox=chroot'])).toMatchObject({ kind: 'exit', code: 0 });
    expect(parse(['--help', '--bogus'])).toMatchObject({ kind: 'exit', code: 2 });
  });

  it('--version / -V print the package version', () => {
    const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    for (const flag of ['--version', '-V']) {
      expect(parse([flag])).toEqual({ kind: 'exit', code: 0, stdout: `virtiofsd-ts ${version}\n` });
    }
  });

  it('--print-capabilities needs nothing else and prints libvirt JSON', () => {
    const result = parse(['--print-capabilities']);
    expect(result).toEqual({ kind: 'exit', code: 0, stdout: capabilitiesJson() });
    if (result.kind !== 'exit') throw new Error('unreachable');
    expect(JSON.parse(result.stdout!)).toEqual({ type: 'fs', features: ['separate-options'] });
    expect(capabilities().features).not.toContain('migrate-precopy');
    expect(parse(['--print-capabilities', '--fd=3', `--shared-dir=${share}`])).toEqual(result);
  });
});

describe('--mount (host mount through /dev/fuse)', () => {
  let mnt: string;
  beforeAll(() => {
    mnt = join(root, 'mnt');
    mkdirSync(mnt, { recursive: true }); // another test may have made it already
  });

  it('replaces --socket-path/--fd; the mount point is made absolute and canonical', () => {
    const { config } = run(['--shared-dir', share, '--mount', mnt]);
    expect(config).toMatchObject({ mount: mnt, sharedDir: share, cache: 'auto', threadPoolSize: 0 });
    expect(config.socketPath).toBeUndefined();
    expect(config.fd).toBeUndefined();
    expect(run([`--shared-dir=${share}`, '--mount=mnt']).config.mount).toBe(mnt); // relative to cwd
    symlinkSync(mnt, join(root, 'mnt-link'));
    expect(run(['--shared-dir', share, '--mount', join(root, 'mnt-link')]).config.mount).toBe(mnt);
    expect(run(['--shared-dir', share, '--mount', mnt, '--cache=never', '--thread-pool-size=2']).config).toMatchObject({ mount: mnt, cache: 'never', threadPoolSize: 2 });
  });

  it('cannot be combined with a socket', () => {
    usageError(['--shared-dir', share, '--mount', mnt, '--socket-path=/tmp/s'], /--mount cannot be used with --socket-path/);
    usageError(['--shared-dir', share, '--mount', mnt, '--fd=3'], /--mount cannot be used with --fd/);
    usageError(['--shared-dir', share, '--mount', mnt, '--socket-group=kvm'], /--socket-group cannot be used with --mount/);
  });

  it('the mount point must be an existing directory outside the share', () => {
    usageError(['--shared-dir', share, '--mount', join(root, 'nope')], /mount point '.*nope' does not exist/);
    usageError(['--shared-dir', share, '--mount', file], /mount point '.*file' is not a directory/);
    usageError(['--shared-dir', share, '--mount', share], /is inside the shared directory/);
    mkdirSync(join(share, 'inner'), { recursive: true });
    usageError(['--shared-dir', share, '--mount', join(share, 'inner')], /is inside the shared directory/);
    usageError(['--shared-dir', share, '--mount='], /option --mount requires a value/);
    usageError(['--shared-dir', share, '--mount', root], /the shared directory is inside mount point/);
    // A sibling whose name merely starts with the share's is fine.
    mkdirSync(`${share}-sibling`);
    expect(run(['--shared-dir', share, '--mount', `${share}-sibling`]).config.mount).toBe(`${share}-sibling`);
  });

  it('is listed by --help', () => {
    const result = parse(['--help']);
    expect(result.kind === 'exit' && result.stdout).toMatch(/--mount MNT/);
    expect(result.kind === 'exit' && result.stdout).toMatch(/^Usage: virtiofsd-ts --shared-dir DIR \(--socket-path PATH \| --fd N \| --mount MNT\)/);
  });
});
