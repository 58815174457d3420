/** BoundedQueueConsumer's retryBackoff: the grant, the environment, and the synth checks against the queue. */
import { CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { BoundedQueueConsumer, type BoundedQueueConsumerProps } from '../src/bounded-queue-consumer/index';
import { CONSUMER_ENV } from '../src/env';
import { SAMPLE_ENTRY, unbundledStack } from '../../../test/infra/support';
import { expectInvalid } from './support';

function build(props: Partial<BoundedQueueConsumerProps> = {}, stack: Stack = unbundledStack()) {
  const consumer = new BoundedQueueConsumer(stack, 'Consumer', { entry: props.consumerFunction ? undefined : SAMPLE_ENTRY, maxConcurrency: 4, ...props });
  return { stack, consumer, template: Template.fromStack(stack) };
}

/** Every Allow statement of the stack's IAM policies, as [actions, resource] pairs. */
function allowed(template: Template): Array<{ actions: string[]; resource: unknown }> {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) =>
    (p.Properties.PolicyDocument.Statement as Array<{ Effect: string; Action: string | string[]; Resource: unknown }>)
      .filter((s) => s.Effect === 'Allow')
      .map((s) => ({ actions: [s.Action].flat(), resource: s.Resource })),
  );
}

const backoff = { base: Duration.seconds(5), max: Duration.minutes(15) };

