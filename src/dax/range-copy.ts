/**
 * A daemon-owned copy of part of a DAX range, for what QEMU ≥ 11 cannot map from the file itself.
 *
 * QEMU 11 turns each SHMEM_MAP into a RAM region built from the descriptor, and two of its rules
 * stand between a guest range and the file:
 *  - it refuses a range reaching past the end of a non-empty file ("backing store size ... is too
 *    small"), even inside the last page, and would ftruncate an empty file to the range's size —
 *    yet the guest maps 2 MiB at a time and most files end inside their last range;
 *  - it maps every region writable (the read-only flag only says how the fd was opened), so a
 *    read-only descriptor fails with EACCES, and a read-write one would let the guest store into
 *    a file it only asked to read.
 * So a writable range maps the file's whole pages and a copy of the rest (the last partial page,
 * zeros after EOF); a read-only range maps a copy of all of it. A copy lives in a memfd (zero
 * pages cost nothing until touched) and is sized to its part of the range.
 *
 * While mapped, stores the guest makes through the window land in the copy, and a writable copy
 * is written back to the file — only the bytes the guest changed since the copy was filled, and
 * never past the file's current size — at FLUSH, FSYNC, RELEASE, SYNCFS, removal of the mapping
 * and the end of the session. After a WRITE the written bytes are reloaded into the copy;
 * truncation, FALLOCATE and COPY_FILE_RANGE write back first and reload after
 * (src/dax/dax-filesystem.ts). A host process changing the same bytes is seen by the guest only
 * when the range is mapped again (docs/dax.md).
 */
import { E, ErrnoError } from '../filesystem/errors.js';

/** The system calls a range copy uses; injected so it is testable without a daemon. */
export interface CopyIo {
  /** A new, zero-filled, sized anonymous file (memfd); throws ErrnoError. */
  createBuffer(len: number): number;
  /** pread/pwrite: bytes transferred, or -errno. */
  pread(fd: number, buf: Buffer, position: bigint): Promise<number>;
  pwrite(fd: number, buf: Buffer, position: bigint): Promise<number>;
  /** Zeroes [offset, offset + len) of a buffer file and frees its pages; 0 or -errno. */
  punchHole(fd: number, offset: number, len: number): Promise<number>;
  /** The file's current size, or -errno. */
  fileSize(fd: number): Promise<number>;
  close(fd: number): void;
}

/** The file a copy belongs to: a descriptor held open until `unpin()`. */
export interface PinnedFile {
  fd: number;
  unpin(): void;
}

export class RangeCopy {
  /** Operations on one buffer run one at a time (a write-back must not race a reload or close). */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /**
   * Writable copies: the bytes the copy held when last filled from (or written back to) the
   * file; past its length, zeros. A write-back sends only what differs from it — the guest's
   * stores — never bytes that merely differ from the file because someone else changed it.
   */
  private baseline = Buffer.alloc(0);

  private constructor(
    private readonly io: CopyIo,
    /** The memfd the front-end maps at the range's tail. */
    readonly memfd: number,
    private readonly file: PinnedFile,
    /** File offset of the buffer's first byte (page aligned). */
    readonly fileOffset: bigint,
    readonly len: number,
    /** Whether the guest may store through it (then it is written back). */
    readonly writable: boolean,
  ) {}

  /** A buffer for file bytes [fileOffset, fileOffset + len), filled from the file. Takes over `file`. */
  static async open(io: CopyIo, file: PinnedFile, fileOffset: bigint, len: number, writable: boolean): Promise<RangeCopy> {
    let memfd = -1;
    try {
      memfd = io.createBuffer(len);
      const tail = new RangeCopy(io, memfd, file, fileOffset, len, writable);
      await tail.fill(0, len);
      return tail;
    } catch (err) {
      if (memfd >= 0) io.close(memfd);
      file.unpin();
      throw err;
    }
  }

