/**
 * Deterministic pseudo-random numbers for the fuzzer and the load generator: xoshiro128**
 * (Blackman & Vigna) seeded through splitmix32. 32-bit integer arithmetic only, so the same
 * seed gives the same sequence on every platform and Node version.
 *
 * `Prng.forCase(seed, index)` derives an independent generator per fuzz case, so case N can be
 * regenerated alone (`vufs fuzz --replay N`) without running cases 0..N-1.
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      // splitmix32
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** A generator for fuzz case `index` of run `seed`, independent of every other case. */
  static forCase(seed: number, index: number): Prng {
    return new Prng(mix32((seed >>> 0) ^ mix32(index + 0x632be5ab)));
  }

  /** Uniform u32. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform integer in [0, n) for 0 < n ≤ 2^32 (rejection sampling: no modulo bias). */
  below(n: number): number {
    if (!(n > 0 && n <= 0x1_0000_0000)) throw new RangeError(`below(${n})`);
    if (n === 0x1_0000_0000) return this.u32();
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
    for (;;) {
      const x = this.u32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  range(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** Uniform u64 as a bigint. */
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }

  /** true with probability p. */
  chance(p: number): boolean {
    return this.u32() < p * 0x1_0000_0000;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }

  /** Fills `buf[off, off+len)` with random bytes. */
  fill(buf: Buffer, off = 0, len = buf.length - off): void {
    let i = 0;
    for (; i + 4 <= len; i += 4) buf.writeUInt32LE(this.u32(), off + i);
    if (i < len) {
      let x = this.u32();
      for (; i < len; i++, x >>>= 8) buf[off + i] = x & 0xff;
    }
  }

  /** A boundary-biased u32: 0, 1, powers of two and their neighbours, all-ones, or uniform. */
  interestingU32(): number {
    switch (this.below(6)) {
      case 0:
        return this.pick([0, 1, 2, 7, 8, 15, 16, 40, 4095, 4096, 4097, 65535, 65536]);
      case 1:
        return this.pick([0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff]);
      case 2: {
        const p = 2 ** this.below(32);
        return (p + this.range(-1, 1)) >>> 0;
      }
      default:
        return this.u32();
    }
  }

  /** A boundary-biased u64. */
  interestingU64(): bigint {
    switch (this.below(6)) {
      case 0:
        return BigInt(this.interestingU32());
      case 1:
        return this.pick([0n, 1n, 0x7fff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n, 0xffff_ffff_ffff_fffen, 0xffff_ffff_ffff_ffffn]);
      case 2: {
        const p = 1n << BigInt(this.below(64));
        return BigInt.asUintN(64, p + BigInt(this.range(-1, 1)));
      }
      default:
        return this.u64();
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** murmur3's 32-bit finaliser: a bijective mix of a u32. */
export function mix32(x: number): number {
  x = x >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
