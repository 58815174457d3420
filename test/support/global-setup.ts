/**
 * vitest globalSetup: the emulators start once per test run and are stopped on every exit path.
 * Test files read the endpoints with `inject('endpoints')` (see test/support/local-env.ts).
 */
import type { TestProject } from 'vitest/node';
import { startEmulators, type LocalEndpoints } from '../../local/emulators';

declare module 'vitest' {
  export interface ProvidedContext {
    endpoints: LocalEndpoints;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const emulators = await startEmulators();
  project.provide('endpoints', {
    sqs: emulators.sqs,
    s3: emulators.s3,
    dynamodb: emulators.dynamodb,
    region: emulators.region,
  });
  return () => emulators.stop();
}
