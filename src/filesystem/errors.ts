import { constants } from 'node:os';

/**
 * The one error type that crosses the FileSystem seam. `errno` is positive (ENOENT = 2); the
 * FUSE core turns it into the negative error field of the reply. Context added on the way up
 * must never replace the errno.
 */
export class ErrnoError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(errno: number, message?: string) {
    const code = errnoName(errno);
    super(message ? `${code}: ${message}` : code);
    this.errno = errno;
    this.code = code;
  }
}

const names = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) names.set(value, name);

export function errnoName(errno: number): string {
  return names.get(errno) ?? `E${errno}`;
}

/** Positive errno for any thrown value: ErrnoError, Node system errors, else EIO. */
export function errnoOf(err: unknown): number {
  if (err instanceof ErrnoError) return err.errno;
  if (err && typeof err === 'object') {
    const e = err as { errno?: unknown; code?: unknown };
    if (typeof e.errno === 'number' && e.errno !== 0) return Math.abs(e.errno);
    if (typeof e.code === 'string') {
      const v = (constants.errno as Record<string, number>)[e.code];
      if (v) return v;
    }
  }
  return constants.errno.EIO;
}

export const E = constants.errno;
