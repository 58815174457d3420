/**
 * `npm start -- --target localstack` (or AWS_ENDPOINT_URL set): deploy the same app with cdklocal and
 * push the same jobs through the deployed stack (its Lambdas run inside LocalStack). It cannot run on
 * the machine this was built on (no Docker, and LocalStack now needs an auth token), so this path is
 * deliberately small: deploy, read the outputs file, reuse runJobs, print the same summary and JSON.
 * Not observable here: concurrent executions (LocalStack runs the functions), so those fields are null.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ARCH_CONTEXT, STACK_NAME, STACK_OUTPUTS } from '../lambda/shared/contract';
import { createApiClient } from './api-client';
import { LOCAL_CREDENTIALS, LOCAL_REGION, singleEndpoint } from '@floodgate/local';
import { pipelineClients } from './producer';
import { runJobs } from './run-jobs';
import { writeDefaultSamples } from './samples';
import { detail, downloadRenditions, table } from './summary';
import { hostArchitecture } from '@floodgate/local';

const run = promisify(execFile);

export interface LocalStackRunArgs {
  readonly images?: string;
  readonly out?: string;
  readonly json: boolean;
  readonly keep: boolean;
  /** LocalStack's URL. @default $AWS_ENDPOINT_URL, else http://localhost:4566 */
  readonly endpoint?: string;
  readonly say: (line: string) => void;
}

export async function runOnLocalStack(args: LocalStackRunArgs): Promise<number> {
  const { say } = args;
  const endpoint = args.endpoint ?? process.env.AWS_ENDPOINT_URL ?? 'http://localhost:4566';
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? LOCAL_REGION;
  try {
    await run('npx', ['--no-install', 'cdklocal', '--version']);
  } catch {
    say('cdklocal is not installed: `npm install --no-save aws-cdk-local@3`, start LocalStack (needs Docker and LOCALSTACK_AUTH_TOKEN), then retry.');
    return 1;
  }
  const outputsFile = resolve('.floodgate/localstack/outputs.json');
  const env = { ...process.env, AWS_ENDPOINT_URL: endpoint, AWS_REGION: region, AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test', AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test' };
  const ctx = ['-c', `${ARCH_CONTEXT}=${hostArchitecture()}`];
  say(`localstack: cdklocal bootstrap + deploy ${STACK_NAME} at ${endpoint}`);
  try {
    await run('npx', ['--no-install', 'cdklocal', 'bootstrap', ...ctx], { env, maxBuffer: 64 << 20 });
    await run('npx', ['--no-install', 'cdklocal', 'deploy', STACK_NAME, '--require-approval', 'never', '--outputs-file', outputsFile, ...ctx], { env, maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    say(`cdklocal deploy failed:\n${(e.stderr ?? e.message).slice(-3000)}`);
    return 1;
  }
  const outputs = (JSON.parse(readFileSync(outputsFile, 'utf8')) as Record<string, Record<string, string>>)[STACK_NAME] ?? {};
  const endpoints = singleEndpoint(endpoint, region);
  const clients = pipelineClients(endpoints);
  try {
    const apiUrl = outputs[STACK_OUTPUTS.apiUrl];
    const api = apiUrl ? createApiClient({ baseUrl: apiUrl, region, credentials: LOCAL_CREDENTIALS }) : undefined;
    const files = args.images
      ? (await import('node:fs')).readdirSync(resolve(args.images)).map((f) => resolve(args.images!, f))
      : await writeDefaultSamples(resolve('.floodgate/samples'));
    const result = await runJobs({ files, clients, outputs, ...(api ? { api } : {}) });
    say(table([['file', 'status', 'job', 'renditions / reason'], ...result.jobs.map((j) => [basename(j.file), j.status, j.jobId ?? '-', detail(j)])]));
    if (args.out) await downloadRenditions(clients, outputs[STACK_OUTPUTS.renditionsBucket]!, result.jobs, resolve(args.out));
    const count = (s: string) => result.jobs.filter((j) => j.status === s).length;
    if (args.json) {
      process.stdout.write(
        `${JSON.stringify({
          submitted: result.jobs.length,
          completed: count('completed'),
          failed: count('failed') + count('dead-lettered'),
          deadLettered: result.deadLettered,
          pending: count('pending'),
          maxConcurrentExecutions: null,
          reservedConcurrency: null,
          elapsedMs: Math.round(result.elapsedMs),
          jobs: result.jobs.map((j) => ({ file: basename(j.file), jobId: j.jobId, status: j.status, renditions: j.renditions, ...(j.error ? { error: j.error } : {}) })),
        })}\n`,
      );
    }
    if (args.keep) say(`endpoint=${endpoint}${apiUrl ? `\napi=${apiUrl}` : ''}`);
    return result.timedOut ? 1 : 0;
  } finally {
    clients.destroy();
  }
}
