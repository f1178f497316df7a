// The semantics options with real host programs on a /dev/fuse host mount (--mount): locks
// forwarded to the share (flock(1), Python fcntl, between the mount and the share itself, and a
// blocked waiter interrupted by a signal), xattrs and --xattrmap, fallocate(1) / SEEK_HOLE,
// cp's copy_file_range, O_TMPFILE + linkat, renameat2 whiteouts, --readonly, --translate-uid.
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { locksOn, until, untilBlockedOnLock } from '../../helpers/wait.js';
import { assertCanMount, run, sh, startHostMount, type HostMount } from '../hostmount/helpers.js';

let m: HostMount | undefined;

// Root and /dev/fuse are prerequisites CI meets: without them every test here fails.
beforeAll(assertCanMount);

afterEach(async () => {
  if (m) expect(await m.stop()).toBe(0);
  m = undefined;
});

function py(code: string, cwd: string): string {
  return sh(`python3 - <<'PYEOF'\n${code}\nPYEOF`, cwd);
}

/** A child process with its stdout collected and its exit awaited ('close': after the last of
 * stdout; 'exit' can come first, and under load did). */
function child(file: string, args: string[]): { proc: ChildProcess; out: () => string; exit: Promise<number | string> } {
  const proc = spawn(file, args, { cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | string>((r) => proc.on('close', (code, signal) => r(code ?? signal ?? -1)));
  return { proc, out: () => out, exit };
}

/**
 * A lock holder that says 'held' once it has the lock and keeps it until its stdin closes
 * (`release`): nothing here races a holder's own deadline.
 */
async function holder(file: string, args: string[]): Promise<{ release(): Promise<number | string> }> {
  const h = child(file, args);
  await until(() => h.out().includes('held\n') || h.proc.exitCode !== null, `${file} to take its lock`);
  expect(h.out()).toBe('held\n');
  return {
    async release() {
      h.proc.stdin!.end();
      return h.exit;
    },
  };
}

/** flock(1) holding `path` until released. */
const flockHolder = (path: string) => holder('flock', [path, 'sh', '-c', 'echo held; read -r _ || true']);

describe('locks forwarded to the host (-o posix_lock, -o flock)', () => {
  it('flock(1) on the mount and on the share see each other', async () => {
    m = await startHostMount({ args: ['-o', 'posix_lock,flock'] });
    writeFileSync(join(m.mnt, 'f'), '');
    const ino = statSync(join(m.share, 'f')).ino;
    const h1 = await flockHolder(join(m.mnt, 'f'));
    expect(run(`flock -n ${join(m.share, 'f')} true`, '/').status).toBe(1); // held through the mount
    expect(run(`flock -n ${join(m.mnt, 'f')} true`, '/').status).toBe(1);
    // A blocking flock on the mount waits — the daemon's flock(2) on the share is a blocked
    // waiter the host kernel lists — and gets the lock once the holder lets go.
    const waiter = child('flock', ['-w', '60', join(m.mnt, 'f'), 'echo', 'got']);
    await untilBlockedOnLock(ino, 'the forwarded flock wait', 1, 'FLOCK');
    expect(waiter.proc.exitCode).toBe(null);
    expect(await h1.release()).toBe(0);
    expect(await waiter.exit).toBe(0);
    expect(waiter.out()).toBe('got\n');
    // The other way: the share's holder blocks the mount.
    const h2 = await flockHolder(join(m.share, 'f'));
    expect(run(`flock -n ${join(m.mnt, 'f')} true`, '/').status).toBe(1);
    expect(await h2.release()).toBe(0);
    expect(run(`flock -n ${join(m.mnt, 'f')} true`, '/').status).toBe(0);
  });

  it('POSIX locks (lockf) between a process on the mount and one on the share; F_GETLK', async () => {
    m = await startHostMount({ args: ['-o', 'posix_lock'] });
    writeFileSync(join(m.mnt, 'p'), 'x');
    const out = py(
      `import fcntl, os, struct, subprocess, sys
f = open('${join(m.mnt, 'p')}', 'r+')
fcntl.lockf(f, fcntl.LOCK_EX, 1, 0)
probe = "import fcntl,sys\\nf=open(sys.argv[1],'r+')\\ntry:\\n  fcntl.lockf(f, fcntl.LOCK_EX|fcntl.LOCK_NB); print('got')\\nexcept OSError as e: print('busy', e.errno)"
print(subprocess.run([sys.executable, '-c', probe, '${join(m.share, 'p')}'], capture_output=True, text=True).stdout.strip())
print(subprocess.run([sys.executable, '-c', probe, '${join(m.mnt, 'p')}'], capture_output=True, text=True).stdout.strip())
getlk = "import fcntl,struct,sys\\nf=open(sys.argv[1],'r+')\\nr=fcntl.fcntl(f, fcntl.F_GETLK, struct.pack('hhqqi', fcntl.F_WRLCK, 0, 0, 0, 0))\\nprint(struct.unpack('hhqqi', r)[0] == fcntl.F_WRLCK)"
print(subprocess.run([sys.executable, '-c', getlk, '${join(m.mnt, 'p')}'], capture_output=True, text=True).stdout.strip())
fcntl.lockf(f, fcntl.LOCK_UN)
print(subprocess.run([sys.executable, '-c', probe, '${join(m.share, 'p')}'], capture_output=True, text=True).stdout.strip())`,
      '/',
    );
    expect(out).toBe('busy 11\nbusy 11\nTrue\ngot\n');
  });

  it('a process blocked in F_SETLKW is interrupted by a signal (EINTR), and the daemon goes on', async () => {
    m = await startHostMount({ args: ['-o', 'posix_lock'] });
    writeFileSync(join(m.mnt, 'w'), 'x');
    const share = join(m.share, 'w');
    const ino = statSync(share).ino;
    const h = await holder('python3', ['-c', `import fcntl,sys\nf=open('${share}','r+')\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint('held', flush=True)\nsys.stdin.read()`]);
    const waiter = child('python3', [
      '-c',
      `import fcntl, signal
class Alarm(Exception): pass
def on_alarm(*a): raise Alarm()
signal.signal(signal.SIGALRM, on_alarm)
f = open('${join(m.mnt, 'w')}', 'r+')
try:
    fcntl.lockf(f, fcntl.LOCK_EX)
    print('locked?!')
except Alarm:
    print('interrupted')`,
    ]);
    // The signal goes only to a waiter known to be blocked: its F_SETLKW reached the daemon,
    // whose F_OFD_SETLKW on the share now waits behind the holder.
    await untilBlockedOnLock(ino, "the waiter's F_SETLKW, forwarded to the share", 1, 'OFDLCK');
    waiter.proc.kill('SIGALRM');
    expect(await waiter.exit).toBe(0);
    expect(waiter.out()).toBe('interrupted\n');
    // FUSE_INTERRUPT also ended the daemon's own wait on the share: no waiter is left that
    // would take the lock for nobody once the holder lets go.
    await until(() => locksOn(ino, 'OFDLCK').blocked === 0, "the daemon's wait on the share to end");
    expect(await h.release()).toBe(0);
    expect(py(`import fcntl\nf = open('${share}', 'r+')\nfcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\nprint('free')`, '/')).toBe('free\n');
    expect(sh('echo alive > w2 && cat w2', m.mnt)).toBe('alive\n');
  });
});

describe('extended attributes', () => {
  it('--xattrmap remaps what programs set and hides the host\'s own', async () => {
    m = await startHostMount({ args: ['--xattrmap', ':map::user.virtiofs.:'] });
    writeFileSync(join(m.mnt, 'f'), '');
    py(`import os\nos.setxattr('f', 'user.mine', b'guest value')\nos.setxattr('f', 'trusted.t', b'T')`, m.mnt);
    expect(py(`import os\nprint(sorted(os.listxattr('f')), os.getxattr('f', 'user.mine'))`, m.mnt)).toBe("['trusted.t', 'user.mine'] b'guest value'\n");
    expect(py(`import os\nprint(sorted(os.listxattr('f')))`, m.share)).toBe("['user.virtiofs.trusted.t', 'user.virtiofs.user.mine']\n");
    py(`import os\nos.setxattr('f', 'user.host_only', b'h')`, m.share);
    expect(py(`import os\nprint(sorted(os.listxattr('f')))`, m.mnt)).toBe("['trusted.t', 'user.mine']\n");
  });
});

describe('data operations with real programs', () => {
  it('fallocate(1) including --punch-hole, SEEK_HOLE, cp (copy_file_range), O_TMPFILE + linkat, renameat2 whiteout', async () => {
    m = await startHostMount();
    // (Preallocated, never-written extents count as holes for SEEK_DATA on ext4: write data.)
    sh(
      'fallocate -l 4MiB big && dd if=/dev/urandom of=big bs=1M count=4 conv=notrunc status=none && ' +
        'fallocate --punch-hole --offset 1MiB --length 1MiB big',
      m.mnt,
    );
    expect(statSync(join(m.share, 'big')).size).toBe(4 << 20);
    expect(py(`import os\nfd = os.open('big', os.O_RDONLY)\nprint(os.lseek(fd, 0, os.SEEK_HOLE), os.lseek(fd, 1 << 20, os.SEEK_DATA))`, m.mnt)).toBe(`${1 << 20} ${2 << 20}\n`);
    sh('cp big copy && cmp big copy', m.mnt);
    expect(
      py(
        `import ctypes, os
fd = os.open('.', os.O_TMPFILE | os.O_RDWR, 0o640)
os.write(fd, b'anonymous')
# linkat(fd, "", AT_FDCWD, "named", AT_EMPTY_PATH) (the /proc/self/fd magic-link form is
# refused with EXDEV by the host kernel for a FUSE tmpfile before any request reaches us)
libc = ctypes.CDLL(None, use_errno=True)
if libc.linkat(fd, b'', -100, b'named', 0x1000) != 0:
    raise OSError(ctypes.get_errno(), 'linkat')
print(open('named').read(), oct(os.stat('named').st_mode & 0o777))`,
        m.mnt,
      ),
    ).toBe('anonymous 0o640\n');
    writeFileSync(join(m.mnt, 'lower'), 'l');
    py(
      `import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
if libc.renameat2(AT_FDCWD, b'lower', AT_FDCWD, b'upper', 4) != 0:
    raise OSError(ctypes.get_errno(), 'renameat2')`,
      m.mnt,
    );
    const w = statSync(join(m.share, 'lower'));
    expect(w.isCharacterDevice() && w.rdev === 0).toBe(true);
  });
});

describe('--readonly and --translate-uid on the host mount', () => {
  it('--readonly: writes fail with EROFS, reads work', async () => {
    m = await startHostMount({ args: ['--readonly'], prepare: (share) => writeFileSync(join(share, 'r'), 'ro') });
    const r = run('touch new', m.mnt);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(run('echo x >> r', m.mnt).stderr).toMatch(/Read-only file system/);
    expect(sh('cat r', m.mnt)).toBe('ro');
  });

  it('--translate-uid map: root on the mount owns 4321 on the share, and sees 0', async () => {
    const { chmodSync } = await import('node:fs');
    m = await startHostMount({ args: ['--translate-uid=map:0:4321:1', '--translate-gid=map:0:4321:1'], prepare: (share) => chmodSync(share, 0o777) });
    sh('echo x > owned && mkdir d', m.mnt);
    expect([statSync(join(m.share, 'owned')).uid, statSync(join(m.share, 'd')).gid]).toEqual([4321, 4321]);
    expect(sh('stat -c %u:%g owned d', m.mnt)).toBe('0:0\n0:0\n');
  });
});
