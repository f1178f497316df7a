/**
 * `--mount MNT`: the same FUSE core and passthrough the vhost-user daemon serves, mounted on
 * this host through /dev/fuse (mount(2) with the descriptor; no libfuse, no fusermount). Real
 * host programs then run against our file system at full speed, and it is a user feature too:
 * a passthrough FUSE mount in one command. See docs/host-mount.md.
 *
 * Life cycle:
 *   open /dev/fuse → mount(2) → kernel sends INIT → we answer → "Mounted SRC on MNT" on stderr
 *   → serve → read() fails with ENODEV (someone unmounted MNT) → exit 0
 *   SIGINT/SIGTERM → umount2(MNT) → ENODEV → exit 0; if MNT is busy: detach it (MNT_DETACH),
 *   close /dev/fuse (processes still inside get ENOTCONN, as with libfuse's lazy unmount) → exit 0.
 */
import { readdirSync } from 'node:fs';
import type { DaemonConfig } from '../cli/config.js';
import { native } from '../native/binding.js';
import { devFuse } from '../native/dev-fuse.js';
import { FuseServer } from '../fuse/server.js';
import { applyNofileLimit } from '../passthrough/nofile-limit.js';
import { openPassthrough, servedFileSystem } from './file-system.js';
import { DevFuseTransport } from '../transport/dev-fuse-transport.js';
import type { Logger } from '../logger.js';
import { writeFully } from './write-fully.js';

/** The file system type /proc/self/mountinfo shows ("fuse." + subtype). */
export const FSTYPE = 'fuse.virtiofsd-ts';

/** The readiness line, printed on stderr once the kernel's INIT is answered. */
export function mountedLine(sharedDir: string, mountPoint: string): string {
  return `Mounted ${sharedDir} on ${mountPoint}`;
}

/**
 * Mount options (fs/fuse/inode.c). `allow_other` + `default_permissions` is exactly what a
 * virtio-fs guest mounts with (virtio_fs.c sets both): every user may use the mount, and the
 * kernel checks modes/owners against the attributes we return before sending a request, so a
 * user can do there what the share's own permissions let them do on the host — the daemon
 * (root) does not have to re-check them per request. Without default_permissions, allow_other
 * would let any user read anything below the share. nosuid/nodev: as libfuse does by default.
 */
export function mountData(fd: number, uid: number, gid: number): string {
  return `fd=${fd},rootmode=40000,user_id=${uid},group_id=${gid},allow_other,default_permissions`;
}

const ENODEV = 19;
const ECONNABORTED = 103;
const EBUSY = 16;
const EINVAL = 22;
/** How long we wait for the kernel to end the connection after a successful umount. */
const END_TIMEOUT_MS = 2000;
/** How long a clean shutdown waits for requests in flight. */
const DRAIN_TIMEOUT_MS = 5000;

export async function runHostMount(config: DaemonConfig, log: Logger): Promise<number> {
  const mountPoint = config.mount;
  if (mountPoint === undefined) throw new Error('no --mount given');
  // The caller's kernel applied its umask already (no FUSE_DONT_MASK): do not apply ours again.
  process.umask(0);
  applyNofileLimit(config, native.setNofileLimit, log);
  native.setPoolSize(config.threadPoolSize);

  // Mounting over files would hide them; an empty directory is never a surprise.
  if (readdirSync(mountPoint).length !== 0) {
    throw new Error(`mount point ${mountPoint} is not empty (a mount would hide its contents); use an empty directory`);
  }

  const passthrough = await openPassthrough(config, config.sharedDir, log);
  const server = new FuseServer(servedFileSystem(config, passthrough), { logger: log, announceSubmounts: config.announceSubmounts });

  const fd = devFuse.devFuseOpen();
  const K = devFuse.devFuseConstants;
  try {
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    // --readonly: the read-only view refuses writes anyway; MS_RDONLY makes the host kernel say
    // EROFS up front, as for any read-only mount, and shows `ro` in mountinfo.
    const flags = K.MS_NOSUID | K.MS_NODEV | (config.readonly === true ? K.MS_RDONLY : 0);
    devFuse.fuseMount(config.sharedDir, mountPoint, FSTYPE, flags, mountData(fd, uid, gid));
  } catch (err) {
    native.closeFd(fd);
    await passthrough.close();
    const code = (err as { code?: string }).code;
    const hint = code === 'EPERM' ? ' (mounting needs root / CAP_SYS_ADMIN)' : '';
    throw new Error(`cannot mount ${mountPoint}: ${(err as Error).message}${hint}`, { cause: err });
  }

  return new Promise<number>((resolve) => {
    let finished = false;
    let stopping = false;
    let endTimer: NodeJS.Timeout | undefined;

    const finish = (code: number, why: string, error = false): void => {
      if (finished) return;
      finished = true;
      if (error) log.error(why);
      else log.info(why);
      if (endTimer !== undefined) clearTimeout(endTimer);
      transport.close(); // before closeFd: no late reply may reach a reused descriptor number
      // Closing our only /dev/fuse descriptor aborts the connection if the kernel still has it
      // (a detached mount still in use): its users get ENOTCONN, nothing waits for us any more.
      native.closeFd(fd);
      const drained = server.reset();
      const timeout = new Promise<void>((r) => setTimeout(r, DRAIN_TIMEOUT_MS).unref());
      void Promise.race([drained, timeout]).then(() => resolve(code));
    };

    const transport = new DevFuseTransport({
      fd,
      handler: server,
      log,
      maxWrite: server.maxWrite,
      maxRead: server.maxRead,
      onInit: () => {
        const line = mountedLine(config.sharedDir, mountPoint);
        writeFully(2, `${line}\n`);
        if (config.syslog) log.info(line);
      },
      onEnd: (errno) => {
        if (errno === ENODEV || errno === ECONNABORTED) finish(0, `${mountPoint} was unmounted, exiting`);
        else finish(1, `/dev/fuse failed (errno ${errno}), exiting`, true);
      },
    });

    const unmount = (sig: string): void => {
      if (finished) return;
      if (stopping) {
        // A second signal: do not wait for anything.
        devFuse.umountAsync(mountPoint, K.MNT_DETACH | K.UMOUNT_NOFOLLOW, () => {});
        finish(0, `${sig} received again, detaching ${mountPoint} and exiting`);
        return;
      }
      stopping = true;
      log.info(`${sig} received, unmounting ${mountPoint}`);
      devFuse.umountAsync(mountPoint, K.UMOUNT_NOFOLLOW, (r) => {
        if (finished) return;
        if (r === 0 || r === -EINVAL) {
          // Unmounted (by us, or already by someone else): the kernel ends the connection and
          // read() reports ENODEV. If another mount namespace still holds it, stop waiting.
          endTimer = setTimeout(() => finish(0, `${mountPoint} unmounted, exiting`), END_TIMEOUT_MS);
          return;
        }
        if (r === -EBUSY) {
          log.warn(`${mountPoint} is busy: detaching it; processes still using it get ENOTCONN`);
          devFuse.umountAsync(mountPoint, K.MNT_DETACH | K.UMOUNT_NOFOLLOW, (r2) => {
            if (r2 < 0 && r2 !== -EINVAL) log.error(`detaching ${mountPoint} failed: errno ${-r2}`);
            finish(0, `${mountPoint} detached, exiting`);
          });
          return;
        }
        finish(1, `unmounting ${mountPoint} failed: errno ${-r}`, true);
      });
    };
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => unmount(sig));
    process.on('SIGHUP', () => log.info('SIGHUP ignored'));

    transport.start();
  });
}
