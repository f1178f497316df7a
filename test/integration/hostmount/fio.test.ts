/**
 * fio with data verification (crc32c) on the host mount: buffered sequential and random I/O,
 * mmap, O_DIRECT with libaio, several jobs at once, and a verify pass in a fresh process that
 * reads back what an earlier one wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startHostMount, type HostMount } from './helpers.js';

let m: HostMount | undefined;

// Root and /dev/fuse are prerequisites CI meets: without them startHostMount throws and every
// test here fails.
beforeAll(async () => {
  m = await startHostMount({ args: ['--thread-pool-size=4'] });
});

afterAll(async () => {
  if (m === undefined) return; // beforeAll failed, already reported
  expect(await m.stop()).toBe(0);
});

interface FioJob {
  error: number;
  read: { io_bytes: number };
  write: { io_bytes: number };
  verify_errors?: number;
}

function fio(args: string): FioJob[] {
  const r = run(`fio --output-format=json --directory=. ${args}`, m!.mnt, 300_000);
  expect(r.status, r.stderr + r.stdout).toBe(0);
  const jobs = (JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: FioJob[] }).jobs;
  for (const j of jobs) expect(j.error).toBe(0);
  return jobs;
}

const VERIFY = '--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_dump=0';

describe('fio --verify=crc32c on the host mount (4 worker threads)', () => {
  it('sequential write then verify, 1 MiB blocks (max_write-sized WRITEs)', () => {
    const [job] = fio(`--name=seq --size=96M --bs=1M --rw=write --ioengine=psync ${VERIFY}`);
    expect(job.write.io_bytes).toBe(96 * 1024 * 1024);
    expect(job.read.io_bytes).toBe(96 * 1024 * 1024);
  });

  it('random writes of odd block sizes (bssplit), then verify', () => {
    fio(`--name=rand --size=32M --bssplit=512/10:4k/40:12k/20:64k/20:200k/10 --rw=randwrite --ioengine=psync ${VERIFY}`);
  });

  it('mmap engine (shared writable mapping through the page cache)', () => {
    fio(`--name=mmap --size=32M --bs=64k --rw=randwrite --ioengine=mmap ${VERIFY}`);
  });

  it('O_DIRECT with libaio, queue depth 16', () => {
    fio(`--name=direct --size=32M --bs=16k --rw=randwrite --direct=1 --ioengine=libaio --iodepth=16 ${VERIFY}`);
  });

  it('four jobs in parallel, random writes, each verified', () => {
    const jobs = fio(`--name=par --numjobs=4 --size=16M --bs=32k --rw=randwrite --ioengine=psync ${VERIFY} --group_reporting=0`);
    expect(jobs).toHaveLength(4);
  });

  it('more 1 MiB writes in flight than the transport has large buffers (reading pauses, then resumes)', () => {
    fio(`--name=deep --numjobs=2 --size=64M --bs=1M --rw=randwrite --direct=1 --ioengine=libaio --iodepth=64 ${VERIFY}`);
  });

  it('a verify-only pass in a new process reads back an earlier write after the page cache is dropped', () => {
    fio('--name=later --size=48M --bs=256k --rw=write --ioengine=psync --verify=crc32c --do_verify=0');
    expect(run('sync; echo 3 > /proc/sys/vm/drop_caches', '/').status).toBe(0);
    const [job] = fio('--name=later --size=48M --bs=256k --rw=read --ioengine=psync --verify=crc32c --verify_only=1 --verify_fatal=1');
    expect(job.error).toBe(0);
  });
});
