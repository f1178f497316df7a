/**
 * DAX as a wrapper over any file system (the STYLE.md "variants as wrappers" shape): every
 * method is the inner file system's, plus SETUPMAPPING / REMOVEMAPPING served by the DAX
 * manager, and a session end (DESTROY, INIT of a new session) forgets the window's table —
 * the front-end drops its mappings on device reset, and a new guest session starts empty.
 */
import type { FileSystem, RequestContext, SessionInfo } from '../filesystem/filesystem.js';
import type { DaxManager } from './dax-manager.js';

export function withDax(inner: FileSystem, dax: DaxManager): FileSystem {
  const fs = Object.create(inner) as FileSystem;
  fs.setupmapping = (_ctx: RequestContext, nodeid, fh, foffset, len, flags, moffset) => dax.setup(nodeid, fh, foffset, len, flags, moffset);
  fs.removemapping = (_ctx: RequestContext, ranges) => dax.remove(ranges);
  fs.init = (session: SessionInfo) => {
    dax.reset();
    return inner.init(session);
  };
  fs.destroy = () => {
    dax.reset();
    return inner.destroy();
  };
  return fs;
}