  /** Bytes [from, to) of the buffer (buffer-relative) that `[offset, offset + len)` of the file covers. */
  overlap(offset: bigint, len: bigint): [number, number] | undefined {
    const end = this.fileOffset + BigInt(this.len);
    const lo = offset > this.fileOffset ? offset : this.fileOffset;
    const hi = offset + len < end ? offset + len : end;
    return lo < hi ? [Number(lo - this.fileOffset), Number(hi - this.fileOffset)] : undefined;
  }

  /** Re-reads buffer bytes [from, to) from the file (zeros past its end). */
  reload(from = 0, to = this.len): Promise<void> {
    return this.serial(() => this.fill(from, to));
  }

  /**
   * The guest's stores go to the file: the runs where the copy differs from what it was filled
   * with, below the file's current size (a copy never grows a file). Unchanged bytes are never
   * written, so a change the host or a WRITE made meanwhile survives, and a copy nobody stored
   * into costs no write and no mtime update.
   */
  writeBack(): Promise<void> {
    return this.serial(async () => {
      if (!this.writable) return;
      const size = BigInt(orThrow(await this.io.fileSize(this.file.fd), 'fstat'));
      if (size <= this.fileOffset) return;
      const n = Number(size - this.fileOffset < BigInt(this.len) ? size - this.fileOffset : BigInt(this.len));
      const mine = Buffer.allocUnsafe(n);
      await readFully(this.io, this.memfd, mine, 0n);
      const base = (i: number): number => (i < this.baseline.length ? this.baseline[i] : 0);
      for (let i = 0; i < n; ) {
        if (mine[i] === base(i)) {
          i++;
          continue;
        }
        let j = i + 1;
        while (j < n && mine[j] !== base(j)) j++;
        await writeFully(this.io, this.file.fd, mine.subarray(i, j), this.fileOffset + BigInt(i));
        this.remember(i, mine.subarray(i, j));
        i = j;
      }
    });
  }

  /** Writes back, then releases the memfd and the file (the front-end has unmapped it). */
  close(): Promise<void> {
    const done = this.writeBack();
    return this.serial(async () => {
      if (this.closed) return;
      this.closed = true;
      this.io.close(this.memfd);
      this.file.unpin();
    }).then(() => done);
  }

  private async fill(from: number, to: number): Promise<void> {
    if (to <= from) return;
    const buf = Buffer.allocUnsafe(to - from);
    const got = await readFully(this.io, this.file.fd, buf, this.fileOffset + BigInt(from));
    if (got > 0) await writeFully(this.io, this.memfd, buf.subarray(0, got), BigInt(from));
    if (got < buf.length) orThrow(await this.io.punchHole(this.memfd, from + got, buf.length - got), 'fallocate');
    if (this.writable) {
      this.remember(from, buf.subarray(0, got));
      if (got < buf.length && from + got < this.baseline.length) this.baseline.fill(0, from + got, Math.min(to, this.baseline.length));
    }
  }

  /** Records `bytes` at `at` in the baseline, growing it (it only covers what was ever non-zero). */
  private remember(at: number, bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (at + bytes.length > this.baseline.length) {
      const grown = Buffer.alloc(at + bytes.length);
      this.baseline.copy(grown);
      this.baseline = grown;
    }
    bytes.copy(this.baseline, at);
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => (this.closed ? (undefined as T) : op()));
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function orThrow(r: number, syscall: string): number {
  if (r < 0) throw new ErrnoError(-r, `${syscall} (DAX range copy)`);
  return r;
}

/** pread until `buf` is full or EOF; bytes read. */
async function readFully(io: CopyIo, fd: number, buf: Buffer, position: bigint): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const n = orThrow(await io.pread(fd, buf.subarray(done), position + BigInt(done)), 'pread');
    if (n === 0) break;
    done += n;
  }
  return done;
}

async function writeFully(io: CopyIo, fd: number, buf: Buffer, position: bigint): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const n = orThrow(await io.pwrite(fd, buf.subarray(done), position + BigInt(done)), 'pwrite');
    if (n === 0) throw new ErrnoError(E.EIO, 'pwrite wrote nothing (DAX range copy)');
    done += n;
  }
}
