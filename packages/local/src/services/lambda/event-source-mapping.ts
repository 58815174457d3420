/**
 * AWS::Lambda::EventSourceMapping: not created anywhere; run locally by the SQS poller (event-source-runner)
 * or, for a table's stream, by the DynamoDB Streams poller (stream-poller, settings read in stream-mapping.ts).
 */
import { randomUUID } from 'node:crypto';
import { UnsupportedResourceError } from '../../core/deployment/errors.js';
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { num, str } from '../../core/deployment/values.js';
import { isStreamSource, streamMapping } from './stream-mapping.js';

export const eventSourceMapping: Provisioner = {
  handles: ['AWS::Lambda::EventSourceMapping'],
  kind: 'run',
  // SQS queues and DynamoDB table streams are polled locally: a Kinesis, Kafka or MQ source would feed the
  // function nothing.
  refuse(_logicalId, resource, template) {
    const source = resource.Properties?.EventSourceArn;
    const att = (source as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
    const target = Array.isArray(att) ? String(att[0]) : typeof att === 'string' ? att.split('.')[0]! : undefined;
    const type = target !== undefined ? template.Resources[target]?.Type : undefined;
    const what = type !== undefined ? `${target} (${type})` : typeof source === 'string' ? source : undefined;
    const isQueue = type !== undefined ? type === 'AWS::SQS::Queue' : typeof source !== 'string' || source.startsWith('arn:aws:sqs:');
    const isTableStream = type !== undefined ? type === 'AWS::DynamoDB::Table' : typeof source === 'string' && /^arn:aws:dynamodb:.*\/stream\//.test(source);
    if (isQueue || isTableStream) return undefined;
    return { consequence: `the function is not fed from ${what ?? 'its event source'}: only SQS and DynamoDB Streams event sources are run locally`, placeholder: true };
  },
  async provision({ logicalId, resource, props, resources, arn }) {
    const sourceArn = str(props.EventSourceArn) ?? '';
    if (isStreamSource(sourceArn, resources)) {
      const mapping = streamMapping(logicalId, props, resources);
      // Lambda gives a mapping a UUID of its own.
      const uuid = randomUUID();
      return { physical: { type: resource.Type, ref: uuid, attributes: { EventSourceMappingArn: arn('lambda', `event-source-mapping:${uuid}`) } }, streamEventSourceMapping: mapping };
    }
    const queue = [...resources.entries()].find(([, p]) => p.type === 'AWS::SQS::Queue' && p.attributes.Arn === sourceArn);
    if (!queue) throw new UnsupportedResourceError(`${logicalId}: event source ${sourceArn || '(none)'} is not a queue or table stream of this stack; only SQS and DynamoDB Streams mappings are run locally`);
    const fnRef = str(props.FunctionName) ?? '';
    const fn = [...resources.entries()].find(([, p]) => p.type === 'AWS::Lambda::Function' && (p.ref === fnRef || p.attributes.Arn === fnRef));
    if (!fn) throw new UnsupportedResourceError(`${logicalId}: function ${fnRef} is not a function of this stack`);
    const types = (props.FunctionResponseTypes as string[] | undefined) ?? [];
    const scaling = props.ScalingConfig as { MaximumConcurrency?: unknown } | undefined;
    const maxConc = num(scaling?.MaximumConcurrency, `${logicalId}.ScalingConfig.MaximumConcurrency`);
    const filterCriteria = props.FilterCriteria as { Filters?: Array<{ Pattern?: string }> } | undefined;
    const provisioned = props.ProvisionedPollerConfig as { MinimumPollers?: unknown; MaximumPollers?: unknown } | undefined;
    const minPollers = num(provisioned?.MinimumPollers, `${logicalId}.ProvisionedPollerConfig.MinimumPollers`);
    const maxPollers = num(provisioned?.MaximumPollers, `${logicalId}.ProvisionedPollerConfig.MaximumPollers`);
    // Lambda gives a mapping a UUID of its own.
    const uuid = randomUUID();
    return {
      physical: { type: resource.Type, ref: uuid, attributes: { EventSourceMappingArn: arn('lambda', `event-source-mapping:${uuid}`) } },
      eventSourceMapping: {
        logicalId,
        functionLogicalId: fn[0],
        queueLogicalId: queue[0],
        queueUrl: queue[1].ref,
        queueArn: sourceArn,
        batchSize: num(props.BatchSize, `${logicalId}.BatchSize`) ?? 10,
        maximumBatchingWindowSeconds: num(props.MaximumBatchingWindowInSeconds, `${logicalId}.MaximumBatchingWindowInSeconds`) ?? 0,
        ...(maxConc !== undefined ? { maximumConcurrency: maxConc } : {}),
        reportBatchItemFailures: types.includes('ReportBatchItemFailures'),
        enabled: props.Enabled === undefined || props.Enabled === true || props.Enabled === 'true',
        ...(filterCriteria !== undefined ? { filterCriteria } : {}),
        ...(provisioned ? { provisionedPollerConfig: { ...(minPollers !== undefined ? { minimumPollers: minPollers } : {}), ...(maxPollers !== undefined ? { maximumPollers: maxPollers } : {}) } } : {}),
      },
    };
  },
};
