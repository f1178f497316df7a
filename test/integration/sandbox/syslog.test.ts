// --syslog through the re-exec: the daemon opens the syslog socket before pivot_root, when
// /dev/log is still reachable, and keeps logging through it from inside the sandbox. A small
// datagram listener plays syslogd. glibc's syslog(3) only ever connects to /dev/log, so the
// daemon runs in a private mount namespace (unshare -m) whose /dev is a tmpfs holding the host's
// device nodes plus our listener's socket as /dev/log: the same test on every host, whether a
// syslogd or journald owns the real /dev/log or nothing does, and nothing of the host's changes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type RunningDaemon } from '../../helpers/daemon.js';
import { VhostUserFrontend } from '../../../src/frontend/vhost-user-frontend.js';
import { FuseClient } from '../../../src/frontend/fuse-client.js';
import { isRoot, waitFor } from './helpers.js';

// Runs as `sh -ec PRIVATE_DEV_LOG sh WORKDIR CMD...` inside `unshare -m` (private propagation):
// a fresh /dev with every entry of the host's bind-mounted or copied back, except `log`, which
// is WORKDIR/log; then exec CMD.
const PRIVATE_DEV_LOG = `
work=$1; shift
mkdir "$work/hostdev"
mount --rbind /dev "$work/hostdev"
mount -t tmpfs -o mode=0755,nosuid tmpfs /dev
for e in "$work"/hostdev/* "$work"/hostdev/.[!.]*; do
  n=\${e##*/}
  if [ "$n" = log ] || { [ ! -e "$e" ] && [ ! -L "$e" ]; }; then continue; fi
  if [ -L "$e" ]; then cp -P "$e" "/dev/$n"
  elif [ -d "$e" ]; then mkdir "/dev/$n" && mount --rbind "$e" "/dev/$n"
  else : > "/dev/$n" && mount --bind "$e" "/dev/$n"
  fi
done
: > /dev/log
mount --bind "$work/log" /dev/log
umount -l "$work/hostdev"
exec "$@"
`;

let daemon: RunningDaemon | undefined;
let listener: ChildProcess | undefined;
let work: string | undefined;
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  listener?.kill('SIGKILL');
  listener = undefined;
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
  work = undefined;
});

beforeAll(() => {
  // CI runs as root: a missing prerequisite is a failure, never a skip.
  if (!isRoot()) throw new Error('needs root (mount namespaces, the namespace sandbox)');
});

describe('--syslog with the namespace sandbox', () => {
  it('logs before and after pivot_root; the readiness line stays on stderr', async () => {
    work = mkdtempSync(join(tmpdir(), 'vfs-syslog-'));
    let received = '';
    listener = spawn('python3', ['-u', '-c', `
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('${join(work, 'log')}')
print('ready', flush=True)
while True:
    print(s.recv(65536).decode(errors='replace'), flush=True)
`], { stdio: ['ignore', 'pipe', 'inherit'] });
    listener.stdout!.on('data', (b: Buffer) => (received += b.toString()));
    await waitFor(() => received.includes('ready'), 20_000, 'the syslog listener');

    daemon = await startDaemon({ args: ['--syslog'], wrapper: ['unshare', '-m', 'sh', '-ec', PRIVATE_DEV_LOG, 'sh', work] });
    expect(daemon.stderr()).toContain('Waiting for vhost-user socket connection...');
    await waitFor(() => received.includes('Waiting for vhost-user socket connection'), 20_000, 'the readiness line in syslog');
    expect(received).toMatch(/virtiofsd-ts\[\d+\]: sandbox: namespace/);
    if (process.env.VIRTIOFSD_TS_SECCOMP_LEARN === undefined) expect(received).toMatch(/seccomp: \d+ system calls allowed/);

    const fe = VhostUserFrontend.connect({ socketPath: daemon.socketPath });
    await new FuseClient(fe).init();
    fe.close();
    expect(await daemon.exited).toBe(0);
    // Logged from inside the sandbox, where /dev/log does not exist.
    await waitFor(() => received.includes('front-end disconnected, exiting'), 20_000, 'a message from inside the sandbox');
  });
});
