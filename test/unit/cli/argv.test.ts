// The tokeniser's direct path (readPlain) must give exactly the record yargs gives wherever it
// answers: it exists only to keep yargs off the start-up path, never to change a result.
import { describe, expect, it } from 'vitest';
import { prescan, readPlain, runYargs, tokenize, type Parsed } from '../../../src/cli/argv.js';
import { OPTIONS } from '../../../src/cli/option-table.js';

function withoutProgramName(parsed: Parsed): Parsed {
  const copy = { ...parsed };
  delete copy.$0;
  return copy;
}

/** prescan's tokens, or undefined when prescan already refuses the command line. */
function scanned(argv: string[]): string[] | undefined {
  try {
    return prescan(argv);
  } catch {
    return undefined;
  }
}

/** yargs' record, or its error message. */
function viaYargs(tokens: string[]): Parsed | string {
  try {
    return withoutProgramName(runYargs(tokens));
  } catch (e) {
    return (e as Error).message;
  }
}

// A small deterministic generator (xorshift32): the same corpus on every run.
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const VALUES = ['/srv/share', 'auto', 'never', '3', '0', 'a=b', 'source=/x,cache=none', 'x,,y', 'true', 'false', '', '-', '-x', '--fd', ' ', '0x10', '1e3', '__proto__', 'é', 'a b'];

function randomArgv(next: () => number): string[] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
  const argv: string[] = [];
  const n = 1 + Math.floor(next() * 6);
  for (let i = 0; i < n; i++) {
    const spec = pick(OPTIONS);
    const name = pick([spec.key, ...(spec.aliases ?? [])]);
    const dash = name.length === 1 ? '-' : '--';
    if (spec.value === undefined) {
      // Flags, sometimes grouped with another one-letter flag.
      argv.push(name.length === 1 && next() < 0.3 ? `-${name}${pick(['d', 'f', 'h', 'V'])}` : `${dash}${name}`);
      continue;
    }
    const value = pick(VALUES);
    const form = next();
    if (form < 0.4) argv.push(`${dash}${name}`, value);
    else if (form < 0.8) argv.push(name.length === 1 ? `-${name}${value}` : `--${name}=${value}`);
    else argv.push(`${dash}${name}`); // possibly missing its value
  }
  return argv;
}

describe('readPlain', () => {
  const cases: string[][] = [
    ['--shared-dir', '/x', '--socket-path=/tmp/s'],
    ['--socket', 'a', '--socket-path', 'b'],
    ['--syslog', '--syslog', '--fd=3'],
    ['-df', '-o', 'source=/x', '-o', 'cache=none'],
    ['-o', 'source=/x,cache=auto', '-f', '--fd', '3'],
    ['-ocache=auto', '-fo', 'source=/x'],
    ['-h'],
    ['-V'],
    ['--no-xattr', '--xattr', '--translate-uid', 'map:0:1000:1', '--translate-uid=guest:5:6:1'],
    ['--socket-path=/tmp/vhost.sock', '--shared-dir=/srv', '--log-level=error', '--thread-pool-size=4'],
    ['--syslog', '--cache=auto', '--shared-dir=/srv', '--fd=3', '--thread-pool-size=1', '--announce-submounts'],
  ];

  it('answers the launchers\' command lines', () => {
    for (const argv of cases) expect(readPlain(prescan(argv)), argv.join(' ')).toBeDefined();
  });

  it('gives yargs\' record on hand-picked and 2000 generated command lines', () => {
    const next = rng(0x5eed);
    const corpus = [...cases];
    for (let i = 0; i < 2000; i++) corpus.push(randomArgv(next));
    let plain = 0;
    for (const argv of corpus) {
      const tokens = scanned(argv);
      if (tokens === undefined) continue;
      const direct = readPlain(tokens);
      if (direct === undefined) continue;
      plain++;
      expect(direct, JSON.stringify(argv)).toEqual(viaYargs(tokens));
    }
    // Most generated lines are plain: the comparison covers the direct path broadly.
    expect(plain).toBeGreaterThan(500);
  });

  it('leaves missing, empty and dash-led values to yargs', () => {
    expect(readPlain(prescan(['--shared-dir']))).toBeUndefined();
    expect(readPlain(prescan(['--shared-dir=']))).toBeUndefined();
    expect(readPlain(prescan(['--shared-dir', '-x']))).toBeUndefined();
    expect(readPlain(prescan(['-o', '']))).toBeUndefined();
    expect(() => tokenize(['--shared-dir'])).toThrow(/option --shared-dir requires a value/);
  });
});
