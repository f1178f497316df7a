/**
 * tar on the host mount: archive a tree that lives on the mount, extract archives onto the
 * mount, and verify with tar's own --compare and with tree digests against a plain directory.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { digest, REPO, sh, useMountAndPlain } from './helpers.js';

// Root and /dev/fuse are prerequisites CI meets: without them every test here fails.
const fx = useMountAndPlain();

const TREE = `
  mkdir -p t/dir/sub t/empty
  python3 -c 'import random,sys; sys.stdout.buffer.write(random.Random(1).randbytes(3_000_000))' > t/dir/big.bin
  for i in $(seq 1 200); do printf "file %s\\n" $i > t/dir/sub/f$i.txt; done
  ln -s sub/f1.txt t/dir/link; ln t/dir/big.bin t/dir/big.hard
  chmod 750 t/dir/sub; chmod 4711 t/dir/sub/f2.txt; chown 123:456 t/dir/sub/f3.txt
  touch -d '1999-12-31 23:59:59' t/dir/sub/f4.txt
  truncate -s 5M t/sparse; printf tail >> t/sparse
`;

describe('tar on the host mount', () => {
  it('create on the mount, extract on a plain directory, compare both ways', () => {
    const work = join(fx.m.mnt, 'create');
    mkdirSync(work);
    sh(TREE, work);
    sh('tar --create --format=posix --sparse --file=t.tar t && tar --compare --file=t.tar', work);
    const out = join(fx.plain.dir, 'create');
    mkdirSync(out);
    sh(`tar --extract --same-owner --preserve-permissions --file=${JSON.stringify(join(work, 't.tar'))}`, out);
    expect(digest(join(out, 't'), { mtime: true })).toEqual(digest(join(work, 't'), { mtime: true }));
  });

  it('extract onto the mount (gzip, owners, modes, times, links), then tar --compare', () => {
    const src = join(fx.plain.dir, 'extract-src');
    mkdirSync(src);
    sh(TREE, src);
    sh('tar --format=posix -czf ../t.tgz t', src);
    const work = join(fx.m.mnt, 'extract');
    mkdirSync(work);
    sh(`tar -xzpf ${JSON.stringify(join(fx.plain.dir, 't.tgz'))} && tar -dzf ${JSON.stringify(join(fx.plain.dir, 't.tgz'))}`, work);
    expect(digest(join(work, 't'), { mtime: true })).toEqual(digest(join(src, 't'), { mtime: true }));
    expect(sh('du -B1 --apparent-size t/sparse', work)).toBe(sh('du -B1 --apparent-size t/sparse', src));
  });

  it('round trip of this repository\'s sources: byte-identical archives from the mount and from the plain copy', () => {
    const args = '--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu';
    sh(`cp -a ${JSON.stringify(join(REPO, 'src'))} ${JSON.stringify(join(fx.m.mnt, 'repo-src'))}`, '/');
    sh(`cp -a ${JSON.stringify(join(REPO, 'src'))} ${JSON.stringify(join(fx.plain.dir, 'repo-src'))}`, '/');
    const a = sh(`tar ${args} -cf - repo-src | sha256sum`, fx.m.mnt);
    const b = sh(`tar ${args} -cf - repo-src | sha256sum`, fx.plain.dir);
    expect(a).toBe(b);
  });
});
