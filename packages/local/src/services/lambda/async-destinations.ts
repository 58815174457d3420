/**
 * Where a settled asynchronous event goes: its invocation record to the EventInvokeConfig's OnSuccess or
 * OnFailure destination (SQS, SNS, Lambda, EventBridge), and, on failure, the event itself to the
 * function's DeadLetterConfig target (SQS or SNS, with the RequestID, ErrorCode and ErrorMessage
 * attributes). As on AWS these are sent AS THE FUNCTION'S EXECUTION ROLE: each request goes through the
 * stack's endpoint signed with the function's credentials (the gateway's credential store maps them to
 * the role), so IAM applies (sqs:SendMessage, sns:Publish, lambda:InvokeFunction, events:PutEvents) and
 * a denial is a DestinationDeliveryFailures / DeadLetterErrors count and a log line, not a silent loss.
 *
 * The record and message shapes are pure (`invocationRecord`, `deadLetterMessage`, `eventBridgeEntry`).
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AsyncInvocationOutcome, OutcomeDelivery } from './async-invoke.js';
import { destinationKind, type DestinationKind, type EventInvokeConfig } from './async-invoke-config.js';

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** The invocation record Lambda sends to a destination ("Capturing records of Lambda asynchronous invocations"). */
export function invocationRecord(o: AsyncInvocationOutcome, functionArn: string, timestamp: Date): Record<string, unknown> {
  const r = o.result;
  const responseContext: Record<string, unknown> = r
    ? { statusCode: 200, executedVersion: '$LATEST', ...(r.ok ? {} : { functionError: 'Unhandled' }) }
    : // Never ran: throttled (429) until it was too old, or reserved concurrency 0.
      { statusCode: 429, executedVersion: '$LATEST' };
  const responsePayload = r ? (r.ok ? (r.value === undefined ? null : r.value) : { errorType: r.error.errorType, errorMessage: r.error.errorMessage }) : undefined;
  return {
    version: '1.0',
    timestamp: timestamp.toISOString(),
    requestContext: { requestId: o.requestId, functionArn: `${functionArn}:$LATEST`, condition: o.condition, approximateInvokeCount: o.attempts },
    requestPayload: o.event,
    responseContext,
    ...(responsePayload !== undefined ? { responsePayload } : {}),
  };
}

/** The dead-letter message: the event as-is, with Lambda's three attributes. */
export function deadLetterMessage(o: AsyncInvocationOutcome): { body: string; attributes: Record<string, { DataType: 'String' | 'Number'; StringValue: string }> } {
  const r = o.result;
  const code = r ? 200 : 429; // the Invoke status of the last attempt: 200 with a function error, 429 throttled
  const message = r && !r.ok ? r.error.errorMessage : (o.reason ?? o.condition);
  return {
    body: JSON.stringify(o.event),
    attributes: {
      RequestID: { DataType: 'String', StringValue: o.requestId },
      ErrorCode: { DataType: 'Number', StringValue: String(code) },
      ErrorMessage: { DataType: 'String', StringValue: Buffer.from(message || 'error').subarray(0, 1024).toString('utf8') },
    },
  };
}

/** The PutEvents entry for an EventBridge destination (source `lambda`, the record as `detail`). */
export function eventBridgeEntry(record: Record<string, unknown>, success: boolean, functionArn: string, busArn: string): Record<string, unknown> {
  return {
    Source: 'lambda',
    DetailType: `Lambda Function Invocation Result - ${success ? 'Success' : 'Failure'}`,
    Detail: JSON.stringify(record),
    Resources: [`${functionArn}:$LATEST`, busArn],
    EventBusName: busArn,
  };
}

export interface DestinationSenderOptions {
  /** The stack's endpoint (the gateway), e.g. http://127.0.0.1:4566 */
  readonly endpoint: () => string;
  readonly region: string;
  /** The credentials of a function's execution role, by logical id. */
  readonly credentials: (functionLogicalId: string) => Credentials | undefined;
  /** Whether the endpoint serves this kind (EventBridge only when an events service is on it). */
  readonly supports: (kind: DestinationKind) => boolean;
  readonly log: (line: string) => void;
}

interface Delivery {
  readonly functionLogicalId: string;
  readonly functionArn: string;
  readonly config?: EventInvokeConfig;
  readonly deadLetterTarget?: string;
}

export interface DestinationSender {
  /** Sends an outcome to its destination and, on failure, the event to the dead-letter target. */
  deliver(outcome: AsyncInvocationOutcome, d: Delivery): Promise<OutcomeDelivery>;
}

class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
}

