/**
 * Issues 19 and 21 as a new user gets them: `@floodgate/local` installed from its packed tarball
 * (offline, from the npm cache) into ONE project outside this repository, and driven by its installed
 * `floodgate-local` CLI and the AWS CLI, by a CommonJS script on `@floodgate/local/testing` and by an
 * ESM script on `@floodgate/local`:
 *   - the project is aws-cdk-examples `typescript/s3-sns-lambda-chain` (vendored unchanged under
 *     packages/local/test/fixtures/aws-cdk-examples; only its package.json's versions are those of the
 *     npm cache, and its jest packages are left out, as its tests are not vendored): `npx cdk synth`,
 *     `up --keep`, the upload command its stack prints reaches the function through S3 → SNS → SQS;
 *   - beside it, in event-apps/ (same node_modules), our own CDK app (test/new-user/event-apps): SNS,
 *     S3 notifications, EventBridge, a DynamoDB stream mapping and asynchronous invocation under
 *     `up --keep`; a custom resource's create, update, delete and failure; schedules fired from a test.
 * Everything runs one step after the other: one install, one JVM at a time.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { awsCli, type AwsCli } from './support/aws-cli.js';
import { installIntoProject, makeSandbox, packPackages, REPO_ROOT, run, start, type LongRunning, type PackedPackage } from './support/project.js';

const STEP_TIMEOUT = 240_000;
const EXAMPLE = join(REPO_ROOT, 'packages', 'local', 'test', 'fixtures', 'aws-cdk-examples', 's3-sns-lambda-chain');
const EVENT_APPS = join(REPO_ROOT, 'test', 'new-user', 'event-apps');

let sandbox: { dir: string; env: NodeJS.ProcessEnv };
let packages: PackedPackage[];
let project: string;
let apps: string;

beforeAll(async () => {
  sandbox = makeSandbox('floodgate-new-user-events-');
  packages = await packPackages(sandbox.env);
}, STEP_TIMEOUT);

afterAll(() => {
  if (sandbox && process.env.FLOODGATE_KEEP_NEW_USER === undefined) rmSync(sandbox.dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(get: () => T | undefined | false | Promise<T | undefined | false>, ms: number, what: string | (() => string)): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`${typeof what === 'function' ? what() : what}: not seen within ${ms} ms`);
    await sleep(250);
  }
}

/** The JSON log lines of one function in the `up` output (`[name] time\trequestId\tINFO\t{...}`). */
function functionJson(local: LongRunning, fn: string): Array<Record<string, any>> {
  const out: Array<Record<string, any>> = [];
  for (const line of local.output().split('\n')) {
    if (!line.startsWith(`[${fn}] `)) continue;
    const last = line.split('\t').at(-1)!;
    if (last.startsWith('{')) out.push(JSON.parse(last) as Record<string, any>);
  }
  return out;
}

interface SqsMessage {
  MessageId: string;
  ReceiptHandle: string;
  Body: string;
  Attributes?: Record<string, string>;
  MessageAttributes?: Record<string, { DataType: string; StringValue?: string }>;
}

/**
 * Receives messages until `count` arrived, then waits `settleMs` for any more (there must be none).
 * Received messages stay invisible for 10 minutes: each is seen once, with fewer AWS CLI calls. A FIFO
 * queue gives a group's next message only once the one before is deleted: `deleteReceived` does that.
 */
