/**
 * Lambda polls an SQS event source with the function's execution role. Locally the poller signs as that
 * role through the one endpoint, so IAM applies to sqs:ReceiveMessage / DeleteMessage as on AWS: a role
 * without the grant gets no messages (they stay in the queue) and the refusal is visible, in the
 * gateway's refusals and in the runner's stats; with the grant the same message is consumed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../src/stack';
import { localEndpoints } from '../../../test/support/local-env';

const CONSUME = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'];

function assembly(withGrant: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'fg-poll-role-'));
  const stackName = `PollRole${withGrant ? 'Granted' : 'Bare'}`;
  const template = {
    Resources: {
      Queue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 5 } },
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
          ...(withGrant ? { Policies: [{ PolicyName: 'consume', PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: CONSUME, Resource: { 'Fn::GetAtt': ['Queue', 'Arn'] } }] } }] } : {}),
        },
      },
      Fn: {
        Type: 'AWS::Lambda::Function',
        Properties: { Runtime: 'nodejs22.x', Handler: 'index.handler', Role: { 'Fn::GetAtt': ['Role', 'Arn'] }, Code: { ZipFile: "exports.handler = async (e) => { console.log(JSON.stringify({ evt: 'got', n: e.Records.length })); };" } },
      },
      Mapping: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { EventSourceArn: { 'Fn::GetAtt': ['Queue', 'Arn'] }, FunctionName: { Ref: 'Fn' }, BatchSize: 1 } },
    },
    Outputs: { QueueUrl: { Value: { Ref: 'Queue' } } },
  };
  writeFileSync(join(dir, `${stackName}.template.json`), JSON.stringify(template));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ version: '48.0.0', artifacts: { [stackName]: { type: 'aws:cloudformation:stack', properties: { templateFile: `${stackName}.template.json`, stackName } } } }));
  return dir;
}

let stack: LocalStack | undefined;
afterEach(async () => {
  await stack?.stop({ destroy: true });
  stack = undefined;
});

async function run(withGrant: boolean) {
  const refusals: Array<{ operation?: string; principal: string; code: string }> = [];
  const got: number[] = [];
  stack = await startLocalStack({
    assembly: assembly(withGrant),
    emulators: localEndpoints(),
    waitTimeSeconds: 1,
    log: () => undefined,
    onRefusal: (r) => refusals.push({ ...(r.operation ? { operation: r.operation } : {}), principal: r.principal, code: r.error.code }),
    onLog: (e) => {
      if (e.json?.evt === 'got') got.push(Number(e.json.n));
    },
  });
  const queueUrl = stack.outputs.QueueUrl!;
  await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'hello' }));
  return { refusals, got, queueUrl, runner: [...stack.runners.values()][0]! };
}

async function until(pred: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`condition not met in ${ms} ms`);
}

describe('the SQS poller signs as the function role', () => {
  it('without sqs:ReceiveMessage the function gets nothing, the message stays, and the denial is visible', { timeout: 120_000 }, async () => {
    const r = await run(false);
    await until(() => r.runner.stats().receiveErrors >= 2, 30_000);
    const st = r.runner.stats();
    expect(st.lastReceiveError?.code).toMatch(/^AccessDenied/);
    expect(st.lastReceiveError?.message).toMatch(/not authorized to perform: sqs:ReceiveMessage/i);
    expect(st.invocations).toBe(0);
    expect(r.got).toEqual([]);
    expect(r.refusals.some((x) => /ReceiveMessage/.test(x.operation ?? '') && x.principal.includes(':assumed-role/') && /^AccessDenied/.test(x.code))).toBe(true);
    const attrs = await stack!.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: r.queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    expect(attrs.Attributes?.ApproximateNumberOfMessages).toBe('1');
  });

  it('with the grant the same message is received, handled and deleted, and nothing is refused', { timeout: 120_000 }, async () => {
    const r = await run(true);
    await until(() => r.runner.stats().messagesDeleted === 1, 60_000);
    expect(r.got).toEqual([1]);
    expect(r.runner.stats().receiveErrors).toBe(0);
    expect(r.refusals).toEqual([]);
  });
});
