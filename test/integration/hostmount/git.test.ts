/**
 * git on the host mount: init, add, commit, status, log, branch/checkout, gc, fsck, and clones
 * of a local repository in both directions — compared with the same steps on a plain directory.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { digest, REPO, sh, useMountAndPlain } from './helpers.js';

// Root and /dev/fuse are prerequisites CI meets: without them every test here fails.
const fx = useMountAndPlain();

// Fixed identity and dates: the same steps give the same commit ids anywhere.
const GIT_ENV = `
  export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
  export GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
  export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
`;

const SCRIPT = `${GIT_ENV}
  git init -q -b main repo && cd repo
  cp -r ${JSON.stringify(join(REPO, 'src'))} src && cp ${JSON.stringify(join(REPO, 'package.json'))} .
  git add -A && git commit -qm 'initial import'
  git status --porcelain=v1 | wc -l
  echo '// change' >> src/cli/options.ts && rm package.json && printf 'new\\n' > NEW
  git status --porcelain=v1
  git add -A && git commit -qm 'second'
  git checkout -q -b topic HEAD~1 && printf 'topic\\n' > TOPIC && git add TOPIC && git commit -qm topic
  git checkout -q main && git merge -q --no-edit topic
  git log --format='%H %s' --graph
  git gc -q --aggressive && git fsck --full --strict 2>&1
  git count-objects -v | grep -E '^(count|in-pack|packs)'
  git status --porcelain=v1 --branch
  git rev-parse HEAD
`;

describe('git on the host mount', () => {
  it('init/add/commit/status/branch/merge/gc/fsck give the same ids and output as on a plain directory', () => {
    mkdirSync(join(fx.m.mnt, 'g1'));
    mkdirSync(join(fx.plain.dir, 'g1'));
    const onMount = sh(SCRIPT, join(fx.m.mnt, 'g1'));
    const onPlain = sh(SCRIPT, join(fx.plain.dir, 'g1'));
    expect(onMount).toBe(onPlain);
    expect(onMount).toMatch(/^\s*\d+\n/);
  });

  it('git clone of a local repository onto the mount, and from the mount to a plain directory', () => {
    mkdirSync(join(fx.plain.dir, 'origin'));
    sh(SCRIPT, join(fx.plain.dir, 'origin'));
    const origin = join(fx.plain.dir, 'origin', 'repo');
    // --no-local: the object transfer goes through pack files, not hard links.
    for (const mode of ['', '--no-local']) {
      const name = `clone${mode}`;
      sh(`git clone -q ${mode} ${JSON.stringify(origin)} ${name} && cd ${name} && git fsck --strict 2>&1 && git status --porcelain=v1`, fx.m.mnt);
      expect(sh('git rev-parse HEAD', join(fx.m.mnt, name))).toBe(sh('git rev-parse HEAD', origin));
      expect(digest(join(fx.m.mnt, name), { exclude: ['.git'] })).toEqual(digest(origin, { exclude: ['.git'] }));
    }
    sh(`git clone -q ${JSON.stringify(join(fx.m.mnt, 'clone--no-local'))} back && cd back && git fsck --strict 2>&1`, fx.plain.dir);
    expect(sh('git rev-parse HEAD', join(fx.plain.dir, 'back'))).toBe(sh('git rev-parse HEAD', origin));
  });

  it('git status is clean and quick on an unchanged work tree (index mtimes/sizes stay stable)', () => {
    const dir = join(fx.m.mnt, 'clone');
    expect(sh('git status --porcelain=v1', dir)).toBe('');
    // A touched file is detected as unchanged content after a refresh.
    sh('touch src/cli/options.ts && git update-index -q --refresh || true', dir);
    expect(sh('git status --porcelain=v1', dir)).toBe('');
    sh('echo x >> src/cli/options.ts', dir);
    expect(sh('git status --porcelain=v1', dir)).toBe(' M src/cli/options.ts\n');
    sh('git checkout -q -- src/cli/options.ts', dir);
    expect(sh('git status --porcelain=v1', dir)).toBe('');
  });
});
