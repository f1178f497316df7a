import { defineConfig } from 'vitest/config';

// Kept under test/ so the repository's top level stays as documented in the README.
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    // Each test file in its own process: the native worker pool is per process and cannot shrink.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
