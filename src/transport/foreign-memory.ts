/**
 * Guest memory the daemon cannot see. Kata's QEMU keeps the DAX window out of the vhost-user
 * memory table, so when the guest READs into (or WRITEs from) a buffer it mmapped from a DAX
 * file, the chain's data descriptors point into the window. The native queue then keeps them as
 * foreign segments (native/virtqueue.h), and the transport moves those bytes by asking the VMM
 * to do the file I/O for it (FS_IO over the back-end channel; src/dax/fs-io.ts).
 *
 * Still no inodes here: a file descriptor, file offsets and guest addresses.
 */

/** A run of guest-physical memory. */
export interface GuestSpan {
  gpa: number;
  len: number;
}

/** Who can move file bytes to and from guest memory outside our memory table. */
export interface ForeignMemoryIo {
  /**
   * `write` false: file → guest (READ); true: guest → file (WRITE). The spans are consecutive in
   * the file from `fileOffset`. Resolves to the bytes moved (short at end of file) or rejects
   * with an ErrnoError.
   */
  transfer(fd: number, write: boolean, fileOffset: bigint, spans: GuestSpan[]): Promise<number>;
}

/** One foreign segment: `offset` counts from the start of its direction's bytes. */
export interface ForeignSegment extends GuestSpan {
  offset: number;
}

export interface ForeignSegments {
  readable: ForeignSegment[];
  writable: ForeignSegment[];
}

/** Decodes VirtQueue.foreign(): [direction, offset, gpa, len] × n. */
export function decodeForeign(raw: Float64Array): ForeignSegments {
  const out: ForeignSegments = { readable: [], writable: [] };
  for (let i = 0; i + 4 <= raw.length; i += 4) {
    (raw[i] === 0 ? out.readable : out.writable).push({ offset: raw[i + 1], gpa: raw[i + 2], len: raw[i + 3] });
  }
  return out;
}

/**
 * Where [from, from + len) of a direction lies: the part inside our memory (a prefix, up to the
 * first foreign segment) and the guest spans of the rest.
 */
export function splitRange(segments: ForeignSegment[], from: number, len: number): { local: number; spans: GuestSpan[] } {
  const localEnd = segments.length > 0 ? segments[0].offset : Number.POSITIVE_INFINITY;
  const local = Math.max(0, Math.min(len, localEnd - from));
  const spans: GuestSpan[] = [];
  let pos = from + local;
  const end = from + len;
  for (const s of segments) {
    if (pos >= end) break;
    const segEnd = s.offset + s.len;
    if (segEnd <= pos) continue;
    const start = Math.max(pos, s.offset);
    const take = Math.min(end, segEnd) - start;
    spans.push({ gpa: s.gpa + (start - s.offset), len: take });
    pos = start + take;
  }
  return { local, spans };
}
