#!/usr/bin/env node
// `vufs`: a userspace vhost-user-fs frontend — plays QEMU and the guest's virtio-fs driver
// against any virtio-fs daemon (ours, the Rust or the C virtiofsd) over its socket.
//
//   vufs load --socket S --workload W [--qd N] [--seconds T] [--json] [--share DIR] ...
//   vufs fuzz --socket S --requests N --seed K [--json] [--replay CASE] ...
//   vufs dax-advise --trace FILE [--sizes 2M,4M,...] [--svg OUT.svg] [--json]
//   vufs walk --socket S [--tree DIRSxFILES --share DIR] [--parallel N] [--no-getattr] [--forget] [--json]
//
// Exit codes: 0 success; 1 the run failed (load: could not run; fuzz: the daemon died, hung or
// answered wrongly); 2 usage error.
import { parseArgs } from 'node:util';

const USAGE = `Usage:
  vufs load --socket S --workload W [options]
      W: randread4k randwrite4k seqread1m seqwrite1m lookup create readdir readdirplus
      --qd N               requests in flight (default 32)
      --seconds T          measured time (default 5; plus a short warm-up)
      --requests N         stop after N measured requests instead (whichever comes first)
      --warmup T           warm-up seconds (default min(0.5, T/10))
      --share DIR          prepare files directly in DIR (the daemon's shared dir)
      --file-size BYTES    data file size for read/write workloads (default 64 MiB; 1M, 512M ok)
      --queues N           request queues (default 1)
      --queue-size N       descriptors per queue (default 1024)
      --no-event-idx       do not negotiate VIRTIO_RING_F_EVENT_IDX
      --coalesce N         interrupt after N+1 completions (EVENT_IDX; default qd/4; 0 = like Linux)
      --daemon-pid PID     daemon process(es) to charge CPU to (repeatable; default: found by socket path)
      --json               one JSON object on stdout
    DAX (randread4k randwrite4k seqread1m seqwrite1m; the daemon needs --dax-window):
      --dax-window SIZE    read/write through a DAX window of SIZE (e.g. 64M) with
                           SETUPMAPPING / REMOVEMAPPING instead of READ / WRITE
      --policy NAME        window reclaim policy: lru (default), clock, arc
      --dax-trace FILE     append the accesses to FILE (JSONL) for vufs dax-advise
      --files N            files in the workload's file set (default 1), each --file-size
  vufs fuzz --socket S [--requests N] [--seed K] [options]
      --requests N         malformed requests to send (default 10000)
      --seed K             PRNG seed (default 1)
      --batch N            cases in flight per batch before the liveness probe (default 32)
      --timeout-ms MS      a chain not returned within MS is a hang (default 5000)
      --replay CASE        run only case number CASE (repeatable) and print it
      --classes A,B        only these case classes (prefix match, e.g. chain.,fuse.name)
      --json               one JSON object on stdout
  vufs walk --socket S [options]
      walks the share as find -ls does (READDIRPLUS every directory, GETATTR every entry) and
      keeps every inode looked up, as a guest's dentry cache does
      --tree DxF           first create D directories of F empty files each in --share DIR
                           (what is there already is kept)
      --parallel N         directories read at once (default 8)
      --no-getattr         READDIRPLUS only
      --forget             FORGET every inode at the end
      --json               one JSON object on stdout
  vufs dax-advise --trace FILE [options]
      replays a DAX trace (vufs load --dax-trace, or the daemon's) through every reclaim
      policy at several window sizes and prints the miss ratio of each
      --sizes A,B,...      window sizes (default: powers of two up to the working set)
      --svg OUT.svg        also write the miss-ratio curves as an SVG chart
      --json               the result as one JSON object on stdout
`;

function fail(msg: string): never {
  process.stderr.write(`vufs: ${msg}\n`);
  process.exit(2);
}

/** A byte count: 4096, 64M, 2MiB, 1G, 512k. */
function parseSize(v: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(v.trim());
  if (m === null) fail(`--${name}: not a size: ${v}`);
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
}

