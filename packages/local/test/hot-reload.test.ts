/**
 * Hot reload (`watch: true`, what `up --watch` runs) on the embedded stack, with a real CDK app
 * synthesized by the CDK CLI: an edit to a file the function's bundle imports runs on the next message,
 * bundled with the construct's own esbuild options (its `define`); a message in flight during the edit
 * finishes on the old code; the queue is the same one. A template change (a queue's setting changed, a
 * queue added) is applied as a diff: the message parked in the changed queue is still there.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../src/stack';
import type { ReloadEvent } from '../src/watch/hot-reload';
import { versionSource, watchAppSource, writeWatchApp } from './fixtures/watch-app';

const REPO = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
let dir: string;
let stack: LocalStack;
const lines: string[] = [];
const progress: string[] = [];

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; function lines:\n${lines.slice(-20).join('\n')}\nprogress:\n${progress.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const nextReload = (kind: ReloadEvent['kind'] | 'any' = 'any'): Promise<ReloadEvent> =>
  new Promise((res) => {
    const off = stack.hotReload!.onReload((e) => {
      if (kind !== 'any' && e.kind !== kind && e.kind !== 'error') return;
      off();
      res(e);
    });
  });
const send = (url: string, body: string) => stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
const logged = (text: string) => () => lines.find((l) => l.includes(text));

beforeAll(async () => {
  mkdirSync(join(REPO, '.floodgate'), { recursive: true });
  dir = mkdtempSync(join(REPO, '.floodgate', 'watch-test-'));
  writeWatchApp(dir);
  stack = await startLocalStack({ projectDir: dir, emulators: inject('endpoints'), watch: true, waitTimeSeconds: 1, iam: false, log: (l) => progress.push(l), onLog: (e) => lines.push(e.line) });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('watch: true', () => {
  it('an edit to a file the bundle imports runs on the next message, with the construct`s esbuild options; the message in flight finishes on the old code', async () => {
    expect([...stack.hotReload!.bundled.keys()]).toEqual([stack.deployment.functions.find((f) => f.logicalId.startsWith('Worker'))!.logicalId]);
    const inputs = [...stack.hotReload!.bundled.values()][0]!;
    expect(inputs).toContain(join(dir, 'lambda', 'handler.ts'));
    expect(inputs).toContain(join(dir, 'lambda', 'version.ts'));
    const jobs = stack.outputs.JobsUrl!;

    await send(jobs, 'first');
    await waitFor('first on v1', logged('handled first by v1 (defined-by-the-construct)'));

    // A slow message is in flight when the edit is saved.
    await send(jobs, 'slow');
    await waitFor('the slow message to start', () => stack.stats().functions[0]!.invocations >= 2 || undefined);
    const reloaded = nextReload('code');
    writeFileSync(join(dir, 'lambda', 'version.ts'), versionSource('v2'));
    const e = await reloaded;
    expect(e.kind, JSON.stringify(e)).toBe('code');

    await send(jobs, 'after');
    await waitFor('after on v2', logged('handled after by v2 (defined-by-the-construct)'));
    await waitFor('slow on v1', logged('handled slow by v1 (defined-by-the-construct)'));
    expect(lines.some((l) => l.includes('handled slow by v2'))).toBe(false);
    // The environment that ran the old code was retired after its invocation; the queue is the same.
    const envs = stack.stats().functions[0]!.environments;
    expect(envs.some((x) => x.codeGeneration === 0 && x.endedBy === 'code-update')).toBe(true);
    expect(envs.some((x) => x.codeGeneration === 1 && x.alive)).toBe(true);
    expect(stack.outputs.JobsUrl).toBe(jobs);
  }, 60_000);

  it('a syntax error keeps the old code running and says why; fixing it reloads', async () => {
    const jobs = stack.outputs.JobsUrl!;
    const failed = nextReload('code');
    writeFileSync(join(dir, 'lambda', 'version.ts'), "export const VERSION = 'v3\n");
    const e = await failed;
    expect(e.kind).toBe('error');
    expect(e.kind === 'error' && e.error).toMatch(/esbuild failed[\s\S]*version\.ts/);
    await send(jobs, 'during');
    await waitFor('during on v2', logged('handled during by v2'));
    const fixed = nextReload('code');
    writeFileSync(join(dir, 'lambda', 'version.ts'), versionSource('v3'));
    expect((await fixed).kind).toBe('code');
    await send(jobs, 'fixed');
    await waitFor('fixed on v3', logged('handled fixed by v3'));
  }, 60_000);

  it('a template change (a setting changed, a queue added) is applied as a diff: the parked message is still there, the code keeps running', async () => {
    const parked = stack.outputs.ParkedUrl!;
    const jobs = stack.outputs.JobsUrl!;
    await send(parked, 'keep me');
    const workerId = [...stack.hotReload!.bundled.keys()][0]!;
    const applied = nextReload('template');
    writeFileSync(join(dir, 'bin', 'app.ts'), watchAppSource(2));
    const e = await applied;
    expect(e.kind, JSON.stringify(e)).toBe('template');
    // The function is updated too: its asset (v3, bundled by the synth) is new since the first synth (v1).
    expect(e.kind === 'template' && [...e.changes].sort()).toEqual([
      expect.stringMatching(/^added Extra[0-9A-F]{8} \(AWS::SQS::Queue\)$/),
      expect.stringMatching(/^updated Parked[0-9A-F]{8} \(AWS::SQS::Queue\)$/),
      expect.stringMatching(/^updated Worker[0-9A-F]{8} \(AWS::Lambda::Function\)$/),
    ]);
    // Same queues (same URLs), the new setting on the parked one, its message kept; the new queue exists.
    expect(stack.outputs.ParkedUrl).toBe(parked);
    expect(stack.outputs.JobsUrl).toBe(jobs);
    const attrs = await stack.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: parked, AttributeNames: ['MessageRetentionPeriod', 'ApproximateNumberOfMessages'] }));
    expect(attrs.Attributes).toMatchObject({ MessageRetentionPeriod: '7200', ApproximateNumberOfMessages: '1' });
    const got = await stack.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: parked, WaitTimeSeconds: 1 }));
    expect(got.Messages?.[0]?.Body).toBe('keep me');
    expect(stack.outputs.ExtraUrl).toMatch(/Extra/);
    await stack.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: stack.outputs.ExtraUrl!, AttributeNames: ['QueueArn'] }));
    // The function is the same one, still fed by its mapping, on the latest sources.
    expect(stack.hotReload!.bundled.has(workerId)).toBe(true);
    await send(jobs, 'after-template');
    await waitFor('after-template on v3', logged('handled after-template by v3 (defined-by-the-construct)'));
  }, 120_000);
});
