/**
 * coreutils on the host mount, each script run twice — on the mount and on a plain directory —
 * and the resulting trees and outputs compared. Also: what the mount shows equals what the
 * share holds (the same inodes seen both ways).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdirSync, rmSync } from 'node:fs';
import { digest, plainDir, sh, useMountAndPlain } from './helpers.js';

// Root and /dev/fuse are prerequisites CI meets: without them every test here fails.
const fx = useMountAndPlain();

/** Runs `script` in a fresh subdirectory `name` of the mount and of the plain dir; returns both outputs. */
function both(name: string, script: string): { mnt: string; ref: string; mntDir: string; refDir: string } {
  const mntDir = join(fx.m.mnt, name);
  const refDir = join(fx.plain.dir, name);
  mkdirSync(mntDir);
  mkdirSync(refDir);
  const mnt = sh(script, mntDir);
  const ref = sh(script, refDir);
  return { mnt, ref, mntDir, refDir };
}

/** A small source tree with a bit of everything. */
const FIXTURE = `
  mkdir -p src/a/b src/empty
  printf 'hello\\n' > src/a/hello.txt
  python3 -c 'import random,sys; sys.stdout.buffer.write(random.Random(7).randbytes(300000))' > src/a/b/random.bin
  seq 1 20000 > src/a/b/numbers.txt
  : > src/zero
  printf '#!/bin/sh\\necho run\\n' > src/a/script.sh; chmod 755 src/a/script.sh
  chmod 600 src/a/hello.txt; chmod 1777 src/empty; chmod 2750 src/a/b
  ln -s a/hello.txt src/link; ln -s /nonexistent src/dangling
  ln src/a/b/numbers.txt src/hardlink
  touch -d '2001-02-03 04:05:06.789' src/a/hello.txt
  mkfifo src/fifo
`;

