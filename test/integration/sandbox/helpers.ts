/**
 * Looking at a running daemon from the host: its process tree, namespaces, credentials, memory.
 * With --sandbox=namespace the process the test spawned is the supervisor (the launcher
 * virtiofsd-ts, or vfs-supervisor in the two-boot fallback) and the serving Node process is its
 * only child.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export function status(pid: number | string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return out;
}

export function comm(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
}

/** Direct children of pid (all its threads'). */
export function children(pid: number): number[] {
  const out: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text !== '') out.push(...text.split(/\s+/).map(Number));
    } catch {
      /* thread gone */
    }
  }
  return out;
}

/** A supervisor: the launcher (virtiofsd-ts, C) or vfs-supervisor (the two-boot fallback). */
export function isSupervisor(pid: number): boolean {
  return ['virtiofsd-ts', 'vfs-supervisor'].includes(comm(pid));
}

/** The serving process: the supervisor's child, or `pid` itself when it is no supervisor. */
export function servingPid(pid: number): number {
  if (!isSupervisor(pid)) return pid;
  const kids = children(pid);
  if (kids.length !== 1) throw new Error(`supervisor ${pid} (${comm(pid)}) has ${kids.length} children`);
  return kids[0];
}

export function namespaces(pid: number | string): Record<'mnt' | 'pid' | 'net', string> {
  return {
    mnt: readlinkSync(`/proc/${pid}/ns/mnt`),
    pid: readlinkSync(`/proc/${pid}/ns/pid`),
    net: readlinkSync(`/proc/${pid}/ns/net`),
  };
}

/** VmRSS in KiB. */
export function rssKiB(pid: number): number {
  return Number(/(\d+)/.exec(status(pid).VmRSS ?? '0')![1]);
}

/** Capability fields of every thread of pid. */
export function threadCapabilities(pid: number): { tid: string; CapPrm: bigint; CapEff: bigint; CapBnd: bigint; CapInh: bigint; CapAmb: bigint }[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const s = status(`${pid}/task/${tid}`);
    const hex = (k: string): bigint => BigInt(`0x${s[k] ?? '0'}`);
    return { tid, CapPrm: hex('CapPrm'), CapEff: hex('CapEff'), CapBnd: hex('CapBnd'), CapInh: hex('CapInh'), CapAmb: hex('CapAmb') };
  });
}

/** CHOWN DAC_OVERRIDE FOWNER FSETID SETGID SETUID MKNOD SETFCAP. */
/** The kept set by default: the Rust virtiofsd's list, + dac_read_search for file handles (--inode-file-handles=prefer). */
export const DEFAULT_CAPS = (1n << 0n) | (1n << 1n) | (1n << 2n) | (1n << 3n) | (1n << 4n) | (1n << 6n) | (1n << 7n) | (1n << 27n) | (1n << 31n);
/** DEFAULT_CAPS with --inode-file-handles=never. */
export const CAPS_WITHOUT_HANDLES = DEFAULT_CAPS & ~(1n << 2n);

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
