/**
 * Build step (npm run build:ts, after the bundle): writes V8's code cache for the daemon's
 * bundle, dist/cli/virtiofsd.bundle.cjs.cache, which src/cli/virtiofsd.cts hands to V8 at every
 * start. The cache holds the functions that were compiled when it was written, so it is written
 * by a real run: the daemon (no sandbox: this step runs as any user) starts on a temporary share,
 * a front-end goes through QEMU's handshake and FUSE INIT with a few requests, and the daemon
 * writes the cache as it exits. Produced with the Node that builds the package; a different Node
 * refuses it (V8 checks its version and flags), which only costs start-up time.
 *
 *   node dist/packaging/code-cache.js
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli');
const entry = join(cli, 'virtiofsd.cjs');
const cachePath = join(cli, 'virtiofsd.bundle.cjs.cache');

async function main(): Promise<void> {
  rmSync(cachePath, { force: true });
  const work = mkdtempSync(join(tmpdir(), 'vfs-code-cache-'));
  const share = join(work, 'share');
  mkdirSync(share);
  const socketPath = join(work, 'vhost.sock');
  const child = spawn(
    process.execPath,
    [entry, `--shared-dir=${share}`, `--socket-path=${socketPath}`, '--sandbox=none', '--seccomp=none', '--log-level=error'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, VIRTIOFSD_TS_WRITE_CODE_CACHE: cachePath } },
  );
  let stderr = '';
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('Waiting for vhost-user socket connection')) resolve();
      });
      void exited.then((code) => reject(new Error(`the daemon exited (${code}) before listening: ${stderr.trim()}`)));
    });
    // The front-end is loaded only now: it needs the native addon, which a build without it
    // (no compiler) lacks — then the daemon failed above, with that reason.
    const { VhostUserFrontend } = await import('../frontend/vhost-user-frontend.js');
    const { FuseClient } = await import('../frontend/fuse-client.js');
    const frontend = VhostUserFrontend.connect({ socketPath });
    const fuse = new FuseClient(frontend);
    await fuse.init();
    const created = await fuse.create(1, 'warm', 0o100644, 2 /* O_RDWR */);
    await fuse.write(created.entry.nodeid, created.fh, 0, Buffer.from('code cache'));
    await fuse.read(created.entry.nodeid, created.fh, 0, 64);
    await fuse.release(created.entry.nodeid, created.fh);
    await fuse.lookup(1, 'warm');
    await fuse.getattr(1);
    frontend.close(); // the daemon exits 0 when its front-end goes, writing the cache
    const code = await exited;
    if (code !== 0) throw new Error(`the daemon exited with ${code}: ${stderr.trim()}`);
    if (!existsSync(cachePath)) throw new Error('the daemon exited without writing the cache');
    process.stdout.write(`code cache: ${cachePath} (${(statSync(cachePath).size / 1024).toFixed(0)} KiB)\n`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  // The cache only saves start-up time: say why there is none, and let the build go on.
  process.stderr.write(`code cache not written: ${error instanceof Error ? error.message : String(error)}\n`);
});
