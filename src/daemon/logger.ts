// The daemon's logger: plain text lines, written either to stderr or to syslog(3).
//
// stderr format: one compact human line per record, in the Rust virtiofsd's (env_logger's) shape,
//   [2024-07-18T12:53:55.123Z INFO  virtiofsd-ts] Waiting for vhost-user socket connection...
// followed by `key=value` for any extra fields, and the stack of an `err` field on indented
// lines below. The people reading this stream are operators and the peers' tooling — Kata
// runtime-rs waits for a stderr line *containing* "Waiting for vhost-user socket connection",
// libvirt copies stderr to a per-VM log file, journald captures it under systemd — and all of
// them treat virtiofsd output as plain text lines. The same text (without time and level, which
// syslog records itself) is what goes to syslog.
//
// No logging library: all we need is these lines, and loading pino (with sonic-boom and the
// node: modules it pulls in) took ~23 ms of start-up to produce JSON we parsed straight back.
// Each record is formatted here and written with one synchronous write(2) to fd 2 — no worker
// thread, nothing lost when the process exits right after logging a fatal error. process.stderr
// is never touched: creating that stream costs ~9 ms at start-up.
//
// syslog: Node cannot write to /dev/log (a Unix *datagram* socket), so records go through the
// native addon's wrappers of openlog(3)/syslog(3), one syslog record per output line. The addon
// is imported lazily, only with --syslog, so that nothing else (and no unit test) needs it.

import type { DaemonConfig, LogLevel } from '../cli/config.js';
import type { Logger } from '../logger.js';
import { writeFully } from './write-fully.js';

export type { Logger };

/** The daemon's logger: the shared interface plus child loggers whose fields every record carries. */
export interface DaemonLogger extends Logger {
  child(bindings: Readonly<Record<string, unknown>>): DaemonLogger;
}

/** What the native addon exports for syslog (wrapping openlog(3) and syslog(3)). */
export interface SyslogBinding {
  syslogOpen(ident: string, facility: number): void;
  syslog(priority: number, message: string): void;
}

/** Where formatted stderr text goes; production writes to fd 2 (writeFully). */
export interface TextSink {
  write(text: string): unknown;
}

export interface LoggerDeps {
  /** Syslog binding to use instead of the native addon's (tests). */
  syslog?: SyslogBinding;
  /** Replacement for stderr (tests). */
  stderr?: TextSink;
  /** Clock for the stderr timestamps (tests); default: the time of the call. */
  now?: () => Date;
}

export const SYSLOG_IDENT = 'virtiofsd-ts';
/** LOG_DAEMON, as the C virtiofsd uses (the Rust one uses LOG_USER). */
export const SYSLOG_FACILITY = 3 << 3;

// syslog(3) priorities.
export const LOG_CRIT = 2;
export const LOG_ERR = 3;
export const LOG_WARNING = 4;
export const LOG_INFO = 6;
export const LOG_DEBUG = 7;

/** The levels a record can have, least severe first. */
export const RECORD_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type RecordLevel = (typeof RECORD_LEVELS)[number];

/** The record levels a --log-level shows: that level and every more severe one ('off': none). */
export function enabledLevels(level: LogLevel): RecordLevel[] {
  return level === 'off' ? [] : RECORD_LEVELS.slice(RECORD_LEVELS.indexOf(level));
}

/** A record level → its syslog priority. */
export function syslogPriority(level: RecordLevel): number {
  switch (level) {
    case 'fatal':
      return LOG_CRIT;
    case 'error':
      return LOG_ERR;
    case 'warn':
      return LOG_WARNING;
    case 'info':
      return LOG_INFO;
    default:
      return LOG_DEBUG;
  }
}

/**
 * JSON text of a field value, as JSON.stringify writes it (undefined where it would omit the
 * value) except that a BigInt is written as its digits and a cycle as "[Circular]".
 */
function json(value: unknown, ancestors: object[]): string | undefined {
  if (typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(): unknown }).toJSON(); // a Date, a Buffer
  }
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const object = value as object;
  if (ancestors.includes(object)) return '"[Circular]"';
  ancestors.push(object);
  try {
    if (Array.isArray(object)) return `[${object.map((item) => json(item, ancestors) ?? 'null').join(',')}]`;
    const members: string[] = [];
    for (const [key, item] of Object.entries(object)) {
      const text = json(item, ancestors);
      if (text !== undefined) members.push(`${JSON.stringify(key)}:${text}`);
    }
    return `{${members.join(',')}}`;
  } finally {
    ancestors.pop();
  }
}

/**
 * A field value as text: a string bare unless it has blanks, quotes or `=`, anything else as
 * JSON. undefined (omit the field) for undefined and functions. Never throws.
 */
function fieldValue(value: unknown): string | undefined {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'symbol') return value.toString();
  try {
    return json(value, []);
  } catch {
    // A throwing toJSON or getter.
    return Object.prototype.toString.call(value);
  }
}

interface ErrorLike {
  message: string;
  stack?: unknown;
  cause?: unknown;
}

function isErrorLike(value: unknown): value is ErrorLike {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';
}

/** An error's message and stack, each followed by its causes' ("outer: inner", "caused by: ..."). */
function describeError(err: ErrorLike): { message: string; stack: string } {
  let message = '';
  let stack = '';
  const seen = new Set<ErrorLike>();
  for (let e: ErrorLike | undefined = err; e !== undefined; ) {
    if (e !== err) {
      message += ': ';
      stack += '\ncaused by: ';
    }
    message += e.message;
    stack += typeof e.stack === 'string' ? e.stack : '';
    if (seen.has(e)) {
      message += ': ...';
      stack += '\ncauses have become circular...';
      break;
    }
    seen.add(e);
    e = isErrorLike(e.cause) ? e.cause : undefined;
  }
  return { message, stack };
}

