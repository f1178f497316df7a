// --syslog through the re-exec: the daemon opens the syslog socket before pivot_root, when
// /dev/log is still reachable, and keeps logging through it from inside the sandbox. A small
// datagram listener plays syslogd at /dev/log (only where no syslogd owns it).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, type RunningDaemon } from '../../helpers/daemon.js';
import { VhostUserFrontend } from '../../../src/frontend/vhost-user-frontend.js';
import { FuseClient } from '../../../src/frontend/fuse-client.js';
import { isRoot, waitFor } from './helpers.js';

const DEV_LOG = '/dev/log';
const canListen = isRoot() && !existsSync(DEV_LOG) && spawnSync('python3', ['-c', 'pass']).status === 0;

let daemon: RunningDaemon | undefined;
let listener: ChildProcess | undefined;
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  listener?.kill('SIGKILL');
  listener = undefined;
  rmSync(DEV_LOG, { force: true });
});

describe.skipIf(!canListen)('--syslog with the namespace sandbox', () => {
  it('logs before and after pivot_root; the readiness line stays on stderr', async () => {
    let received = '';
    listener = spawn('python3', ['-u', '-c', `
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('${DEV_LOG}')
print('ready', flush=True)
while True:
    print(s.recv(65536).decode(errors='replace'), flush=True)
`], { stdio: ['ignore', 'pipe', 'inherit'] });
    listener.stdout!.on('data', (b: Buffer) => (received += b.toString()));
    await waitFor(() => received.includes('ready'), 5000, 'the syslog listener');

    daemon = await startDaemon({ args: ['--syslog'] });
    expect(daemon.stderr()).toContain('Waiting for vhost-user socket connection...');
    await waitFor(() => received.includes('Waiting for vhost-user socket connection'), 5000, 'the readiness line in syslog');
    expect(received).toMatch(/virtiofsd-ts\[\d+\]: sandbox: namespace/);
    if (process.env.VIRTIOFSD_TS_SECCOMP_LEARN === undefined) expect(received).toMatch(/seccomp: \d+ system calls allowed/);

    const fe = VhostUserFrontend.connect({ socketPath: daemon.socketPath });
    await new FuseClient(fe).init();
    fe.close();
    expect(await daemon.exited).toBe(0);
    // Logged from inside the sandbox, where /dev/log does not exist.
    await waitFor(() => received.includes('front-end disconnected, exiting'), 5000, 'a message from inside the sandbox');
  });
});