async function drain(aws: AwsCli, queueUrl: string, count: number, settleMs = 1000, deleteReceived = false): Promise<SqsMessage[]> {
  const got: SqsMessage[] = [];
  const receive = async (wait: number) => {
    const r = await aws.json<{ Messages?: SqsMessage[] } | undefined>([
      'sqs', 'receive-message', '--queue-url', queueUrl, '--max-number-of-messages', '10', '--wait-time-seconds', String(wait),
      '--visibility-timeout', '600', '--attribute-names', 'All', '--message-attribute-names', 'All',
    ]);
    const messages = r?.Messages ?? [];
    got.push(...messages);
    if (deleteReceived && messages.length > 0) {
      const entries = messages.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle }));
      const d = await aws.json<{ Failed?: unknown[] }>(['sqs', 'delete-message-batch', '--queue-url', queueUrl, '--entries', JSON.stringify(entries)]);
      expect(d.Failed ?? []).toEqual([]);
    }
  };
  await until(async () => (await receive(5), got.length >= count), 90_000, () => `${count} message(s) on ${queueUrl} (got ${got.length})`);
  if (settleMs > 0) await receive(Math.ceil(settleMs / 1000));
  expect(got, `messages on ${queueUrl}: ${got.map((m) => m.Body).join('\n')}`).toHaveLength(count);
  return got;
}

