/**
 * `--readonly`: a FileSystem wrapper that refuses every change with EROFS, whatever the host
 * permissions say (as the Rust virtiofsd's read_only.rs does): SETATTR, the creating and
 * removing opcodes, RENAME, LINK, WRITE, FALLOCATE, COPY_FILE_RANGE, SETXATTR, REMOVEXATTR,
 * TMPFILE, and OPEN/CREATE for writing or with O_TRUNC. Reads, lookups, directory listings,
 * xattr reads, locks (read locks; a write lock needs a file opened for writing) and syncs go
 * through. The share itself stays writable for the host (atime may still change).
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import type { FileSystem } from '../filesystem/filesystem.js';

const O_ACCMODE = 0o3;
const O_RDONLY = 0;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;

const MODIFYING = [
  'setattr',
  'symlink',
  'mknod',
  'mkdir',
  'unlink',
  'rmdir',
  'rename',
  'link',
  'create',
  'write',
  'setxattr',
  'removexattr',
  'fallocate',
  'copyFileRange',
  'tmpfile',
] as const;

function erofs(): Promise<never> {
  return Promise.reject(new ErrnoError(E.EROFS, 'read-only share (--readonly)'));
}

/**
 * A read-only view of `inner`. Methods are bound to `inner`; the optional ones stay undefined
 * where `inner` lacks them (the core then answers ENOSYS, as for `inner` itself).
 */
export function readOnly(inner: FileSystem): FileSystem {
  const view: Record<string, unknown> = {};
  let proto: object | null = inner;
  while (proto !== null && proto !== Object.prototype) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === 'constructor' || key in view) continue;
      const value = (inner as unknown as Record<string, unknown>)[key];
      if (typeof value === 'function') view[key] = (value as (...a: unknown[]) => unknown).bind(inner);
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  for (const key of MODIFYING) if (typeof view[key] === 'function') view[key] = erofs;
  const open = view.open as FileSystem['open'];
  view.open = (ctx: Parameters<FileSystem['open']>[0], nodeid: number, flags: number, openFlags?: number) =>
    (flags & O_ACCMODE) !== O_RDONLY || (flags & (O_TRUNC | O_CREAT)) !== 0 ? erofs() : open(ctx, nodeid, flags, openFlags);
  return view as unknown as FileSystem;
}
