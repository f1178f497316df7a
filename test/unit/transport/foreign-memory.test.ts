import { describe, expect, it } from 'vitest';
import { decodeForeign, splitRange } from '../../../src/transport/foreign-memory.js';

describe('foreign segments', () => {
  it('decodes the native layout by direction', () => {
    const f = decodeForeign(new Float64Array([0, 80, 0x1_0000_1000, 4096, 1, 16, 0x1_0000_2000, 8192]));
    expect(f.readable).toEqual([{ offset: 80, gpa: 0x1_0000_1000, len: 4096 }]);
    expect(f.writable).toEqual([{ offset: 16, gpa: 0x1_0000_2000, len: 8192 }]);
  });

  it('splits a range into our prefix and guest spans', () => {
    const segs = [
      { offset: 16, gpa: 0x1000, len: 4096 },
      { offset: 4112, gpa: 0x9000, len: 100 },
    ];
    expect(splitRange(segs, 16, 4196)).toEqual({ local: 0, spans: [{ gpa: 0x1000, len: 4096 }, { gpa: 0x9000, len: 100 }] });
    expect(splitRange(segs, 8, 20)).toEqual({ local: 8, spans: [{ gpa: 0x1000, len: 12 }] });
    expect(splitRange(segs, 1000, 3200)).toEqual({ local: 0, spans: [{ gpa: 0x1000 + 984, len: 3112 }, { gpa: 0x9000, len: 88 }] });
    expect(splitRange([], 16, 100)).toEqual({ local: 100, spans: [] });
    // Past the end of the chain: nothing more to move.
    expect(splitRange(segs, 4212, 10)).toEqual({ local: 0, spans: [] });
  });
});
