/** Helpers for the infrastructure tests: apps that skip bundling, and a stack to put constructs in. */
import { App, Stack } from 'aws-cdk-lib';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A handler file that exists (bundling is skipped, but NodejsFunction still checks the entry). */
export const SAMPLE_ENTRY = fileURLToPath(new URL('../../lambda/image-worker/handler.ts', import.meta.url));

/** The feature flags of cdk.json, so tests synthesize what `cdk synth` synthesizes. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../cdk.json', import.meta.url)), 'utf8'),
).context;

/** An app (with cdk.json's context) whose stacks are never bundled: Template assertions only, fast. */
export function unbundledApp(context: Record<string, unknown> = {}): App {
  return new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context } });
}

export function unbundledStack(context: Record<string, unknown> = {}): Stack {
  return new Stack(unbundledApp(context), 'TestStack');
}
