/**
 * Tail buffers (src/dax/range-copy.ts) on the real system: memfd_create for the buffer, and the
 * daemon's own system-call layer (inline, or on the worker pool when there is one) for the I/O.
 */
import { native } from '../native/binding.js';
import * as sys from '../native/syscalls.js';
import { E, ErrnoError } from '../filesystem/errors.js';
import type { CopyIo } from './range-copy.js';

const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;
const SEEK_END = 2;

export const systemCopyIo: CopyIo = {
  createBuffer(len: number): number {
    try {
      return native.memfdCreate('virtiofsd-ts-dax-copy', len);
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      throw new ErrnoError(typeof errno === 'number' ? Math.abs(errno) : E.ENOMEM, 'memfd_create (DAX range copy)');
    }
  },
  pread: async (fd, buf, position) => sys.pread(fd, buf, 0, buf.length, position),
  pwrite: async (fd, buf, position) => sys.pwrite(fd, buf, 0, buf.length, position),
  punchHole: async (fd, offset, len) => sys.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len),
  // lseek on a pinned descriptor: its file position is never used (all I/O is positional).
  fileSize: async (fd) => sys.lseek(fd, 0, SEEK_END),
  close(fd: number): void {
    void sys.close(fd);
  },
};
