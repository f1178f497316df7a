// Symlink escape attempts: a symlink in the share pointing at /etc/passwd, at the parent of the
// share or at a file outside must not take the daemon out of the share. The daemon never follows
// a guest-controlled link: LOOKUP returns the link itself, OPEN of it fails, names are looked up
// *beneath* a directory and a link is not a directory. With the namespace sandbox the daemon's
// "/" is the share: even an absolute target names a path inside it.
import { readFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { constants as fsc } from 'node:fs';
import { constants as osc } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSession, type Session } from '../../helpers/daemon.js';
import { requireRoot } from '../../helpers/prerequisites.js';
import { SANDBOXES, makeOutside, servingPid } from './helpers.js';

const E = osc.errno;
const S_IFLNK = 0o120000;
const FATTR_SIZE = 1 << 3;
let session: Session | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
});

describe('symlink escapes', () => {
  // CI runs as root: a missing prerequisite is a failure, never a skip.
  beforeAll(() => requireRoot('the namespace sandbox'));

  for (const sandbox of SANDBOXES) {
    it(`links out of the share lead nowhere (--sandbox=${sandbox})`, async () => {
      session = await startSession({ args: [`--sandbox=${sandbox}`] });
      const { fuse, daemon } = session;
      const share = daemon.shareDir;
      const outside = makeOutside(share);
      const passwd = readFileSync('/etc/passwd');
      symlinkSync('/etc/passwd', join(share, 'passwd'));
      symlinkSync('..', join(share, 'up'));
      symlinkSync(outside, join(share, 'out'));
      symlinkSync(join(outside, 'secret'), join(share, 'secret-link'));
      symlinkSync('/', join(share, 'root'));

      for (const name of ['passwd', 'secret-link']) {
        const e = await fuse.lookup(1, name);
        expect(e.attr.mode & 0o170000, name).toBe(S_IFLNK); // the link itself
        for (const flags of [fsc.O_RDONLY, fsc.O_RDWR | fsc.O_TRUNC, fsc.O_WRONLY | fsc.O_APPEND]) {
          await expect(fuse.open(e.nodeid, flags), `${name} ${flags}`).rejects.toMatchObject({ errno: expect.any(Number) });
        }
        const size = Buffer.alloc(88);
        size.writeUInt32LE(FATTR_SIZE, 0);
        await expect(fuse.setattr(e.nodeid, size)).rejects.toMatchObject({ errno: expect.any(Number) });
        await expect(fuse.create(1, name, 0o100644, fsc.O_RDWR | fsc.O_TRUNC)).rejects.toMatchObject({ errno: expect.any(Number) });
      }
      for (const name of ['up', 'out', 'root']) {
        const e = await fuse.lookup(1, name);
        expect(e.attr.mode & 0o170000).toBe(S_IFLNK);
        for (const child of ['secret', 'etc', 'passwd', 'share']) {
          await expect(fuse.lookup(e.nodeid, child), `${name}/${child}`).rejects.toMatchObject({ errno: E.ENOTDIR });
        }
        await expect(fuse.mkdir(e.nodeid, 'planted')).rejects.toMatchObject({ errno: E.ENOTDIR });
        await expect(fuse.create(e.nodeid, 'planted', 0o100644, fsc.O_RDWR)).rejects.toMatchObject({ errno: E.ENOTDIR });
        await expect(fuse.opendir(e.nodeid)).rejects.toMatchObject({ errno: expect.any(Number) });
      }
      expect(readFileSync('/etc/passwd').equals(passwd)).toBe(true);
      expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('top secret\n');

      if (sandbox === 'namespace') {
        // In the daemon's world "/" is the share: its /etc/passwd is the share's etc/passwd.
        mkdirSync(join(share, 'etc'));
        writeFileSync(join(share, 'etc', 'passwd'), 'inside the share\n');
        const pid = servingPid(daemon.child.pid!);
        expect(readFileSync(`/proc/${pid}/root/etc/passwd`, 'utf8')).toBe('inside the share\n');
      }
    });
  }
});
