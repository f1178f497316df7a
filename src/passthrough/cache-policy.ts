/**
 * What the guest may cache, per `--cache` mode. Values follow the Rust virtiofsd (1.x,
 * src/main.rs and passthrough/mod.rs do_open/create):
 *
 *   mode      entry/attr timeout   files (OPEN/CREATE)   directories (OPENDIR)
 *   never     0 s                  DIRECT_IO             —
 *   auto      1 s                  —                     —
 *   always    1 day                KEEP_CACHE            KEEP_CACHE | CACHE_DIR
 *   metadata  1 day                DIRECT_IO             KEEP_CACHE | CACHE_DIR
 *
 * With `never`, READDIRPLUS is switched off as well (an entry per name would be cached for 0 s
 * anyway, so it only costs lookups).
 */

export type CacheMode = 'auto' | 'always' | 'never' | 'metadata';

/** FOPEN_* bits of fuse_open_out.open_flags. */
export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_NONSEEKABLE = 1 << 2;
export const FOPEN_CACHE_DIR = 1 << 3;

const ONE_DAY = 86400;

export interface CachePolicy {
  readonly mode: CacheMode;
  /** Seconds the guest may keep a name → inode binding. */
  readonly entryTimeout: number;
  /** Seconds the guest may keep attributes. */
  readonly attrTimeout: number;
  /** FOPEN_* for OPEN / CREATE of a file. */
  readonly fileOpenFlags: number;
  /** FOPEN_* for OPENDIR. */
  readonly dirOpenFlags: number;
  /** Whether READDIRPLUS is worth offering. */
  readonly readdirplus: boolean;
}

export function cachePolicy(mode: CacheMode): CachePolicy {
  switch (mode) {
    case 'never':
      return { mode, entryTimeout: 0, attrTimeout: 0, fileOpenFlags: FOPEN_DIRECT_IO, dirOpenFlags: 0, readdirplus: false };
    case 'auto':
      return { mode, entryTimeout: 1, attrTimeout: 1, fileOpenFlags: 0, dirOpenFlags: 0, readdirplus: true };
    case 'always':
      return {
        mode,
        entryTimeout: ONE_DAY,
        attrTimeout: ONE_DAY,
        fileOpenFlags: FOPEN_KEEP_CACHE,
        dirOpenFlags: FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR,
        readdirplus: true,
      };
    case 'metadata':
      return {
        mode,
        entryTimeout: ONE_DAY,
        attrTimeout: ONE_DAY,
        fileOpenFlags: FOPEN_DIRECT_IO,
        dirOpenFlags: FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR,
        readdirplus: true,
      };
    default:
      throw new RangeError(`unknown cache mode ${String(mode)}`);
  }
}
