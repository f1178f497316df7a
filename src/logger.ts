/**
 * The one logging interface every layer depends on — the subset of pino's Logger we use — so
 * tests can pass a silent or recording logger and no layer imports pino itself. It sits below
 * every layer (no imports); src/daemon/logger.ts builds the pino logger that implements it.
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
