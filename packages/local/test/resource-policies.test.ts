/**
 * Issue 23 part 2, resource policies as AWS applies them, with our own CDK app
 * (fixtures/policies-app.ts): a subscription, a rule and a notification without the grant behave as on
 * AWS (SNS and EventBridge drop the delivery and count it: NumberOfNotificationsFailed,
 * FailedInvocations; S3 refuses the configuration, and a template with it does not deploy), while the
 * same paths as CDK writes them (queue policy, topic policy, Lambda::Permission) deliver. `iam: false`
 * (`--no-iam`) turns the policies off.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand } from '@aws-sdk/client-sns';
import { ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../src/stack';
import { deliveryFailureLines, summarize } from '../src/cli/summary';
import { localEndpoints } from '../../../test/support/local-env';
import { POLICIES_STACK, POLICY_LESS_NOTIFICATION_STACK, synthPoliciesApp } from './fixtures/policies-app';

let stack: LocalStack;
let dir: string;
const recorded: Array<Record<string, any>> = [];
const logs: string[] = [];

beforeAll(async () => {
  dir = synthPoliciesApp(mkdtempSync(join(tmpdir(), 'fg-policies-')));
  stack = await startLocalStack({
    assembly: dir,
    stack: POLICIES_STACK,
    emulators: localEndpoints(),
    waitTimeSeconds: 1,
    eventRetryBaseMs: 50,
    asyncRetryDelaysMs: [200, 400],
    log: (l) => logs.push(l),
    onLog: (e) => {
      if (e.json && 'recorded' in e.json) recorded.push(e.json.recorded as Record<string, any>);
    },
  });
}, 180_000);
afterAll(async () => {
  await stack?.stop({ destroy: true });
});

async function until<T>(get: () => T | undefined | Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await get();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not seen in ${ms} ms`);
}

async function drain(s: LocalStack, queueUrl: string, min: number, ms = 3000): Promise<Message[]> {
  const got: Message[] = [];
  const end = Date.now() + ms;
  do {
    const r = await s.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    got.push(...(r.Messages ?? []));
    if (got.length >= min && (r.Messages ?? []).length === 0) break;
    if ((r.Messages ?? []).length === 0) await new Promise((res) => setTimeout(res, 100));
  } while (Date.now() < end);
  return got;
}

const out = (k: string): string => stack.outputs[k]!;

describe('SNS', () => {
  it('delivers to the queue whose policy allows the topic, drops and counts the queue and function without a grant', async () => {
    const topicArn = out('TopicArn');
    const before = stack.deliveryFailures().deniedDeliveries;
    await stack.clients.sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'policy-check-1' }));
    // The granted queue gets it (CDK's SqsSubscription wrote the queue policy).
    const granted = await drain(stack, out('GrantedQueueUrl'), 1);
    expect(granted.map((m) => m.Body)).toEqual(['policy-check-1']);
    // The queue without a policy and the function without a permission for this topic get nothing.
    expect(await drain(stack, out('PlainQueueUrl'), 1, 1500)).toEqual([]);
    await new Promise((r) => setTimeout(r, 500));
    expect(recorded.some((e) => e.Records?.[0]?.Sns?.Message === 'policy-check-1')).toBe(false);

    const failures = stack.deliveryFailures();
    expect(failures.sns.find((t) => t.topicArn === topicArn)).toMatchObject({ NumberOfNotificationsFailed: 2, NumberOfNotificationsRedrivenToDlq: 0 });
    expect(failures.deniedDeliveries - before).toBe(2);
    const denied = failures.denied.filter((d) => d.sourceArn === topicArn);
    expect(denied.map((d) => [d.service, d.action, d.resource]).sort()).toEqual(
      [
        ['sns.amazonaws.com', 'lambda:InvokeFunction', out('RecorderArn')],
        ['sns.amazonaws.com', 'sqs:SendMessage', out('PlainQueueArn')],
      ].sort(),
    );
    expect(denied[0]!.message).toMatch(/is not authorized to perform: .* because no resource-based policy allows/);
    // The same counts in the stats and in the `up` summary.
    expect(stack.stats().deliveryFailures.sns).toEqual(failures.sns);
    expect(summarize(stack).deliveryFailures?.sns).toEqual(failures.sns);
    // What `up` prints when it stops.
    const lines = deliveryFailureLines(stack).join('\n');
    expect(lines).toMatch(/^deliveries: \d+ denied by the destination's resource policy/);
    expect(lines).toContain(`sns: ${topicArn}: NumberOfNotificationsFailed=2 NumberOfNotificationsRedrivenToDlq=0`);
  });

  it("a function's permission is for its SourceArn: the topic it names delivers", async () => {
    await stack.clients.sns.send(new PublishCommand({ TopicArn: out('OtherTopicArn'), Message: 'policy-check-other' }));
    await until(() => recorded.find((e) => e.Records?.[0]?.Sns?.Message === 'policy-check-other'), 10_000, 'SNS → Lambda through LambdaSubscription');
  });
});

describe('EventBridge', () => {
  it('the rule CDK wrote delivers; the rule without queue policy or permission fails its invocations', async () => {
    stack.putEvents('default', [
      { Source: 'fg.policies', DetailType: 'granted', Detail: JSON.stringify({ n: 1 }) },
      { Source: 'fg.policies', DetailType: 'plain', Detail: JSON.stringify({ n: 2 }) },
    ]);
    await stack.events.idle();
    const granted = await drain(stack, out('GrantedRuleQueueUrl'), 1);
    expect(granted.map((m) => JSON.parse(m.Body!).detail)).toEqual([{ n: 1 }]);
    await until(() => recorded.find((e) => e.source === 'fg.policies' && e.detail?.n === 1), 10_000, 'EventBridge → Lambda through targets.LambdaFunction');
    expect(await drain(stack, out('PlainQueueUrl'), 1, 1500)).toEqual([]);
    expect(recorded.some((e) => e.source === 'fg.policies' && e.detail?.n === 2)).toBe(false);

    const plainRule = stack.stats().events.rules.find((r) => r.arn === out('PlainRuleArn'))!;
    expect(plainRule).toMatchObject({ matchedEvents: 1, failedInvocations: 2, retries: 0 });
    expect(stack.deliveryFailures().events).toContainEqual({ ruleArn: out('PlainRuleArn'), FailedInvocations: 2, DeadLetterInvocations: 0 });
    const denied = stack.deliveryFailures().denied.filter((d) => d.sourceArn === out('PlainRuleArn'));
    expect(denied.map((d) => [d.service, d.action]).sort()).toEqual([
      ['events.amazonaws.com', 'lambda:InvokeFunction'],
      ['events.amazonaws.com', 'sqs:SendMessage'],
    ]);
  });
});

describe('S3 notifications', () => {
  it('delivers to the queue whose policy allows the bucket', async () => {
    await stack.clients.s3.send(new PutObjectCommand({ Bucket: out('BucketName'), Key: 'a.txt', Body: 'x' }));
    const got = await until(async () => {
      const m = await drain(stack, out('GrantedS3QueueUrl'), 1, 500);
      return m.find((x) => JSON.parse(x.Body!).Records?.[0]?.s3?.object?.key === 'a.txt');
    }, 10_000, 'S3 → SQS');
    expect(JSON.parse(got.Body!).Records[0].eventName).toBe('ObjectCreated:Put');
  });

  it("refuses a configuration whose destination's policy does not allow the bucket, with AWS's message", async () => {
    const put = (config: Record<string, unknown>) => stack.clients.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: out('BucketName'), NotificationConfiguration: config }));
    await expect(put({ QueueConfigurations: [{ QueueArn: out('PlainQueueArn'), Events: ['s3:ObjectCreated:*'] }] })).rejects.toMatchObject({
      name: 'InvalidArgument',
      message: expect.stringMatching(/^Unable to validate the following destination configurations: .*PlainQueue.*: Permissions on the destination queue do not allow S3 to publish notifications from this bucket$/),
    });
    await expect(put({ TopicConfigurations: [{ TopicArn: out('PlainTopicArn'), Events: ['s3:ObjectCreated:*'] }] })).rejects.toThrow(/Permissions on the destination topic do not allow S3 to publish notifications from this bucket/);
    await expect(put({ LambdaFunctionConfigurations: [{ LambdaFunctionArn: out('RecorderArn'), Events: ['s3:ObjectCreated:*'] }] })).rejects.toThrow(/Not authorized to invoke function/);
    // The configuration CDK wrote is still the bucket's: objects keep reaching the granted queue.
    await stack.clients.s3.send(new PutObjectCommand({ Bucket: out('BucketName'), Key: 'b.txt', Body: 'x' }));
    await until(async () => (await drain(stack, out('GrantedS3QueueUrl'), 1, 500)).some((x) => JSON.parse(x.Body!).Records?.[0]?.s3?.object?.key === 'b.txt'), 10_000, 'S3 → SQS after the refusal');
  });

  it('a template whose bucket notifies a queue without a policy does not deploy; with iam: false (--no-iam) it does', async () => {
    await expect(startLocalStack({ assembly: dir, stack: POLICY_LESS_NOTIFICATION_STACK, emulators: localEndpoints(), log: () => undefined })).rejects.toThrow(
      /Unable to validate the following destination configurations: .*BareQueue.*: Permissions on the destination queue do not allow S3 to publish notifications from this bucket/,
    );
    const open = await startLocalStack({ assembly: dir, stack: POLICY_LESS_NOTIFICATION_STACK, emulators: localEndpoints(), iam: false, prefix: 'noiam', log: () => undefined });
    try {
      expect(open.iam).toBe(false);
      expect(open.deliveryFailures().deniedDeliveries).toBe(0);
    } finally {
      await open.stop({ destroy: true });
    }
  });
});

describe('S3: a missing key and s3:ListBucket (issue 23 part 3)', () => {
  const client = (logicalPrefix: string) => {
    const fn = stack.deployment.functions.find((f) => f.logicalId.startsWith(logicalPrefix))!;
    return new S3Client({ region: stack.region, endpoint: stack.endpoint, forcePathStyle: true, credentials: stack.functionCredentials(fn.logicalId)!, maxAttempts: 1 });
  };
  const status = (p: Promise<unknown>) => p.then(() => 200, (e: { $metadata?: { httpStatusCode?: number }; name?: string }) => `${e.$metadata?.httpStatusCode} ${e.name}`);

  it('HEAD and GET of a missing key: 403 AccessDenied without s3:ListBucket, 404 with it; an existing key is 200 for both', async () => {
    const Bucket = out('BucketName');
    await stack.clients.s3.send(new PutObjectCommand({ Bucket, Key: 'present.txt', Body: 'x' }));
    const noList = client('ReaderNoList');
    const withList = client('ReaderWithList');
    try {
      // HEAD answers have no body: the SDK sees the status only (as from S3).
      expect(await status(noList.send(new HeadObjectCommand({ Bucket, Key: 'absent.txt' })))).toMatch(/^403 /);
      expect(await status(noList.send(new GetObjectCommand({ Bucket, Key: 'absent.txt' })))).toBe('403 AccessDenied');
      expect(await status(withList.send(new HeadObjectCommand({ Bucket, Key: 'absent.txt' })))).toBe('404 NotFound');
      expect(await status(withList.send(new GetObjectCommand({ Bucket, Key: 'absent.txt' })))).toBe('404 NoSuchKey');
      expect(await status(noList.send(new HeadObjectCommand({ Bucket, Key: 'present.txt' })))).toBe(200);
      expect(await status(noList.send(new GetObjectCommand({ Bucket, Key: 'present.txt' })))).toBe(200);
    } finally {
      noList.destroy();
      withList.destroy();
    }
  });
});