function intArg(v: string | undefined, name: string, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) fail(`--${name} must be a non-negative number`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  const { values } = parseArgs({
    args: argv.slice(1),
    options: {
      socket: { type: 'string' },
      'socket-path': { type: 'string' },
      workload: { type: 'string', short: 'w' },
      qd: { type: 'string' },
      seconds: { type: 'string' },
      requests: { type: 'string' },
      warmup: { type: 'string' },
      share: { type: 'string' },
      'file-size': { type: 'string' },
      queues: { type: 'string' },
      'queue-size': { type: 'string' },
      'no-event-idx': { type: 'boolean' },
      coalesce: { type: 'string' },
      'daemon-pid': { type: 'string', multiple: true },
      json: { type: 'boolean' },
      seed: { type: 'string' },
      batch: { type: 'string' },
      'timeout-ms': { type: 'string' },
      replay: { type: 'string', multiple: true },
      classes: { type: 'string' },
      'dax-window': { type: 'string' },
      policy: { type: 'string' },
      'dax-trace': { type: 'string' },
      files: { type: 'string' },
      trace: { type: 'string' },
      sizes: { type: 'string' },
      svg: { type: 'string' },
      tree: { type: 'string' },
      parallel: { type: 'string' },
      'no-getattr': { type: 'boolean' },
      forget: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const json = values.json === true;
  if (cmd === 'dax-advise') {
    if (values.trace === undefined) fail('--trace is required');
    const { readTrace } = await import('../frontend/dax/trace-reader.js');
    const { advise, formatAdvice, adviceChart } = await import('../frontend/dax/advisor.js');
    const sizes = values.sizes?.split(',').filter((x) => x !== '').map((x) => parseSize(x, 'sizes'));
    const r = advise(readTrace(values.trace), sizes);
    if (values.svg !== undefined) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(values.svg, adviceChart(r));
    }
    process.stdout.write(json ? JSON.stringify(r) + '\n' : formatAdvice(r) + (values.svg !== undefined ? `chart: ${values.svg}\n` : ''));
    return 0;
  }

  const socketPath = values.socket ?? values['socket-path'];
  if (socketPath === undefined) fail('--socket is required');
  const daemonPids = values['daemon-pid']?.map((p) => intArg(p, 'daemon-pid')!);

  if (cmd === 'load') {
    const { runLoad, WORKLOADS } = await import('../frontend/load.js');
    const workload = values.workload as (typeof WORKLOADS)[number] | undefined;
    if (workload === undefined || !WORKLOADS.includes(workload)) fail(`--workload must be one of ${WORKLOADS.join(', ')}`);
    const common = {
      socketPath,
      workload,
      qd: intArg(values.qd, 'qd'),
      seconds: intArg(values.seconds, 'seconds'),
      maxRequests: intArg(values.requests, 'requests'),
      warmupSeconds: intArg(values.warmup, 'warmup'),
      shareDir: values.share,
      fileSize: values['file-size'] === undefined ? undefined : parseSize(values['file-size'], 'file-size'),
      queues: intArg(values.queues, 'queues'),
      queueSize: intArg(values['queue-size'], 'queue-size'),
      eventIdx: values['no-event-idx'] === true ? false : undefined,
      coalesce: intArg(values.coalesce, 'coalesce'),
      daemonPids,
      seed: intArg(values.seed, 'seed'),
      log: json ? undefined : (m: string) => process.stderr.write(`vufs: ${m}\n`),
    };
    if (values['dax-window'] !== undefined) {
      const { runDaxLoad } = await import('../frontend/dax-load.js');
      const { POLICIES } = await import('../frontend/dax/policies/index.js');
      const policy = values.policy ?? 'lru';
      if (POLICIES[policy] === undefined) fail(`--policy must be one of ${Object.keys(POLICIES).join(', ')}`);
      const r = await runDaxLoad({
        ...common,
        daxWindow: parseSize(values['dax-window'], 'dax-window'),
        policy,
        daxTrace: values['dax-trace'],
        files: intArg(values.files, 'files'),
      });
      if (json) {
        process.stdout.write(JSON.stringify(r) + '\n');
      } else {
        process.stdout.write(
          `${r.workload} via DAX window ${r.dax_window / 2 ** 20} MiB (${r.policy}), ${r.files} × ${r.file_size} bytes, qd=${r.qd}: ` +
            `${r.ops_per_s} ops/s, ${r.mb_per_s} MB/s, p50 ${r.p50_us} µs, p99 ${r.p99_us} µs, errors ${r.errors}` +
            `${r.errors > 0 ? ` (${r.error_sample})` : ''}\n` +
            `hit ratio ${(100 * r.dax_hit_ratio).toFixed(1)}% (${r.dax_hits} hits, ${r.dax_misses} misses), ` +
            `setups ${r.setups}, removes ${r.removes}, evictions ${r.evictions}\n`,
        );
      }
      return r.errors > 0 && r.requests === 0 ? 1 : 0;
    }
    if (values.policy !== undefined || values['dax-trace'] !== undefined || values.files !== undefined) fail('--policy, --dax-trace and --files need --dax-window');
    const r = await runLoad(common);
    if (json) {
      process.stdout.write(JSON.stringify(r) + '\n');
    } else {
      const dcpu = r.daemon_cpu_us_per_op === null ? 'n/a' : `${r.daemon_cpu_us_per_op} µs`;
      process.stdout.write(
        `${r.workload} qd=${r.qd} bs=${r.block_size}: ${r.ops_per_s} ops/s, ${r.mb_per_s} MB/s, ` +
          `p50 ${r.p50_us} µs, p99 ${r.p99_us} µs, ${r.requests} requests in ${r.seconds} s, errors ${r.errors}` +
          `${r.errors > 0 ? ` (${r.error_sample})` : ''}\n` +
          `cpu per request: frontend ${r.cpu_us_per_op} µs, daemon ${dcpu} (pids ${r.daemon_pids.join(',') || 'none'}); ` +
          `kicks/op ${r.kicks_per_op}, interrupts/op ${r.interrupts_per_op}\n`,
      );
    }
    return 0;
  }

  if (cmd === 'fuzz') {
    const { runFuzz, formatFuzzReport } = await import('../frontend/fuzz.js');
    const r = await runFuzz({
      socketPath,
      requests: intArg(values.requests, 'requests', 10000)!,
      seed: intArg(values.seed, 'seed', 1)!,
      batch: intArg(values.batch, 'batch'),
      timeoutMs: intArg(values['timeout-ms'], 'timeout-ms'),
      replay: values.replay?.map((c) => intArg(c, 'replay')!),
      classes: values.classes?.split(',').filter((c) => c !== ''),
      daemonPids,
      // Progress goes to stderr even with --json (stdout carries only the report).
      log: (m) => process.stderr.write(`vufs: ${m}\n`),
    });
    process.stdout.write(json ? JSON.stringify(r) + '\n' : formatFuzzReport(r));
    return r.ok ? 0 : 1;
  }

  if (cmd === 'walk') {
    const { makeTree, walkTree } = await import('../frontend/walk.js');
    if (values.tree !== undefined) {
      const m = /^(\d+)x(\d+)$/.exec(values.tree);
      if (m === null) fail('--tree must be DIRSxFILES, e.g. 100x1000');
      if (values.share === undefined) fail('--tree needs --share DIR (the daemon\'s shared directory)');
      makeTree(values.share, Number(m[1]), Number(m[2]));
    }
    const { VhostUserFrontend } = await import('../frontend/vhost-user-frontend.js');
    const { FuseClient } = await import('../frontend/fuse-client.js');
    const frontend = VhostUserFrontend.connect({ socketPath });
    try {
      const fuse = new FuseClient(frontend);
      await fuse.init();
      const r = await walkTree(fuse, 1, { parallel: intArg(values.parallel, 'parallel'), getattr: values['no-getattr'] !== true, forget: values.forget === true });
      const errors = Object.entries(r.errors).map(([errno, n]) => `errno ${errno}: ${n}`);
      process.stdout.write(
        json
          ? JSON.stringify(r) + '\n'
          : `${r.entries} entries in ${r.directories} directories, ${r.seconds.toFixed(2)} s (${Math.round(r.entries / r.seconds)} entries/s)` +
              `${errors.length > 0 ? `; errors: ${errors.join(', ')}` : ''}\n`,
      );
      return Object.keys(r.errors).length > 0 ? 1 : 0;
    } finally {
      frontend.close();
    }
  }

  fail(`unknown command ${cmd} (load, fuzz, walk, dax-advise)`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`vufs: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
