import { defineConfig } from 'vitest/config';

/**
 * What a new user does, from projects outside this repository that installed the packed tarballs:
 * `cdk init` with a BoundedQueueConsumer, the Lambda runtime as AWS provides it, the event apps of
 * aws-cdk-examples and our own, the stock CDK CLI against the endpoint, the console in Chromium, state
 * across restarts. Each file installs once, offline; `npm run test:new-user`.
 */
export default defineConfig({
  test: {
    include: ['test/new-user/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
