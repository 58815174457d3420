/**
 * Custom resources on the embedded stack, as CloudFormation runs them: Create at deploy (Data usable by
 * later resources), Update with OldResourceProperties on a later deployment with other properties,
 * Delete when the stack is destroyed, FAILED and silent handlers failing the deployment; refusals.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetBucketTaggingCommand, PutBucketTaggingCommand, GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { deployTemplate, UnsupportedResourceError } from '../src/core/deployment/deploy';
import { checkCustomResource, CustomResourceError, invalidResponse } from '../src/services/cloudformation/custom-resource';
import { parseTagging } from '../src/services/s3/bucket-subresources';
import type { LogEntry } from '../src/lambda-host/index';
import { startLocalStack, type LocalStack } from '../src/stack';
import { localEndpoints } from '../../../test/support/local-env';
import { readAssembly } from '../src/core/deployment/assembly';
import { synthCdkCustomResourcesApp, synthGreeterApp, synthIsCompleteApp, type GreeterOptions } from './fixtures/custom-resource-app';

type CfnEvent = Record<string, unknown> & { RequestType: string; ResourceProperties: Record<string, unknown> };

const dir = mkdtempSync(join(tmpdir(), 'fg-cr-'));
let n = 0;
const synth = (o: GreeterOptions) => synthGreeterApp(join(dir, `cdk.out.${n++}`), o);

function recorder() {
  const events: CfnEvent[] = [];
  const onLog = (e: LogEntry) => {
    const i = e.line.indexOf('CR-EVENT ');
    if (i >= 0) events.push(JSON.parse(e.line.slice(i + 'CR-EVENT '.length)) as CfnEvent);
  };
  return { events, onLog };
}

describe('custom resources (Lambda-backed)', () => {
  const emulators = localEndpoints();
  const quiet = () => undefined;

  it('Create at deploy, Update on a later deployment with other properties, nothing when unchanged, Delete on destroy', { timeout: 120_000 }, async () => {
    const prefix = `cr${Date.now().toString(36)}`;
    const rec = recorder();
    const first = await startLocalStack({ assembly: synth({ version: '1' }), emulators, prefix, onLog: rec.onLog, log: quiet });
    try {
      expect(rec.events).toHaveLength(1);
      const create = rec.events[0]!;
      expect(create).toMatchObject({
        RequestType: 'Create',
        ResourceType: 'Custom::Greeter',
        LogicalResourceId: 'Greeter',
        StackId: expect.stringMatching(/^arn:aws:cloudformation:us-east-1:\d{12}:stack\/FloodgateCustomResources\//),
        RequestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        ServiceToken: expect.stringMatching(/^arn:aws:lambda:us-east-1:\d{12}:function:/),
      });
      expect(create.PhysicalResourceId).toBeUndefined();
      expect(create.OldResourceProperties).toBeUndefined();
      // CloudFormation's ResourceProperties: ServiceToken inside, every scalar a string.
      expect(create.ResourceProperties).toEqual({ ServiceToken: create.ServiceToken, Name: 'world', Version: '1', Count: '3', Enabled: 'true', Fail: 'no', Silent: 'no' });
      // A presigned PUT (SigV4 query authentication) on the stack's endpoint.
      const url = new URL(create.ResponseURL as string);
      expect(url.origin).toBe(new URL(first.endpoint).origin);
      expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
      expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
      // Ref is the PhysicalResourceId, GetAtt the Data, and a later resource is built from it.
      expect(first.outputs).toMatchObject({ Greeting: 'hello world', GreeterId: 'greeter-1' });
      await first.clients.sqs.send(new GetQueueUrlCommand({ QueueName: first.outputs.QueueName! }));
      expect(first.outputs.QueueName).toContain('greet-world');
    } finally {
      await first.stop(); // shared emulators, not destroyed: the stack's resources stay, the custom resource too
    }
    expect(rec.events).toHaveLength(1);

    const second = await startLocalStack({ assembly: synth({ version: '2', name: 'again' }), emulators, prefix, onLog: rec.onLog, log: quiet });
    await second.stop();
    expect(rec.events.map((e) => e.RequestType)).toEqual(['Create', 'Update', 'Delete']);
    const [, update, replaced] = rec.events as [CfnEvent, CfnEvent, CfnEvent];
    expect(update).toMatchObject({ PhysicalResourceId: 'greeter-1', ResourceProperties: { Name: 'again', Version: '2' }, OldResourceProperties: { Name: 'world', Version: '1' } });
    // The answer named another physical resource: a replacement, the old one is deleted.
    expect(replaced).toMatchObject({ PhysicalResourceId: 'greeter-1', ResourceProperties: { Name: 'world', Version: '1' } });
    expect(second.outputs).toMatchObject({ Greeting: 'hello again', GreeterId: 'greeter-2' });

    const third = await startLocalStack({ assembly: synth({ version: '2', name: 'again' }), emulators, prefix, onLog: rec.onLog, log: quiet });
    expect(rec.events).toHaveLength(3); // same properties: nothing sent, Data kept
    expect(third.outputs).toMatchObject({ Greeting: 'hello again', GreeterId: 'greeter-2' });
    await third.stop({ destroy: true });
    expect(rec.events).toHaveLength(4);
    expect(rec.events[3]).toMatchObject({ RequestType: 'Delete', PhysicalResourceId: 'greeter-2', ResourceProperties: { Name: 'again', Version: '2' } });

    // Destroyed: the next deployment creates it again.
    const fourth = await startLocalStack({ assembly: synth({ version: '3' }), emulators, prefix, onLog: rec.onLog, log: quiet });
    await fourth.stop({ destroy: true });
    expect(rec.events.slice(4).map((e) => e.RequestType)).toEqual(['Create', 'Delete']);
  });

  it('a stack with its own emulators sends Delete when it stops', { timeout: 120_000 }, async () => {
    const rec = recorder();
    const stack = await startLocalStack({ assembly: synth({ version: '1' }), onLog: rec.onLog, log: quiet, handleSignals: false });
    await stack.stop();
    expect(rec.events.map((e) => e.RequestType)).toEqual(['Create', 'Delete']);
  });

  it('a FAILED response fails the deployment with its Reason, naming the logical id', { timeout: 120_000 }, async () => {
    const rec = recorder();
    const p = startLocalStack({ assembly: synth({ fail: true, name: 'bob' }), emulators, onLog: rec.onLog, log: quiet });
    await expect(p).rejects.toThrow(CustomResourceError);
    await expect(p).rejects.toThrow(/^Custom resource Greeter failed to create: the greeter refuses: bob$/);
    // The rollback deletes what the FAILED answer named, as CloudFormation does.
    expect(rec.events.map((e) => [e.RequestType, e.PhysicalResourceId])).toEqual([['Create', undefined], ['Delete', 'greeter-1']]);
  });

  it('a handler that ends without answering fails the deployment at once, saying so', { timeout: 120_000 }, async () => {
    const started = Date.now();
    const p = startLocalStack({ assembly: synth({ silent: true }), emulators, log: quiet });
    await expect(p).rejects.toThrow(/Greeter failed to create: its handler \S+ returned without sending a response to the ResponseURL/);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('refuses an SNS-backed custom resource by name before creating anything', async () => {
    const p = deployTemplate({
      template: {
        Resources: {
          Q: { Type: 'AWS::SQS::Queue' },
          Topic: { Type: 'AWS::SNS::Topic' },
          Legacy: { Type: 'Custom::Legacy', Properties: { ServiceToken: { Ref: 'Topic' } } },
        },
      },
      stackName: 'X',
      assemblyDir: dir,
      endpoints: emulators,
      log: quiet,
    });
    await expect(p).rejects.toThrow(UnsupportedResourceError);
    await expect(p).rejects.toThrow(/Custom::Legacy \(Legacy\): its ServiceToken is an SNS topic/);
  });
});

describe("CDK's own custom resources", () => {
  const emulators = localEndpoints();
  const quiet = () => undefined;
  let assembly: string;
  beforeAll(() => {
    assembly = synthCdkCustomResourcesApp(join(dir, 'cdk.out.cdk'));
  });

  async function listKeys(stack: LocalStack, bucket: string): Promise<string[]> {
    const page = await stack.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    return (page.Contents ?? []).map((o) => o.Key!).sort();
  }

  it('cr.Provider: the framework runs the onEvent handler through the Lambda API, on create, update and delete; a thrown error fails the deploy', { timeout: 240_000 }, async () => {
    const events: Array<Record<string, unknown>> = [];
    const onLog = (e: LogEntry) => {
      const i = e.line.indexOf('PAINT-EVENT ');
      if (i >= 0) events.push(JSON.parse(e.line.slice(i + 'PAINT-EVENT '.length)) as Record<string, unknown>);
    };
    const prefix = `prov${Date.now().toString(36)}`;
    const first = await startLocalStack({ assembly, emulators, prefix, log: quiet, onLog });
    expect(first.outputs).toMatchObject({ Shade: 'dark blue', PaintId: 'paint-blue' });
    await first.stop();
    const second = await startLocalStack({ assembly: synthCdkCustomResourcesApp(join(dir, 'cdk.out.red'), { color: 'red' }), emulators, prefix, log: quiet, onLog });
    expect(second.outputs).toMatchObject({ Shade: 'dark red', PaintId: 'paint-red' });
    await second.stop({ destroy: true });
    expect(events).toEqual([
      { RequestType: 'Create', Color: 'blue' },
      { RequestType: 'Update', PhysicalResourceId: 'paint-blue', Color: 'red' },
      { RequestType: 'Delete', PhysicalResourceId: 'paint-blue', Color: 'blue' },
      { RequestType: 'Delete', PhysicalResourceId: 'paint-red', Color: 'red' },
    ]);
    const failing = startLocalStack({ assembly: synthCdkCustomResourcesApp(join(dir, 'cdk.out.none'), { color: 'none' }), emulators, log: quiet });
    await expect(failing).rejects.toThrow(/^Custom resource Paint failed to create: no colour given\n\nLogs: \/aws\/lambda\//);
  });

  it('refuses a cr.Provider with isComplete (a Step Functions waiter) by name, before creating anything', async () => {
    const [app] = readAssembly(synthIsCompleteApp(join(dir, 'cdk.out.iscomplete')));
    const p = deployTemplate({ template: app!.template, stackName: 'FloodgateIsComplete', assemblyDir: dir, endpoints: emulators, log: quiet });
    await expect(p).rejects.toThrow(UnsupportedResourceError);
    await expect(p).rejects.toThrow(/Custom::AWSCDK-Resource|AWS::CloudFormation::CustomResource \(Waited[0-9A-F]*\): its provider \(\w+\) has an isComplete handler.*Step Functions is not emulated/);
    await expect(p).rejects.toThrow(/AWS::StepFunctions::StateMachine \(\w+\): no state machine runs/);
  });

  it('AwsCustomResource makes its SDK call on the local endpoint; autoDeleteObjects empties a tagged bucket on Delete and skips an untagged one', { timeout: 180_000 }, async () => {
    const lines: string[] = [];
    const stack = await startLocalStack({ assembly, emulators, prefix: `cdkcr${Date.now().toString(36)}`, log: quiet, onLog: (e) => lines.push(e.line) });
    let stopped = false;
    try {
      const bucket = stack.outputs.Bucket!;
      const marker = await stack.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'marker.txt' }));
      expect(await marker.Body!.transformToString()).toBe('made by AwsCustomResource');
      expect(stack.outputs.MarkerETag).toBe(marker.ETag);
      // The tag the autoDeleteObjects handler checks before emptying the bucket.
      const tagging = await stack.clients.s3.send(new GetBucketTaggingCommand({ Bucket: bucket }));
      expect(tagging.TagSet).toContainEqual({ Key: 'aws-cdk:auto-delete-objects', Value: 'true' });
      for (const k of ['a.txt', 'b/c.txt']) await stack.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k }));
      expect(await listKeys(stack, bucket)).toEqual(['a.txt', 'b/c.txt', 'marker.txt']);
      // Without the tag (other tags left, as GetBucketTagging fails on a bucket with none) the handler
      // leaves the bucket alone, as on AWS.
      await stack.clients.s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: [{ Key: 'team', Value: 'data' }] } }));
      expect((await stack.clients.s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet).toEqual([{ Key: 'team', Value: 'data' }]);
      expect(await stack.deployment.teardown()).toEqual([]);
      expect(lines.some((l) => l.includes("does not have 'aws-cdk:auto-delete-objects' tag, skipping cleaning"))).toBe(true);
      expect(await listKeys(stack, bucket)).toEqual(['a.txt', 'b/c.txt', 'marker.txt']);
      await stack.stop({ destroy: true });
      stopped = true;
    } finally {
      if (!stopped) await stack.stop({ destroy: true });
    }

    // Tagged (as deployed): destroying the stack runs the handler, which empties the bucket.
    const again = await startLocalStack({ assembly, emulators, prefix: `cdkcr${Date.now().toString(36)}`, log: quiet });
    const bucket = again.outputs.Bucket!;
    try {
      for (const k of ['x.txt', 'y/z.txt']) await again.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k }));
      expect(await listKeys(again, bucket)).toEqual(['marker.txt', 'x.txt', 'y/z.txt']);
      expect(await again.deployment.teardown()).toEqual([]);
      await again.clients.s3.send(new HeadBucketCommand({ Bucket: bucket }));
      expect(await listKeys(again, bucket)).toEqual([]);
    } finally {
      await again.stop({ destroy: true });
    }
  });
});

describe('custom resource rules (pure)', () => {
  const request = { RequestId: 'r-1', StackId: 'arn:aws:cloudformation:us-east-1:000000000000:stack/S/x', LogicalResourceId: 'Res' };
  const ok = { Status: 'SUCCESS', PhysicalResourceId: 'p', ...request };

  it('checks a response as CloudFormation does', () => {
    expect(invalidResponse(JSON.stringify(ok), request)).toBeUndefined();
    expect(invalidResponse(JSON.stringify({ ...ok, Data: { big: 'x'.repeat(4096) } }), request)).toMatch(/^Response object is too long/);
    expect(invalidResponse(JSON.stringify({ ...ok, RequestId: 'other' }), request)).toMatch(/RequestId "other" does not match/);
    expect(invalidResponse(JSON.stringify({ ...ok, PhysicalResourceId: undefined }), request)).toMatch(/Invalid PhysicalResourceId/);
    expect(invalidResponse(JSON.stringify({ ...ok, Status: 'DONE' }), request)).toMatch(/Status must be SUCCESS or FAILED/);
    expect(invalidResponse('not json', request)).toMatch(/not JSON/);
  });

  it('refuses what cannot run locally, naming why', () => {
    const fn = (props: Record<string, unknown>) => ({ Resources: { Fn: { Type: 'AWS::Lambda::Function', Properties: props } } });
    const cr = { Type: 'Custom::X', Properties: { ServiceToken: { 'Fn::GetAtt': ['Fn', 'Arn'] } } };
    expect(checkCustomResource(cr, fn({ Runtime: 'nodejs24.x' }))).toBeUndefined();
    expect(checkCustomResource(cr, fn({ Runtime: 'python3.13' }))).toMatch(/runs on python3.13; the local Lambda host runs Node.js functions only/);
    expect(checkCustomResource({ Type: 'Custom::X', Properties: { ServiceToken: 'arn:aws:sns:us-east-1:1:t' } }, fn({}))).toMatch(/SNS topic/);
    expect(checkCustomResource({ Type: 'Custom::X', Properties: { ServiceToken: 'arn:aws:lambda:us-east-1:1:function:elsewhere' } }, fn({}))).toMatch(/outside this stack/);
    expect(checkCustomResource({ Type: 'Custom::X', Properties: {} }, fn({}))).toBe('it has no ServiceToken');
  });

  it('parses bucket tagging XML (escapes, empty values) and rejects malformed documents', () => {
    expect(parseTagging('<Tagging xmlns="x"><TagSet><Tag><Key>a&amp;b</Key><Value>1</Value></Tag><Tag><Value/><Key>e</Key></Tag></TagSet></Tagging>')).toEqual([
      { Key: 'a&b', Value: '1' },
      { Key: 'e', Value: '' },
    ]);
    expect(parseTagging('<Tagging><TagSet/></Tagging>')).toEqual([]);
    expect(parseTagging('<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>')).toBeUndefined();
    expect(parseTagging('<ListBucketResult/>')).toBeUndefined();
  });
});
