/**
 * The one logging interface every layer depends on, so tests can pass a silent or recording
 * logger. Call shapes: `log.info('text')`, `log.warn({ fd, err }, 'text')` (fields, and an Error
 * as `err`), and `log.error(err)` for an Error alone. It sits below every layer (no imports);
 * src/daemon/logger.ts builds the text logger that implements it.
 */
export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

export interface Logger {
  isLevelEnabled(level: string): boolean;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
}

/** A logger that drops everything (tests, tools). */
export const silentLogger: Logger = {
  isLevelEnabled: () => false,
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  fatal: () => {},
};
