/**
 * `floodgate-local up`: synthesize or read the assembly, check the prerequisites, start the emulators
 * (or use --endpoint), deploy, run the functions and their mappings, print `endpoint=URL` (or one JSON
 * line). With --keep it serves until SIGINT/SIGTERM and then stops everything it started (the JVM and
 * the function processes included); without, it waits for the mapped queues to drain and exits.
 *
 * Exit codes: 0 done, 1 failure (synth, deploy, ...), 2 usage, 3 a missing prerequisite.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { loadIamSimulator } from '../gateway/iam/evaluate.js';
import { PrerequisiteError, checkPrerequisites } from '../prerequisites.js';
import { startLocalStack, type LocalStack } from '../stack.js';
import type { LogEntry } from '../lambda-host/index.js';
import { USAGE, UsageError, parseCli, type FireArgs, type ResetArgs, type UpArgs } from './args.js';
import { CONTROL_SIGNING_NAME, RESET_PATH } from '../gateway/control.js';
import { signedPost } from '../services/events/deliver.js';
import { LOCAL_CREDENTIALS } from '../core/identity.js';
import { deliveryFailureLines, summarize } from './summary.js';

const say = (line: string): void => void process.stderr.write(`${line}\n`);

/** A function's log line in the `up` output: prefixed with the function's name, as `sam logs` does. */
export function functionLogLine(e: Pick<LogEntry, 'functionName' | 'line'>): string {
  return `[${e.functionName}] ${e.line}`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const args = parseCli(argv);
    if (args.command === 'help') return void process.stdout.write(`${USAGE}\n`), 0;
    if (args.command === 'version') return void process.stdout.write(`${version()}\n`), 0;
    if (args.command === 'check') {
      checkPrerequisites();
      process.stdout.write(`ok: Node ${process.versions.node}, Java found\n`);
      // Optional: IAM enforcement needs the (AGPL-licensed) simulator, installed by the user.
      process.stdout.write(
        (await loadIamSimulator()) !== undefined
          ? 'ok: @cloud-copilot/iam-simulate installed: IAM is enforced by default (--no-iam turns it off)\n'
          : 'optional: @cloud-copilot/iam-simulate not installed: IAM is NOT enforced. To enforce it: npm i -D @cloud-copilot/iam-simulate\n',
      );
      return 0;
    }
    if (args.command === 'fire') return await fire(args);
    if (args.command === 'reset') return await reset(args);
    return await up(args);
  } catch (err) {
    if (err instanceof UsageError) {
      say(`floodgate-local: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof PrerequisiteError) {
      say(`floodgate-local: missing prerequisite.\n${err.message}`);
      return 3;
    }
    say(`floodgate-local: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

/** One line per rule or schedule that ran: invocations, failed invocations, dead-lettered. */
export function eventLines(stack: Pick<LocalStack, 'stats'>): string[] {
  const { rules, schedules } = stack.stats().events;
  return [
    ...rules.filter((r) => r.triggeredRules > 0).map((r) => `events: rule ${r.name} (bus ${r.bus}): ${r.triggeredRules} triggered, ${r.invocations} invocations, ${r.failedInvocations} failed, ${r.deadLetterInvocations} dead-lettered`),
    ...schedules.filter((x) => x.runs > 0).map((x) => `scheduler: schedule ${x.name}: ${x.runs} runs, ${x.invocations} invocations, ${x.failedInvocations} failed, ${x.deadLetterInvocations} dead-lettered`),
  ];
}

/** `fire NAME`: POST /_floodgate/schedules/NAME/fire on a running stack's endpoint, signed. */
async function fire(args: FireArgs): Promise<number> {
  const credentials = process.env.AWS_ACCESS_KEY_ID && process.env.AWS_SECRET_ACCESS_KEY ? { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY } : LOCAL_CREDENTIALS;
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const res = await signedPost(args.endpoint, region, credentials, 'events', `/_floodgate/schedules/${encodeURIComponent(args.name)}/fire`, {}, '');
  const text = await res.text();
  if (res.status >= 300) {
    say(`floodgate-local: fire ${args.name}: ${res.status} ${text}`);
    return 1;
  }
  process.stdout.write(`${text}\n`);
  const outcome = JSON.parse(text) as { targets?: Array<{ outcome?: { status?: string } }> };
  return (outcome.targets ?? []).every((t) => t.outcome?.status === 'delivered') ? 0 : 1;
}

/** `reset`: POST /_floodgate/reset on a running stack's endpoint, signed as the local admin. */
async function reset(args: ResetArgs): Promise<number> {
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const res = await signedPost(args.endpoint, region, LOCAL_CREDENTIALS, CONTROL_SIGNING_NAME, RESET_PATH, {}, '');
  const text = await res.text();
  if (res.status >= 300) {
    say(`floodgate-local: reset: ${res.status} ${text}`);
    return 1;
  }
  process.stdout.write(`${text}\n`);
  return 0;
}

async function drained(stack: LocalStack): Promise<void> {
  for (;;) {
    let pending = 0;
    for (const m of stack.deployment.eventSourceMappings) {
      const a = await stack.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: m.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      pending += Number(a.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    }
    const inFlight = [...stack.runners.values()].reduce((n, r) => n + r.stats().inFlight, 0);
    if (pending === 0 && inFlight === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function up(args: UpArgs): Promise<number> {
  // Before anything starts: Node, and Java unless the resources go to an external endpoint.
  checkPrerequisites({ java: args.endpoint === undefined });

  let signalled: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  const onSignal = (s: NodeJS.Signals): void => {
    signalled = s;
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A parent that holds our stdin (the testing entry) stops us by exiting, however it exits.
  if (args.stopOnStdinClose) {
    process.stdin.on('end', () => onSignal('SIGHUP'));
    process.stdin.on('close', () => onSignal('SIGHUP'));
    process.stdin.resume();
  }

  const outputsFile = args.outputsFile ? resolve(args.outputsFile) : undefined;
  let stack: LocalStack | undefined;
  try {
    stack = await startLocalStack({
      ...(args.assembly ? { assembly: resolve(args.assembly) } : {}),
      ...(args.app ? { app: args.app } : {}),
      ...(args.stack ? { stack: args.stack } : {}),
      ...(args.endpoint ? { endpoint: args.endpoint } : {}),
      ...(args.port !== undefined ? { port: args.port } : {}),
      ...(args.namePrefix !== undefined ? { prefix: args.namePrefix } : {}),
      ...(args.allowUnsupported ? { allowUnsupported: true } : {}),
      ...(outputsFile ? { outputsFile } : {}),
      ...(args.noIam ? { iam: false } : {}),
      ...(args.dataDir !== undefined ? { dataDir: resolve(args.dataDir) } : {}),
      ...(args.watch ? { watch: true } : {}),
      ...(args.asyncRetryDelaysMs ? { asyncRetryDelaysMs: args.asyncRetryDelaysMs } : {}),
      ...(args.noDeploy ? { deploy: false } : {}),
      handleSignals: false,
      log: say,
      onLog: (e) => say(functionLogLine(e)),
    });
    if (signalled) return 0;
    const summary = summarize(stack, { ...(outputsFile ? { outputsFile } : {}), ...(args.endpoint ? { upstream: args.endpoint } : {}) });
    if (args.json) process.stdout.write(`${JSON.stringify({ ...summary, iam: stack.iam ? 'enforced' : 'off' })}\n`);
    else {
      const lines = [`endpoint=${summary.endpoint}`, `region=${summary.region}`, args.noDeploy ? 'stack=none (--no-deploy: deploy with the CDK CLI)' : `stack=${summary.stack}`];
      if (!stack.iam) lines.push(args.noIam ? 'iam=off (--no-iam: function calls are not checked against their roles)' : 'iam=off (@cloud-copilot/iam-simulate is not installed)');
      if (outputsFile) lines.push(`outputs-file=${outputsFile}`);
      if (summary.apiUrl) lines.push(`api=${summary.apiUrl}`);
      process.stdout.write(`${lines.join('\n')}\n`);
      say(`functions: ${summary.functions.map((f) => f.functionName).join(', ') || 'none'}; mappings: ${summary.mappings.map((m) => `${m.logicalId} -> ${m.functionName}`).join(', ') || 'none'}`);
      const ev = stack.stats().events;
      if (ev.rules.length + ev.schedules.length > 0) say(`events: ${ev.rules.length} rule(s) (${ev.rules.filter((r) => r.nextFire).length} scheduled), ${ev.schedules.length} Scheduler schedule(s); fire one now: floodgate-local fire NAME`);
      say(`console: ${summary.endpoint}/_floodgate/ (loopback only); LocalStack-style health: ${summary.endpoint}/_localstack/health`);
      say(`export AWS_ENDPOINT_URL=${summary.endpoint} AWS_REGION=${summary.region} AWS_ACCESS_KEY_ID=${summary.credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${summary.credentials.secretAccessKey}`);
    }
    if (args.keep) {
      say(args.watch ? 'serving and watching the sources (hot reload); Ctrl-C (SIGINT) or SIGTERM stops everything' : 'serving; Ctrl-C (SIGINT) or SIGTERM stops everything');
      await new Promise<void>((r) => {
        wake = r;
        if (signalled) r();
      });
      say(`${signalled}: stopping`);
    } else {
      await Promise.race([drained(stack), new Promise<void>((r) => (wake = r))]);
      say('the mapped queues are empty and nothing is in flight: stopping (use --keep to serve)');
    }
    return 0;
  } finally {
    // What EventBridge and Scheduler delivered, and what failed (FailedInvocations), before stopping.
    if (stack) for (const line of [...eventLines(stack), ...deliveryFailureLines(stack)]) say(line);
    await stack?.stop();
    if (args.stopOnStdinClose) process.stdin.destroy();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
