// --sandbox=chroot and --sandbox=none: no re-exec, no namespaces; chroot into the share, or
// not at all. Privileges and seccomp are cut the same way as with namespace.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, startSession, type RunningDaemon, type Session } from '../../helpers/daemon.js';
import { requireRoot } from '../../helpers/prerequisites.js';
import { VhostUserFrontend } from '../../../src/frontend/vhost-user-frontend.js';
import { FuseClient } from '../../../src/frontend/fuse-client.js';
import { enterSandbox } from '../../../src/sandbox/sandbox.js';
import { silentLogger } from '../../../src/logger.js';
import { DEFAULT_CAPS, comm, namespaces, status, threadCapabilities } from './helpers.js';

let session: Session | undefined;
let daemon: RunningDaemon | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
  await daemon?.stop();
  daemon = undefined;
});

describe('--sandbox=chroot and --sandbox=none', () => {
  // CI runs as root: a missing prerequisite is a failure, never a skip.
  beforeAll(() => requireRoot('chroot, capabilities, seccomp'));

  it('chroot: one process, host namespaces, root = the share, seccomp and capabilities cut', async () => {
    session = await startSession({ args: ['--sandbox=chroot'] });
    const pid = session.daemon.child.pid!;
    expect(comm(pid)).toBe('node');
    expect(namespaces(pid)).toEqual(namespaces('self'));
    const share = statSync(session.daemon.shareDir);
    const root = statSync(`/proc/${pid}/root/`);
    expect([root.dev, root.ino]).toEqual([share.dev, share.ino]);
    expect(status(pid).Seccomp).toBe('2');
    for (const t of threadCapabilities(pid)) expect(t.CapEff, `thread ${t.tid}`).toBe(DEFAULT_CAPS);
    writeFileSync(join(session.daemon.shareDir, 'f'), 'chrooted\n');
    const e = await session.fuse.lookup(1, 'f');
    const { fh } = await session.fuse.open(e.nodeid, 0);
    expect((await session.fuse.read(e.nodeid, fh, 0, 64)).toString()).toBe('chrooted\n');
  });

  it('chroot: the socket, out of reach after chroot, is still removed at exit', async () => {
    daemon = await startDaemon({ args: ['--sandbox=chroot'] });
    const fe = VhostUserFrontend.connect({ socketPath: daemon.socketPath });
    await new FuseClient(fe).init();
    fe.close();
    expect(await daemon.exited).toBe(0);
    expect(existsSync(daemon.socketPath)).toBe(false);
  });

  it('none: host root and namespaces, but seccomp, capabilities and groups still cut', async () => {
    session = await startSession({ args: ['--sandbox=none'] });
    const pid = session.daemon.child.pid!;
    expect(readFileSync(`/proc/${pid}/mountinfo`, 'utf8')).toEqual(readFileSync('/proc/self/mountinfo', 'utf8'));
    const st = status(pid);
    expect(st.Seccomp).toBe('2');
    expect(st.Groups).toBe('');
    for (const t of threadCapabilities(pid)) expect(t.CapEff, `thread ${t.tid}`).toBe(DEFAULT_CAPS);
    expect((await session.fuse.getattr(1)).mode & 0o170000).toBe(0o040000);
  });

  it('--seccomp=none leaves the filter off', async () => {
    daemon = await startDaemon({ args: ['--sandbox=none', '--seccomp=none'] });
    expect(status(daemon.child.pid!).Seccomp).toBe('0');
  });

  it('namespace mode is entered only through the supervisor (never pivot the host)', () => {
    expect(() => enterSandbox({ sandbox: 'namespace', seccomp: 'none', sharedDir: '/tmp' }, silentLogger)).toThrow(
      /must be entered through the supervisor/,
    );
  });
});
