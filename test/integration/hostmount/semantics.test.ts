/**
 * Semantics host programs rely on beyond plain files: extended attributes, file locks, and a
 * few operations with a kernel fallback. Every expectation here is correct behaviour for a file
 * system, not a snapshot of a gap:
 * - xattrs are off unless --xattr (as in the Rust virtiofsd): EOPNOTSUPP, and cp -a / tar
 *   --xattrs cope with it; with --xattr they round-trip to the share;
 * - locks between host processes must behave exactly as on any file system, whether the host
 *   kernel keeps them (FUSE_POSIX_LOCKS/FLOCK_LOCKS not negotiated) or the daemon does;
 * - fallocate / O_TMPFILE: were EOPNOTSUPP (the kernel's answer to ENOSYS) until the passthrough
 *   implemented them; posix_fallocate works either way; ioctl stays ENOTTY.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { parseCommandLine } from '../../../src/cli/options.js';
import { until, untilBlockedOnLock, type LockKind } from '../../helpers/wait.js';
import { run, sh, startHostMount, type HostMount } from './helpers.js';

let m: HostMount;

// Without root or /dev/fuse, startHostMount throws: every test here fails, none is skipped.
beforeAll(async () => {
  m = await startHostMount();
});

afterAll(async () => {
  if (m) expect(await m.stop()).toBe(0);
});

/** Runs a python3 snippet in `cwd`; returns stdout. */
function py(code: string, cwd: string): string {
  return sh(`python3 - <<'PYEOF'\n${code}\nPYEOF`, cwd);
}

const ERRNO_OF = `
import os, errno
def t(f):
    try:
        r = f()
        return 'ok' if r is None else f'ok {r}'
    except OSError as e:
        return errno.errorcode[e.errno]  # 95 prints as ENOTSUP (= EOPNOTSUPP on Linux)
`;

describe('extended attributes without --xattr (the default)', () => {
  it('set/get/list/remove answer EOPNOTSUPP', () => {
    writeFileSync(join(m.mnt, 'x'), 'x');
    const out = py(
      `${ERRNO_OF}
print(t(lambda: os.setxattr('x', 'user.a', b'1')))
print(t(lambda: os.getxattr('x', 'user.a')))
print(t(lambda: os.listxattr('x')))
print(t(lambda: os.removexattr('x', 'user.a')))`,
      m.mnt,
    );
    expect(out.split('\n').slice(0, 4)).toEqual(['ENOTSUP', 'ENOTSUP', 'ENOTSUP', 'ENOTSUP']);
  });

  it('cp -a and tar --xattrs still succeed (they tolerate EOPNOTSUPP)', () => {
    const r = run('mkdir -p xa && printf data > xa/f && cp -a xa xb && tar --xattrs -cf xa.tar xa && mkdir xc && tar --xattrs -xf xa.tar -C xc && cat xb/f xc/xa/f', m.mnt);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('datadata');
  });
});

describe('extended attributes with --xattr', () => {
  it('user.* attributes round-trip and land on the share', async () => {
    // Not a skip condition: an option that stops parsing is a regression.
    expect(parseCommandLine(['--xattr', '--fd=3', '--shared-dir=/']).kind).toBe('run');
    const mx = await startHostMount({ args: ['--xattr'] });
    try {
      writeFileSync(join(mx.mnt, 'f'), 'x');
      py(
        `import os
os.setxattr('f', 'user.one', b'1')
os.setxattr('f', 'user.big', b'v' * 2000)  # ext4 keeps all of an inode's xattrs in one 4 KiB block
os.setxattr('f', 'user.gone', b'')
os.removexattr('f', 'user.gone')`,
        mx.mnt,
      );
      const read = `import os\nprint(sorted(os.listxattr('f')), os.getxattr('f', 'user.one'), len(os.getxattr('f', 'user.big')))`;
      expect(py(read, mx.mnt)).toBe(py(read, mx.share));
      expect(py(read, mx.share)).toBe("['user.big', 'user.one'] b'1' 2000\n");
    } finally {
      expect(await mx.stop()).toBe(0);
    }
  });
});

