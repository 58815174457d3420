/**
 * A DynamoDB Streams AWS::Lambda::EventSourceMapping's settings, read and checked as
 * CreateEventSourceMapping checks them (AWS Lambda API reference): BatchSize 1..10000,
 * MaximumBatchingWindowInSeconds 0..300, StartingPosition TRIM_HORIZON|LATEST (required),
 * ParallelizationFactor 1..10, MaximumRetryAttempts -1..10000, MaximumRecordAgeInSeconds -1 or 60..604800,
 * DestinationConfig.OnFailure to an SQS queue or SNS topic of this stack.
 */
import { UnsupportedResourceError } from '../../core/deployment/errors.js';
import type { PhysicalResource } from '../../core/deployment/intrinsics.js';
import type { DeployedStreamEventSourceMapping } from '../../core/deployment/provisioner.js';
import { num, str } from '../../core/deployment/values.js';

export class StreamMappingError extends Error {
  override readonly name = 'StreamMappingError';
}

/** True when `sourceArn` is the StreamArn of a table of this stack. */
export function isStreamSource(sourceArn: string, resources: ReadonlyMap<string, PhysicalResource>): boolean {
  return sourceArn !== '' && [...resources.values()].some((p) => (p.type === 'AWS::DynamoDB::Table' || p.type === 'AWS::DynamoDB::GlobalTable') && p.attributes.StreamArn === sourceArn);
}

function range(logicalId: string, key: string, v: number | undefined, dflt: number, ok: (n: number) => boolean, rule: string): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || !ok(n)) throw new StreamMappingError(`${logicalId}.${key} must be ${rule} (got ${n})`);
  return n;
}

export function streamMapping(logicalId: string, props: Record<string, unknown>, resources: ReadonlyMap<string, PhysicalResource>): DeployedStreamEventSourceMapping {
  const streamArn = str(props.EventSourceArn) ?? '';
  const fnRef = str(props.FunctionName) ?? '';
  const fn = [...resources.entries()].find(([, p]) => p.type === 'AWS::Lambda::Function' && (p.ref === fnRef || p.attributes.Arn === fnRef));
  if (!fn) throw new UnsupportedResourceError(`${logicalId}: function ${fnRef} is not a function of this stack`);
  const at = (k: string) => `${logicalId}.${k}`;
  const startingPosition = str(props.StartingPosition);
  if (startingPosition !== 'TRIM_HORIZON' && startingPosition !== 'LATEST') {
    throw new StreamMappingError(`${logicalId}.StartingPosition must be TRIM_HORIZON or LATEST for a DynamoDB stream (got ${startingPosition ?? 'nothing'}; AT_TIMESTAMP is Kinesis only)`);
  }
  const batchSize = range(logicalId, 'BatchSize', num(props.BatchSize, at('BatchSize')), 100, (n) => n >= 1 && n <= 10_000, '1..10000');
  const window = range(logicalId, 'MaximumBatchingWindowInSeconds', num(props.MaximumBatchingWindowInSeconds, at('MaximumBatchingWindowInSeconds')), 0, (n) => n >= 0 && n <= 300, '0..300');
  const parallelizationFactor = range(logicalId, 'ParallelizationFactor', num(props.ParallelizationFactor, at('ParallelizationFactor')), 1, (n) => n >= 1 && n <= 10, '1..10');
  const maximumRetryAttempts = range(logicalId, 'MaximumRetryAttempts', num(props.MaximumRetryAttempts, at('MaximumRetryAttempts')), -1, (n) => n >= -1 && n <= 10_000, '-1..10000');
  const maximumRecordAgeSeconds = range(logicalId, 'MaximumRecordAgeInSeconds', num(props.MaximumRecordAgeInSeconds, at('MaximumRecordAgeInSeconds')), -1, (n) => n === -1 || (n >= 60 && n <= 604_800), '-1 or 60..604800');
  const types = (props.FunctionResponseTypes as string[] | undefined) ?? [];
  for (const t of types) if (t !== 'ReportBatchItemFailures') throw new StreamMappingError(`${logicalId}.FunctionResponseTypes: unknown ${t}`);
  const bisect = props.BisectBatchOnFunctionError === true || props.BisectBatchOnFunctionError === 'true';
  const dest = str((props.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)?.OnFailure?.Destination);
  let onFailure: DeployedStreamEventSourceMapping['onFailure'];
  if (dest !== undefined) {
    const queue = [...resources.values()].find((p) => p.type === 'AWS::SQS::Queue' && p.attributes.Arn === dest);
    const topic = [...resources.values()].find((p) => p.type === 'AWS::SNS::Topic' && p.ref === dest);
    if (queue) onFailure = { arn: dest, kind: 'sqs', queueUrl: queue.ref };
    else if (topic) onFailure = { arn: dest, kind: 'sns' };
    else throw new UnsupportedResourceError(`${logicalId}.DestinationConfig.OnFailure: ${dest} is not a queue or topic of this stack (a stream mapping's on-failure destination is SQS or SNS)`);
  }
  const filterCriteria = props.FilterCriteria as DeployedStreamEventSourceMapping['filterCriteria'];
  if (props.TumblingWindowInSeconds !== undefined) throw new UnsupportedResourceError(`${logicalId}.TumblingWindowInSeconds: tumbling windows are not run locally`);
  return {
    logicalId,
    functionLogicalId: fn[0],
    functionArn: String(fn[1].attributes.Arn ?? fnRef),
    streamArn,
    batchSize,
    maximumBatchingWindowSeconds: window,
    startingPosition,
    parallelizationFactor,
    bisectBatchOnFunctionError: bisect,
    maximumRetryAttempts,
    maximumRecordAgeSeconds,
    reportBatchItemFailures: types.includes('ReportBatchItemFailures'),
    enabled: props.Enabled === undefined || props.Enabled === true || props.Enabled === 'true',
    ...(filterCriteria !== undefined ? { filterCriteria } : {}),
    ...(onFailure ? { onFailure } : {}),
  };
}
