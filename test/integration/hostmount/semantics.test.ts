/**
 * Semantics host programs rely on beyond plain files: extended attributes, file locks, and the
 * answers for operations the passthrough does not implement yet. Every expectation here is
 * correct behaviour for a file system, not a snapshot of a gap:
 * - xattrs are off unless --xattr (as in the Rust virtiofsd): EOPNOTSUPP, and cp -a / tar
 *   --xattrs cope with it; with --xattr (once the CLI accepts it) they round-trip to the share;
 * - locks: the mount does not negotiate FUSE_POSIX_LOCKS/FLOCK_LOCKS yet, so the host kernel
 *   keeps them itself — between host processes they must behave exactly as on any file system,
 *   and must keep doing so once they are forwarded to the daemon (OFD locks);
 * - "not implemented yet" answers are the kernel's documented fallbacks (EOPNOTSUPP, ENOTTY).
 *   When the passthrough implements FALLOCATE or TMPFILE, flip those two expectations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { parseCommandLine } from '../../../src/cli/options.js';
import { canMount, run, sh, startHostMount, type HostMount } from './helpers.js';

let m: HostMount;

beforeAll(async () => {
  if (!canMount) return;
  m = await startHostMount();
});

afterAll(async () => {
  if (!canMount) return;
  expect(await m.stop()).toBe(0);
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

describe.skipIf(!canMount)('extended attributes without --xattr (the default)', () => {
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

const xattrAccepted = parseCommandLine(['--xattr', '--fd=3', '--shared-dir=/']).kind === 'run';

describe.skipIf(!canMount || !xattrAccepted)('extended attributes with --xattr', () => {
  it('user.* attributes round-trip and land on the share', async () => {
    const mx = await startHostMount({ args: ['--xattr'] });
    try {
      writeFileSync(join(mx.mnt, 'f'), 'x');
      py(
        `import os
os.setxattr('f', 'user.one', b'1')
os.setxattr('f', 'user.big', b'v' * 60000)
os.setxattr('f', 'user.gone', b'')
os.removexattr('f', 'user.gone')`,
        mx.mnt,
      );
      const read = `import os\nprint(sorted(os.listxattr('f')), os.getxattr('f', 'user.one'), len(os.getxattr('f', 'user.big')))`;
      expect(py(read, mx.mnt)).toBe(py(read, mx.share));
      expect(py(read, mx.share)).toBe("['user.big', 'user.one'] b'1' 60000\n");
    } finally {
      expect(await mx.stop()).toBe(0);
    }
  });
});

const LOCKER = `
import fcntl, os, sys, time
kind, path = sys.argv[1], sys.argv[2]
f = open(path, 'r+')
def lock(block):
    if kind == 'flock':
        fcntl.flock(f, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    elif kind == 'posix':
        fcntl.lockf(f, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    else:  # OFD: F_OFD_SETLK(W) = 37 (38)
        import struct
        fcntl.fcntl(f, 38 if block else 37, struct.pack('hhqqi4x', fcntl.F_WRLCK, 0, 0, 0, 0))
try:
    lock(False)
    print('got')
except OSError as e:
    print('busy', e.errno)
    t = time.monotonic()
    lock(True)
    print('waited', round(time.monotonic() - t, 1) >= 0.3)
`;

describe.skipIf(!canMount)('file locks between host processes', () => {
  for (const kind of ['flock', 'posix', 'ofd']) {
    it(`${kind}: a second process finds the lock taken, then gets it once it is released`, () => {
      writeFileSync(join(m.mnt, `lock-${kind}`), '');
      writeFileSync(join(m.mnt, 'locker.py'), LOCKER);
      // A background process takes the lock and holds it 0.8 s; the locker then finds it
      // taken (non-blocking attempt), and its blocking attempt returns once the holder exits.
      const out = sh(
        `
        python3 - <<'PYEOF' &
import fcntl, struct, time
f = open('lock-${kind}', 'r+')
kind = '${kind}'
if kind == 'flock': fcntl.flock(f, fcntl.LOCK_EX)
elif kind == 'posix': fcntl.lockf(f, fcntl.LOCK_EX)
else: fcntl.fcntl(f, 38, struct.pack('hhqqi4x', fcntl.F_WRLCK, 0, 0, 0, 0))
open('held-${kind}', 'w').close()
time.sleep(0.8)
PYEOF
        while [ ! -e held-${kind} ]; do sleep 0.05; done
        python3 locker.py ${kind} lock-${kind}
        wait
        `,
        m.mnt,
      );
      expect(out).toBe('busy 11\nwaited True\n');
    });
  }
});

describe.skipIf(!canMount)('operations the passthrough does not implement yet: the kernel fallbacks', () => {
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

  it('fallocate(2) answers EOPNOTSUPP (FALLOCATE not implemented yet)', () => {
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
    expect(out).toBe('ENOTSUP\n');
  });

  it('O_TMPFILE answers EOPNOTSUPP (TMPFILE not implemented yet)', () => {
    expect(py(`${ERRNO_OF}\nprint(t(lambda: os.open('.', os.O_TMPFILE | os.O_RDWR, 0o600)))`, m.mnt)).toBe('ENOTSUP\n');
  });

  it('ioctl FS_IOC_GETFLAGS answers ENOTTY (no ioctl is forwarded)', () => {
    writeFileSync(join(m.mnt, 'io'), '');
    const out = py(`${ERRNO_OF}\nimport fcntl\nfd = os.open('io', os.O_RDONLY)\nprint(t(lambda: fcntl.ioctl(fd, 0x80086601, bytes(8))))`, m.mnt);
    expect(out).toBe('ENOTTY\n');
  });
});