describe('coreutils on the host mount', () => {
  it('cp -a preserves contents, modes, owners, times, links, fifos — as on a plain directory', () => {
    const r = both('cp', `${FIXTURE}\n cp -a src copy\n`);
    expect(digest(join(r.mntDir, 'copy'))).toEqual(digest(join(r.refDir, 'copy')));
    expect(digest(join(r.mntDir, 'copy'), { mtime: true })).toEqual(digest(join(r.mntDir, 'src'), { mtime: true }));
  });

  it('cp -a from the mount to a plain directory and back', () => {
    const out = plainDir();
    try {
      sh(FIXTURE, join(fx.m.mnt, (mkdirSync(join(fx.m.mnt, 'cpout')), 'cpout')));
      sh(`cp -a ${JSON.stringify(join(fx.m.mnt, 'cpout', 'src'))} ./fromMount`, out.dir);
      sh(`cp -a ${JSON.stringify(join(out.dir, 'fromMount'))} ./back`, join(fx.m.mnt, 'cpout'));
      const want = digest(join(fx.m.mnt, 'cpout', 'src'), { mtime: true });
      expect(digest(join(out.dir, 'fromMount'), { mtime: true })).toEqual(want);
      expect(digest(join(fx.m.mnt, 'cpout', 'back'), { mtime: true })).toEqual(want);
    } finally {
      out.remove();
    }
  });

  it('mv within a directory, across directories, over an existing file, and of a directory', () => {
    const r = both(
      'mv',
      `${FIXTURE}
      mv src/a/hello.txt src/a/renamed.txt
      mv src/a/b/random.bin src/moved.bin
      printf old > src/victim; mv src/zero src/victim
      mv src/a src/a2
      mkdir dst; mv src/empty dst/
      ls -R . | sort
      `,
    );
    expect(r.mnt).toBe(r.ref);
    expect(digest(r.mntDir)).toEqual(digest(r.refDir));
  });

  it('ln and ln -s: hard links share an inode, symlinks resolve', () => {
    const script = `
      printf data > f
      ln f hard; ln -s f soft; ln -s soft soft2; ln -sf /etc/hostname abs
      [ "$(stat -c %i f)" = "$(stat -c %i hard)" ]
      stat -c '%h %F' f hard soft
      readlink soft soft2 abs
      cat soft2
      printf more >> hard; cat f
      rm f; cat hard; stat -c %h hard
      ! cat soft 2>/dev/null
    `;
    const r = both('ln', script);
    expect(r.mnt).toBe(r.ref);
    expect(digest(r.mntDir)).toEqual(digest(r.refDir));
  });

  it('chmod (numeric, symbolic, recursive, special bits) and chown/chgrp', () => {
    const script = `${FIXTURE}
      chmod 640 src/a/b/numbers.txt; chmod u+x,g-r,o=w src/zero; chmod -R go-rwx src/a
      chmod 4755 src/a/script.sh; chmod g+s src/empty
      chown 1234:5678 src/zero; chown -h 4321:8765 src/link; chgrp 99 src/a/b/random.bin
      chown -R 2000:3000 src/a/b
      stat -c '%n %a %u %g' src/zero src/link src/a/b src/a/b/random.bin src/a/script.sh src/empty
    `;
    const r = both('chmod', script);
    expect(r.mnt).toBe(r.ref);
    expect(digest(r.mntDir)).toEqual(digest(r.refDir));
  });

  it('chown by root clears set-user-ID, like on the host', () => {
    const script = 'printf x > f; chmod 6755 f; chown 1:1 f; stat -c %a f';
    const r = both('chown-suid', script);
    expect(r.mnt).toBe(r.ref);
  });

  it('truncate grows (sparse) and shrinks; du sees the same allocation as the share', () => {
    const script = `
      python3 -c 'import random,sys; sys.stdout.buffer.write(random.Random(8).randbytes(100000))' > f
      truncate -s 50000 f; stat -c %s f
      truncate -s 10M f; stat -c %s f
      truncate -s +1K f; stat -c %s f
      truncate -s 0 f; stat -c %s f
      truncate -s 64M sparse; du -k --apparent-size sparse
      sha256sum f sparse
    `;
    const r = both('truncate', script);
    expect(r.mnt).toBe(r.ref);
    // The mount reports the share's block counts exactly.
    sh(`${FIXTURE}`, join(fx.m.mnt, (mkdirSync(join(fx.m.mnt, 'du')), 'du')));
    const viaMount = sh('du -a --block-size=1 . | sort -k2', join(fx.m.mnt, 'du'));
    const viaShare = sh('du -a --block-size=1 . | sort -k2', join(fx.m.share, 'du'));
    expect(viaMount).toBe(viaShare);
    expect(sh('du -sb --apparent-size .', join(fx.m.mnt, 'du'))).toBe(sh('du -sb --apparent-size .', join(fx.m.share, 'du')));
  });

  it('find: names, types, sizes, -newer, -perm, -links, -exec, -delete', () => {
    const script = `${FIXTURE}
      find src -printf '%P %y %m %s %n\\n' | sort
      find src -type l | sort
      find src -perm -1000 | sort
      find src -newer src/a/hello.txt -name '*.txt' | sort
      find src -links 2 -type f | sort
      find src -name '*.txt' -exec wc -l {} + | sort
      find src -name numbers.txt -delete; find src -type f | sort
    `;
    const r = both('find', script);
    expect(r.mnt).toBe(r.ref);
  });

  it('stat through the mount equals stat of the share (mode, ids, size, blocks, links, times, inode)', () => {
    sh(FIXTURE, join(fx.m.mnt, (mkdirSync(join(fx.m.mnt, 'stat')), 'stat')));
    const fmt = "stat -c '%n %f %u %g %s %b %h %i %X %Y' $(find . | sort)";
    expect(sh(fmt, join(fx.m.mnt, 'stat'))).toBe(sh(fmt, join(fx.m.share, 'stat')));
    // statfs: the share's file system numbers (type differs: fuse).
    const fs = "stat -f -c '%s %b %c' .";
    const [bsM, blocksM] = sh(fs, join(fx.m.mnt, 'stat')).trim().split(' ');
    const [bsS, blocksS] = sh(fs, join(fx.m.share, 'stat')).trim().split(' ');
    expect(Number(bsM) * Number(blocksM)).toBe(Number(bsS) * Number(blocksS));
  });

  it('rm -rf of a deep tree; the share is empty afterwards', () => {
    sh('mkdir -p deep/$(printf "d/%.0s" $(seq 1 60)); for i in $(seq 1 300); do : > deep/f$i; done; rm -rf deep', fx.m.mnt);
    expect(sh('ls -A | grep -c "^deep$" || true', fx.m.share).trim()).toBe('0');
  });

  it('many files in one directory: ls and readdir see every one', () => {
    const script = 'mkdir many; for i in $(seq 1 3000); do : > many/file-with-a-longish-name-$i; done; ls many | wc -l; ls -l many | tail -n +2 | wc -l';
    const r = both('many', script);
    expect(r.mnt).toBe(r.ref);
    expect(r.mnt.trim().split('\n')).toEqual(['3000', '3000']);
  });
});

describe('files changed behind the mount (cache=auto)', () => {
  it('a change made directly in the share is visible through the mount within the 1 s timeout', async () => {
    const dir = join(fx.m.mnt, 'behind');
    mkdirSync(dir);
    sh('printf one > f', dir);
    expect(sh('cat f', dir)).toBe('one');
    sh('printf two-two > f', join(fx.m.share, 'behind'));
    await new Promise((r) => setTimeout(r, 1200));
    expect(sh('cat f', dir)).toBe('two-two');
    rmSync(join(fx.m.share, 'behind', 'f'));
    await new Promise((r) => setTimeout(r, 1200));
    expect(sh('ls -A', dir)).toBe('');
  });
});
