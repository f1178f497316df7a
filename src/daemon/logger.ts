// The daemon's logger: pino, writing either to stderr or to syslog(3).
//
// stderr format: one compact human line per record, in the Rust virtiofsd's (env_logger's) shape,
//   [2024-07-18T12:53:55.123Z INFO  virtiofsd-ts] Waiting for vhost-user socket connection...
// followed by `key=value` for any extra fields, and the stack of an `err` field on indented
// lines below. Why not pino's JSON: the people reading this stream are operators and the peers'
// tooling — Kata runtime-rs waits for a stderr line *containing* "Waiting for vhost-user socket
// connection", libvirt copies stderr to a per-VM log file, journald captures it under systemd —
// and all of them treat virtiofsd output as plain text lines. The same text (without time and
// level, which syslog records itself) is what goes to syslog.
//
// syslog: Node cannot write to /dev/log (a Unix *datagram* socket), so records go through the
// native addon's wrappers of openlog(3)/syslog(3), one syslog record per output line. The addon
// is imported lazily, only with --syslog, so that nothing else (and no unit test) needs it.
//
// Records are formatted synchronously as pino writes them: no worker thread, nothing lost when
// the process exits right after logging a fatal error.

import pino, { type DestinationStream, type LevelWithSilent, type Logger } from 'pino';
import type { DaemonConfig, LogLevel } from '../cli/config.js';

export type { Logger };

/** What the native addon exports for syslog (wrapping openlog(3) and syslog(3)). */
export interface SyslogBinding {
  syslogOpen(ident: string, facility: number): void;
  syslog(priority: number, message: string): void;
}

/** Where formatted stderr text goes; production uses fd 2 (synchronous writes). */
export interface TextSink {
  write(text: string): unknown;
}

export interface LoggerDeps {
  /** Syslog binding to use instead of the native addon's (tests). */
  syslog?: SyslogBinding;
  /** Replacement for stderr (tests). */
  stderr?: TextSink;
  /** Clock for the stderr timestamps (tests); default: the record's own time. */
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

/** virtiofsd's level names → pino's. */
export function pinoLevel(level: LogLevel): LevelWithSilent {
  return level === 'off' ? 'silent' : level;
}

/** A pino level number (fatal 60 … trace 10) → a syslog priority. */
export function syslogPriority(level: number): number {
  if (level >= 60) return LOG_CRIT;
  if (level >= 50) return LOG_ERR;
  if (level >= 40) return LOG_WARNING;
  if (level >= 30) return LOG_INFO;
  return LOG_DEBUG;
}

function levelName(level: number): string {
  const label = (pino.levels.labels as Record<number, string | undefined>)[level];
  return (label ?? `level${level}`).toUpperCase();
}

// Keys pino writes itself; everything else is a field of the record.
const RESERVED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'err']);

function fieldValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value === undefined) return 'undefined';
  try {
    // undefined for a function or a symbol.
    const json = JSON.stringify(value) as string | undefined;
    if (json !== undefined) return json;
  } catch {
    // A BigInt, or an object JSON cannot encode (a cycle, a throwing toJSON).
  }
  // Records come from JSON.parse, so only a direct caller of formatRecord() gets here.
  if (typeof value === 'bigint' || typeof value === 'symbol' || typeof value === 'function') return value.toString();
  return Object.prototype.toString.call(value);
}

interface SerializedError {
  message?: unknown;
  stack?: unknown;
}

/**
 * One pino record → the lines that represent it: the message with its fields first, then an
 * error's stack (indented). No time or level: the stderr sink prefixes them, syslog has its own.
 */
export function formatRecord(record: Record<string, unknown>): string[] {
  let head = typeof record.msg === 'string' ? record.msg : record.msg === undefined ? '' : fieldValue(record.msg);
  const fields: string[] = [];
  for (const key of Object.keys(record)) {
    if (!RESERVED.has(key)) fields.push(`${key}=${fieldValue(record[key])}`);
  }
  const err = record.err as SerializedError | undefined;
  const tail: string[] = [];
  if (err !== undefined && err !== null) {
    if (typeof err === 'object') {
      const message = typeof err.message === 'string' ? err.message : undefined;
      if (message !== undefined && message !== head) fields.push(`err=${fieldValue(message)}`);
      if (typeof err.stack === 'string') {
        for (const line of err.stack.split('\n')) {
          const text = line.trim();
          if (text !== '') tail.push(`${text.startsWith('at ') ? '      ' : '    '}${text}`);
        }
      }
    } else {
      fields.push(`err=${fieldValue(err)}`);
    }
  }
  if (fields.length > 0) head = head === '' ? fields.join(' ') : `${head} ${fields.join(' ')}`;
  // A message with embedded newlines still yields one line per line.
  const lines = head.split('\n');
  return [...lines, ...tail];
}

/** Parses what pino hands a destination: one or more complete JSON records, one per line. */
function records(chunk: string, onRecord: (record: Record<string, unknown>) => void, onRaw: (line: string) => void): void {
  for (const line of chunk.split('\n')) {
    if (line === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      onRaw(line);
      continue;
    }
    if (record !== null && typeof record === 'object') onRecord(record as Record<string, unknown>);
    else onRaw(line);
  }
}

/** A pino destination that writes compact human lines to `sink` (default: fd 2, synchronously). */
export function createStderrDestination(sink?: TextSink, now?: () => Date): DestinationStream {
  const out: TextSink = sink ?? pino.destination({ fd: 2, sync: true });
  return {
    write(chunk: string): void {
      let text = '';
      records(
        chunk,
        (record) => {
          const when = now ? now() : new Date(typeof record.time === 'number' ? record.time : Date.now());
          const level = typeof record.level === 'number' ? levelName(record.level) : 'INFO';
          const [first, ...rest] = formatRecord(record);
          text += `[${when.toISOString()} ${level.padEnd(5)} ${SYSLOG_IDENT}] ${first}\n`;
          for (const line of rest) text += `${line}\n`;
        },
        (raw) => {
          text += `${raw}\n`;
        },
      );
      if (text !== '') out.write(text);
    },
  };
}

/**
 * A pino destination that sends each output line as one syslog record, at the priority matching
 * the record's level. Calls binding.syslogOpen(ident, facility) once, here.
 */
export function createSyslogDestination(
  binding: SyslogBinding,
  ident: string = SYSLOG_IDENT,
  facility: number = SYSLOG_FACILITY,
): DestinationStream {
  binding.syslogOpen(ident, facility);
  return {
    write(chunk: string): void {
      records(
        chunk,
        (record) => {
          const priority = syslogPriority(typeof record.level === 'number' ? record.level : 30);
          for (const line of formatRecord(record)) if (line.trim() !== '') binding.syslog(priority, line);
        },
        (raw) => binding.syslog(LOG_INFO, raw),
      );
    },
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
 * --syslog imports the native addon lazily; without --syslog it does no I/O beyond opening fd 2.
 */
export async function createLogger(
  config: Pick<DaemonConfig, 'logLevel' | 'syslog'>,
  deps: LoggerDeps = {},
): Promise<Logger> {
  const destination = config.syslog
    ? createSyslogDestination(deps.syslog ?? (await loadSyslogBinding()))
    : createStderrDestination(deps.stderr, deps.now);
  return pino(
    {
      level: pinoLevel(config.logLevel),
      base: null, // no pid / hostname in every record
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}
