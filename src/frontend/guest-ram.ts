/**
 * The frontend's "guest RAM": one memfd shared with the back-end, mapped here as a Buffer.
 * Rings and request/reply buffers are carved out of it by a small size-class allocator, so
 * a running load allocates nothing per request.
 */
import { native } from '../native/binding.js';

import { RAM_GPA, RAM_UVA } from './layout.js';

export { RAM_GPA, RAM_UVA };

export class GuestRam {
  readonly fd: number;
  readonly buf: Buffer;
  /**
   * 16- and 32-bit views of the same memory. Ring fields the device reads while we write them
   * (avail->idx, avail->ring[], used_event) must be written with one aligned store: Buffer's
   * writeUInt16LE stores byte by byte, and a device reading between the two bytes sees a torn
   * index (e.g. 0x01ff → 0x0100 → 0x0200), which it must treat as a broken ring.
   */
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  /** RAM_GPA as a number (guest addresses stay far below 2^53): no BigInt on hot paths. */
  readonly gpaNumber = Number(RAM_GPA);
  private next = 0;
  private readonly freeLists = new Map<number, number[]>();

  constructor(readonly size: number) {
    this.fd = native.memfdCreate('vufs-guest-ram', size);
    if (size % 4096 !== 0) throw new Error('guest RAM size must be a multiple of 4096');
    this.buf = native.mapShared(this.fd, size, 0);
    this.u16 = new Uint16Array(this.buf.buffer, this.buf.byteOffset, size / 2);
    this.u32 = new Uint32Array(this.buf.buffer, this.buf.byteOffset, size / 4);
  }

  gpa(offset: number): bigint {
    return RAM_GPA + BigInt(offset);
  }

  uva(offset: number): bigint {
    return RAM_UVA + BigInt(offset);
  }

  /** First guest-physical address past the RAM. */
  get endGpa(): bigint {
    return RAM_GPA + BigInt(this.size);
  }

  /** Bytes not yet handed out by `allocate` (free lists not counted). */
  get remaining(): number {
    return this.size - this.next;
  }

  /** Offset of a fresh block of at least `len` bytes, aligned to `align` (power of two). */
  allocate(len: number, align = 64): number {
    const cls = sizeClass(len);
    const list = this.freeLists.get(cls);
    if (list !== undefined && list.length > 0) {
      // Reuse only blocks that satisfy the alignment asked for.
      for (let i = list.length - 1; i >= 0; i--) {
        if ((list[i] & (align - 1)) === 0) {
          const off = list[i];
          list[i] = list[list.length - 1];
          list.pop();
          return off;
        }
      }
    }
    const start = (this.next + align - 1) & ~(align - 1);
    if (start + cls > this.size) throw new Error(`guest RAM exhausted (${this.size} bytes)`);
    this.next = start + cls;
    return start;
  }

  free(offset: number, len: number): void {
    const cls = sizeClass(len);
    let list = this.freeLists.get(cls);
    if (list === undefined) this.freeLists.set(cls, (list = []));
    list.push(offset);
  }

  close(): void {
    native.closeFd(this.fd);
  }
}

/** Power-of-two size classes from 64 bytes: simple, and waste is bounded by 2×. */
function sizeClass(len: number): number {
  let c = 64;
  while (c < len) c *= 2;
  return c;
}
