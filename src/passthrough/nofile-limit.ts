/**
 * The daemon's open-file limit (RLIMIT_NOFILE). Its own module with no other imports: the
 * sandbox's outer stage sets it before exec'ing the supervisor (so that every process of the
 * tree carries it) and must not pay for loading the passthrough to do so (~24 ms of start-up).
 */
import { readFileSync } from 'node:fs';

/** The option that sets it: --rlimit-nofile N (0: leave the limit alone). */
export interface NofileOption {
  rlimitNofile?: number;
}

const MAX_DEFAULT_NOFILE = 1_000_000;
/** Descriptors left to the rest of the host when we size our limit from fs.file-max. */
const FILE_MAX_RESERVE = 16_384;

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The RLIMIT_NOFILE to set: --rlimit-nofile N (0: leave the limit), else
 * min(1 000 000, fs.nr_open, fs.file-max − 16384) — the Rust virtiofsd's default, kept below
 * the system-wide table so that a guest holding many files cannot exhaust the host
 * (CVE-2020-10717). undefined: leave it.
 */
export function nofileTarget(config: NofileOption, procSys = '/proc/sys/fs'): number | undefined {
  if (config.rlimitNofile !== undefined) return config.rlimitNofile === 0 ? undefined : config.rlimitNofile;
  let n = MAX_DEFAULT_NOFILE;
  const nrOpen = readNumber(`${procSys}/nr_open`);
  if (nrOpen !== undefined) n = Math.min(n, nrOpen);
  const fileMax = readNumber(`${procSys}/file-max`);
  if (fileMax !== undefined) n = Math.min(n, Math.max(1024, fileMax - FILE_MAX_RESERVE));
  return n;
}

/**
 * Applies nofileTarget(): both limits set to it (raising the hard limit needs CAP_SYS_RESOURCE;
 * without it, or when the target is below the current soft limit for the default, the soft limit
 * is raised to the hard one instead). `setNofileLimit` is native.setNofileLimit.
 */
export function applyNofileLimit(config: NofileOption, setNofileLimit: (n: number) => number, log: { warn(msg: string): void; info(msg: string): void }): void {
  const target = nofileTarget(config);
  if (target === undefined) return;
  const r = setNofileLimit(target);
  if (r >= 0) {
    log.info(`open-file limit: ${r}`);
    return;
  }
  if (config.rlimitNofile !== undefined) throw new Error(`cannot set the open-file limit to ${target}: errno ${-r}`);
  const fallback = setNofileLimit(0);
  if (fallback < 0) log.warn(`cannot raise the open-file limit: errno ${-fallback}`);
  else log.warn(`cannot set the open-file limit to ${target} (errno ${-r}); using ${fallback}`);
}
