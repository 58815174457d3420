/** Pure parts of the Lambda and CloudFormation services: routing, request parsing, response shapes. */
import { describe, expect, it } from 'vitest';
import { describeStacksXml, listStackResourcesXml } from '../src/services/cloudformation/handler';
import { functionConfiguration, LambdaApiError, mappingConfiguration, mappingUuid, parseMappingUpdate, routeLambda } from '../src/services/lambda/handler';
import type { DeployedEventSourceMapping, DeployedFunction } from '../src/core/deployment/deploy';

describe('routeLambda (botocore request URIs)', () => {
  it.each([
    ['GET', '/2015-03-31/functions/', { op: 'ListFunctions' }],
    ['GET', '/2015-03-31/functions/fn', { op: 'GetFunction', functionName: 'fn' }],
    ['GET', '/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afn/configuration', { op: 'GetFunctionConfiguration', functionName: 'arn:aws:lambda:us-east-1:000000000000:function:fn' }],
    ['POST', '/2015-03-31/functions/fn/invocations', { op: 'Invoke', functionName: 'fn' }],
    ['GET', '/2015-03-31/event-source-mappings/', { op: 'ListEventSourceMappings' }],
    ['GET', '/2015-03-31/event-source-mappings/u-1', { op: 'GetEventSourceMapping', uuid: 'u-1' }],
    ['PUT', '/2015-03-31/event-source-mappings/u-1', { op: 'UpdateEventSourceMapping', uuid: 'u-1' }],
    ['PUT', '/2017-10-31/functions/fn/concurrency', { op: 'PutFunctionConcurrency', functionName: 'fn' }],
    ['DELETE', '/2017-10-31/functions/fn/concurrency', { op: 'DeleteFunctionConcurrency', functionName: 'fn' }],
    ['GET', '/2019-09-30/functions/fn/concurrency', { op: 'GetFunctionConcurrency', functionName: 'fn' }],
  ])('%s %s', (method, path, expected) => {
    expect(routeLambda(method, path)).toEqual(expected);
  });
  it('unknown routes are undefined', () => {
    expect(routeLambda('DELETE', '/2015-03-31/functions/fn')).toBeUndefined();
    expect(routeLambda('GET', '/bucket/key')).toBeUndefined();
  });
});

describe('parseMappingUpdate', () => {
  it('maps the SQS fields to a runner change; an empty ScalingConfig removes the cap', () => {
    expect(parseMappingUpdate({ Enabled: false, BatchSize: 5, MaximumBatchingWindowInSeconds: 2, ScalingConfig: { MaximumConcurrency: 2 } })).toEqual({ enabled: false, batchSize: 5, maximumBatchingWindowSeconds: 2, maximumConcurrency: 2 });
    expect(parseMappingUpdate({ ScalingConfig: {} })).toEqual({ maximumConcurrency: null });
    expect(parseMappingUpdate({ ProvisionedPollerConfig: { MinimumPollers: 3, MaximumPollers: 9 } })).toEqual({ provisionedPollerConfig: { minimumPollers: 3, maximumPollers: 9 } });
    expect(parseMappingUpdate({ FilterCriteria: { Filters: [] } })).toEqual({ filterCriteria: null });
  });
  it('refuses what it cannot apply, as InvalidParameterValueException', () => {
    for (const body of [{ Enabled: 'no' }, { BatchSize: 1.5 }, { FunctionResponseTypes: [] }, { StartingPosition: 'LATEST' }, []]) {
      let err: unknown;
      try {
        parseMappingUpdate(body);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(LambdaApiError);
      expect((err as LambdaApiError).code).toBe('InvalidParameterValueException');
    }
  });
});

describe('response shapes', () => {
  const fn: DeployedFunction = { logicalId: 'Fn', functionName: 'p-Fn', assetDir: '/a', handler: 'index.handler', runtime: 'nodejs24.x', timeoutSeconds: 30, memoryMb: 256, environment: { A: '1' }, architectures: ['arm64'] };
  const m: DeployedEventSourceMapping = { logicalId: 'Esm', functionLogicalId: 'Fn', queueLogicalId: 'Q', queueUrl: 'http://x/000000000000/q', queueArn: 'arn:aws:sqs:us-east-1:000000000000:q', batchSize: 10, maximumBatchingWindowSeconds: 0, maximumConcurrency: 5, reportBatchItemFailures: true, enabled: false };
  it('FunctionConfiguration', () => {
    expect(functionConfiguration(fn, 'us-east-1')).toMatchObject({ FunctionName: 'p-Fn', FunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:p-Fn', Timeout: 30, MemorySize: 256, Environment: { Variables: { A: '1' } }, Architectures: ['arm64'], State: 'Active' });
  });
  it('EventSourceMappingConfiguration from the template when no poller runs', () => {
    const uuid = mappingUuid('p-Esm');
    expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(mappingUuid('p-Esm')).toBe(uuid);
    expect(mappingConfiguration({ mapping: m, uuid, arn: 'arn:esm', functionName: 'p-Fn' }, 'us-east-1', 0)).toMatchObject({ UUID: uuid, State: 'Disabled', BatchSize: 10, ScalingConfig: { MaximumConcurrency: 5 }, FunctionResponseTypes: ['ReportBatchItemFailures'] });
  });
  it('CloudFormation XML escapes values', () => {
    const v = { stackName: 'S', stackId: 'arn:s', createdAt: '2026-12-01T00:00:00.000Z', outputs: [{ key: 'Url', value: 'http://a/?x=1&y=<2>', description: 'd' }], resources: [{ logicalId: 'Q', physicalId: 'q&1', type: 'AWS::SQS::Queue' }] };
    expect(describeStacksXml(v, 'r')).toContain('<OutputValue>http://a/?x=1&amp;y=&lt;2&gt;</OutputValue><Description>d</Description>');
    expect(listStackResourcesXml(v, 'r')).toContain('<PhysicalResourceId>q&amp;1</PhysicalResourceId>');
  });
});
