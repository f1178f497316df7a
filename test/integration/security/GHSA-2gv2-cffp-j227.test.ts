// GHSA-2gv2-cffp-j227 (Rust virtiofsd): with the sandbox off, names the guest sent to SYMLINK,
// MKNOD, MKDIR, CREATE, RENAME, LINK were used as paths: an absolute name, or one holding '/' or
// '..', created or moved files outside the shared directory. Every name must be one path
// component ('/'-free, not '.' or '..'), whatever the sandbox — refused with EINVAL and nothing
// created anywhere.
import { constants as fsc, existsSync, writeFileSync } from 'node:fs';
import { constants as osc } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSession, type Session } from '../../helpers/daemon.js';
import { requireRoot } from '../../helpers/prerequisites.js';
import { SANDBOXES, listTree, makeOutside } from './helpers.js';

const E = osc.errno;
let session: Session | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
});

describe('GHSA-2gv2-cffp-j227: names are single components, with any sandbox', () => {
  // CI runs as root: a missing prerequisite is a failure, never a skip.
  beforeAll(() => requireRoot('the namespace and chroot sandboxes'));

  for (const sandbox of [...SANDBOXES, 'chroot'] as const) {
    it(`--sandbox=${sandbox}`, async () => {
      session = await startSession({ args: [`--sandbox=${sandbox}`] });
      const { fuse, daemon } = session;
      const share = daemon.shareDir;
      const outside = makeOutside(share);
      writeFileSync(join(share, 'victim'), 'v');
      const before = { share: listTree(share), outside: listTree(outside), tmp: existsSync('/tmp/planted') };
      const victim = await fuse.lookup(1, 'victim');
      await fuse.mkdir(1, 'sub');
      const sub = await fuse.lookup(1, 'sub');

      const bad = [
        '..', '.', `${outside}/planted`, '/tmp/planted', '../outside/planted', '../planted', 'a/b', 'sub/../../outside/planted', '/',
      ];
      for (const name of bad) {
        const what = JSON.stringify(name);
        for (const parent of [1, sub.nodeid]) {
          await expect(fuse.symlink(parent, name, '/etc/passwd'), `SYMLINK ${what}`).rejects.toMatchObject({ errno: E.EINVAL });
          await expect(fuse.mknod(parent, name, 0o100644), `MKNOD ${what}`).rejects.toMatchObject({ errno: E.EINVAL });
          await expect(fuse.mkdir(parent, name), `MKDIR ${what}`).rejects.toMatchObject({ errno: E.EINVAL });
          await expect(fuse.create(parent, name, 0o100644, fsc.O_RDWR), `CREATE ${what}`).rejects.toMatchObject({ errno: E.EINVAL });
          await expect(fuse.link(victim.nodeid, parent, name), `LINK ${what}`).rejects.toMatchObject({ errno: E.EINVAL });
          await expect(fuse.rename(1, 'victim', parent, name), `RENAME to ${what}`).rejects.toMatchObject({ errno: E.EINVAL });
          await expect(fuse.rename(parent, name, 1, 'moved'), `RENAME from ${what}`).rejects.toMatchObject({ errno: E.EINVAL });
          await expect(fuse.unlink(parent, name), `UNLINK ${what}`).rejects.toMatchObject({ errno: E.EINVAL });
          await expect(fuse.rmdir(parent, name), `RMDIR ${what}`).rejects.toMatchObject({ errno: E.EINVAL });
          await expect(fuse.lookup(parent, name), `LOOKUP ${what}`).rejects.toMatchObject({ errno: E.EINVAL });
        }
      }
      expect(listTree(share)).toEqual([...before.share, 'sub'].sort());
      expect(listTree(outside)).toEqual(before.outside);
      expect(existsSync('/tmp/planted')).toBe(before.tmp);
      expect(existsSync(join(share, '..', 'planted'))).toBe(false);

      // Absolute symlink *targets* are fine: stored verbatim, never followed by the daemon.
      const l = await fuse.symlink(1, 'abs-link', '/etc/passwd');
      expect(await fuse.readlink(l.nodeid)).toBe('/etc/passwd');
    });
  }
});
