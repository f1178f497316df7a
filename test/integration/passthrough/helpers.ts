// Shared by the passthrough integration tests: a temp share, request contexts, and a tiny
// ZeroCopyWriter/Reader backed by sys_pread/sys_pwrite (the transport does this into guest
// memory in production).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestContext, SetattrRequest, ZeroCopyReader, ZeroCopyWriter } from '../../../src/filesystem/filesystem.js';
import { PassthroughFs, type PassthroughOptions } from '../../../src/passthrough/passthrough.js';
import * as sys from '../../../src/native/syscalls.js';

export const root: RequestContext = { uid: 0, gid: 0, pid: 1 };
export const user = (uid: number, gid: number): RequestContext => ({ uid, gid, pid: 2 });

export interface Share {
  dir: string;
  fs: PassthroughFs;
  cleanup(): Promise<void>;
}

export async function makeShare(opts: Partial<PassthroughOptions> = {}): Promise<Share> {
  process.umask(0);
  const dir = mkdtempSync(join(tmpdir(), 'vfs-pt-'));
  const fs = await PassthroughFs.create({ root: dir, cache: 'auto', announceSubmounts: false, ...opts });
  return {
    dir,
    fs,
    async cleanup() {
      await fs.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const name = (s: string): Buffer => Buffer.from(s);

/** Collects what the file system reads into a Buffer. */
export class BufferWriter implements ZeroCopyWriter {
  data = Buffer.alloc(0);
  async writeFromFile(fd: number, offset: bigint, len: number): Promise<number> {
    const buf = Buffer.alloc(len);
    const n = await sys.pread(fd, buf, 0, len, offset);
    if (n < 0) throw Object.assign(new Error('pread'), { errno: -n });
    this.data = Buffer.concat([this.data, buf.subarray(0, n)]);
    return n;
  }
}

/** Supplies write payload from a Buffer. */
export class BufferReader implements ZeroCopyReader {
  constructor(private readonly data: Buffer) {}
  get length(): number {
    return this.data.length;
  }
  async readToFile(fd: number, offset: bigint, len: number): Promise<number> {
    const n = await sys.pwrite(fd, this.data, 0, len, offset);
    if (n < 0) throw Object.assign(new Error('pwrite'), { errno: -n });
    return n;
  }
}

export function setattrReq(p: Partial<SetattrRequest>): SetattrRequest {
  return {
    valid: 0,
    fh: 0,
    size: 0n,
    mode: 0,
    uid: 0,
    gid: 0,
    atime: 0n,
    atimensec: 0,
    mtime: 0n,
    mtimensec: 0,
    ctime: 0n,
    ctimensec: 0,
    ...p,
  };
}

/** Open file descriptors of this process (to catch leaks). */
export async function fdCount(): Promise<number> {
  const { readdirSync } = await import('node:fs');
  return readdirSync('/proc/self/fd').length;
}
