/**
 * Checks on BoundedStreamConsumer props about which props go together (the numbers are checked in
 * stream-settings.ts). The function-related checks are BoundedQueueConsumer's own, applied to the same
 * props. Every failure is a FloodgateValidationError naming the construct and what to change.
 */
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Token } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { fail } from '../errors';
import { validateBoundedQueueConsumerProps } from '../bounded-queue-consumer/validate-props';
import type { BoundedStreamConsumerProps } from './props';

/** The props that configure the function, shared with BoundedQueueConsumer. */
export function functionProps(props: BoundedStreamConsumerProps) {
  const { entry, handler, consumerFunction, architecture, nodeModules, assetFiles, environment, timeout, memorySize, logRetention } = props;
  return { entry, handler, consumerFunction, architecture, nodeModules, assetFiles, environment, timeout, memorySize, logRetention };
}

export function validateBoundedStreamConsumerProps(scope: Construct, props: BoundedStreamConsumerProps): void {
  if ((props.table === undefined) === (props.stream === undefined)) {
    fail('StreamSourceRequired', "set exactly one of 'table' (a DynamoDB table with a stream) or 'stream' (a Kinesis data stream).", scope);
  }
  if (props.table !== undefined && props.table.tableStreamArn === undefined) {
    fail(
      'TableWithoutStream',
      `table ${props.table.node.path} has no stream. Enable it (Table: stream: StreamViewType.NEW_AND_OLD_IMAGES; TableV2: ` +
        'dynamoStream), or import the table with tableStreamArn.',
      scope,
    );
  }
  const position = props.startingPosition;
  if (position !== undefined && position !== lambda.StartingPosition.TRIM_HORIZON && position !== lambda.StartingPosition.LATEST) {
    fail('StartingPosition', `startingPosition ${position} is not supported here; use TRIM_HORIZON or LATEST.`, scope);
  }
  if (props.maxRecordAge !== undefined && props.maxRecordAge !== 'infinite' && typeof props.maxRecordAge === 'string') {
    fail('MaxRecordAgeOutOfRange', "maxRecordAge must be a Duration or 'infinite'.", scope);
  }
  // The function checks of BoundedQueueConsumer (entry xor consumerFunction, entry-only options, the
  // reserved FLOODGATE_* environment, asset files), on the same props.
  validateBoundedQueueConsumerProps(scope, functionProps(props));
}

/** The shard count of a provisioned Kinesis `Stream` defined in this app, or undefined when it cannot be read. */
export function knownShardCount(stream: kinesis.IStream | undefined): number | undefined {
  if (!(stream instanceof kinesis.Stream)) return undefined;
  const cfn = stream.node.defaultChild as kinesis.CfnStream;
  const mode = cfn.streamModeDetails as kinesis.CfnStream.StreamModeDetailsProperty | undefined;
  if (mode !== undefined && !Token.isUnresolved(mode) && mode.streamMode === kinesis.StreamMode.ON_DEMAND) return undefined;
  return typeof cfn.shardCount === 'number' ? cfn.shardCount : undefined;
}
