/**
 * Issue 24 part 4, as a user gets it: `@floodgate/local` installed from its packed tarball (offline, from
 * the npm cache) into a project outside this repository, with jest; the fixture app's assembly (queue +
 * DLQ + consumer + table + bucket) in that project.
 *   - `floodgate-local up --data-dir data --keep`, fed with the AWS CLI: a message in the DLQ and an item
 *     in the table; stopped (SIGTERM) and started again with the same data directory, both are there;
 *   - a jest file (CommonJS, no transform) with two tests and `stack.reset()` in beforeEach from
 *     `@floodgate/local/testing`: the second test does not see what the first left behind, and the
 *     consumer still runs after a reset.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FIXTURE_STACK, synthFixtureApp } from '../../packages/local/test/fixtures/fixture-app.js';
import { awsCli } from './support/aws-cli.js';
import { installIntoProject, makeSandbox, packPackages, run, start, type PackedPackage } from './support/project.js';

const STEP_TIMEOUT = 240_000;
let sandbox: { dir: string; env: NodeJS.ProcessEnv };
let packages: PackedPackage[];
let project: string;

beforeAll(async () => {
  sandbox = makeSandbox('floodgate-new-user-state-');
  packages = await packPackages(sandbox.env);
}, STEP_TIMEOUT);

afterAll(() => {
  if (sandbox && process.env.FLOODGATE_KEEP_NEW_USER === undefined) rmSync(sandbox.dir, { recursive: true, force: true });
});

const JEST_TEST = `// Two tests on one stack, emptied before each by reset(): neither sees what the other left.
const { startLocalStack } = require('@floodgate/local/testing');
const { SendMessageCommand, GetQueueAttributesCommand } = require('@aws-sdk/client-sqs');
const { PutItemCommand, GetItemCommand, ScanCommand } = require('@aws-sdk/client-dynamodb');

let stack;
beforeAll(async () => {
  stack = await startLocalStack({ assembly: 'cdk.out' });
});
beforeEach(async () => {
  const report = await stack.reset();
  console.log('reset ' + JSON.stringify(report));
});
afterAll(() => stack?.stop());

const dlqDepth = async () => {
  const a = await stack.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: stack.outputs.DlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  return Number(a.Attributes.ApproximateNumberOfMessages);
};
const items = async () => (await stack.clients.dynamodb.send(new ScanCommand({ TableName: stack.outputs.TableName }))).Count;

test('first: leaves a dead letter and an item behind', async () => {
  await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.outputs.DlqUrl, MessageBody: 'left behind' }));
  await stack.clients.dynamodb.send(new PutItemCommand({ TableName: stack.outputs.TableName, Item: { pk: { S: 'left-behind' } } }));
  expect(await dlqDepth()).toBe(1);
  expect(await items()).toBe(1);
});

test('second: starts from an empty stack, whose consumer still runs', async () => {
  expect(await dlqDepth()).toBe(0);
  expect(await items()).toBe(0);
  await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.outputs.QueueUrl, MessageBody: JSON.stringify({ id: 'after-reset', action: 'ok' }) }));
  let item;
  for (let i = 0; i < 200 && !item; i++) {
    await new Promise((r) => setTimeout(r, 100));
    item = (await stack.clients.dynamodb.send(new GetItemCommand({ TableName: stack.outputs.TableName, Key: { pk: { S: 'after-reset' } } }))).Item;
  }
  expect(item.attempts).toEqual({ N: '1' });
});
`;

describe('a project with @floodgate/local and jest installed from the tarballs', () => {
  test('installs offline', async () => {
    project = join(sandbox.dir, 'state-app');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'state-app', version: '1.0.0', private: true }, null, 2)}\n`);
    await installIntoProject(project, sandbox.env, packages.filter((p) => p.name === '@floodgate/local' || p.name === '@floodgate/contract'), {
      dependencies: ['@aws-sdk/client-sqs', '@aws-sdk/client-dynamodb'],
      devDependencies: ['jest'],
    });
    synthFixtureApp(join(project, 'cdk.out'));
  }, STEP_TIMEOUT);

  test('`floodgate-local up --data-dir`: a message and an item survive a stop and a start', async () => {
    const bin = join(project, 'node_modules', '.bin', 'floodgate-local');
    const args = ['up', '--assembly', 'cdk.out', '--keep', '--data-dir', 'data', '--outputs-file', 'outputs.json'];
    const outputsOf = () => (JSON.parse(readFileSync(join(project, 'outputs.json'), 'utf8')) as Record<string, Record<string, string>>)[FIXTURE_STACK]!;

    const first = start(bin, args, { cwd: project, env: sandbox.env });
    let before: Record<string, string>;
    try {
      const [, endpoint] = await first.waitForLine(/^endpoint=(\S+)\s*$/, 120_000);
      before = outputsOf();
      const aws = awsCli(endpoint!, sandbox.env, project);
      await aws.json(['sqs', 'send-message', '--queue-url', before.DlqUrl!, '--message-body', 'survives a restart']);
      await aws.json(['dynamodb', 'put-item', '--table-name', before.TableName!, '--item', JSON.stringify({ pk: { S: 'kept' }, note: { S: 'survives a restart' } })]);
    } finally {
      expect(await first.stop()).toBe(0);
    }

    const second = start(bin, args, { cwd: project, env: sandbox.env });
    try {
      const [, endpoint] = await second.waitForLine(/^endpoint=(\S+)\s*$/, 120_000);
      expect(second.output()).toContain(`data dir ${join(project, 'data')}: restoring ${FIXTURE_STACK}`);
      const after = outputsOf();
      expect(after.TableName).toBe(before!.TableName);
      expect(after.DlqUrl!.split('/').pop()).toBe(before!.DlqUrl!.split('/').pop());
      const aws = awsCli(endpoint!, sandbox.env, project);
      const got = await aws.json<{ Messages?: Array<{ Body: string }> }>(['sqs', 'receive-message', '--queue-url', after.DlqUrl!, '--wait-time-seconds', '1']);
      expect(got.Messages?.map((m) => m.Body)).toEqual(['survives a restart']);
      const item = await aws.json<{ Item: Record<string, unknown> }>(['dynamodb', 'get-item', '--table-name', after.TableName!, '--key', JSON.stringify({ pk: { S: 'kept' } })]);
      expect(item.Item).toEqual({ pk: { S: 'kept' }, note: { S: 'survives a restart' } });
    } finally {
      expect(await second.stop()).toBe(0);
    }
  }, STEP_TIMEOUT);

  test('jest: reset() in beforeEach empties the stack between two tests', async () => {
    writeFileSync(join(project, 'jest.config.js'), `module.exports = { testEnvironment: 'node', testMatch: ['**/*.jest.test.cjs'], testTimeout: 120000 };\n`);
    writeFileSync(join(project, 'reset.jest.test.cjs'), JEST_TEST);
    const r = await run('npx', ['--no-install', 'jest', '--runInBand', '--colors=false'], { cwd: project, env: sandbox.env });
    const stderr = `${r.stdout}\n${r.stderr}`;
    expect(stderr).toMatch(/Tests:\s+2 passed, 2 total/);
    // Each reset emptied the stack's 2 queues, 1 table and 1 bucket; the second deleted the first test's item.
    const resets = [...stderr.matchAll(/reset (\{.*\})/g)].map((m) => JSON.parse(m[1]!) as { resources: Record<string, number>; deleted: number });
    expect(resets.map((r) => r.resources)).toEqual([0, 1].map(() => ({ 'AWS::SQS::Queue': 2, 'AWS::DynamoDB::GlobalTable': 1, 'AWS::S3::Bucket': 1 })));
    expect(resets.map((r) => r.deleted)).toEqual([0, 1]);
  }, STEP_TIMEOUT);
});
