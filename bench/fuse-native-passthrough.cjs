#!/usr/bin/env node
// A minimal passthrough file system on fuse-native (libfuse 2 high-level API, multithreaded
// loop, every operation answered from JavaScript): the Node peer for bench/run.mjs's host-mount
// comparison. Synchronous fs calls, as a simple Node passthrough would make them.
//
//   node bench/fuse-native-passthrough.cjs SRC MNT        (prints "Mounted SRC on MNT" when ready)
//
// fuse-native is a devDependency of virtiofsd-ts (its prebuilt binary loads without its install
// script, which npm 11 does not run): loaded from $FUSE_NATIVE_DIR (a folder holding
// node_modules/fuse-native) if set, else from the repository's node_modules. Exit code 3 =
// fuse-native is not installed.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');

const [src, mnt] = process.argv.slice(2);
if (!src || !mnt) {
  process.stderr.write('usage: fuse-native-passthrough.cjs SRC MNT\n');
  process.exit(2);
}
let Fuse;
for (const base of [process.env.FUSE_NATIVE_DIR, path.join(__dirname, '..')].filter(Boolean)) {
  try {
    Fuse = createRequire(path.join(path.resolve(base), 'package.json'))('fuse-native');
    break;
  } catch {
    /* next */
  }
}
if (!Fuse) {
  process.stderr.write('fuse-native is not installed (set FUSE_NATIVE_DIR)\n');
  process.exit(3);
}

const P = (p) => path.join(src, p);
const errno = (e) => (e && typeof e.errno === 'number' ? e.errno : -5); // Node errnos are negative
const wrap = (fn) => (...args) => {
  const cb = args[args.length - 1];
  try {
    fn(cb, ...args.slice(0, -1));
  } catch (e) {
    cb(errno(e));
  }
};

const ops = {
  getattr: wrap((cb, p) => cb(0, fs.lstatSync(P(p)))),
  fgetattr: wrap((cb, p, fd) => cb(0, fs.fstatSync(fd))),
  access: wrap((cb, p, mode) => { fs.accessSync(P(p), mode); cb(0); }),
  readdir: wrap((cb, p) => cb(0, fs.readdirSync(P(p)))),
  open: wrap((cb, p, flags) => cb(0, fs.openSync(P(p), flags))),
  create: wrap((cb, p, mode) => cb(0, fs.openSync(P(p), 'wx+', mode))),
  release: wrap((cb, p, fd) => { fs.closeSync(fd); cb(0); }),
  read: (p, fd, buf, len, pos, cb) => {
    try { cb(fs.readSync(fd, buf, 0, len, pos)); } catch (e) { cb(errno(e)); }
  },
  write: (p, fd, buf, len, pos, cb) => {
    try { cb(fs.writeSync(fd, buf, 0, len, pos)); } catch (e) { cb(errno(e)); }
  },
  truncate: wrap((cb, p, size) => { fs.truncateSync(P(p), size); cb(0); }),
  ftruncate: wrap((cb, p, fd, size) => { fs.ftruncateSync(fd, size); cb(0); }),
  unlink: wrap((cb, p) => { fs.unlinkSync(P(p)); cb(0); }),
  mkdir: wrap((cb, p, mode) => { fs.mkdirSync(P(p), mode); cb(0); }),
  rmdir: wrap((cb, p) => { fs.rmdirSync(P(p)); cb(0); }),
  rename: wrap((cb, a, b) => { fs.renameSync(P(a), P(b)); cb(0); }),
  chmod: wrap((cb, p, mode) => { fs.chmodSync(P(p), mode); cb(0); }),
  chown: wrap((cb, p, u, g) => { fs.chownSync(P(p), u, g); cb(0); }),
  utimens: wrap((cb, p, a, m) => { fs.utimesSync(P(p), a, m); cb(0); }),
  fsync: wrap((cb) => cb(0)),
  flush: wrap((cb) => cb(0)),
  statfs: wrap((cb) => {
    const s = fs.statfsSync(src);
    cb(0, { bsize: s.bsize, frsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail,
      files: s.files, ffree: s.ffree, favail: s.ffree, fsid: 0, flag: 0, namemax: 255 });
  }),
};

const fuse = new Fuse(mnt, ops, { force: true, mkdir: true, timeout: false, allowOther: true, defaultPermissions: true });
fuse.mount((err) => {
  if (err) {
    process.stderr.write(`mount failed: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`Mounted ${src} on ${mnt}\n`);
});
const stop = () => fuse.unmount(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
