/**
 * Every FileSystem method, classified by what it does to the share. The type makes the table
 * exhaustive: a method added to FileSystem does not compile until it is classified here, and
 * test/unit/filesystem/read-only.test.ts then checks that --readonly (read-only.ts) refuses
 * every `modifies` method; the writing forms of the two `byFlags` ones (OPEN, SETUPMAPPING) have
 * a test each there, and a new `byFlags` method fails that test until it gets one.
 */
import type { FileSystem } from './filesystem.js';

export type MethodKind =
  /** Session and reference bookkeeping (INIT, DESTROY, FORGET): no change to the share. */
  | 'session'
  /** Reads the share, or ends/syncs what a read opened (RELEASE, FLUSH, FSYNC, locks). */
  | 'reads'
  /** Changes the share: names, data, attributes, xattrs. */
  | 'modifies'
  /** Reads or modifies depending on its flags: OPEN (access mode, O_TRUNC), SETUPMAPPING (write). */
  | 'byFlags';

export const METHOD_KINDS: { readonly [K in keyof FileSystem]-?: MethodKind } = {
  init: 'session',
  destroy: 'session',
  forget: 'session',
  knows: 'session',
  lookup: 'reads',
  lookupSync: 'reads',
  getattr: 'reads',
  getattrSync: 'reads',
  readlink: 'reads',
  read: 'reads',
  flush: 'reads',
  release: 'reads',
  fsync: 'reads',
  opendir: 'reads',
  readdir: 'reads',
  releasedir: 'reads',
  fsyncdir: 'reads',
  statfs: 'reads',
  access: 'reads',
  getxattr: 'reads',
  listxattr: 'reads',
  getlk: 'reads',
  setlk: 'reads',
  lseek: 'reads',
  syncfs: 'reads',
  statx: 'reads',
  removemapping: 'reads',
  setattr: 'modifies',
  symlink: 'modifies',
  mknod: 'modifies',
  mkdir: 'modifies',
  unlink: 'modifies',
  rmdir: 'modifies',
  rename: 'modifies',
  link: 'modifies',
  create: 'modifies',
  write: 'modifies',
  setxattr: 'modifies',
  removexattr: 'modifies',
  fallocate: 'modifies',
  copyFileRange: 'modifies',
  tmpfile: 'modifies',
  open: 'byFlags',
  setupmapping: 'byFlags',
};
