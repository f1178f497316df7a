/**
 * READDIR / READDIRPLUS payload encoding: a sequence of struct fuse_dirent (or
 * fuse_direntplus), each padded with zeros to a multiple of 8 bytes (FUSE_DIRENT_ALIGN).
 *
 * The encoder writes into a zero-filled window of the reply buffer and refuses (returns false)
 * an entry that does not fit whole; that entry is then not in the reply. All READDIRPLUS
 * lookup-count bookkeeping is here, in the core: every Entry the file system hands over carries
 * one lookup reference, and each one the guest will not count — refused for room, skipped as
 * invalid, an entry for '.' or '..' (fuse_direntplus_link ignores those), or any entry in a
 * plain READDIR reply — is dropped through the `dropped` hook (the server's forget). The file
 * system never forgets on the sink's behalf (DirEntrySink contract).
 */
import { ErrnoError } from '../filesystem/errors.js';
import { RecordsStatus, type DirEntry, type DirEntrySink, type Entry, type RecordsProgress } from '../filesystem/filesystem.js';
import { native } from '../native/binding.js';
import { Dirent, DirentPlus, EntryOut, recAlign } from './abi.js';
import { writeU64Big } from './codec.js';
import { isValidDirentName } from './names.js';
import { encodeEntryOut } from './reply.js';

/** Padded size of a fuse_dirent with a `nameLen`-byte name (FUSE_DIRENT_SIZE). */
export function direntSize(nameLen: number): number {
  return recAlign(Dirent.SIZE + nameLen);
}

/** Padded size of a fuse_direntplus with a `nameLen`-byte name (FUSE_DIRENTPLUS_SIZE). */
export function direntPlusSize(nameLen: number): number {
  return recAlign(DirentPlus.SIZE + nameLen);
}

/** struct fuse_dirent at buf[off] including zeroed padding; returns the padded size. */
export function encodeDirent(buf: Buffer, off: number, d: DirEntry): number {
  const nameLen = d.name.length;
  const size = direntSize(nameLen);
  writeU64Big(buf, off + Dirent.ino, d.ino);
  writeU64Big(buf, off + Dirent.off, d.off);
  buf.writeUInt32LE(nameLen, off + Dirent.namelen);
  buf.writeUInt32LE(d.type >>> 0, off + Dirent.type);
  d.name.copy(buf, off + Dirent.name);
  buf.fill(0, off + Dirent.name + nameLen, off + size);
  return size;
}

/** Why an entry was refused or skipped; for logging. */
export type DirentSkip = 'invalid-name' | 'invalid-entry' | 'no-room' | 'not-counted';

export interface DirentEncoderHooks {
  /** An entry whose lookup reference the guest will not hold: the core drops it. */
  dropped?(entry: Entry, why: DirentSkip): void;
  skipped?(dirent: DirEntry, why: DirentSkip): void;
}

export class DirentEncoder {
  /** Bytes written so far, counted from `start`. */
  used = 0;
  /** Entries written. */
  count = 0;
  private closed = false;
  /** The DirEntrySink to hand to FileSystem.readdir (bound to this encoder). */
  readonly sink: DirEntrySink;

  constructor(
    private readonly buf: Buffer,
    private readonly start: number,
    private readonly capacity: number,
    private readonly plus: boolean,
    private readonly hooks: DirentEncoderHooks = {},
  ) {
    if (start < 0 || capacity < 0 || start + capacity > buf.length) {
      throw new RangeError('dirent window outside the reply buffer');
    }
    const sink: DirEntrySink = (d, e) => this.add(d, e);
    // READDIR only: getdents64's records become fuse_dirents natively (no lookup references).
    if (!plus) sink.records = (src, pos, end) => this.addRecords(src, pos, end);
    this.sink = sink;
  }

  private readonly progress: RecordsProgress = { status: RecordsStatus.Consumed, pos: 0, count: 0, last: -1 };
  private readonly out = new Float64Array(4);

  /**
   * Appends the linux_dirent64 records of src[pos, end) as fuse_dirents, as add() would one by
   * one (DirEntrySink.records). Stops at a record that does not fit (Full), at one whose name
   * add() must judge (PerEntry), or when the records are consumed.
   */
  addRecords(src: Buffer, pos: number, end: number): RecordsProgress {
    const p = this.progress;
    if (this.closed) {
      p.status = RecordsStatus.Full;
      p.pos = pos;
      p.count = 0;
      p.last = -1;
      return p;
    }
    const out = this.out;
    const status = native.encodeDirents(src, pos, end, this.buf, this.start + this.used, this.start + this.capacity, out);
    // Records written before the malformed one stay uncounted: the request fails whole.
    if (status < 0) throw new ErrnoError(-status, 'malformed dirent');
    p.status = status as RecordsStatus;
    p.pos = out[0];
    p.count = out[2];
    p.last = out[3];
    this.used = out[1] - this.start;
    this.count += out[2];
    return p;
  }

  /** After close() every further entry is refused (a late call from the file system). */
  close(): void {
    this.closed = true;
  }

  /**
   * Appends one entry. Returns false, writing nothing, when it does not fit (or the encoder is
   * closed). Returns true when written, and also when skipped as invalid (see hooks). Either
   * way the lookup reference of an entry not written is dropped here.
   */
  add(d: DirEntry, entry: Entry | undefined): boolean {
    const nameLen = d.name.length;
    const size = this.plus ? direntPlusSize(nameLen) : direntSize(nameLen);
    if (this.closed || size > this.capacity - this.used) {
      this.drop(entry, 'no-room');
      return false;
    }
    // The guest takes a lookup reference only for READDIRPLUS entries other than '.' and '..'.
    if (entry !== undefined && (!this.plus || isDotOrDotDot(d.name))) {
      this.drop(entry, 'not-counted');
      entry = undefined;
    }

    if (!isValidDirentName(d.name)) {
      this.skip(d, entry, 'invalid-name');
      return true;
    }
    const off = this.start + this.used;
    if (this.plus) {
      if (entry !== undefined && entry.nodeid !== 0) {
        try {
          encodeEntryOut(this.buf, off + DirentPlus.entryOut, entry);
        } catch {
          this.buf.fill(0, off, off + EntryOut.SIZE);
          this.skip(d, entry, 'invalid-entry');
          return true;
        }
      } else {
        // No entry (or nodeid 0): the kernel then only emits the name (fuse_direntplus_link
        // ignores nodeid 0), so the entry_out stays zero.
        this.buf.fill(0, off, off + EntryOut.SIZE);
      }
      encodeDirent(this.buf, off + DirentPlus.dirent, d);
    } else {
      encodeDirent(this.buf, off, d);
    }
    this.used += size;
    this.count++;
    return true;
  }

  private skip(d: DirEntry, entry: Entry | undefined, why: DirentSkip): void {
    this.hooks.skipped?.(d, why);
    this.drop(entry, why);
  }

  private drop(entry: Entry | undefined, why: DirentSkip): void {
    if (entry !== undefined && entry.nodeid !== 0) this.hooks.dropped?.(entry, why);
  }
}

function isDotOrDotDot(name: Buffer): boolean {
  return name[0] === 0x2e && (name.length === 1 || (name.length === 2 && name[1] === 0x2e));
}
