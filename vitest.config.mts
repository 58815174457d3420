import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    // The new users' projects (packed tarballs, offline installs, the stock CLIs) are their own suite:
    // `npm run test:new-user` (vitest.new-user.config.mts), run by .ci/run after `npm test`.
    exclude: ['test/new-user/**', '**/node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    // 2 cores: sharp, esbuild and the JVM already use both; more forks only thrash.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
