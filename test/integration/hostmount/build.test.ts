/**
 * A small C project built with make + gcc ON the host mount: compile, archive into a static
 * library, link, run; an incremental rebuild after a header change; `make -j`; and the same
 * objects and output as the identical build on a plain directory.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { sh, useMountAndPlain } from './helpers.js';

// Root and /dev/fuse are prerequisites CI meets: without them every test here fails.
const fx = useMountAndPlain();

const FILES: Record<string, string> = {
  'include/calc.h': [
    '#ifndef CALC_H',
    '#define CALC_H',
    '#define CALC_SCALE 3',
    'long calc_sum(const long *v, int n);',
    'long calc_scaled(long x);',
    'const char *calc_name(void);',
    '#endif',
  ].join('\n'),
  'lib/sum.c': '#include "calc.h"\nlong calc_sum(const long *v, int n) { long s = 0; for (int i = 0; i < n; i++) s += v[i]; return s; }\n',
  'lib/scale.c': '#include "calc.h"\nlong calc_scaled(long x) { return x * CALC_SCALE; }\n',
  'lib/name.c': '#include "calc.h"\nconst char *calc_name(void) { return "calc"; }\n',
  'app/main.c': [
    '#include <stdio.h>',
    '#include "calc.h"',
    'int main(void) {',
    '  long v[100];',
    '  for (int i = 0; i < 100; i++) v[i] = i * i;',
    '  printf("%s %ld %ld\\n", calc_name(), calc_sum(v, 100), calc_scaled(calc_sum(v, 100)));',
    '  return 0;',
    '}',
  ].join('\n'),
  Makefile: [
    'CC ?= gcc',
    'CFLAGS = -O2 -Wall -Werror -Iinclude -MMD -MP -ffile-prefix-map=$(CURDIR)=.',
    'LIB_OBJS = lib/sum.o lib/scale.o lib/name.o',
    'all: app/calc',
    'lib/libcalc.a: $(LIB_OBJS)',
    '\t$(AR) rcsD $@ $^',
    'app/calc: app/main.o lib/libcalc.a',
    '\t$(CC) -o $@ app/main.o -Llib -lcalc',
    '%.o: %.c',
    '\t$(CC) $(CFLAGS) -c -o $@ $<',
    'clean:',
    '\trm -f app/calc lib/libcalc.a $(LIB_OBJS) app/main.o $(LIB_OBJS:.o=.d) app/main.d',
    '-include $(LIB_OBJS:.o=.d) app/main.d',
    '.PHONY: all clean',
    '',
  ].join('\n'),
};

function writeProject(root: string): string {
  const proj = join(root, 'proj');
  for (const [rel, text] of Object.entries(FILES)) {
    mkdirSync(join(proj, rel, '..'), { recursive: true });
    writeFileSync(join(proj, rel), text);
  }
  return proj;
}

const BUILD = [
  'make -s 2>&1',
  './app/calc',
  'make -q && echo up-to-date',
  "sleep 1.1; sed -i 's/CALC_SCALE 3/CALC_SCALE 5/' include/calc.h",
  "make 2>&1 | grep -c -- '-c -o' || true",
  './app/calc',
  'make clean >/dev/null && make -s -j4 2>&1 && ./app/calc',
  'sha256sum lib/*.o app/main.o lib/libcalc.a',
].join('\n');

describe('make + gcc on the host mount', () => {
  it('builds, runs, rebuilds incrementally after a header change, builds in parallel — as on a plain directory', () => {
    const onMount = sh(BUILD, writeProject(join(fx.m.mnt)));
    const onPlain = sh(BUILD, writeProject(fx.plain.dir));
    expect(onMount).toBe(onPlain);
    const lines = onMount.split('\n');
    expect(lines[0]).toBe('calc 328350 985050');
    expect(lines[1]).toBe('up-to-date');
    expect(lines[2]).toBe('4'); // every object depends on calc.h
    expect(lines[3]).toBe('calc 328350 1641750');
    expect(lines[4]).toBe('calc 328350 1641750');
  });
});
