/**
 * vitest globalSetup: the emulators start once per test run and are stopped on every exit path.
 * Test files read the endpoints with `inject('endpoints')` (see test/support/local-env.ts).
 * When the run includes the integration tests, the real app is synthesized once (cached by input hash)
 * and its assembly directory is provided as `assemblyDir` (see test/support/local-stack.ts).
 */
import type { TestProject } from 'vitest/node';
import { singleEndpoint, startEmulators, type LocalEndpoints } from '@floodgate/local';
import { synthesize } from '@floodgate/local';

declare module 'vitest' {
  export interface ProvidedContext {
    endpoints: LocalEndpoints;
    /** Synthesized assembly of the real app, or '' when this run has no integration tests. */
    assemblyDir: string;
  }
}

/** True when the CLI filters select the integration tests (or there are no filters: the whole suite). */
function runIncludesIntegration(argv: readonly string[]): boolean {
  const filters = argv.slice(2).filter((a) => !a.startsWith('-') && a !== 'run' && a !== 'watch' && !a.endsWith('vitest.mjs'));
  return filters.length === 0 || filters.some((f) => f.includes('integration'));
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // FLOODGATE_ENDPOINT: run against that AWS-compatible endpoint (moto, LocalStack) instead of the
  // embedded emulators; the functions still run locally (see test/support/target.ts for the skips).
  const external = process.env.FLOODGATE_ENDPOINT;
  const [emulators, assemblyDir] = await Promise.all([
    external ? Promise.resolve(undefined) : startEmulators(),
    // A failed synth is reported by the integration tests themselves (they synthesize again, uncached).
    runIncludesIntegration(process.argv) ? synthesize().then((r) => r.assemblyDir, () => '') : Promise.resolve(''),
  ]);
  // Plain data (it crosses to the test workers): the gateway's one endpoint and the emulators behind it.
  project.provide(
    'endpoints',
    emulators
      ? {
          endpoint: emulators.endpoint,
          sqs: emulators.sqs,
          s3: emulators.s3,
          dynamodb: emulators.dynamodb,
          region: emulators.region,
          ...(emulators.backends ? { backends: emulators.backends } : {}),
        }
      : singleEndpoint(external!),
  );
  project.provide('assemblyDir', assemblyDir);
  return async () => emulators?.stop();
}
