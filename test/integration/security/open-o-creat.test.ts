// O_CREAT (and O_EXCL, O_TMPFILE) inside FUSE_OPEN flags. The kernel strips them before sending
// OPEN; a hostile guest does not. A peer passed them through to the host open(2), which could
// create files (through a dangling symlink: outside the share) or fail in ways the guest could
// use. OPEN acts on an existing inode: these flags are dropped, never honoured.
import { readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSession, type Session } from '../../helpers/daemon.js';
import { requireRoot } from '../../helpers/prerequisites.js';
import { SANDBOXES, listTree, makeOutside } from './helpers.js';

const O_TMPFILE = 0o20000000 | fsc.O_DIRECTORY;
let session: Session | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
});

describe('O_CREAT inside OPEN flags', () => {
  // CI runs as root: a missing prerequisite is a failure, never a skip.
  beforeAll(() => requireRoot('the namespace sandbox'));

  for (const sandbox of SANDBOXES) {
    it(`never creates anything (--sandbox=${sandbox})`, async () => {
      session = await startSession({ args: [`--sandbox=${sandbox}`] });
      const { fuse, daemon } = session;
      const share = daemon.shareDir;
      const outside = makeOutside(share);
      writeFileSync(join(share, 'f'), 'content');
      symlinkSync(join(outside, 'created-through-link'), join(share, 'dangling'));
      symlinkSync('/tmp/vfs-created-through-link', join(share, 'dangling-abs'));
      await fuse.mkdir(1, 'd');
      const before = { share: listTree(share), outside: listTree(outside) };

      // A regular file: the flags are dropped, the open works, nothing is truncated or created.
      const f = await fuse.lookup(1, 'f');
      for (const flags of [fsc.O_RDWR | fsc.O_CREAT, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOCTTY]) {
        const { fh } = await fuse.open(f.nodeid, flags);
        await fuse.release(f.nodeid, fh);
      }
      expect(readFileSync(join(share, 'f'), 'utf8')).toBe('content');

      // Dangling links: no target appears, here or outside.
      for (const name of ['dangling', 'dangling-abs']) {
        const l = await fuse.lookup(1, name);
        for (const flags of [fsc.O_WRONLY | fsc.O_CREAT, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC]) {
          await expect(fuse.open(l.nodeid, flags), `${name} ${flags.toString(8)}`).rejects.toMatchObject({ errno: expect.any(Number) });
        }
      }
      expect(existsSync('/tmp/vfs-created-through-link')).toBe(false);

      // A directory: no O_TMPFILE file, no O_CREAT child.
      const d = await fuse.lookup(1, 'd');
      for (const flags of [O_TMPFILE | fsc.O_RDWR, fsc.O_RDWR | fsc.O_CREAT, fsc.O_CREAT | fsc.O_DIRECTORY]) {
        try {
          const { fh } = await fuse.open(d.nodeid, flags);
          await fuse.release(d.nodeid, fh);
        } catch (e) {
          expect(e).toMatchObject({ errno: expect.any(Number) });
        }
      }
      expect(listTree(share)).toEqual(before.share);
      expect(listTree(outside)).toEqual(before.outside);
      expect((await fuse.listDir(d.nodeid)).map((x) => x.name).filter((n) => n !== '.' && n !== '..')).toEqual([]);
    });
  }
});
