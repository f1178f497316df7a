/**
 * FS_IO (Kata's patched QEMU): the VMM reads or writes a file for us at guest-physical addresses
 * we cannot map — the DAX window, which that QEMU keeps out of the vhost-user memory table. The
 * transport uses it for the parts of a READ/WRITE chain that point there
 * (src/transport/foreign-memory.ts). QEMU checks every address against the guest's own memory
 * and answers with the bytes moved or -errno.
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import type { BackendChannel } from '../vhost/backend-channel.js';
import type { ForeignMemoryIo, GuestSpan } from '../transport/foreign-memory.js';
import { BackendReq, FS_ENTRY_FLAG_R, FS_ENTRY_FLAG_W, FS_MAX_ENTRIES, encodeFsMessage } from './wire.js';
import { MAP_ALIGNMENT_LOG2 } from './dax-manager.js';

export function fsIo(channel: () => BackendChannel | undefined): ForeignMemoryIo {
  return {
    async transfer(fd: number, write: boolean, fileOffset: bigint, spans: GuestSpan[]): Promise<number> {
      const c = channel();
      if (c === undefined || !c.isOpen) throw new ErrnoError(E.EFAULT, 'buffer outside guest memory and no back-end channel for FS_IO');
      let done = 0;
      let pos = fileOffset;
      for (let i = 0; i < spans.length; i += FS_MAX_ENTRIES) {
        const batch = spans.slice(i, i + FS_MAX_ENTRIES);
        const entries = batch.map((s) => {
          const e = { fdOffset: pos, cacheOffset: BigInt(s.gpa), len: BigInt(s.len), flags: write ? FS_ENTRY_FLAG_W : FS_ENTRY_FLAG_R };
          pos += BigInt(s.len);
          return e;
        });
        const status = BigInt.asIntN(64, await c.request(BackendReq.FS_IO, encodeFsMessage({ flags: 0, align: MAP_ALIGNMENT_LOG2, entries }), [fd]));
        if (status < 0n) {
          if (done > 0) return done;
          throw new ErrnoError(status > -4096n ? Number(-status) : E.EIO, 'FS_IO failed in the front-end');
        }
        done += Number(status);
        // A short transfer (end of file) ends the I/O, as a short preadv would.
        if (status < batch.reduce((n, s) => n + BigInt(s.len), 0n)) return done;
      }
      return done;
    },
  };
}