export function createDestinationSender(options: DestinationSenderOptions): DestinationSender {
  const call = async (creds: Credentials, service: string, method: string, path: string, headers: Record<string, string>, body: string): Promise<string> => {
    const url = new URL(path, options.endpoint());
    const signer = new SignatureV4({ credentials: creds, region: options.region, service, sha256: Sha256 });
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: {},
      headers: { host: url.host, ...headers },
      body,
    });
    const res = await fetch(url, { method, headers: signed.headers as Record<string, string>, body });
    const text = await res.text();
    if (res.status >= 300) {
      const code = /"__type"\s*:\s*"(?:[^"#]*#)?([^"]+)"/.exec(text)?.[1] ?? /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP ${res.status}`;
      const msg = /"message"\s*:\s*"([^"]*)"/i.exec(text)?.[1] ?? /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? '';
      throw new DeliveryError(`${service}: ${code}${msg ? `: ${msg}` : ''}`);
    }
    return text;
  };

  const sqsSend = (creds: Credentials, queueArn: string, body: string, attributes?: Record<string, unknown>): Promise<string> => {
    const [, , , , account, name] = queueArn.split(':');
    const payload = JSON.stringify({ QueueUrl: `${options.endpoint().replace(/\/$/, '')}/${account}/${name}`, MessageBody: body, ...(attributes ? { MessageAttributes: attributes } : {}) });
    return call(creds, 'sqs', 'POST', '/', { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage' }, payload);
  };
  const snsPublish = (creds: Credentials, topicArn: string, message: string, attributes?: Record<string, { DataType: string; StringValue: string }>): Promise<string> => {
    const form = new URLSearchParams({ Action: 'Publish', Version: '2010-03-31', TopicArn: topicArn, Message: message });
    Object.entries(attributes ?? {}).forEach(([k, v], i) => {
      form.set(`MessageAttributes.entry.${i + 1}.Name`, k);
      form.set(`MessageAttributes.entry.${i + 1}.Value.DataType`, v.DataType);
      form.set(`MessageAttributes.entry.${i + 1}.Value.StringValue`, v.StringValue);
    });
    return call(creds, 'sns', 'POST', '/', { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, form.toString());
  };

  const sendRecord = async (creds: Credentials, arn: string, record: Record<string, unknown>, success: boolean, functionArn: string): Promise<void> => {
    const kind = destinationKind(arn, 'destination');
    const json = JSON.stringify(record);
    if (kind === 'sqs') return void (await sqsSend(creds, arn, json));
    if (kind === 'sns') return void (await snsPublish(creds, arn, json));
    if (kind === 'lambda') {
      const name = arn.split(':')[6] ?? arn;
      return void (await call(creds, 'lambda', 'POST', `/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, { 'content-type': 'application/json', 'x-amz-invocation-type': 'Event' }, json));
    }
    if (!options.supports('events')) throw new DeliveryError(`EventBridge is not emulated on this stack: ${arn} cannot be delivered`);
    const text = await call(creds, 'events', 'POST', '/', { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' }, JSON.stringify({ Entries: [eventBridgeEntry(record, success, functionArn, arn)] }));
    const out = JSON.parse(text || '{}') as { FailedEntryCount?: number; Entries?: Array<{ ErrorCode?: string; ErrorMessage?: string }> };
    if (out.FailedEntryCount) throw new DeliveryError(`PutEvents: ${out.Entries?.[0]?.ErrorCode ?? 'failed'} ${out.Entries?.[0]?.ErrorMessage ?? ''}`);
  };

  return {
    async deliver(o, d) {
      const creds = options.credentials(d.functionLogicalId);
      const result = { destinationDeliveryFailures: 0, deadLetterErrors: 0 };
      const success = o.condition === 'Success';
      const target = success ? d.config?.onSuccess : d.config?.onFailure;
      if (target) {
        try {
          if (!creds) throw new DeliveryError('the function has no credentials on this stack');
          await sendRecord(creds, target, invocationRecord(o, d.functionArn, new Date()), success, d.functionArn);
        } catch (err) {
          result.destinationDeliveryFailures++;
          options.log(`lambda ${d.functionArn}: ${success ? 'OnSuccess' : 'OnFailure'} destination ${target} not delivered (DestinationDeliveryFailures): ${(err as Error).message}`);
        }
      }
      if (!success && d.deadLetterTarget) {
        try {
          if (!creds) throw new DeliveryError('the function has no credentials on this stack');
          const m = deadLetterMessage(o);
          if (destinationKind(d.deadLetterTarget, 'DeadLetterConfig') === 'sqs') await sqsSend(creds, d.deadLetterTarget, m.body, m.attributes);
          else await snsPublish(creds, d.deadLetterTarget, m.body, m.attributes);
        } catch (err) {
          result.deadLetterErrors++;
          options.log(`lambda ${d.functionArn}: dead-letter target ${d.deadLetterTarget} not delivered (DeadLetterErrors): ${(err as Error).message}`);
        }
      }
      return result;
    },
  };
}