describe('one project: aws-cdk-examples s3-sns-lambda-chain, and our own event app beside it', () => {
  test('installs the @floodgate/local tarball offline into the example, with aws-cdk-lib', async () => {
    project = join(sandbox.dir, 's3-sns-lambda-chain');
    cpSync(EXAMPLE, project, { recursive: true });
    // Offline, only the versions in the npm cache install: the example's own ranges are replaced by
    // them (installIntoProject), and its jest packages are left out (its tests are not vendored).
    const pkgFile = join(project, 'package.json');
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { devDependencies: Record<string, string> };
    for (const jestOnly of ['jest', '@swc/core', '@swc/jest']) delete pkg.devDependencies[jestOnly];
    writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
    apps = join(project, 'event-apps');
    cpSync(EVENT_APPS, apps, { recursive: true });
    // @floodgate/contract is @floodgate/local's own dependency; offline, its tarball has to be given too.
    await installIntoProject(project, sandbox.env, packages.filter((p) => p.name === '@floodgate/local' || p.name === '@floodgate/contract'), {
      dependencies: ['aws-cdk-lib', 'constructs', '@aws-sdk/client-sqs'],
      devDependencies: ['aws-cdk', 'typescript', 'tsx', 'esbuild', '@types/node', '@types/jest'],
    });
  }, STEP_TIMEOUT);

  test('the example: `npx cdk synth` (its `npx tsc` included), `up --keep`; its upload command reaches the function through S3 → SNS → SQS, a .txt does not', async () => {
    await run('npx', ['--no-install', 'cdk', 'synth', '--quiet', '--no-notices'], { cwd: project, env: sandbox.env });
    const local = start(join(project, 'node_modules', '.bin', 'floodgate-local'), ['up', '--assembly', 'cdk.out', '--keep', '--outputs-file', 'outputs.json'], { cwd: project, env: sandbox.env });
    try {
      const [, endpoint] = await local.waitForLine(/^endpoint=(\S+)\s*$/, 120_000);
      const aws = awsCli(endpoint!, sandbox.env, project);
      // Topics, subscriptions and bucket notifications are message flow: never "no effect".
      expect(local.output()).not.toMatch(/no effect/i);
      const outputs = (JSON.parse(readFileSync(join(project, 'outputs.json'), 'utf8')) as Record<string, Record<string, string>>)['S3SnsSqsLambdaChain']!;
      // The stack's own output tells the user what to run: `aws s3 cp example.csv s3://<bucket>/example.csv --acl ...`.
      const upload = outputs.UploadCsvToBucketCommand!.split(' ');
      expect(upload.slice(0, 4)).toEqual(['aws', 's3', 'cp', 'example.csv']);
      const target = upload[4]!;
      expect(target).toMatch(/^s3:\/\/[a-z0-9.-]+\/example\.csv$/);
      await aws.text(['s3', 'cp', 'example.csv', target.replace(/\.csv$/, '.txt')]);
      await aws.text(upload.slice(1));
      const line = await until(() => local.output().split('\n').find((l) => l.startsWith('[CsvUploadEventLambda] ') && l.includes('CSV upload event:')), 60_000, 'the function log line');
      const logged = local.output().slice(local.output().indexOf(line));
      // The SQS record whose body is S3's event (raw SNS delivery) for the object.
      expect(logged).toContain('"eventSource": "aws:sqs"');
      expect(logged).toMatch(/\\"eventSource\\":\\"aws:s3\\"/);
      expect(logged).toMatch(/\\"eventName\\":\\"ObjectCreated:Put\\"/);
      expect(logged).toMatch(/\\"key\\":\\"example\.csv\\"/);
      // The same line behind the logs API, in the function's own group.
      const events = await aws.json<{ events: Array<{ message: string }> }>(['logs', 'filter-log-events', '--log-group-name', '/aws/lambda/CsvUploadEventLambda', '--filter-pattern', '"CSV upload event"']);
      expect(events.events).toHaveLength(1);
      expect(events.events[0]!.message).toContain('example.csv');
      // Names as written.
      const { QueueUrl } = await aws.json<{ QueueUrl: string }>(['sqs', 'get-queue-url', '--queue-name', 'CsvUploadQueue']);
      expect(QueueUrl).toMatch(/\/CsvUploadQueue$/);
      // The .txt never reaches the function; both queues end empty.
      await sleep(1500);
      expect(local.output()).not.toContain('example.txt');
      for (const name of ['CsvUploadQueue', 'CsvUploadDeadLetterQueue']) {
        const url = (await aws.json<{ QueueUrl: string }>(['sqs', 'get-queue-url', '--queue-name', name])).QueueUrl;
        const a = await aws.json<{ Attributes: Record<string, string> }>(['sqs', 'get-queue-attributes', '--queue-url', url, '--attribute-names', 'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible']);
        expect(Number(a.Attributes.ApproximateNumberOfMessages) + Number(a.Attributes.ApproximateNumberOfMessagesNotVisible), name).toBe(0);
      }
    } finally {
      expect(await local.stop()).toBe(0);
    }
  }, STEP_TIMEOUT);

  test('our event app synthesizes with `npx cdk synth`, and again with other context for the custom resource', async () => {
    const synth = (...args: string[]) => run('npx', ['--no-install', 'cdk', 'synth', '--quiet', '--no-notices', ...args], { cwd: apps, env: sandbox.env });
    await synth();
    await synth('Greeter', '-c', 'greeting=again', '-o', 'cdk.out.v2');
    const template = JSON.parse(readFileSync(join(apps, 'cdk.out', 'EventApps.template.json'), 'utf8')) as { Resources: Record<string, { Type: string }> };
    const types = new Set(Object.values(template.Resources).map((r) => r.Type));
    for (const t of ['AWS::SNS::Subscription', 'Custom::S3BucketNotifications', 'AWS::Events::Rule', 'AWS::Lambda::EventSourceMapping', 'AWS::Lambda::EventInvokeConfig']) expect(types, t).toContain(t);
  }, STEP_TIMEOUT);

  // Each AWS CLI call starts a Python: allow for a loaded machine.
  describe('`floodgate-local up --keep` of our event app, driven with the AWS CLI', { timeout: STEP_TIMEOUT }, () => {
    let local: LongRunning;
    let aws: AwsCli;
    let outputs: Record<string, string>;
    const url = async (name: string) => (await aws.json<{ QueueUrl: string }>(['sqs', 'get-queue-url', '--queue-name', name])).QueueUrl;

    beforeAll(async () => {
      local = start(
        join(project, 'node_modules', '.bin', 'floodgate-local'),
        // Asynchronous retries after 200 and 400 ms instead of AWS's one and two minutes.
        ['up', '--assembly', 'cdk.out', '--stack', 'EventApps', '--keep', '--outputs-file', 'outputs.json', '--async-retry-delays', '200,400'],
        { cwd: apps, env: sandbox.env },
      );
      const [, endpoint] = await local.waitForLine(/^endpoint=(\S+)\s*$/, 120_000);
      aws = awsCli(endpoint!, sandbox.env, apps);
      outputs = (JSON.parse(readFileSync(join(apps, 'outputs.json'), 'utf8')) as Record<string, Record<string, string>>)['EventApps']!;
    }, STEP_TIMEOUT);

    afterAll(async () => {
      if (!local) return;
      const code = await local.stop();
      writeFileSync(join(apps, 'up.log'), local.output()); // kept with FLOODGATE_KEEP_NEW_USER=1
      expect(code).toBe(0);
    });

    test('the up output calls nothing of it "no effect"', () => {
      expect(local.output()).not.toMatch(/no effect/i);
    });

    test('SNS → SQS raw with an attribute filter, enveloped with a body filter; SNS → Lambda', async () => {
      const entry = (id: string, color: string, body: object) => ({ Id: id, Message: JSON.stringify(body), MessageAttributes: { color: { DataType: 'String', StringValue: color } } });
      const published = await aws.json<{ Successful: Array<{ Id: string; MessageId: string }>; Failed: unknown[] }>([
        'sns', 'publish-batch', '--topic-arn', outputs.OrdersTopicArn!, '--publish-batch-request-entries',
        JSON.stringify([
          entry('red', 'red', { kind: 'order', total: 5 }), // the raw queue only (total too small for the body filter)
          entry('green', 'green', { kind: 'order', total: 50 }), // the enveloped queue only
          entry('blue', 'blue', { kind: 'refund', total: 1 }), // the function only
          entry('nobody', 'green', { kind: 'refund', total: 50 }), // nobody
        ]),
      ]);
      expect(published.Failed).toEqual([]);
      const green = published.Successful.find((e) => e.Id === 'green')!;

      const [red] = await drain(aws, await url('ea-red-orders'), 1);
      expect(JSON.parse(red!.Body)).toEqual({ kind: 'order', total: 5 });
      expect(red!.MessageAttributes?.color).toMatchObject({ DataType: 'String', StringValue: 'red' });

      const [enveloped] = await drain(aws, await url('ea-enveloped-orders'), 1, 0); // (the raw queue's settle time has passed)
      const envelope = JSON.parse(enveloped!.Body) as Record<string, any>;
      expect(envelope).toMatchObject({
        Type: 'Notification',
        MessageId: green.MessageId,
        TopicArn: outputs.OrdersTopicArn,
        Message: JSON.stringify({ kind: 'order', total: 50 }),
        SignatureVersion: '1',
        MessageAttributes: { color: { Type: 'String', Value: 'green' } },
      });
      expect(Object.keys(envelope).sort()).toEqual(['Message', 'MessageAttributes', 'MessageId', 'Signature', 'SignatureVersion', 'SigningCertURL', 'Timestamp', 'TopicArn', 'Type', 'UnsubscribeURL']);

      const sns = await until(() => functionJson(local, 'ea-recorder').find((j) => j.recorded?.Records?.[0]?.EventSource === 'aws:sns'), 60_000, 'the SNS event at the function');
      expect(sns.recorded.Records).toHaveLength(1);
      expect(sns.recorded.Records[0].Sns).toMatchObject({ Type: 'Notification', TopicArn: outputs.OrdersTopicArn, Message: JSON.stringify({ kind: 'refund', total: 1 }), MessageAttributes: { color: { Type: 'String', Value: 'blue' } } });
      await sleep(500);
      expect(functionJson(local, 'ea-recorder').filter((j) => j.recorded?.Records?.[0]?.EventSource === 'aws:sns')).toHaveLength(1);
    });

    test('a FIFO topic → a FIFO queue keeps each message group in order', async () => {
      const entries = ['g1-1', 'g2-1', 'g1-2', 'g2-2', 'g1-3', 'g2-3'].map((m, i) => ({ Id: `e${i}`, Message: m, MessageGroupId: m.slice(0, 2) }));
      const r = await aws.json<{ Successful: unknown[]; Failed: unknown[] }>(['sns', 'publish-batch', '--topic-arn', outputs.SequenceTopicArn!, '--publish-batch-request-entries', JSON.stringify(entries)]);
      expect(r.Successful).toHaveLength(6);
      const got = await drain(aws, await url('ea-sequence.fifo'), 6, 0, true);
      for (const g of ['g1', 'g2']) {
        expect(got.filter((m) => m.Attributes?.MessageGroupId === g).map((m) => m.Body)).toEqual([`${g}-1`, `${g}-2`, `${g}-3`]);
      }
    });

    test('S3 → SQS for put, copy, multipart and delete (prefix in/), → SNS → SQS (suffix .csv), → Lambda (prefix lambda/)', async () => {
      const bucket = outputs.BucketName!;
      expect(bucket).toBe('ea-uploads');
      const files = join(apps, 'files');
      mkdirSync(files, { recursive: true });
      writeFileSync(join(files, 'small.txt'), 'hello');
      writeFileSync(join(files, 'rows.csv'), 'a,b\n1,2\n');
      writeFileSync(join(files, 'big.bin'), Buffer.alloc(9 * 1024 * 1024, 7)); // above the CLI's 8 MiB multipart threshold
      const s3 = (...args: string[]) => aws.text(['s3', ...args]);
      await s3('cp', join(files, 'small.txt'), `s3://${bucket}/in/a file.txt`);
      await s3('cp', `s3://${bucket}/in/a file.txt`, `s3://${bucket}/in/copy.txt`);
      await s3('cp', join(files, 'big.bin'), `s3://${bucket}/in/big.bin`);
      await s3('rm', `s3://${bucket}/in/copy.txt`);
      await s3('cp', join(files, 'small.txt'), `s3://${bucket}/elsewhere/b.txt`); // no destination's filter
      await s3('cp', join(files, 'rows.csv'), `s3://${bucket}/reports/rows.csv`);
      await s3('cp', join(files, 'small.txt'), `s3://${bucket}/lambda/c.txt`);

      // The queue destination got S3's test event first, then one record per event, in order.
      const messages = (await drain(aws, await url('ea-upload-events'), 5)).map((m) => JSON.parse(m.Body) as Record<string, any>);
      expect(messages[0]).toMatchObject({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: bucket });
      const records = messages.slice(1).map((m) => m.Records[0]);
      expect(records.map((r) => `${r.eventName} ${r.s3.object.key}`)).toEqual([
        'ObjectCreated:Put in/a+file.txt',
        'ObjectCreated:Copy in/copy.txt',
        'ObjectCreated:CompleteMultipartUpload in/big.bin',
        'ObjectRemoved:Delete in/copy.txt',
      ]);
      expect(records[0]).toMatchObject({ eventVersion: '2.1', eventSource: 'aws:s3', awsRegion: 'us-east-1', s3: { bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` }, object: { size: 5, eTag: expect.stringMatching(/^[0-9a-f]{32}$/) } } });
      expect(records[2].s3.object.size).toBe(9 * 1024 * 1024);
      const sequencers = records.map((r) => r.s3.object.sequencer as string);
      expect(sequencers.every((s) => /^[0-9A-F]+$/.test(s))).toBe(true);

      const [csv] = await drain(aws, await url('ea-csv-events'), 1, 0);
      expect(JSON.parse(csv!.Body).Records[0]).toMatchObject({ eventName: 'ObjectCreated:Put', s3: { object: { key: 'reports/rows.csv' } } });

      const s3Events = () => functionJson(local, 'ea-recorder').filter((j) => j.recorded?.Records?.[0]?.eventSource === 'aws:s3');
      const fromS3 = await until(() => s3Events().length > 0 && s3Events(), 60_000, 'the S3 event at the function');
      await sleep(500);
      expect(s3Events().map((j) => j.recorded.Records[0].s3.object.key)).toEqual(['lambda/c.txt']);
      expect(fromS3[0]!.recorded.Records[0].eventName).toBe('ObjectCreated:Put');
    });

    test('`aws events put-events` on the custom bus reaches only the queue whose numeric + anything-but rule matches; an InputTransformer feeds the function', async () => {
      const entry = (detailType: string, detail: object) => ({ EventBusName: outputs.BusName, Source: 'shop', DetailType: detailType, Detail: JSON.stringify(detail) });
      const r = await aws.json<{ FailedEntryCount: number; Entries: Array<{ EventId?: string }> }>([
        'events', 'put-events', '--entries',
        JSON.stringify([
          entry('order', { id: 'o-1', total: 150, status: 'paid' }),
          entry('order', { id: 'o-2', total: 150, status: 'cancelled' }),
          entry('order', { id: 'o-3', total: 100, status: 'paid' }),
          entry('order', { id: 'o-4', total: 500, status: 'test' }),
          entry('shipped', { id: 'o-5', city: 'Lyon' }),
        ]),
      ]);
      expect(r.FailedEntryCount).toBe(0);
      expect(r.Entries.every((e) => typeof e.EventId === 'string')).toBe(true);
      const [big] = await drain(aws, await url('ea-big-orders'), 1);
      const event = JSON.parse(big!.Body) as Record<string, any>;
      expect(event).toMatchObject({ version: '0', id: r.Entries[0]!.EventId, 'detail-type': 'order', source: 'shop', region: 'us-east-1', resources: [], detail: { id: 'o-1', total: 150, status: 'paid' } });
      expect(event.account).toMatch(/^\d{12}$/);
      expect(Date.parse(event.time)).not.toBeNaN();

      const shipped = await until(() => functionJson(local, 'ea-recorder').find((j) => j.recorded?.order !== undefined), 60_000, 'the transformed input at the function');
      expect(shipped.recorded).toEqual({ order: 'o-5', line: 'order o-5 shipped to Lyon' });
    });

    test('a stream mapping: a poison record ends on the on-failure queue with DDBStreamBatchInfo; the others run once, in key order', async () => {
      const stream = await aws.json<{ StreamDescription: { StreamStatus: string; StreamViewType: string } }>(['dynamodbstreams', 'describe-stream', '--stream-arn', outputs.StreamArn!]);
      expect(stream.StreamDescription).toMatchObject({ StreamStatus: 'ENABLED', StreamViewType: 'NEW_AND_OLD_IMAGES' });
      const written: string[] = [];
      // Three versions of three keys, one BatchWriteItem per version; b's second version is poison.
      for (let v = 1; v <= 3; v++) {
        const puts = ['a', 'b', 'c'].map((pk) => {
          const poison = pk === 'b' && v === 2;
          if (!poison) written.push(`${pk}${v}`);
          return { PutRequest: { Item: { pk: { S: pk }, v: { N: String(v) }, ...(poison ? { poison: { BOOL: true } } : {}) } } };
        });
        const r = await aws.json<{ UnprocessedItems: Record<string, unknown> }>(['dynamodb', 'batch-write-item', '--request-items', JSON.stringify({ [outputs.TableName!]: puts })]);
        expect(r.UnprocessedItems).toEqual({});
      }
      // Updating an item reaches the function too (a MODIFY record).
      await aws.json(['dynamodb', 'update-item', '--table-name', outputs.TableName!, '--key', JSON.stringify({ pk: { S: 'a' } }), '--update-expression', 'SET v = :v', '--expression-attribute-values', JSON.stringify({ ':v': { N: '4' } })]);
      written.push('a4');

      const [failure] = await drain(aws, await url('ea-stream-failures'), 1, 0);
      const streamed = () => functionJson(local, 'ea-stream-reader').filter((j) => j.streamed).map((j) => j.streamed as { pk: string; v: number; eventName: string; seq: string });
      await until(() => streamed().length >= written.length, 60_000, () => `every record but the poison one (got ${streamed().map((x) => `${x.pk}${x.v}`).join(' ')})`);
      await sleep(1500); // nothing may come twice
      const seen = streamed();
      expect(seen.map((s) => `${s.pk}${s.v}`).sort()).toEqual([...written].sort());
      for (const pk of ['a', 'b', 'c']) {
        const vs = seen.filter((s) => s.pk === pk).map((s) => s.v);
        expect(vs, pk).toEqual([...vs].sort((x, y) => x - y));
      }
      const seqs = seen.map((s) => BigInt(s.seq));
      expect(seqs).toEqual([...seqs].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
      expect(seen.find((s) => s.pk === 'a' && s.v === 4)?.eventName).toBe('MODIFY');

      const poisoned = functionJson(local, 'ea-stream-reader').filter((j) => j.poisoned).map((j) => j.poisoned as { pk: string; seq: string; batch: number });
      expect(poisoned.map((p) => p.batch)).toContain(1); // bisected down to the poison record alone
      const record = JSON.parse(failure!.Body) as Record<string, any>;
      expect(record).toMatchObject({
        version: '1.0',
        requestContext: { functionArn: outputs.StreamReaderArn, condition: 'RetryAttemptsExhausted' },
        responseContext: { statusCode: 200, executedVersion: '$LATEST' },
        DDBStreamBatchInfo: { startSequenceNumber: poisoned[0]!.seq, endSequenceNumber: poisoned[0]!.seq, batchSize: 1, streamArn: outputs.StreamArn },
      });
      expect(record.DDBStreamBatchInfo.shardId).toMatch(/^shardId-/);
    });

    test('`aws lambda invoke --invocation-type Event`: a failure is retried twice and lands on OnFailure; a success on OnSuccess', async () => {
      const invoke = (payload: object, file: string) => aws.json<{ StatusCode: number }>(['lambda', 'invoke', '--function-name', 'ea-worker', '--invocation-type', 'Event', '--payload', JSON.stringify(payload), join(apps, file)]);
      expect((await invoke({ tag: 'fail-1', fail: true }, 'fail.json')).StatusCode).toBe(202);
      expect((await invoke({ tag: 'ok-1' }, 'ok.json')).StatusCode).toBe(202);

      const [failed] = await drain(aws, await url('ea-failed'), 1);
      const f = JSON.parse(failed!.Body) as Record<string, any>;
      expect(f).toMatchObject({
        version: '1.0',
        requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 3, functionArn: `${outputs.WorkerArn}:$LATEST` },
        requestPayload: { tag: 'fail-1', fail: true },
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        responsePayload: { errorType: 'Error', errorMessage: 'asked to fail: fail-1' },
      });
      const attempts = functionJson(local, 'ea-worker').filter((j) => j.attempt === 'fail-1');
      expect(attempts).toHaveLength(3);
      expect(new Set(attempts.map((a) => a.requestId))).toEqual(new Set([f.requestContext.requestId]));

      const [ok] = await drain(aws, await url('ea-succeeded'), 1);
      expect(JSON.parse(ok!.Body)).toMatchObject({ requestContext: { condition: 'Success', approximateInvokeCount: 1 }, requestPayload: { tag: 'ok-1' }, responsePayload: { echoed: 'ok-1' } });
    });

    test('the logs API through the AWS CLI: groups, streams, events and filters', async () => {
      const groups = await aws.json<{ logGroups: Array<{ logGroupName: string }> }>(['logs', 'describe-log-groups', '--log-group-name-prefix', '/aws/lambda/ea-']);
      expect(groups.logGroups.map((g) => g.logGroupName)).toEqual(expect.arrayContaining(['/aws/lambda/ea-recorder', '/aws/lambda/ea-stream-reader', '/aws/lambda/ea-worker']));
      const streams = await aws.json<{ logStreams: Array<{ logStreamName: string }> }>(['logs', 'describe-log-streams', '--log-group-name', '/aws/lambda/ea-worker']);
      expect(streams.logStreams.length).toBeGreaterThan(0);
      const all = (
        await Promise.all(
          streams.logStreams.map((s) => aws.json<{ events: Array<{ message: string }> }>(['logs', 'get-log-events', '--log-group-name', '/aws/lambda/ea-worker', '--log-stream-name', s.logStreamName, '--start-from-head'])),
        )
      ).flatMap((r) => r.events.map((e) => e.message));
      // Four invocations (three attempts and one success): Lambda's own lines for each.
      for (const kind of ['START', 'END', 'REPORT']) expect(all.filter((m) => m.startsWith(`${kind} RequestId: `)), kind).toHaveLength(4);
      const filtered = await aws.json<{ events: Array<{ message: string; logStreamName: string }> }>(['logs', 'filter-log-events', '--log-group-name', '/aws/lambda/ea-worker', '--filter-pattern', '"fail-1"']);
      expect(filtered.events.filter((e) => e.message.includes('"attempt":"fail-1"'))).toHaveLength(3);
      expect(filtered.events.every((e) => e.message.includes('fail-1'))).toBe(true);
    });
  });

  test('a custom resource: Create, Update on a later deployment with another property, Delete (an ESM script on @floodgate/local)', async () => {
    const { stdout } = await run('node', ['cr-lifecycle.mjs', 'cdk.out', 'cdk.out.v2'], { cwd: apps, env: sandbox.env });
    const { requests, outputs } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { requests: Array<Record<string, string>>; outputs: Array<Record<string, string>> };
    expect(requests.map((r) => r.RequestType)).toEqual(['Create', 'Update', 'Delete']);
    const [create, update, remove] = requests as [Record<string, string>, Record<string, string>, Record<string, string>];
    expect(create).toMatchObject({ Name: 'world' });
    expect(create.PhysicalResourceId).toBeUndefined();
    expect(update).toMatchObject({ Name: 'again', OldName: 'world', PhysicalResourceId: outputs[0]!.GreeterId });
    expect(remove).toMatchObject({ Name: 'again', PhysicalResourceId: outputs[0]!.GreeterId });
    expect(outputs.map((o) => o.Greeting)).toEqual(['hello world', 'hello again']);
  }, STEP_TIMEOUT);

  test('a custom resource answering FAILED fails `floodgate-local up` with its Reason', async () => {
    const err = await run(join(project, 'node_modules', '.bin', 'floodgate-local'), ['up', '--assembly', 'cdk.out', '--stack', 'GreeterFails'], { cwd: apps, env: sandbox.env }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain('failed (1)');
    expect(err?.message).toContain('Custom resource Greeter failed to create: the greeter refuses to greet nobody');
  }, STEP_TIMEOUT);

  test('schedules fired through @floodgate/local/testing (CommonJS) reach their queues', async () => {
    const { stdout } = await run('node', ['schedules.cjs', 'cdk.out'], { cwd: apps, env: sandbox.env });
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, any>;
    expect(r.rule).toMatchObject({ name: 'ea-nightly', kind: 'rule', targets: [{ outcome: { status: 'delivered' } }] });
    expect(r.rule.event).toMatchObject({ 'detail-type': 'Scheduled Event', source: 'aws.events' });
    expect(r.schedule).toMatchObject({ name: 'ea-report', kind: 'schedule', targets: [{ outcome: { status: 'delivered' } }] });
    expect(r.unknown).toMatch(/ea-no-such-schedule/);
    expect(r.nightly).toEqual([{ job: 'nightly' }]);
    expect(r.reports).toEqual([{ job: 'report' }]);
  }, STEP_TIMEOUT);
});