const LOCKER = `
import fcntl, struct, sys
kind, path = sys.argv[1], sys.argv[2]
f = open(path, 'r+')
def lock(block):
    if kind == 'flock':
        fcntl.flock(f, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    elif kind == 'posix':
        fcntl.lockf(f, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    else:  # OFD: F_OFD_SETLK = 37, F_OFD_SETLKW = 38
        fcntl.fcntl(f, 38 if block else 37, struct.pack('hhqqi4x', fcntl.F_WRLCK, 0, 0, 0, 0))
if sys.argv[3] == 'hold':
    lock(True)
    open(path + '.held', 'w').close()
    while True:  # until the test says release
        try:
            open(path + '.release').close()
            break
        except FileNotFoundError:
            import time; time.sleep(0.02)
else:
    try:
        lock(False)
        print('got', flush=True)
    except OSError as e:
        print('busy', e.errno, flush=True)
        lock(True)
        print('acquired', flush=True)
`;

/** How /proc/locks names each kind of lock the locker takes. */
const PROC_LOCKS_KIND: Record<string, LockKind> = { flock: 'FLOCK', posix: 'POSIX', ofd: 'OFDLCK' };

describe('file locks between host processes', () => {
  for (const kind of ['flock', 'posix', 'ofd']) {
    it(`${kind}: a second process finds the lock taken, waits, and gets it once it is released`, async () => {
      const mnt = m.mnt;
      const L = join(mnt, `lock-${kind}`);
      writeFileSync(L, '');
      writeFileSync(join(mnt, 'locker.py'), LOCKER);
      // The holder takes the lock; the waiter's non-blocking attempt fails (EAGAIN), its blocking
      // attempt must be asleep on the lock (the kernel lists it as a blocked waiter) without
      // having got it, and must return once the holder releases. No process runs in the mount
      // (cwd '/') and none is assumed to have got anywhere after a sleep.
      const holder = spawn('python3', [join(mnt, 'locker.py'), kind, L, 'hold'], { cwd: '/', stdio: 'ignore' });
      const holderExit = new Promise<number | null>((r) => holder.on('close', r));
      await until(() => existsSync(`${L}.held`) || holder.exitCode !== null, 'the holder to take the lock');
      expect(holder.exitCode).toBe(null);
      const waiter = spawn('python3', [join(mnt, 'locker.py'), kind, L, 'wait'], { cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      waiter.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const waiterExit = new Promise<number | null>((r) => waiter.on('close', r));
      await until(() => out.includes('\n') || waiter.exitCode !== null, "the waiter's non-blocking attempt (a whole line)");
      expect(out).toBe('busy 11\n');
      await untilBlockedOnLock(statSync(L).ino, `the ${kind} waiter to block`, 1, PROC_LOCKS_KIND[kind]);
      expect(out).toBe('busy 11\n'); // asleep on the lock, not granted it
      writeFileSync(`${L}.release`, '');
      expect(await waiterExit).toBe(0);
      expect(await holderExit).toBe(0);
      expect(out).toBe('busy 11\nacquired\n');
    });
  }
});

describe('fallocate, O_TMPFILE, ioctl', () => {
  it('posix_fallocate works (glibc writes zeros when fallocate(2) is unsupported)', () => {
    const out = py(
      `import os
fd = os.open('pf', os.O_RDWR | os.O_CREAT, 0o644)
os.posix_fallocate(fd, 0, 3 << 20)
print(os.fstat(fd).st_size, os.pread(fd, 16, (3 << 20) - 16) == bytes(16))`,
      m.mnt,
    );
    expect(out).toBe(`${3 << 20} True\n`);
  });

  it('fallocate(2) works (FALLOCATE is implemented)', () => {
    const out = py(
      `${ERRNO_OF}
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open('fa', os.O_RDWR | os.O_CREAT, 0o644)
def fa():
    if libc.fallocate(fd, 0, ctypes.c_long(0), ctypes.c_long(1 << 20)) != 0:
        raise OSError(ctypes.get_errno(), 'fallocate')
print(t(fa))`,
      m.mnt,
    );
    expect(out).toBe('ok\n');
  });

  it('O_TMPFILE works (TMPFILE is implemented)', () => {
    expect(py(`${ERRNO_OF}\nprint(t(lambda: os.open('.', os.O_TMPFILE | os.O_RDWR, 0o600)))`, m.mnt)).toMatch(/^ok \d+\n$/);
  });

  it('ioctl FS_IOC_GETFLAGS answers ENOTTY (no ioctl is forwarded)', () => {
    writeFileSync(join(m.mnt, 'io'), '');
    const out = py(`${ERRNO_OF}\nimport fcntl\nfd = os.open('io', os.O_RDONLY)\nprint(t(lambda: fcntl.ioctl(fd, 0x80086601, bytes(8))))`, m.mnt);
    expect(out).toBe('ENOTTY\n');
  });
});
