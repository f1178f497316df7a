// Tokenising the command line into a record { key: value } keyed by the option table's keys
// (option-table.ts), the shape yargs produces and options.ts reads with lastString/allStrings/flag.
//
// Three steps:
// 1. prescan: precise one-line errors for what yargs would only call "Unknown argument"
//    (unknown options, stray arguments, `--flag=value`), and the glued legacy form
//    `-ocache=auto` split into `-o cache=auto`;
// 2. the common case — every option known (the pre-scan checked), every value present, non-empty
//    and not starting with '-' — is read directly (readPlain). This is what every launcher
//    (Kata, libvirt, QEMU's docs, the benchmarks) passes, and it keeps yargs off the start-up
//    path: loading it costs ~130 ms, more than the rest of the daemon's first stage together;
// 3. anything else goes to yargs, which is loaded only then and owns the rules for the corner
//    cases (missing values, values that look like options, empty values).
// test/unit/cli/argv.test.ts checks that step 2 gives exactly yargs' record wherever it answers.

import { createRequire } from 'node:module';
import type yargsFactory from 'yargs';
import { BY_NAME, OPTIONS, UsageError, display, fail, notSupported, refusedFamily } from './option-table.js';

/** The tokenised command line: option key → true (flags), a string, or strings (repeated). */
export type Parsed = Record<string, unknown>;

/** Step 1; see the top of this file. */
export function prescan(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--') {
      if (i + 1 < argv.length) fail(`unexpected argument '${argv[i + 1]}'; see --help`);
      continue;
    }
    if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      const name = token.slice(2, eq < 0 ? undefined : eq);
      const spec = BY_NAME.get(name);
      if (!spec || name.length === 1) {
        if (refusedFamily(name)) notSupported(`--${name}`);
        fail(`unknown option --${name}; see --help`);
      }
      if (spec.value === undefined && eq >= 0) fail(`option --${name} does not take a value`);
      out.push(token);
      if (spec.value !== undefined && eq < 0 && i + 1 < argv.length) out.push(argv[++i]);
      continue;
    }
    if (token.startsWith('-') && token.length > 1) {
      // A group of short options, e.g. -df, -o VALUE, -oVALUE, -fo VALUE.
      const letters = token.slice(1);
      let split = false;
      for (let k = 0; k < letters.length && !split; k++) {
        const letter = letters[k];
        const spec = BY_NAME.get(letter);
        // `-d=x`: a value given to a short flag that takes none (as `--syslog=x` is reported).
        if (letter === '=' && k > 0 && BY_NAME.get(letters[k - 1])?.value === undefined) fail(`option -${letters[k - 1]} does not take a value`);
        if (!spec || letter === '-' || letter === '=') {
          const head = letters.split('=')[0];
          if (head.length > 1 && BY_NAME.has(head)) fail(`unknown option -${head} (did you mean --${head}?)`);
          fail(`unknown option -${letter}; see --help`);
        }
        if (spec.value === undefined) continue;
        // A short option with a value: the rest of the token is the value, else the next token.
        split = true;
        if (k > 0) out.push(`-${letters.slice(0, k)}`);
        out.push(`-${letter}`);
        let rest = letters.slice(k + 1);
        if (rest.startsWith('=')) rest = rest.slice(1);
        if (rest !== '') out.push(rest);
        else if (i + 1 < argv.length) out.push(argv[++i]);
      }
      if (!split) out.push(token);
      continue;
    }
    fail(`unexpected argument '${token}'; see --help`);
  }
  return out;
}

/** A value readPlain takes as is; anything else is left to yargs' rules. */
function plainValue(value: string | undefined): value is string {
  return value !== undefined && value !== '' && !value.startsWith('-');
}

/**
 * Step 2: the pre-scanned tokens read directly, or undefined when they hold anything but plain
 * `--flag`, `-fd`, `--key=value`, `--key value`, `-o value` (then yargs decides). Same record as
 * yargs with this table's configuration: aliases stored under the key, a repeated flag stays
 * `true`, a repeated value becomes an array in command-line order.
 */
