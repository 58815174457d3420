import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Synthesizing and starting the local stack take a few seconds each.
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
