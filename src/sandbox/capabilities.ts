/**
 * Which capabilities the serving daemon keeps (virtiofsd's list) and `--modcaps=+x:-y`.
 * Pure: no I/O, usable from the command-line parser.
 */

/** capabilities(7) numbers, by the lower-case name without CAP_. */
export const CAPABILITIES: Readonly<Record<string, number>> = {
  chown: 0,
  dac_override: 1,
  dac_read_search: 2,
  fowner: 3,
  fsetid: 4,
  kill: 5,
  setgid: 6,
  setuid: 7,
  setpcap: 8,
  linux_immutable: 9,
  net_bind_service: 10,
  net_broadcast: 11,
  net_admin: 12,
  net_raw: 13,
  ipc_lock: 14,
  ipc_owner: 15,
  sys_module: 16,
  sys_rawio: 17,
  sys_chroot: 18,
  sys_ptrace: 19,
  sys_pacct: 20,
  sys_admin: 21,
  sys_boot: 22,
  sys_nice: 23,
  sys_resource: 24,
  sys_time: 25,
  sys_tty_config: 26,
  mknod: 27,
  lease: 28,
  audit_write: 29,
  audit_control: 30,
  setfcap: 31,
  mac_override: 32,
  mac_admin: 33,
  syslog: 34,
  wake_alarm: 35,
  block_suspend: 36,
  audit_read: 37,
  perfmon: 38,
  bpf: 39,
  checkpoint_restore: 40,
};

/**
 * What the passthrough needs (the Rust virtiofsd's list): change owners, bypass permission
 * checks on behalf of the guest's root, keep set-id bits, switch fsuid/fsgid and supplementary
 * groups per request, create device nodes, set file capabilities.
 */
export const DEFAULT_CAPABILITIES: readonly string[] = ['chown', 'dac_override', 'fowner', 'fsetid', 'setgid', 'setuid', 'mknod', 'setfcap'];

/** open_by_handle_at(2) needs it (--inode-file-handles=prefer|mandatory). */
export const FILE_HANDLE_CAPABILITY = 'dac_read_search';

export interface Modcaps {
  add: string[];
  remove: string[];
}

/** Normalises `SYS_ADMIN`, `cap_sys_admin`, `sys_admin` to `sys_admin`; undefined if unknown. */
export function capabilityName(text: string): string | undefined {
  let name = text.trim().toLowerCase();
  if (name.startsWith('cap_')) name = name.slice(4);
  return Object.prototype.hasOwnProperty.call(CAPABILITIES, name) ? name : undefined;
}

/**
 * Parses `+sys_admin:-chown` (virtiofsd's syntax: ':'-separated, each `+name` or `-name`, any
 * case, with or without CAP_). Throws an Error with a one-line message on bad input.
 */
export function parseModcaps(spec: string): Modcaps {
  const out: Modcaps = { add: [], remove: [] };
  for (const item of spec.split(':')) {
    if (item === '') throw new Error(`empty item in '${spec}': expected (+|-)capability[:...]`);
    const action = item[0];
    if (action !== '+' && action !== '-') throw new Error(`'${item}': expected '+' or '-' before the capability name`);
    const name = capabilityName(item.slice(1));
    if (name === undefined) throw new Error(`unknown capability '${item.slice(1)}'`);
    const [to, from] = action === '+' ? [out.add, out.remove] : [out.remove, out.add];
    const at = from.indexOf(name);
    if (at >= 0) from.splice(at, 1); // the last mention wins
    if (!to.includes(name)) to.push(name);
  }
  return out;
}

/** The kept set: the defaults, +DAC_READ_SEARCH with file handles, then --modcaps. */
export function keptCapabilities(modcaps: Modcaps | undefined, fileHandles: boolean): string[] {
  const keep = new Set(DEFAULT_CAPABILITIES);
  if (fileHandles) {
    if (modcaps?.remove.includes(FILE_HANDLE_CAPABILITY)) {
      throw new Error(`cannot drop ${FILE_HANDLE_CAPABILITY} with --inode-file-handles (open_by_handle_at needs it)`);
    }
    keep.add(FILE_HANDLE_CAPABILITY);
  }
  for (const name of modcaps?.add ?? []) keep.add(name);
  for (const name of modcaps?.remove ?? []) keep.delete(name);
  return [...keep].sort((a, b) => CAPABILITIES[a] - CAPABILITIES[b]);
}

/** A 64-bit capability mask as two 32-bit halves (what capset takes). */
export function capabilityMask(names: readonly string[]): { lo: number; hi: number; hex: string } {
  let mask = 0n;
  for (const name of names) mask |= 1n << BigInt(CAPABILITIES[name]);
  return { lo: Number(mask & 0xffffffffn), hi: Number(mask >> 32n), hex: mask.toString(16).padStart(16, '0') };
}
