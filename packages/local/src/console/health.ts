/**
 * `GET /_localstack/health` in LocalStack's format, so that tools written for LocalStack (awslocal
 * wrappers, Testcontainers-style waits, CI scripts polling the health route) find the local stack:
 * `{"services": {"sqs": "running", ...}, "edition": ..., "version": ...}`. Each service the endpoint
 * serves is "running" (the gateway answers for it, its emulator is up); nothing is reported that it does
 * not serve. Nothing else of LocalStack is imitated.
 */
import { readFileSync } from 'node:fs';

export const HEALTH_PATH = '/_localstack/health';

export interface HealthReport {
  readonly services: Readonly<Record<string, 'running'>>;
  readonly edition: string;
  readonly version: string;
}

/**
 * The report for the served signing names. DynamoDB Streams is signed `dynamodb` but LocalStack (and the
 * tools reading this) name it `dynamodbstreams`: it is served wherever DynamoDB is.
 */
export function healthReport(signingNames: readonly string[], version: string): HealthReport {
  const names = new Set(signingNames);
  if (names.has('dynamodb')) names.add('dynamodbstreams');
  return { services: Object.fromEntries([...names].sort().map((n) => [n, 'running' as const])), edition: 'floodgate-local', version };
}

let cachedVersion: string | undefined;
/** @floodgate/local's version (its package.json, two levels up from src/console or dist/console). */
export function packageVersion(): string {
  cachedVersion ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return cachedVersion;
}
