/**
 * Finds the queues and builds the SQS client, the same way for the local stack and a real account:
 * queue URLs from the stack outputs (the `cdk deploy --outputs-file` format, which the local deployer
 * also writes), endpoint and credentials from the standard AWS environment.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SQSClient } from '@aws-sdk/client-sqs';
import { STACK_NAME, STACK_OUTPUTS } from '../../lambda/shared/contract';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '@floodgate/local';

export const DEFAULT_OUTPUT_FILES = ['.floodgate/local/outputs.json', 'cdk-outputs.json'] as const;

export interface QueueTarget {
  readonly deadLetterQueueUrl: string;
  readonly sourceQueueUrl?: string;
  /** Where the URLs came from (printed so the operator knows which stack they are touching). */
  readonly origin: string;
}

export interface TargetOptions {
  readonly outputsFile?: string;
  readonly stackName?: string;
  readonly deadLetterQueueUrl?: string;
  readonly sourceQueueUrl?: string;
}

/** Reads `{ "<stack>": { "DeadLetterQueueUrl": ..., "JobQueueUrl": ... } }` from an outputs file. */
export function queuesFromOutputs(json: unknown, stackName: string, file: string): QueueTarget {
  if (typeof json !== 'object' || json === null) throw new Error(`${file}: not a JSON object`);
  const stacks = json as Record<string, unknown>;
  const outputs = stacks[stackName];
  if (typeof outputs !== 'object' || outputs === null) {
    throw new Error(`${file}: no stack "${stackName}" (found: ${Object.keys(stacks).join(', ') || 'none'}); pass --stack NAME`);
  }
  const o = outputs as Record<string, unknown>;
  const dlq = o[STACK_OUTPUTS.deadLetterQueueUrl];
  const src = o[STACK_OUTPUTS.jobQueueUrl];
  if (typeof dlq !== 'string') throw new Error(`${file}: stack "${stackName}" has no ${STACK_OUTPUTS.deadLetterQueueUrl} output`);
  return { deadLetterQueueUrl: dlq, sourceQueueUrl: typeof src === 'string' ? src : undefined, origin: `${file} (${stackName})` };
}

export function resolveTarget(options: TargetOptions, cwd = process.cwd()): QueueTarget {
  if (options.deadLetterQueueUrl !== undefined) {
    return { deadLetterQueueUrl: options.deadLetterQueueUrl, sourceQueueUrl: options.sourceQueueUrl, origin: '--dlq-url' };
  }
  const stack = options.stackName ?? STACK_NAME;
  const candidates = options.outputsFile !== undefined ? [options.outputsFile] : DEFAULT_OUTPUT_FILES.map((f) => `${cwd}/${f}`);
  const file = candidates.find((f) => existsSync(f));
  if (file === undefined) {
    throw new Error(
      options.outputsFile !== undefined
        ? `outputs file ${options.outputsFile} not found`
        : `no stack outputs found (${DEFAULT_OUTPUT_FILES.join(' or ')}): run \`npm start -- --keep\` or \`cdk deploy --outputs-file cdk-outputs.json\`, or pass --outputs FILE / --dlq-url URL`,
    );
  }
  const target = queuesFromOutputs(JSON.parse(readFileSync(file, 'utf8')), stack, file);
  return options.sourceQueueUrl !== undefined ? { ...target, sourceQueueUrl: options.sourceQueueUrl } : target;
}

/**
 * Scheme, host and port of a queue URL. Not `new URL()`: emulators return hosts like
 * `sqs.us-east-1.127.0.0.1`, which WHATWG URL parsing rejects (a dotted name ending in digits).
 */
export function queueUrlParts(queueUrl: string): { scheme: string; host: string; port?: string } {
  const m = /^(https?):\/\/([^/:]+)(?::(\d+))?(?:\/|$)/.exec(queueUrl);
  if (m === null) throw new Error(`not a queue URL: ${queueUrl}`);
  return { scheme: m[1]!, host: m[2]!.toLowerCase(), port: m[3] };
}

const LOOPBACK = /(^|\.)(127\.0\.0\.1|localhost)$/;

/**
 * An SQS client for the target. The SDK honours AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL and the usual
 * credential chain by itself; when neither endpoint variable is set and the queue URL is a loopback URL
 * (the local stack's outputs), the queue URL's origin is the endpoint and the local credentials apply.
 * The region comes from AWS_REGION, else from an `sqs.<region>.amazonaws.com` queue URL.
 */
export function sqsClientFor(target: QueueTarget, env: NodeJS.ProcessEnv = process.env): SQSClient {
  const url = queueUrlParts(target.deadLetterQueueUrl);
  const endpointFromEnv = env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL;
  const regionFromUrl = /^sqs\.([a-z0-9-]+)\./.exec(url.host)?.[1];
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? regionFromUrl ?? LOCAL_REGION;
  const loopback = LOOPBACK.exec(url.host);
  if (endpointFromEnv === undefined && loopback !== null) {
    const hasCreds = env.AWS_ACCESS_KEY_ID !== undefined || env.AWS_PROFILE !== undefined;
    const endpoint = `${url.scheme}://${loopback[2]}${url.port === undefined ? '' : `:${url.port}`}`;
    return new SQSClient({ region, endpoint, ...(hasCreds ? {} : { credentials: LOCAL_CREDENTIALS }) });
  }
  return new SQSClient({ region });
}
