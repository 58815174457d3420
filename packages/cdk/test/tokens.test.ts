import { CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { BoundedQueueConsumer, type BoundedQueueConsumerProps } from '../src/bounded-queue-consumer/index';
import { CONSUMER_ENV } from '../src/env';
import { SAMPLE_ENTRY, unbundledStack } from '../../../test/infra/support';
import { expectInvalid } from './support';

/** A stack with a Number CfnParameter per name. */
function withParams<N extends string>(...names: N[]): { stack: Stack; p: Record<N, number> } {
  const stack = unbundledStack();
  const p = Object.fromEntries(names.map((n) => [n, new CfnParameter(stack, n, { type: 'Number' }).valueAsNumber])) as Record<N, number>;
  return { stack, p };
}

function build(stack: Stack, props: Partial<BoundedQueueConsumerProps>) {
  new BoundedQueueConsumer(stack, 'Consumer', { entry: SAMPLE_ENTRY, ...props });
  return Template.fromStack(stack);
}

describe('CDK tokens (CfnParameter) are guarded, not rejected', () => {
  it('a token cap flows into ScalingConfig and reserved concurrency; the reserved >= cap check is skipped', () => {
    const { stack, p } = withParams('Cap');
    const template = build(stack, { maxConcurrency: p.Cap });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: { Ref: 'Cap' } } });
    template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: { Ref: 'Cap' } });

    const other = withParams('Cap');
    expect(() => build(other.stack, { maxConcurrency: other.p.Cap, reservedConcurrency: 3 })).not.toThrow();
  });

  it('token batch size, receive count, reserved concurrency and retention pass through', () => {
    const { stack, p } = withParams('Batch', 'Receives', 'Reserved', 'Retention');
    const template = build(stack, {
      maxConcurrency: 4,
      batchSize: p.Batch,
      maxReceiveCount: p.Receives,
      reservedConcurrency: p.Reserved,
      retentionPeriod: Duration.seconds(p.Retention),
      ageOfOldestMessageAlarmThreshold: Duration.minutes(10),
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: { Ref: 'Batch' } });
    template.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: { maxReceiveCount: { Ref: 'Receives' } }, MessageRetentionPeriod: { Ref: 'Retention' } });
    template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: { Ref: 'Reserved' },
      Environment: { Variables: { [CONSUMER_ENV.maxReceiveCount]: { Ref: 'Receives' } } },
    });
  });

  it('a token timeout works when the values derived from it are given', () => {
    const { stack, p } = withParams('Timeout', 'Soft', 'Hard');
    const template = build(stack, {
      maxConcurrency: 4,
      timeout: Duration.seconds(p.Timeout),
      visibilityTimeout: Duration.minutes(10),
      softDeadlineMargin: Duration.millis(p.Soft),
      hardDeadlineMargin: Duration.millis(p.Hard),
      ageOfOldestMessageAlarmThreshold: Duration.minutes(10),
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: { Ref: 'Timeout' },
      Environment: { Variables: { [CONSUMER_ENV.softMarginMs]: { Ref: 'Soft' }, [CONSUMER_ENV.hardMarginMs]: { Ref: 'Hard' } } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 600, RedrivePolicy: { maxReceiveCount: 5 } });
  });

  it('a token timeout without the derived values asks for each of them', () => {
    const base = (_stack: Stack, p: Record<'T', number>): Partial<BoundedQueueConsumerProps> => ({ maxConcurrency: 4, timeout: Duration.seconds(p.T) });
    let t = withParams('T');
    expectInvalid(() => build(t.stack, base(t.stack, t.p)), /timeout or maxBatchingWindow is a token.*Set visibilityTimeout explicitly/, 'VisibilityTimeoutRequired');
    t = withParams('T');
    expectInvalid(
      () => build(t.stack, { ...base(t.stack, t.p), visibilityTimeout: Duration.minutes(5) }),
      /timeout is a token.*Set softDeadlineMargin and hardDeadlineMargin/,
      'DeadlineMarginsRequired',
    );
    t = withParams('T');
    expectInvalid(
      () =>
        build(t.stack, {
          ...base(t.stack, t.p),
          visibilityTimeout: Duration.minutes(5),
          softDeadlineMargin: Duration.seconds(10),
          hardDeadlineMargin: Duration.seconds(5),
        }),
      /Set ageOfOldestMessageAlarmThreshold explicitly/,
      'AlarmThresholdRequired',
    );
  });

  it('a token memory size needs cpuConcurrency; a token budget asks for maxConcurrency instead', () => {
    let t: { stack: Stack; p: Record<string, number> } = withParams('Memory');
    expectInvalid(() => build(t.stack, { maxConcurrency: 4, memorySize: t.p.Memory }), /memorySize is a token.*Set cpuConcurrency/, 'CpuConcurrencyRequired');
    t = withParams('Memory');
    expect(() => build(t.stack, { maxConcurrency: 4, memorySize: t.p.Memory, cpuConcurrency: 2 })).not.toThrow();
    t = withParams('Conns');
    expectInvalid(
      () => build(t.stack, { downstreamBudget: { maxConnections: t.p.Conns!, connectionsPerExecution: 4 } }),
      /downstreamBudget is divided at synth.*set maxConcurrency \(which may be a CfnParameter\)/,
      'BudgetIsToken',
    );
  });

  it('token pollers flow into ProvisionedPollerConfig; reserved concurrency must then be given', () => {
    let t: { stack: Stack; p: Record<string, number> } = withParams('Min', 'Max');
    const template = build(t.stack, { provisionedPollerConfig: { minimumPollers: t.p.Min, maximumPollers: t.p.Max }, reservedConcurrency: 100 });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ProvisionedPollerConfig: { MinimumPollers: { Ref: 'Min' }, MaximumPollers: { Ref: 'Max' } } });
    t = withParams('Max');
    expectInvalid(() => build(t.stack, { provisionedPollerConfig: { maximumPollers: t.p.Max } }), /maximumPollers is a token.*Set reservedConcurrency/, 'ReservedConcurrencyRequired');
  });

  it('a token FIFO batch size is not checked against 10', () => {
    const { stack, p } = withParams('Batch');
    expect(() => build(stack, { fifo: true, maxConcurrency: 2, batchSize: p.Batch })).not.toThrow();
  });
});