describe('BoundedQueueConsumer retryBackoff', () => {
  it("the role may ChangeMessageVisibility on the source queue (only); bounds, queue URL, retention and visibility are passed", () => {
    const { template, consumer, stack } = build({ retryBackoff: backoff });
    const queueId = stack.getLogicalId(consumer.queue.node.defaultChild as never);
    const grants = allowed(template).filter((s) => s.actions.includes('sqs:ChangeMessageVisibility'));
    // The event source's consume grant carries it (one statement, no duplicate).
    expect(grants.map((g) => g.resource)).toEqual([{ 'Fn::GetAtt': [queueId, 'Arn'] }]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [CONSUMER_ENV.retryBackoffBaseSeconds]: '5',
          [CONSUMER_ENV.retryBackoffMaxSeconds]: '900',
          [CONSUMER_ENV.queueRetentionSeconds]: String(4 * 86_400),
          [CONSUMER_ENV.visibilityTimeoutSeconds]: '180',
          [CONSUMER_ENV.queueUrl]: { Ref: queueId },
          [CONSUMER_ENV.maxReceiveCount]: '5',
        }),
      },
    });
  });

  it('without the prop: none of its variables', () => {
    const { template } = build();
    const vars = Object.values(template.findResources('AWS::Lambda::Function'))[0]!.Properties.Environment.Variables as Record<string, unknown>;
    for (const name of [CONSUMER_ENV.retryBackoffBaseSeconds, CONSUMER_ENV.retryBackoffMaxSeconds, CONSUMER_ENV.queueUrl, CONSUMER_ENV.queueRetentionSeconds, CONSUMER_ENV.visibilityTimeoutSeconds]) {
      expect(vars[name]).toBeUndefined();
    }
  });

  it('an imported consumerFunction: its role may ChangeMessageVisibility', () => {
    const stack = unbundledStack();
    const fn = lambda.Function.fromFunctionAttributes(stack, 'Imported', {
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:worker',
      role: new iam.Role(stack, 'WorkerRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }),
      sameEnvironment: true,
    });
    const { template } = build({ consumerFunction: fn, timeout: Duration.seconds(30), retryBackoff: backoff }, stack);
    expect(allowed(template).some((s) => s.actions.includes('sqs:ChangeMessageVisibility'))).toBe(true);
  });

  it.each<[string, Partial<BoundedQueueConsumerProps>, RegExp, string]>([
    ['base below 1 s', { retryBackoff: { base: Duration.seconds(0), max: Duration.seconds(60) } }, /retryBackoff.base is 0 s; it must be at least 1 second/, 'RetryBackoffBaseTooShort'],
    ['fractional seconds', { retryBackoff: { base: Duration.millis(1_500), max: Duration.seconds(60) } }, /retryBackoff.base \(1500 ms\) must be whole seconds/, 'RetryBackoffNotWholeSeconds'],
    ['max below base', { retryBackoff: { base: Duration.minutes(2), max: Duration.minutes(1) } }, /retryBackoff.max \(60 s\) is below retryBackoff.base \(120 s\)/, 'RetryBackoffMaxBelowBase'],
    [
      'max + visibility beyond 12 h',
      { retryBackoff: { base: Duration.seconds(5), max: Duration.hours(12) } },
      /retryBackoff.max \(43200 s\) \+ the visibility timeout \(180 s\) exceeds SQS's 12-hour.*at most 43020 s/,
      'RetryBackoffAboveVisibilityLimit',
    ],
    [
      'a failing message could outlive retention',
      { maxReceiveCount: 15, retryBackoff: { base: Duration.seconds(5), max: Duration.hours(8) } },
      /\(maxReceiveCount 15 - 1\) x \(visibility timeout 180 s \+ retryBackoff.max 28800 s\) = 405720 s.*more than retentionPeriod \(345600 s\).*Raise retentionPeriod to at least 405720 s, lower retryBackoff.max to at most 24505 s, or lower maxReceiveCount/,
      'RetryBackoffExceedsRetention',
    ],
    [
      'short retention',
      { retentionPeriod: Duration.minutes(10), retryBackoff: { base: Duration.seconds(5), max: Duration.minutes(5) } },
      /= 1920 s to reach its last receive, more than retentionPeriod \(600 s\).*Raise retentionPeriod to at least 1920 s, or lower maxReceiveCount/,
      'RetryBackoffExceedsRetention',
    ],
  ])('refuses %s, saying what to change', (_name, props, message, code) => {
    const err = expectInvalid(() => build(props), message, code);
    expect(err.constructPath).toBe('TestStack/Consumer');
  });

  it('accepts the largest max that fits: retention = (maxReceiveCount - 1) x (visibility + max)', () => {
    expect(() => build({ retentionPeriod: Duration.seconds(4 * (180 + 600)), retryBackoff: { base: Duration.seconds(1), max: Duration.seconds(600) } })).not.toThrow();
    expectInvalid(() => build({ retentionPeriod: Duration.seconds(4 * (180 + 600)), retryBackoff: { base: Duration.seconds(1), max: Duration.seconds(601) } }), /more than retentionPeriod/, 'RetryBackoffExceedsRetention');
  });

  it('the construct owns the variables: setting them in environment is refused', () => {
    expectInvalid(() => build({ environment: { [CONSUMER_ENV.retryBackoffMaxSeconds]: '60' } }), /FLOODGATE_RETRY_BACKOFF_MAX_SECONDS is set by the construct/, 'ReservedEnvironmentVariable');
  });

  it('tokens: bounds, retention and receive count from CfnParameters pass through; checks that need them are skipped', () => {
    const stack = unbundledStack();
    const n = (id: string) => new CfnParameter(stack, id, { type: 'Number' }).valueAsNumber;
    const { template } = build(
      { retryBackoff: { base: Duration.seconds(n('Base')), max: Duration.seconds(n('Max')) }, retentionPeriod: Duration.seconds(n('Retention')), maxReceiveCount: n('Receives'), ageOfOldestMessageAlarmThreshold: Duration.minutes(10) },
      stack,
    );
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [CONSUMER_ENV.retryBackoffBaseSeconds]: { Ref: 'Base' }, [CONSUMER_ENV.retryBackoffMaxSeconds]: { Ref: 'Max' }, [CONSUMER_ENV.queueRetentionSeconds]: { Ref: 'Retention' } }) },
    });
    // A known max against a token retention: only the 12-hour check can run, and still does.
    const other = unbundledStack();
    const retention = new CfnParameter(other, 'Retention', { type: 'Number' }).valueAsNumber;
    expectInvalid(() => build({ retentionPeriod: Duration.seconds(retention), retryBackoff: { base: Duration.seconds(1), max: Duration.hours(12) } }, other), /12-hour/, 'RetryBackoffAboveVisibilityLimit');
  });

  it('a token Duration in another unit says which unit to use', () => {
    const stack = unbundledStack();
    const minutes = new CfnParameter(stack, 'Minutes', { type: 'Number' }).valueAsNumber;
    expectInvalid(() => build({ retryBackoff: { base: Duration.seconds(1), max: Duration.minutes(minutes) } }, stack), /retryBackoff.max is a token in another unit; give it as Duration.seconds\(token\)/, 'TokenDurationUnit');
  });

  it('README: the example synthesizes; with maxReceiveCount 15 the largest max that fits is 24,505 s', () => {
    expect(() => build({ retryBackoff: { base: Duration.seconds(5), max: Duration.minutes(15) } })).not.toThrow();
    expect(() => build({ maxReceiveCount: 15, retryBackoff: { base: Duration.seconds(5), max: Duration.seconds(24_505) } })).not.toThrow();
    expectInvalid(() => build({ maxReceiveCount: 15, retryBackoff: { base: Duration.seconds(5), max: Duration.seconds(24_506) } }), /lower retryBackoff.max to at most 24505 s/, 'RetryBackoffExceedsRetention');
    // Defaults (visibility 180 s): up to 12 h minus the visibility timeout.
    expect(() => build({ retryBackoff: { base: Duration.seconds(5), max: Duration.seconds(43_020) } })).not.toThrow();
  });
});
