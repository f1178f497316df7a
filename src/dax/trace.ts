/**
 * DAX traces: one JSON object per line, so a trace can be appended to while a workload runs
 * and streamed by the advisor.
 *
 *   {"t":12.5,"op":"access","file":3,"off":4194304,"len":4096}   a read/write through the window
 *   {"t":12.6,"op":"setup","file":3,"off":4194304,"len":2097152,"moff":0,"w":false}
 *   {"t":40.1,"op":"remove","moff":0,"len":2097152}
 *
 * `t` is milliseconds since the trace began; `file` a stable file id (the FUSE node id for the
 * daemon's setup/remove stream). The advisor replays `access` and `setup` records as accesses
 * to every 2 MiB range they cover; `remove` records describe the guest's own reclaim and are
 * only counted.
 */
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { DAX_RANGE } from './window-allocator.js';

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

export function parseTrace(text: string): TraceRecord[] {
  const out: TraceRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      throw new Error(`trace line ${i + 1}: not JSON`);
    }
    if (!isRecord(rec)) throw new Error(`trace line ${i + 1}: not a trace record`);
    out.push(rec);
  });
  return out;
}

export function readTrace(path: string): TraceRecord[] {
  return parseTrace(readFileSync(path, 'utf8'));
}

/** The 2 MiB ranges a record touches, as [fileId, rangeIndex] pairs (none for `remove`). */
export function* rangesOf(rec: TraceRecord): Generator<[number, number]> {
  if (rec.op === 'remove' || rec.len <= 0) return;
  const first = Math.floor(rec.off / DAX_RANGE);
  const last = Math.floor((rec.off + rec.len - 1) / DAX_RANGE);
  for (let r = first; r <= last; r++) yield [rec.file, r];
}

function isRecord(v: unknown): v is TraceRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  const num = (k: string): boolean => typeof r[k] === 'number' && Number.isFinite(r[k]) && (r[k] as number) >= 0;
  if (!num('t')) return false;
  switch (r.op) {
    case 'access':
      return num('file') && num('off') && num('len');
    case 'setup':
      return num('file') && num('off') && num('len') && num('moff');
    case 'remove':
      return num('moff') && num('len');
    default:
      return false;
  }
}
