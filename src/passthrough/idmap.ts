/**
 * `--translate-uid` / `--translate-gid`: uid/gid translation done by the daemon itself (no user
 * namespace), with the Rust virtiofsd's syntax (its README, "--translate-uid"):
 *
 *   guest:<guest base>:<host base>:<count>         guest → host, 1:1 over the range
 *   host:<host base>:<guest base>:<count>          host → guest, 1:1
 *   squash-guest:<guest base>:<host id>:<count>    every guest id of the range → one host id
 *   squash-host:<host base>:<guest id>:<count>     every host id of the range → one guest id
 *   forbid-guest:<guest base>:<count>              guest ids of the range are refused (EPERM)
 *   map:<guest base>:<host base>:<count>           guest ↔ host, both directions (guest: + host:)
 *
 * The two directions are independent; ids no rule covers map to themselves. Source ranges of one
 * direction must not overlap. Guest → host applies to the caller's uid/gid (ownership of what it
 * creates, ACCESS checks, supplementary groups) and to SETATTR's new owner; host → guest applies
 * to every attribute record sent back. Pure: parsed at start-up by the command line.
 */
import { E, ErrnoError } from '../filesystem/errors.js';

export type IdMapKind = 'guest' | 'host' | 'squash-guest' | 'squash-host' | 'forbid-guest' | 'map';

/** One parsed rule, as written (plain data, so it can sit in the daemon's configuration). */
export interface IdMapRule {
  kind: IdMapKind;
  /** First id of the source range (guest ids for guest/squash-guest/forbid-guest/map). */
  from: number;
  /** Target base (or the single target for squash-*); unused for forbid-guest. */
  to: number;
  count: number;
}

const TWO_32 = 0x1_0000_0000;
const KINDS: readonly IdMapKind[] = ['guest', 'host', 'squash-guest', 'squash-host', 'forbid-guest', 'map'];

function parseId(text: string, what: string): number {
  if (!/^[0-9]+$/.test(text)) throw new Error(`${what} '${text}' is not a number`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n >= TWO_32) throw new Error(`${what} ${text} is out of range`);
  return n;
}

/** Parses one `--translate-uid` / `--translate-gid` value; throws Error with a one-line reason. */
export function parseIdMapRule(spec: string): IdMapRule {
  const parts = spec.split(':');
  const kind = parts[0] as IdMapKind;
  if (!KINDS.includes(kind)) throw new Error(`unknown mapping type '${parts[0]}' (expected ${KINDS.join(', ')})`);
  const want = kind === 'forbid-guest' ? 3 : 4;
  if (parts.length !== want) {
    throw new Error(kind === 'forbid-guest' ? 'expected forbid-guest:<guest base>:<count>' : `expected ${kind}:<source base>:<target>:<count>`);
  }
  const from = parseId(parts[1], 'base');
  const to = kind === 'forbid-guest' ? 0 : parseId(parts[2], 'target');
  const count = parseId(parts[want - 1], 'count');
  if (count === 0) throw new Error('count must be at least 1');
  if (from + count > TWO_32) throw new Error(`source range ${from}+${count} exceeds the 32-bit id space`);
  const ranged = kind === 'guest' || kind === 'host' || kind === 'map';
  if (ranged && to + count > TWO_32) throw new Error(`target range ${to}+${count} exceeds the 32-bit id space`);
  return { kind, from, to, count };
}

interface Entry {
  from: number;
  end: number; // exclusive
  /** 'range': to + (id - from); 'squash': to; 'fail': EPERM. */
  how: 'range' | 'squash' | 'fail';
  to: number;
}

export class IdMapper {
  private readonly toHostRules: Entry[] = [];
  private readonly toGuestRules: Entry[] = [];

  /** Throws Error when two source ranges of one direction overlap. */
  constructor(rules: readonly IdMapRule[] = []) {
    for (const r of rules) {
      const end = r.from + r.count;
      switch (r.kind) {
        case 'guest':
          this.add(this.toHostRules, { from: r.from, end, how: 'range', to: r.to });
          break;
        case 'host':
          this.add(this.toGuestRules, { from: r.from, end, how: 'range', to: r.to });
          break;
        case 'squash-guest':
          this.add(this.toHostRules, { from: r.from, end, how: 'squash', to: r.to });
          break;
        case 'squash-host':
          this.add(this.toGuestRules, { from: r.from, end, how: 'squash', to: r.to });
          break;
        case 'forbid-guest':
          this.add(this.toHostRules, { from: r.from, end, how: 'fail', to: 0 });
          break;
        case 'map':
          this.add(this.toHostRules, { from: r.from, end, how: 'range', to: r.to });
          this.add(this.toGuestRules, { from: r.to, end: r.to + r.count, how: 'range', to: r.from });
          break;
      }
    }
  }

  /** No rule at all: both directions are the identity. */
  get identity(): boolean {
    return this.toHostRules.length === 0 && this.toGuestRules.length === 0;
  }

  /** A guest id as the host sees it; ErrnoError(EPERM) for a forbidden id. */
  toHost(id: number): number {
    const e = find(this.toHostRules, id);
    if (e === undefined) return id;
    if (e.how === 'fail') throw new ErrnoError(E.EPERM, `guest id ${id} is forbidden by --translate-*`);
    return e.how === 'squash' ? e.to : e.to + (id - e.from);
  }

  /** A host id as the guest sees it. */
  toGuest(id: number): number {
    const e = find(this.toGuestRules, id);
    if (e === undefined) return id;
    return e.how === 'squash' ? e.to : e.to + (id - e.from);
  }

  private add(list: Entry[], e: Entry): void {
    for (const o of list) {
      if (e.from < o.end && o.from < e.end) {
        throw new Error(`id ranges [${o.from}, ${o.end}) and [${e.from}, ${e.end}) overlap`);
      }
    }
    list.push(e);
  }
}

function find(list: readonly Entry[], id: number): Entry | undefined {
  for (const e of list) if (id >= e.from && id < e.end) return e;
  return undefined;
}
