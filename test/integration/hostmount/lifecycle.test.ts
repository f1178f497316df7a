/**
 * The host mount's life: readiness line, what the mount looks like, clean unmount on SIGTERM /
 * SIGINT, exit 0 when someone else unmounts it, a busy mount point, and what is refused.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../src/cli/options.js';
import { until } from '../../helpers/wait.js';
import { assertCanMount, DAEMON_BIN, isMounted, mountInfo, run, startHostMount, type HostMount } from './helpers.js';

// Root and /dev/fuse are prerequisites CI meets: without them every test here fails.
beforeAll(assertCanMount);

let current: HostMount | undefined;
afterEach(async () => {
  await current?.stop('SIGKILL');
  current = undefined;
});

/** Runs the daemon to completion with these arguments (it is expected to refuse them). */
function refused(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(DAEMON_BIN, args, { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('host mount life cycle', () => {
  it('mounts, prints the readiness line once INIT is answered, and serves the share', async () => {
    current = await startHostMount({ prepare: (s) => writeFileSync(join(s, 'hello'), 'world\n') });
    const { share, mnt } = current;
    expect(current.stderr()).toContain(`Mounted ${share} on ${mnt}\n`);
    expect(readFileSync(join(mnt, 'hello'), 'utf8')).toBe('world\n');
    const info = mountInfo(mnt)!;
    const dash = info.indexOf('-');
    // mount options | - | fstype | source | super options
    expect(info[5].split(',')).toEqual(expect.arrayContaining(['rw', 'nosuid', 'nodev']));
    expect(info[dash + 1]).toBe('fuse.virtiofsd-ts');
    expect(info[dash + 2]).toBe(share);
    expect(info[dash + 3].split(',')).toEqual(expect.arrayContaining(['default_permissions', 'allow_other', 'user_id=0', 'group_id=0']));
  });

  it('SIGTERM unmounts cleanly and exits 0', async () => {
    current = await startHostMount();
    const { mnt } = current;
    expect(isMounted(mnt)).toBe(true);
    current.child.kill('SIGTERM');
    expect(await current.exited).toBe(0);
    expect(isMounted(mnt)).toBe(false);
    expect(current.stderr()).toMatch(/SIGTERM received, unmounting/);
  });

  it('SIGINT does the same', async () => {
    current = await startHostMount();
    current.child.kill('SIGINT');
    expect(await current.exited).toBe(0);
    expect(isMounted(current.mnt)).toBe(false);
  });

  it('exits 0 when the mount point is unmounted by someone else (read → ENODEV)', async () => {
    current = await startHostMount();
    const { mnt } = current;
    writeFileSync(join(mnt, 'f'), 'x');
    expect(spawnSync('umount', [mnt]).status).toBe(0);
    expect(await current.exited).toBe(0);
    expect(current.stderr()).toMatch(/was unmounted, exiting/);
    // The data stayed in the share.
    expect(readFileSync(join(current.share, 'f'), 'utf8')).toBe('x');
  });

  it('a lazy external unmount (umount -l) also ends it', async () => {
    current = await startHostMount();
    expect(spawnSync('umount', ['-l', current.mnt]).status).toBe(0);
    expect(await current.exited).toBe(0);
  });

  it('SIGTERM with a busy mount point detaches it; its users get ENOTCONN; exit 0', async () => {
    current = await startHostMount();
    const { mnt } = current;
    mkdirSync(join(mnt, 'd'));
    // A process whose working directory is inside the mount keeps it busy.
    const holder = spawn('bash', ['-c', 'read -r _; ls . >/dev/null 2>&1; echo "ls=$?"'], { cwd: join(mnt, 'd'), stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    holder.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const holderExit = new Promise<void>((r) => holder.on('close', () => r()));
    // Busy from the moment its working directory is there (spawn() returns after the exec, so
    // this holds at once; checked rather than assumed).
    await until(() => readlinkSync(`/proc/${holder.pid}/cwd`) === join(mnt, 'd'), 'the holder to sit in the mount');
    current.child.kill('SIGTERM');
    expect(await current.exited).toBe(0);
    expect(isMounted(mnt)).toBe(false);
    expect(current.stderr()).toMatch(/is busy: detaching it/);
    holder.stdin.end('\n');
    await holderExit;
    expect(out.trim()).not.toBe('ls=0'); // ENOTCONN (ls exits 2)
  });

  it('serves again after a restart on the same mount point', async () => {
    current = await startHostMount({ prepare: (s) => writeFileSync(join(s, 'a'), 'A') });
    const { share, mnt, workDir } = current;
    current.child.kill('SIGTERM');
    expect(await current.exited).toBe(0);
    // Start a second daemon by hand on the same directories.
    const child = spawn(DAEMON_BIN, [`--shared-dir=${share}`, `--mount=${mnt}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    // Stops waiting early if it exits instead; the next line then shows its stderr.
    await until(() => err.includes('Mounted ') || child.exitCode !== null, "the second daemon's readiness line");
    expect(err).toContain(`Mounted ${share} on ${mnt}`);
    expect(readFileSync(join(mnt, 'a'), 'utf8')).toBe('A');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    rmSync(workDir, { recursive: true, force: true });
    current = undefined;
  });
});

describe('--readonly', () => {
  it('mounts read-only: the host kernel answers EROFS, the share is untouched', async () => {
    // Not a skip condition: an option that stops parsing is a regression.
    expect(parseCommandLine(['--readonly', '--fd=3', '--shared-dir=/']).kind).toBe('run');
    current = await startHostMount({ args: ['--readonly'], prepare: (s) => writeFileSync(join(s, 'f'), 'data') });
    const { mnt } = current;
    expect(mountInfo(mnt)![5].split(',')).toContain('ro');
    expect(readFileSync(join(mnt, 'f'), 'utf8')).toBe('data');
    const r = run('set +e; echo x > g; echo "create=$?"; rm f; echo "rm=$?"; touch f; echo "touch=$?"', mnt);
    expect(r.stdout).toBe('create=1\nrm=1\ntouch=1\n');
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(readFileSync(join(current.share, 'f'), 'utf8')).toBe('data');
  });
});

describe('refused mount points', () => {
  const work = (): string => mkdtempSync(join(tmpdir(), 'vfs-hostmount-refused-'));

  it('a non-empty mount point (exit 1, nothing mounted)', () => {
    const dir = work();
    mkdirSync(join(dir, 'share'));
    mkdirSync(join(dir, 'mnt'));
    writeFileSync(join(dir, 'mnt', 'precious'), 'x');
    const r = refused([`--shared-dir=${join(dir, 'share')}`, `--mount=${join(dir, 'mnt')}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/is not empty/);
    expect(isMounted(join(dir, 'mnt'))).toBe(false);
    rmSync(dir, { recursive: true });
  });

  it('the share itself, or a directory inside it (usage error, exit 2)', () => {
    const dir = work();
    mkdirSync(join(dir, 'share', 'inner'), { recursive: true });
    for (const mnt of [join(dir, 'share'), join(dir, 'share', 'inner')]) {
      const r = refused([`--shared-dir=${join(dir, 'share')}`, `--mount=${mnt}`]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/inside the shared directory/);
    }
    rmSync(dir, { recursive: true });
  });

  it('a missing mount point or a file (exit 2)', () => {
    const dir = work();
    mkdirSync(join(dir, 'share'));
    writeFileSync(join(dir, 'file'), '');
    expect(refused([`--shared-dir=${join(dir, 'share')}`, `--mount=${join(dir, 'nope')}`]).stderr).toMatch(/does not exist/);
    expect(refused([`--shared-dir=${join(dir, 'share')}`, `--mount=${join(dir, 'file')}`]).stderr).toMatch(/is not a directory/);
    rmSync(dir, { recursive: true });
  });

  it('a dead FUSE mount left by a killed daemon is reported, and umount clears it', async () => {
    const m = await startHostMount();
    m.child.kill('SIGKILL');
    await m.exited;
    expect(isMounted(m.mnt)).toBe(true);
    const r = refused([`--shared-dir=${m.share}`, `--mount=${m.mnt}`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/dead FUSE mount: unmount it first/);
    expect(run(`umount ${JSON.stringify(m.mnt)}`, '/').status).toBe(0);
    m.cleanup();
  });
});
