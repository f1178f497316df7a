// Synchronous writes to stdout/stderr without process.stdout/process.stderr: creating those
// streams costs ~9 ms of start-up, and the daemon only ever writes whole lines to them. Loaded by
// the executable's first stage too, so it imports nothing but node:fs.

import { writeSync } from 'node:fs';

let eagainWait: Int32Array | undefined;

/**
 * Writes all of `text` to `fd` synchronously: one write(2) unless the descriptor takes only part
 * of it, or is a non-blocking pipe that is full (EAGAIN: wait and retry, as a blocking one would).
 * Any other error (EPIPE: the reader is gone) drops the text: losing a log line must not stop
 * the daemon.
 */
export function writeFully(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let done = 0; done < bytes.length; ) {
    try {
      done += writeSync(fd, bytes, done, bytes.length - done);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      eagainWait ??= new Int32Array(new SharedArrayBuffer(4));
      Atomics.wait(eagainWait, 0, 0, 10);
    }
  }
}
