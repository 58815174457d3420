import { App, Size, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { ARCH_CONTEXT, CONSUMER_ENV, PIPELINE_ENV, STACK_NAME, STACK_OUTPUTS, TABLE_ATTRIBUTES } from '../../lambda/shared/contract';
import { ImagePipelineStack } from '../../lib/image-pipeline-stack';
import { unbundledApp } from './support';

type Resources = Record<string, { Type: string; Properties?: any; DeletionPolicy?: string }>;

const app = unbundledApp();
const stack = new ImagePipelineStack(app, STACK_NAME);
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Resources;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

describe('ImagePipelineStack: the "Done when" properties', () => {
  it('every queue with a redrive policy has maxReceiveCount >= 5, and every DLQ is a queue in the stack', () => {
    const redriven = ofType('AWS::SQS::Queue').filter(([, r]) => r.Properties?.RedrivePolicy);
    expect(redriven.length).toBeGreaterThanOrEqual(1);
    for (const [, q] of redriven) {
      expect(q.Properties.RedrivePolicy.maxReceiveCount).toBeGreaterThanOrEqual(5);
      const [dlqId] = q.Properties.RedrivePolicy.deadLetterTargetArn['Fn::GetAtt'];
      expect(resources[dlqId]?.Type).toBe('AWS::SQS::Queue');
    }
  });

  it('every queue has an SSL-only policy and server-side encryption', () => {
    const policies = ofType('AWS::SQS::QueuePolicy');
    for (const [id, q] of ofType('AWS::SQS::Queue')) {
      expect(q.Properties.SqsManagedSseEnabled === true || q.Properties.KmsMasterKeyId !== undefined).toBe(true);
      const policy = policies.find(([, p]) => JSON.stringify(p.Properties.Queues).includes(`"${id}"`));
      expect(policy, `queue ${id} has no policy`).toBeDefined();
      expect(policy?.[1].Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  it('reserved concurrency >= event-source max concurrency, and visibility >= 6 x timeout + window', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping');
    expect(mappings.length).toBeGreaterThanOrEqual(1);
    for (const [, m] of mappings) {
      const fn = resources[m.Properties.FunctionName.Ref];
      expect(fn?.Properties.ReservedConcurrentExecutions).toBeGreaterThanOrEqual(m.Properties.ScalingConfig.MaximumConcurrency);
      expect(m.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      const queue = resources[m.Properties.EventSourceArn['Fn::GetAtt'][0]];
      const window = m.Properties.MaximumBatchingWindowInSeconds ?? 0;
      expect(queue?.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fn?.Properties.Timeout + window);
    }
  });

  it('every table has TTL and point-in-time recovery', () => {
    const tables = ofType('AWS::DynamoDB::GlobalTable');
    expect(tables).toHaveLength(3);
    for (const [, t] of tables) {
      expect(t.Properties.TimeToLiveSpecification.Enabled).toBe(true);
      for (const replica of t.Properties.Replicas) {
        expect(replica.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled).toBe(true);
      }
      expect(t.DeletionPolicy).toBe('Retain');
    }
    const keys = tables.map(([, t]) => t.Properties.KeySchema[0].AttributeName).sort();
    expect(keys).toEqual(
      [TABLE_ATTRIBUTES.jobs.partitionKey, TABLE_ATTRIBUTES.idempotency.partitionKey, TABLE_ATTRIBUTES.locks.partitionKey].sort(),
    );
  });

  it('every bucket is private, encrypted, SSL-only; data buckets log access and expire abandoned uploads', () => {
    const buckets = ofType('AWS::S3::Bucket');
    expect(buckets).toHaveLength(3);
    for (const [id, b] of buckets) {
      expect(b.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(b.Properties.BucketEncryption).toBeDefined();
      const policy = ofType('AWS::S3::BucketPolicy').find(([, p]) => p.Properties.Bucket.Ref === id);
      expect(policy?.[1].Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
    const uploads = resources[stack.getLogicalId(stack.uploadsBucket.node.defaultChild as s3.CfnBucket)];
    expect(uploads?.Properties.LoggingConfiguration.DestinationBucketName).toEqual({ Ref: expect.stringMatching(/^AccessLogsBucket/) });
    expect(uploads?.Properties.LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }),
        expect.objectContaining({ Prefix: 'uploads/', ExpirationInDays: 7, Status: 'Enabled' }),
      ]),
    );
    const renditions = resources[stack.getLogicalId(stack.renditionsBucket.node.defaultChild as s3.CfnBucket)];
    expect(renditions?.Properties.LoggingConfiguration).toBeDefined();
  });

  it('no IAM statement uses a wildcard action, and no role has a managed policy', () => {
    const statements = [
      ...ofType('AWS::IAM::Policy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement),
      ...ofType('AWS::IAM::Role').flatMap(([, r]) => (r.Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement)),
    ];
    expect(statements.length).toBeGreaterThan(0);
    for (const s of statements) {
      for (const action of [s.Action].flat()) expect(action, JSON.stringify(s)).not.toMatch(/\*/);
    }
    for (const [, r] of ofType('AWS::IAM::Role')) expect(r.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('scopes the worker object access to the uploads/ (read) and renditions/ (write) prefixes', () => {
    // The worker's policies only (the job API's role has its own, tested in test/api/construct.test.ts).
    const workerPolicies = ofType('AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties.Roles).includes('ImageWorker'));
    const statements = workerPolicies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement) as any[];
    const s3Statements = statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith('s3:')));
    const byAction = (a: string) => s3Statements.filter((s) => [s.Action].flat().includes(a));
    expect(byAction('s3:GetObject').map((s) => JSON.stringify(s.Resource))).toEqual([expect.stringMatching(/UploadsBucket.*"\/uploads\/\*"/)]);
    expect(byAction('s3:PutObject').map((s) => JSON.stringify(s.Resource))).toEqual([expect.stringMatching(/RenditionsBucket.*"\/renditions\/\*"/)]);
    expect(byAction('s3:ListBucket')[0]?.Condition).toEqual({ StringLike: { 's3:prefix': ['uploads/*'] } });
  });

  it('runs every function on nodejs24.x; the worker on arm64 by default with the pipeline environment', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThanOrEqual(1);
    for (const [, f] of functions) expect(f.Properties.Runtime).toBe('nodejs24.x');
    template.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      MemorySize: 2048,
      Timeout: 60,
      ReservedConcurrentExecutions: 10,
      Environment: {
        Variables: Match.objectLike({
          [PIPELINE_ENV.jobsTable]: { Ref: Match.stringLikeRegexp('^JobsTable') },
          [PIPELINE_ENV.uploadsBucket]: { Ref: Match.stringLikeRegexp('^UploadsBucket') },
          [PIPELINE_ENV.renditionsBucket]: { Ref: Match.stringLikeRegexp('^RenditionsBucket') },
          MALLOC_ARENA_MAX: '2',
          [CONSUMER_ENV.cpuConcurrency]: '1',
          [CONSUMER_ENV.softMarginMs]: '12000',
          [CONSUMER_ENV.hardMarginMs]: '6000',
        }),
      },
    });
    // The job record is the worker's claim: it is given no other table (least privilege).
    const worker = functions.find(([, f]) => f.Properties.Environment?.Variables?.[PIPELINE_ENV.jobsTable] !== undefined && f.Properties.MemorySize === 2048)!;
    expect(worker[1].Properties.Environment.Variables[PIPELINE_ENV.idempotencyTable]).toBeUndefined();
    expect(worker[1].Properties.Environment.Variables[PIPELINE_ENV.lockTable]).toBeUndefined();
  });

  it('outputs every name a client needs under the contract keys', () => {
    const outputs = Object.keys(template.toJSON().Outputs ?? {}).sort();
    const expected = Object.values(STACK_OUTPUTS).filter((k) => k !== STACK_OUTPUTS.apiUrl);
    expect(outputs).toEqual(expect.arrayContaining(expected));
    for (const key of expected) expect(template.toJSON().Outputs[key].Value).toBeDefined();
  });

  it('has a dashboard with the backpressure metrics', () => {
    const [[, dashboard]] = ofType('AWS::CloudWatch::Dashboard') as [[string, any]];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const metric of [
      'ApproximateNumberOfMessagesVisible',
      'ApproximateAgeOfOldestMessage',
      'ConcurrentExecutions',
      'Errors',
      'Throttles',
    ]) {
      expect(body).toContain(metric);
    }
    expect(body).toContain('reserved concurrency (10)');
  });
});

describe('ImagePipelineStack: one upload limit', () => {
  const limits = (t: Template) =>
    Object.values(t.findResources('AWS::Lambda::Function')).map((f) => f.Properties.Environment?.Variables?.[PIPELINE_ENV.maxUploadBytes]);
  it('gives the job API and the worker the same MAX_UPLOAD_BYTES (20 MiB by default, or maxUploadSize)', () => {
    expect(limits(template)).toEqual([String(20 * 1024 * 1024), String(20 * 1024 * 1024)]);
    const s = new ImagePipelineStack(unbundledApp(), 'Small', { maxUploadSize: Size.mebibytes(5) });
    expect(limits(Template.fromStack(s))).toEqual([String(5 * 1024 * 1024), String(5 * 1024 * 1024)]);
  });
});

describe('ImagePipelineStack: architecture context', () => {
  it('builds the worker for x86_64 when the context asks', () => {
    const s = new ImagePipelineStack(unbundledApp({ [ARCH_CONTEXT]: 'x86_64' }), 'X');
    Template.fromStack(s).hasResourceProperties('AWS::Lambda::Function', { Architectures: ['x86_64'] });
  });

  it('rejects an unknown architecture with the accepted values', () => {
    expect(() => new ImagePipelineStack(unbundledApp({ [ARCH_CONTEXT]: 'riscv' }), 'X')).toThrow(/must be 'arm64' or 'x86_64', got "riscv"/);
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing unacknowledged in the full stack', () => {
    const nagApp = unbundledApp();
    new ImagePipelineStack(nagApp, STACK_NAME);
    Validations.of(nagApp).addPlugins(new AwsSolutionsChecks(nagApp));
    expect(() => nagApp.synth()).not.toThrow();
  });

  it('acknowledges only specific findings (rule + resource), each with a specific reason', () => {
    const acks = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      // Each entry is { '<namespace>::<rule id>': reason }.
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([id, reason]) => ({ id: id.replace(/^[A-Za-z]+::/, ''), reason }));
    expect(acks.length).toBeGreaterThanOrEqual(2);
    for (const ack of acks) {
      expect(ack.id, JSON.stringify(ack)).toMatch(/^AwsSolutions-[A-Z0-9]+\[.+\]$/);
      expect(ack.reason.length, ack.reason).toBeGreaterThanOrEqual(40);
    }
    expect(acks.map((a) => a.id)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<UploadsBucket[0-9A-F]+\.Arn>\/uploads\/\*\]$/),
        expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<RenditionsBucket[0-9A-F]+\.Arn>\/renditions\/\*\]$/),
      ]),
    );
  });

  it('fails synthesis on a finding (the check above can fail)', () => {
    const nagApp = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const s = new Stack(nagApp, 'Bad');
    new s3.Bucket(s, 'Unlogged', { blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL });
    Validations.of(nagApp).addPlugins(new AwsSolutionsChecks(nagApp));
    expect(() => nagApp.synth()).toThrow(/[Vv]alidation/);
  });
});

describe('ImagePipelineStack: pieces for other constructs', () => {
  it('exposes the job queue, buckets, tables and worker', () => {
    expect(stack.jobQueue).toBe(stack.worker.queue);
    expect(stack.worker.settings.maxConcurrency).toBe(10);
    expect(stack.idempotencyTable.partitionKey).toBe(TABLE_ATTRIBUTES.idempotency.partitionKey);
    expect(stack.lockTable.timeToLiveAttribute).toBe(TABLE_ATTRIBUTES.locks.ttl);
  });
});
