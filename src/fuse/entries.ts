/**
 * Replies that hand the guest a lookup reference (fuse_entry_out), and undoing them when the
 * reply cannot be delivered: the guest never learns about an Entry it did not receive, so the
 * reference (and, for CREATE/TMPFILE, the open handle) must be dropped here.
 */
import type { Entry } from '../filesystem/filesystem.js';
import { EntryOut, OutHeader } from './abi.js';
import type { FuseCall } from './call.js';
import type { Core } from './handlers.js';
import { encodeEntryOut } from './reply.js';

export function dropEntry(core: Core, entry: Entry | undefined): void {
  if (entry && Number.isSafeInteger(entry.nodeid) && entry.nodeid > 0) core.forgetQuietly(entry.nodeid, 1n);
}

/** fuse_entry_out reply. If it cannot be sent, the lookup reference taken for it is dropped. */
export function replyEntry(core: Core, c: FuseCall, entry: Entry): void {
  const b = c.small(EntryOut.SIZE);
  try {
    encodeEntryOut(b, OutHeader.SIZE, entry);
  } catch (err) {
    dropEntry(core, entry);
    throw err;
  }
  if (!c.send(b, EntryOut.SIZE)) dropEntry(core, entry);
}

/** The guest never saw a CREATE / TMPFILE result: release its handle and drop its lookup reference. */
export function abandonCreate(core: Core, c: FuseCall, entry: Entry, fh: number): void {
  if (Number.isSafeInteger(fh) && fh >= 0 && Number.isSafeInteger(entry?.nodeid)) {
    core.fs.release(c, entry.nodeid, fh, 0).catch((err: unknown) => core.logger.warn({ err }, 'release of an abandoned CREATE failed'));
  }
  dropEntry(core, entry);
}
