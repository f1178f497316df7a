/**
 * The seam between a transport (virtqueue today, /dev/fuse later) and the FUSE core. A
 * transport turns "a request arrived" into one FuseRequest and hands it to FuseServer.handle();
 * the core answers through the same object exactly once (reply() or noReply()).
 *
 * Transports never know about inodes or opcodes; the core never knows where the bytes live
 * (guest memory, a /dev/fuse read buffer). File data moves through the two *File* methods so a
 * transport can do it without copying through JS (preadv/pwritev straight into guest memory).
 */
export interface FuseRequest {
  /**
   * Staged request bytes, starting at struct fuse_in_header: input[inputOffset ..
   * inputOffset + inputLength). For requests longer than the transport's staging slot only a
   * prefix is staged (always at least header + the opcode's fixed struct, when the request
   * has them); the rest is reachable through readInput()/writeInputToFile().
   * Valid until reply()/noReply() is called.
   */
  readonly input: Buffer;
  readonly inputOffset: number;
  readonly inputLength: number;
  /** All readable bytes of the request, as the guest described them (≥ inputLength). */
  readonly totalLength: number;
  /** Writable bytes the guest provided for the reply (header included). */
  readonly replyCapacity: number;

  /** Copies request bytes [from, from + len) into dst; returns bytes copied (short at the end). */
  readInput(from: number, dst: Buffer, dstOffset: number, len: number): number;
  /**
   * Writes request bytes [from, from + len) to `fd` at file `offset` (pwritev). Resolves to
   * bytes written or rejects with an ErrnoError.
   */
  writeInputToFile(fd: number, from: number, len: number, offset: bigint): Promise<number>;
  /**
   * Reads up to `len` bytes of `fd` at file `offset` into the reply at `replyOffset` (preadv).
   * Resolves to bytes read (0 at end of file) or rejects with an ErrnoError.
   */
  readFileIntoReply(fd: number, replyOffset: number, len: number, offset: bigint): Promise<number>;

  /**
   * Completes the request: buf[off .. off + len) becomes the first `len` bytes of the reply,
   * and the reply's total length is `total` (≥ len; bytes between len and total were written
   * by readFileIntoReply). Throws nothing; a reply that does not fit is the core's bug and the
   * transport truncates and logs it.
   */
  reply(buf: Buffer, off: number, len: number, total: number): void;
  /** Completes a request that gets no reply (FORGET, BATCH_FORGET, INTERRUPT). */
  noReply(): void;
}

/** What a transport needs from the core. */
export interface FuseRequestHandler {
  handle(req: FuseRequest): void;
}
