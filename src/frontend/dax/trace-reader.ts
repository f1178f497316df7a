/**
 * Reading DAX traces (the format: src/dax/trace.ts) for the advisor. Every record is checked
 * before it is replayed, so a truncated or foreign file fails with its line number. The advisor
 * replays `access` and `setup` records as accesses to every 2 MiB range they cover; `remove`
 * records describe the guest's own reclaim and are only counted.
 */
import { readFileSync } from 'node:fs';
import { DAX_RANGE } from '../../dax/range.js';
import type { TraceRecord } from '../../dax/trace.js';

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
  const num = (k: string): boolean => typeof r[k] === 'number' && Number.isFinite(r[k]) && r[k] >= 0;
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