// Keys that are not fields: the message (when given in the object) and the error.
const RESERVED = new Set(['msg', 'err']);

/**
 * One record → the lines that represent it: the message with its fields first, then the stack of
 * an `err` field (indented). No time or level: the stderr output prefixes them, syslog has its
 * own.
 */
export function formatRecord(msg: unknown, fields: Readonly<Record<string, unknown>> = {}): string[] {
  let head = typeof msg === 'string' ? msg : msg === undefined ? '' : (fieldValue(msg) ?? '');
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (RESERVED.has(key)) continue;
    const text = fieldValue(value);
    if (text !== undefined) parts.push(`${key}=${text}`);
  }
  const err = fields.err;
  const tail: string[] = [];
  if (isErrorLike(err)) {
    const { message, stack } = describeError(err);
    if (message !== head) parts.push(`err=${fieldValue(message)}`);
    for (const line of stack.split('\n')) {
      const text = line.trim();
      if (text !== '') tail.push(`${text.startsWith('at ') ? '      ' : '    '}${text}`);
    }
  } else if (err !== undefined && err !== null) {
    const text = fieldValue(err);
    if (text !== undefined) parts.push(`err=${text}`);
  }
  if (parts.length > 0) head = head === '' ? parts.join(' ') : `${head} ${parts.join(' ')}`;
  // A message with embedded newlines still yields one line per line.
  return [...head.split('\n'), ...tail];
}

/**
 * A log call's arguments → message and fields. `log.error(err)` logs the error as `err` with its
 * message as the record's; `log.warn({ err })` takes the message from the error too.
 */
function recordOf(bindings: Readonly<Record<string, unknown>>, first: unknown, msg: unknown): [unknown, Record<string, unknown>] {
  if (typeof first !== 'object' || first === null) return [first ?? msg, bindings];
  if (first instanceof Error) return [msg ?? first.message, { ...bindings, err: first }];
  const fields = { ...bindings, ...(first as Record<string, unknown>) };
  if (msg === undefined) msg = fields.msg ?? (isErrorLike(fields.err) ? fields.err.message : undefined);
  return [msg, fields];
}

/** Where a formatted record goes. */
type Output = (level: RecordLevel, lines: string[]) => void;

class TextLogger implements DaemonLogger {
  constructor(
    private readonly enabled: ReadonlySet<string>,
    private readonly output: Output,
    private readonly bindings: Readonly<Record<string, unknown>> = {},
  ) {}

  isLevelEnabled(level: string): boolean {
    return this.enabled.has(level);
  }

  trace(first: object | string, msg?: string): void {
    this.log('trace', first, msg);
  }

  debug(first: object | string, msg?: string): void {
    this.log('debug', first, msg);
  }

  info(first: object | string, msg?: string): void {
    this.log('info', first, msg);
  }

  warn(first: object | string, msg?: string): void {
    this.log('warn', first, msg);
  }

  error(first: object | string, msg?: string): void {
    this.log('error', first, msg);
  }

  fatal(first: object | string, msg?: string): void {
    this.log('fatal', first, msg);
  }

  child(bindings: Readonly<Record<string, unknown>>): DaemonLogger {
    return new TextLogger(this.enabled, this.output, { ...this.bindings, ...bindings });
  }

  private log(level: RecordLevel, first: unknown, msg: unknown): void {
    if (!this.enabled.has(level)) return;
    const [message, fields] = recordOf(this.bindings, first, msg);
    this.output(level, formatRecord(message, fields));
  }
}

function stderrOutput(sink: TextSink | undefined, now: (() => Date) | undefined): Output {
  return (level, [first, ...rest]) => {
    let text = `[${(now ? now() : new Date()).toISOString()} ${level.toUpperCase().padEnd(5)} ${SYSLOG_IDENT}] ${first}\n`;
    for (const line of rest) text += `${line}\n`;
    if (sink) sink.write(text);
    else writeFully(2, text);
  };
}

/** Each output line as one syslog record at the level's priority. Opens syslog, once, here. */
function syslogOutput(binding: SyslogBinding): Output {
  binding.syslogOpen(SYSLOG_IDENT, SYSLOG_FACILITY);
  return (level, lines) => {
    const priority = syslogPriority(level);
    for (const line of lines) if (line.trim() !== '') binding.syslog(priority, line);
  };
}

async function loadSyslogBinding(): Promise<SyslogBinding> {
  const { addon } = (await import('../native/load.js')) as { addon: Partial<SyslogBinding> | undefined };
  if (typeof addon?.syslogOpen !== 'function' || typeof addon?.syslog !== 'function') {
    throw new Error('the native addon does not export syslogOpen/syslog (needed by --syslog)');
  }
  return addon as SyslogBinding;
}

/**
 * The daemon's logger, configured by --log-level / -d and --syslog. Asynchronous only because
 * --syslog imports the native addon lazily; without --syslog it does no I/O until it logs.
 */
export async function createLogger(
  config: Pick<DaemonConfig, 'logLevel' | 'syslog'>,
  deps: LoggerDeps = {},
): Promise<DaemonLogger> {
  const output = config.syslog
    ? syslogOutput(deps.syslog ?? (await loadSyslogBinding()))
    : stderrOutput(deps.stderr, deps.now);
  return new TextLogger(new Set(enabledLevels(config.logLevel)), output);
}
