// Memory of the daemon, as far as a test can say without a machine-dependent number: the idle
// trim (src/daemon/idle-trim.ts) runs at the session's first quiet moment, with the namespace
// sandbox too — smaps is opened before pivot_root hides /proc, so a trim reporting nothing
// there means the order broke — and the daemon serves normally afterwards, the dropped pages
// faulting back in. What the RSS actually is (idle, with a session, under load, namespace vs
// none, over repeated rounds) depends on the Node build, the kernel and the machine's load: that
// is measured and printed by bench/memory.mjs, not asserted here.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type RunningDaemon } from '../../helpers/daemon.js';
import { VhostUserFrontend } from '../../../src/frontend/vhost-user-frontend.js';
import { FuseClient } from '../../../src/frontend/fuse-client.js';
import { until } from '../../helpers/wait.js';
import { isRoot } from './helpers.js';

const TRIMMED = /memory trim: (\d+(?:\.\d+)?) MiB of start-up mappings handed back/;

let daemon: RunningDaemon | undefined;
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
});

beforeAll(() => {
  // CI runs as root: a missing prerequisite is a failure, never a skip.
  if (!isRoot()) throw new Error('needs root (the namespace sandbox)');
});

describe('idle memory trim', () => {
  for (const mode of ['namespace', 'none'] as const) {
    it(`--sandbox=${mode}: runs once the session is quiet, hands back start-up's mappings, and the daemon still serves`, async () => {
      daemon = await startDaemon({ args: [`--sandbox=${mode}`, '--thread-pool-size=4', '--log-level=debug'] });
      const d = daemon;
      const fe = VhostUserFrontend.connect({ socketPath: d.socketPath });
      const fuse = new FuseClient(fe);
      await fuse.init();
      // The trim logs once it has run (the first 500 ms check that finds nothing served since
      // the previous one, now that a session is up).
      await until(() => TRIMMED.test(d.stderr()), 'the idle trim to run');
      const mib = Number(TRIMMED.exec(d.stderr())![1]);
      expect(mib, 'bytes of start-up mappings dropped').toBeGreaterThan(0);
      expect(d.stderr()).not.toMatch(/memory trim: cannot/);
      // Everything start-up left behind comes back on demand: a few requests.
      expect((await fuse.getattr(1)).mode & 0o40000).toBe(0o40000);
      const c = await fuse.create(1, 'after-trim', 0o100644, 2 /* O_RDWR */);
      await fuse.write(c.entry.nodeid, c.fh, 0, Buffer.from('still serving'));
      expect((await fuse.read(c.entry.nodeid, c.fh, 0, 64)).toString()).toBe('still serving');
      await fuse.release(c.entry.nodeid, c.fh);
      fe.close();
      expect(await d.exited).toBe(0);
    });
  }
});
