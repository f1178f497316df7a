#!/usr/bin/env node
/**
 * Turns the recordings of seccomp learning runs into a review of the allow-list
 * (native/seccomp_allowlist.h; procedure in docs/seccomp.md):
 *
 *   VIRTIOFSD_TS_SECCOMP_LEARN=/tmp/learn.txt npm test
 *   node dist/sandbox/seccomp-report.js /tmp/learn.txt [--header]
 *
 * Each line of a recording is "<arch> <nr>" (one per call number and daemon process). Names come
 * from the kernel headers of this machine (asm/unistd_64.h). Prints the calls seen, those the
 * list lacks, and those listed but unseen; --header prints a VFS_SECCOMP_MEASURED block to paste.
 * Exit code 1 when a call that was seen is missing from the list.
 */
import { existsSync, readFileSync } from 'node:fs';
import { sandbox } from '../native/sandbox.js';

const HEADERS: Record<string, string[]> = {
  x86_64: ['/usr/include/x86_64-linux-gnu/asm/unistd_64.h', '/usr/include/asm/unistd_64.h'],
  aarch64: ['/usr/include/asm-generic/unistd.h', '/usr/include/aarch64-linux-gnu/asm/unistd.h'],
};

/** Call number → name, from `#define __NR_name nr` lines. */
export function syscallNames(arch: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const path of HEADERS[arch] ?? []) {
    if (!existsSync(path)) continue;
    for (const m of readFileSync(path, 'utf8').matchAll(/^#define\s+__NR_(\w+)\s+(\d+)\s*$/gm)) {
      if (!names.has(Number(m[2]))) names.set(Number(m[2]), m[1]);
    }
  }
  return names;
}

/** The distinct call names in recordings of this machine's architecture. */
export function recordedCalls(texts: readonly string[], arch = sandbox.sandboxArch): string[] {
  const names = syscallNames(arch);
  const seen = new Set<string>();
  for (const text of texts) {
    for (const line of text.split('\n')) {
      const [a, nr] = line.trim().split(/\s+/);
      if (a !== arch || nr === undefined) continue;
      seen.add(names.get(Number(nr)) ?? `nr_${nr}`);
    }
  }
  return [...seen].sort();
}

function main(argv: string[]): number {
  const files = argv.filter((a) => !a.startsWith('--'));
  if (files.length === 0) {
    process.stderr.write('usage: seccomp-report LEARN-FILE... [--header]\n');
    return 2;
  }
  const seen = recordedCalls(files.map((f) => readFileSync(f, 'utf8')));
  const listed = sandbox.sandboxSeccompAllowList();
  const listedNames = new Set(listed.map((c) => c.name));
  const missing = seen.filter((n) => !listedNames.has(n));
  const out: string[] = [];
  out.push(`${seen.length} distinct system calls recorded (${sandbox.sandboxArch}):`, `  ${seen.join(' ')}`);
  out.push(`missing from the allow-list: ${missing.length === 0 ? 'none' : missing.join(' ')}`);
  for (const group of ['measured', 'planned', 'legacy']) {
    const unseen = listed.filter((c) => c.group === group && !seen.includes(c.name)).map((c) => c.name);
    out.push(`listed as ${group}, not recorded: ${unseen.length === 0 ? 'none' : unseen.join(' ')}`);
  }
  if (argv.includes('--header')) {
    out.push('', '#define VFS_SECCOMP_MEASURED(X) \\');
    seen.forEach((n, i) => out.push(`  X(${n})${i === seen.length - 1 ? '' : ' \\'}`));
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return missing.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  process.exitCode = main(process.argv.slice(2));
}
