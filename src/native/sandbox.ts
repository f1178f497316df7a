/**
 * Typed view of the addon's sandbox primitives (native/sandbox*.cc). Policy — which mode, which
 * capabilities, when — lives in src/sandbox/; these only do what they say. Functions that set up
 * the sandbox throw an Error with `code`, `errno` and `syscall` fields on failure.
 */
import { addon } from './load.js';

export interface SandboxFds {
  /** O_PATH descriptor of /proc/self/fd (the passthrough reopens inodes through it). */
  procSelfFd: number;
  /** /proc/self/task, for the capability broadcast; close it once privileges are dropped. */
  taskFd: number;
}

export interface ThreadCapabilities {
  tid: number;
  /** Hexadecimal masks as /proc shows them. */
  inh: string;
  prm: string;
  eff: string;
  bnd: string;
  amb: string;
}

export interface AllowedSyscall {
  name: string;
  nr: number;
  /** measured | planned | legacy (see native/seccomp_allowlist.h). */
  group: string;
}

export type SeccompAction = 'kill' | 'log' | 'trap';

export interface SandboxAddon {
  /** setgroups(0, NULL) in every thread; 0 or -errno (0 too when there were none). */
  sandboxDropGroups: () => number;
  /** Clears FD_CLOEXEC; 0 or -errno. */
  sandboxClearCloexec: (fd: number) => number;
  /** execve(2); returns -errno only if it failed. */
  sandboxExec: (path: string, argv: string[], env: string[]) => number;
  /** Mounts and pivot_root into sharedDir (must already be in new mount/pid namespaces). */
  sandboxEnterNamespace: (sharedDir: string) => SandboxFds;
  /** chroot(2) into sharedDir. */
  sandboxEnterChroot: (sharedDir: string) => SandboxFds;
  /** Every thread keeps only the capabilities in the 64-bit mask keepHi:keepLo. */
  sandboxDropCapabilities: (keepLo: number, keepHi: number, taskFd: number) => { threads: number; bounding: boolean };
  sandboxCapabilityState: (taskFd: number) => ThreadCapabilities[];
  /** Installs the filter on every thread; learnFd ≥ 0 records instead (docs/seccomp.md). */
  sandboxInstallSeccomp: (action: SeccompAction, learnFd: number) => number;
  sandboxSeccompAllowList: () => AllowedSyscall[];
  /** x86_64 | aarch64 */
  sandboxArch: string;
}

export const sandbox = addon as SandboxAddon;