export function readPlain(tokens: readonly string[]): Parsed | undefined {
  const parsed: Parsed = { _: [] };
  const put = (key: string, value: string): void => {
    const old = parsed[key];
    parsed[key] = old === undefined ? value : Array.isArray(old) ? [...(old as string[]), value] : [old, value];
  };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      const spec = BY_NAME.get(token.slice(2, eq < 0 ? undefined : eq));
      if (spec === undefined) return undefined;
      if (spec.value === undefined) {
        parsed[spec.key] = true;
        continue;
      }
      const value = eq >= 0 ? token.slice(eq + 1) : tokens[++i];
      // `--key=-x` is plain to yargs too, but rare enough not to be worth a rule of our own.
      if (!plainValue(value)) return undefined;
      put(spec.key, value);
      continue;
    }
    if (!token.startsWith('-') || token.length < 2) return undefined;
    const letters = token.slice(1);
    for (let k = 0; k < letters.length; k++) {
      const spec = BY_NAME.get(letters[k]);
      if (spec === undefined) return undefined;
      if (spec.value === undefined) {
        parsed[spec.key] = true;
        continue;
      }
      // prescan leaves a valued letter alone in its token, its value in the next one.
      if (letters.length !== 1) return undefined;
      const value = tokens[++i];
      if (!plainValue(value)) return undefined;
      put(spec.key, value);
    }
  }
  return parsed;
}

type YargsFactory = typeof yargsFactory;

/** yargs, loaded on first use (see the top of this file). */
function loadYargs(): YargsFactory {
  // yargs is an ES module; Node ≥ 20.19 (package.json "engines") require()s those synchronously,
  // which keeps parseCommandLine synchronous.
  const mod = createRequire(import.meta.url)('yargs') as YargsFactory | { default: YargsFactory };
  return typeof mod === 'function' ? mod : mod.default;
}

/** Step 3: yargs on the pre-scanned tokens (exported for the equivalence test). */
export function runYargs(argv: string[]): Parsed {
  let parser = loadYargs()()
    .parserConfiguration({
      'camel-case-expansion': false,
      'boolean-negation': false, // --no-xattr etc. are options of their own
      'dot-notation': false,
      'duplicate-arguments-array': true, // repeated -o accumulate; others: the last wins (options.ts)
      'flatten-duplicate-arrays': true,
      'greedy-arrays': false,
      'parse-numbers': false, // numbers are validated in values.ts, strictly
      'parse-positional-numbers': false,
      'strip-aliased': true,
      'populate--': false,
    })
    .locale('en') // the messages mapped in yargsMessage(), whatever LANG says
    .help(false)
    .version(false)
    .exitProcess(false)
    .showHelpOnFail(false)
    .strict()
    .fail((message: string | undefined, error: Error | undefined) => {
      throw new UsageError(yargsMessage(message ?? error?.message ?? 'invalid command line'));
    });
  for (const spec of OPTIONS) {
    parser = parser.option(spec.key, {
      type: spec.value === undefined ? 'boolean' : 'string',
      requiresArg: spec.value !== undefined,
      alias: spec.aliases,
    });
  }
  return parser.parseSync(argv);
}

/** yargs' messages, rewritten as ours. */
function yargsMessage(message: string): string {
  const missing = /^Not enough arguments following: (.+)$/.exec(message);
  if (missing) return `option ${display(missing[1])} requires a value`;
  const unknown = /^Unknown arguments?: ([^,]+)/.exec(message);
  if (unknown) return `unknown option ${display(unknown[1])}; see --help`;
  return message.split('\n')[0];
}

/** The three steps: the command line as a record, or a UsageError. */
export function tokenize(argv: readonly string[]): Parsed {
  const tokens = prescan(argv);
  return readPlain(tokens) ?? runYargs(tokens);
}

/** The last value of a repeatable valued option, or undefined if absent. */
export function lastString(parsed: Parsed, key: string): string | undefined {
  const v = parsed[key];
  if (v === undefined) return undefined;
  const last: unknown = Array.isArray(v) ? v[v.length - 1] : v;
  return String(last);
}

export function allStrings(parsed: Parsed, key: string): string[] {
  const v = parsed[key];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

export function flag(parsed: Parsed, key: string): boolean {
  const v = parsed[key];
  return Array.isArray(v) ? v[v.length - 1] === true : v === true;
}
