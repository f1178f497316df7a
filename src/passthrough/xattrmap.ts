/**
 * `--xattrmap`: translation of extended attribute names between guest and host, with the rule
 * language of the Rust and C virtiofsd (doc/xattr-mapping.md there). Pure: parsed at start-up.
 *
 * A map is a list of rules, each `<d>type<d>scope<d>key<d>prepend<d>` where <d> is the rule's
 * first non-blank character (any character; rules may use different ones) and rules are
 * separated by optional white space. The first matching rule applies.
 *
 *   type   prefix       client: key matches → the host name is prepend + name;
 *                       server (listxattr): prepend matches → strip it
 *          ok           the name passes unchanged
 *          bad          client: EPERM; server: hidden
 *          unsupported  client: ENOTSUP; server: hidden
 *   scope  client (get/set/remove), server (list), all (both)
 *   key    prefix tested on names from the guest (may be empty: matches all)
 *   prepend prefix tested on names from the host (may be empty)
 *
 * `<d>map<d>key<d>prepend<d>` (at most one, and last) expands to
 *   prefix/all/key/prepend, then — when key is non-empty — bad/all/prepend/key and ok/all//,
 *   else bad/all//   (hide and refuse everything unprefixed).
 *
 * A name no rule matches: client side EPERM, server side hidden (the Rust virtiofsd aborts the
 * daemon there; a map should end with a catch-all, see the examples in docs/semantics.md).
 */

export type XattrRuleType = 'prefix' | 'ok' | 'bad' | 'unsupported';

export interface XattrRule {
  type: XattrRuleType;
  client: boolean;
  server: boolean;
  key: string;
  prepend: string;
}

/** Parses a whole --xattrmap value; throws Error with a one-line reason (rule numbers from 1). */
export function parseXattrMap(input: string): XattrRule[] {
  const rules: XattrRule[] = [];
  let pos = 0;
  let n = 0;
  let sawMap = false;
  while (pos < input.length) {
    if (/\s/.test(input[pos])) {
      pos++;
      continue;
    }
    n++;
    if (sawMap) throw new Error(`rule ${n}: a 'map' rule must be the last one`);
    const delim = input[pos];
    const fields: string[] = [];
    let cur = pos + 1;
    const want = (): number => (fields.length >= 1 && fields[0] === 'map' ? 3 : 4);
    while (fields.length < want()) {
      const next = input.indexOf(delim, cur);
      if (next < 0) throw new Error(`rule ${n}: incomplete rule (missing '${delim}')`);
      fields.push(input.slice(cur, next));
      cur = next + 1;
    }
    pos = cur;
    const [type] = fields;
    if (type === 'map') {
      sawMap = true;
      rules.push(...expandMap(fields[1], fields[2]));
      continue;
    }
    if (type !== 'prefix' && type !== 'ok' && type !== 'bad' && type !== 'unsupported') {
      throw new Error(`rule ${n}: unknown type '${type}' (expected prefix, ok, bad, unsupported or map)`);
    }
    const scope = fields[1];
    if (scope !== 'client' && scope !== 'server' && scope !== 'all') {
      throw new Error(`rule ${n}: unknown scope '${scope}' (expected client, server or all)`);
    }
    rules.push({ type, client: scope !== 'server', server: scope !== 'client', key: fields[2], prepend: fields[3] });
  }
  if (rules.length === 0) throw new Error('no rules given');
  return rules;
}

function expandMap(key: string, prepend: string): XattrRule[] {
  const all = { client: true, server: true };
  const out: XattrRule[] = [{ type: 'prefix', ...all, key, prepend }];
  if (key !== '') {
    out.push({ type: 'bad', ...all, key: prepend, prepend: key });
    out.push({ type: 'ok', ...all, key: '', prepend: '' });
  } else {
    out.push({ type: 'bad', ...all, key: '', prepend: '' });
  }
  return out;
}

/** What a guest-side name becomes: a host name, or an errno to answer. */
export type ClientMapping = { name: Buffer } | { errno: 'EPERM' | 'ENOTSUP' };

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

export class XattrMap {
  private readonly rules: { type: XattrRuleType; client: boolean; server: boolean; key: Buffer; prepend: Buffer }[];

  constructor(rules: readonly XattrRule[]) {
    this.rules = rules.map((r) => ({ ...r, key: latin1(r.key), prepend: latin1(r.prepend) }));
  }

  /** GETXATTR / SETXATTR / REMOVEXATTR (and security contexts): the host name for `name`. */
  mapClient(name: Buffer): ClientMapping {
    for (const r of this.rules) {
      if (!r.client || !startsWith(name, r.key)) continue;
      switch (r.type) {
        case 'ok':
          return { name };
        case 'bad':
          return { errno: 'EPERM' };
        case 'unsupported':
          return { errno: 'ENOTSUP' };
        case 'prefix':
          return { name: Buffer.concat([r.prepend, name]) };
      }
    }
    return { errno: 'EPERM' };
  }

  /** LISTXATTR: a host name as the guest sees it, or undefined when it is hidden. */
  mapServer(name: Buffer): Buffer | undefined {
    for (const r of this.rules) {
      if (!r.server || !startsWith(name, r.prepend)) continue;
      switch (r.type) {
        case 'ok':
          return name;
        case 'bad':
        case 'unsupported':
          return undefined;
        case 'prefix':
          return name.subarray(r.prepend.length);
      }
    }
    return undefined;
  }
}

function startsWith(name: Buffer, prefix: Buffer): boolean {
  return prefix.length <= name.length && name.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}
