/**
 * DAX traces: one JSON object per line, so a trace can be appended to while a workload runs
 * and streamed by the advisor.
 *
 *   {"t":12.5,"op":"access","file":3,"off":4194304,"len":4096}   a read/write through the window
 *   {"t":12.6,"op":"setup","file":3,"off":4194304,"len":2097152,"moff":0,"w":false}
 *   {"t":40.1,"op":"remove","moff":0,"len":2097152}
 *
 * `t` is milliseconds since the trace began; `file` a stable file id (the FUSE node id for the
 * daemon's setup/remove stream). The format and its writer live here because both sides write
 * traces (DaxManager takes a writer for its setups and removals, the frontend's DAX load writes
 * its accesses); reading and replaying them is the frontend's (src/frontend/dax/trace-reader.ts, advisor.ts).
 */
import { createWriteStream, type WriteStream } from 'node:fs';

export type TraceRecord =
  | { t: number; op: 'access'; file: number; off: number; len: number }
  | { t: number; op: 'setup'; file: number; off: number; len: number; moff: number; w: boolean }
  | { t: number; op: 'remove'; moff: number; len: number };

/** A record before its timestamp is added (Omit distributed over the union). */
export type TraceEvent = TraceRecord extends infer R ? (R extends TraceRecord ? Omit<R, 't'> : never) : never;

export class TraceWriter {
  private readonly out: WriteStream;
  private readonly start = performance.now();

  constructor(path: string) {
    this.out = createWriteStream(path, { flags: 'a' });
  }

  write(rec: TraceEvent): void {
    this.out.write(`${JSON.stringify({ t: +(performance.now() - this.start).toFixed(3), ...rec })}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}
