// A benchmarked daemon as /proc sees it: its process tree, liveness, RSS, and killing all of it.
// Shared by bench/run.mjs and bench/startup.mjs.
import { readFileSync, readdirSync } from 'node:fs';

/** The state letter of /proc/PID/stat (R, S, Z, ...), or undefined when the process is gone. */
export function procState(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s[s.lastIndexOf(')') + 2];
  } catch {
    return undefined;
  }
}

export const alive = (pid) => { const s = procState(pid); return s !== undefined && s !== 'Z' && s !== 'X'; };

/** pid and all its descendants, through /proc/PID/task/TID/children. */
export function descendants(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tasks;
    try { tasks = readdirSync(`/proc/${out[i]}/task`); } catch { continue; }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').split(' ')) {
          const n = Number(c);
          if (n > 0 && !out.includes(n)) out.push(n);
        }
      } catch { /* exited */ }
    }
  }
  return out;
}

/** Sum of VmRSS / RssAnon / RssFile / RssShmem (KiB) over the tree of `pid`, and how many processes. */
export function treeRss(pid) {
  const r = { rss: 0, anon: 0, file: 0, shmem: 0, procs: 0 };
  for (const p of descendants(pid)) {
    try {
      const s = readFileSync(`/proc/${p}/status`, 'utf8');
      const f = (k) => Number((new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s) ?? [0, 0])[1]);
      r.rss += f('VmRSS'); r.anon += f('RssAnon'); r.file += f('RssFile'); r.shmem += f('RssShmem');
      r.procs++;
    } catch { /* exited */ }
  }
  return r;
}

/** Signals a child spawned detached (its own process group), its descendants and its group. */
export function killTree(child, sig = 'SIGKILL') {
  if (!child?.pid) return;
  for (const p of descendants(child.pid)) try { process.kill(p, sig); } catch { /* gone */ }
  try { process.kill(-child.pid, sig); } catch { /* gone */ }
}
