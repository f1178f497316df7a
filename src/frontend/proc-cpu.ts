/**
 * CPU time of the daemon under test, read from /proc so it works for any peer (ours, Rust, C).
 *
 * Which processes: those given with --daemon-pid, else every process whose command line
 * mentions the vhost-user socket path (each daemon is started with it), minus ourselves and our
 * ancestors (a shell or `timeout` that started us may carry the path too). Sandboxing daemons
 * (C virtiofsd, Rust virtiofsd --sandbox=namespace) fork: the waiting parent matches as well,
 * costs nothing, and summing over all matches counts the serving child.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck: number | undefined;

/** sysconf(_SC_CLK_TCK): the unit of utime/stime in /proc/PID/stat. */
export function clockTicksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** utime + stime of a process (all its threads, live and exited) in µs; undefined if gone. */
export function processCpuMicros(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: fields resume after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  const ticks = Number(rest[11]) + Number(rest[12]);
  return (ticks * 1e6) / clockTicksPerSecond();
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** Processes whose argv contains `socketPath` (as an argument or inside --opt=PATH). */
export function findDaemonPids(socketPath: string): number[] {
  const exclude = new Set<number>();
  for (let p = process.pid; p > 1 && !exclude.has(p); p = parentOf(p)) exclude.add(p);
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (exclude.has(pid)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const args = cmdline.split('\0');
    if (args.some((a) => a === socketPath || a.endsWith(`=${socketPath}`))) found.push(pid);
  }
  return found.sort((x, y) => x - y);
}

/** Sum of processCpuMicros over pids (those that vanished count 0). */
export function totalCpuMicros(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) sum += processCpuMicros(pid) ?? 0;
  return sum;
}

/**
 * Sums CPU time over a set of processes, remembering each one's last reading: a daemon that
 * exits (or dies) mid-run still counts what it used up to its last sample.
 */
export class CpuMeter {
  private readonly last = new Map<number, number>();

  constructor(readonly pids: readonly number[]) {}

  /** Total µs now (last known value for processes that are gone). */
  sample(): number {
    let sum = 0;
    for (const pid of this.pids) {
      const v = processCpuMicros(pid);
      if (v !== undefined) this.last.set(pid, v);
      sum += this.last.get(pid) ?? 0;
    }
    return sum;
  }
}
