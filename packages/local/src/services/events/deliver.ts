/**
 * Delivery to an EventBridge / Scheduler target: SQS SendMessage, SNS Publish or Lambda Invoke
 * (InvocationType Event, so through the function's asynchronous event queue), sent to the stack's own
 * endpoint and signed with the given credentials: the local admin for rules (EventBridge's service
 * principal), the schedule's role for Scheduler, so the endpoint's IAM decides as AWS would. The answer
 * is classified: AccessDenied / not found / invalid input are permanent (EventBridge does not retry
 * them), anything else is retried.
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const PERMANENT = /AccessDenied|NotFound|NonExistent|InvalidParameter|InvalidArgument|ValidationException|InvalidMessageContents|MissingParameter|KMS/i;

class NodeSha256 {
  private h;
  constructor(secret?: unknown) {
    this.h = secret !== undefined ? createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as Uint8Array)) : createHash('sha256');
  }
  update(d: unknown): void {
    this.h.update(typeof d === 'string' ? d : Buffer.from(d as Uint8Array));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {}
}

/** A SigV4-signed POST to the endpoint (the `fire` CLI and the deliveries use it). */
export function signedPost(endpoint: string, region: string, credentials: Credentials, service: string, path: string, headers: Record<string, string>, body: string): Promise<Response> {
  return signedRequest(endpoint, region, credentials, service, 'POST', path, headers, body);
}

/** A SigV4-signed request to the endpoint (the console calls the Lambda API's PUT with it). */
export async function signedRequest(endpoint: string, region: string, credentials: Credentials, service: string, method: string, path: string, headers: Record<string, string>, body: string): Promise<Response> {
  const url = new URL(endpoint);
  const signer = new SignatureV4({ service, region, credentials, sha256: NodeSha256 as never });
  const signed = await signer.sign({ method, protocol: url.protocol, hostname: url.hostname, ...(url.port ? { port: Number(url.port) } : {}), path, headers: { ...headers, host: url.host }, body });
  return fetch(`${endpoint.replace(/\/$/, '')}${path}`, { method, headers: signed.headers as Record<string, string>, ...(method === 'GET' || method === 'HEAD' ? {} : { body }) });
}

export interface DeliveryTarget {
  readonly arn: string;
  /** SqsParameters.MessageGroupId (FIFO queues). */
  readonly messageGroupId?: string;
  /** MessageDeduplicationId for FIFO queues (EventBridge uses the event id). */
  readonly deduplicationId?: string;
  /** String message attributes (SQS only: a dead-letter queue's ERROR_CODE, ...). */
  readonly messageAttributes?: Readonly<Record<string, string>>;
}

/** Sends `payload` to the target through `endpoint`, signed with `credentials`. Throws DeliveryError. */
export async function deliver(endpoint: string, region: string, credentials: Credentials, target: DeliveryTarget, payload: string): Promise<void> {
  const [, , service, , account, resource = ''] = target.arn.split(':');
  let path = '/';
  let headers: Record<string, string>;
  let body: string;
  let signing: string;
  if (service === 'sqs') {
    signing = 'sqs';
    headers = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage' };
    const queueUrl = `${endpoint.replace(/\/$/, '')}/${account}/${resource}`;
    body = JSON.stringify({
      QueueUrl: queueUrl,
      MessageBody: payload,
      ...(target.messageAttributes ? { MessageAttributes: Object.fromEntries(Object.entries(target.messageAttributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v === '' ? '-' : v }])) } : {}),
      ...(target.messageGroupId ? { MessageGroupId: target.messageGroupId } : {}),
      ...(resource.endsWith('.fifo') ? { MessageDeduplicationId: target.deduplicationId ?? createHash('sha256').update(payload + JSON.stringify(target.messageAttributes ?? {})).digest('hex') } : {}),
    });
  } else if (service === 'sns') {
    signing = 'sns';
    headers = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
    body = new URLSearchParams({ Action: 'Publish', Version: '2010-03-31', TopicArn: target.arn, Message: payload, ...(target.messageGroupId ? { MessageGroupId: target.messageGroupId } : {}) }).toString();
  } else if (service === 'lambda') {
    signing = 'lambda';
    path = `/2015-03-31/functions/${encodeURIComponent(target.arn)}/invocations`;
    headers = { 'content-type': 'application/json', 'x-amz-invocation-type': 'Event' };
    body = payload;
  } else throw new DeliveryError('UnsupportedTarget', `${target.arn} is not a target the local stack delivers to`, false);
  let res: Response;
  try {
    res = await signedPost(endpoint, region, credentials, signing, path, headers, body);
  } catch (err) {
    throw new DeliveryError('InternalException', `the endpoint did not answer: ${(err as Error).message}`, true);
  }
  const text = await res.text();
  if (res.status < 300) {
    // Lambda answers 202 for Event; a function error never comes back here (the event queue retries it).
    return;
  }
  let code = res.headers.get('x-amzn-errortype')?.split(':')[0] ?? '';
  let message = '';
  try {
    const j = JSON.parse(text) as { __type?: string; message?: string; Message?: string };
    code ||= String(j.__type ?? '').split('#').pop() ?? '';
    message = j.message ?? j.Message ?? '';
  } catch {
    code ||= /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? '';
    message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? text.slice(0, 200);
  }
  code ||= `HTTP${res.status}`;
  throw new DeliveryError(code, message || `${service} answered ${res.status}`, res.status >= 500 || res.status === 429 || !PERMANENT.test(code));
}

/**
 * Whether a target exists (GetQueueUrl, GetTopicAttributes, or a DryRun Invoke through the endpoint):
 * a target that does not exist fails as not found, before its resource policy is asked.
 */
export async function destinationExists(endpoint: string, region: string, credentials: Credentials, arn: string): Promise<boolean> {
  const [, , service, , account = '', resource = ''] = arn.split(':');
  let res: Response;
  try {
    if (service === 'sqs') {
      res = await signedPost(endpoint, region, credentials, 'sqs', '/', { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.GetQueueUrl' }, JSON.stringify({ QueueName: resource, QueueOwnerAWSAccountId: account }));
    } else if (service === 'sns') {
      res = await signedPost(endpoint, region, credentials, 'sns', '/', { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, new URLSearchParams({ Action: 'GetTopicAttributes', Version: '2010-03-31', TopicArn: arn }).toString());
    } else if (service === 'lambda') {
      res = await signedPost(endpoint, region, credentials, 'lambda', `/2015-03-31/functions/${encodeURIComponent(arn)}/invocations`, { 'content-type': 'application/json', 'x-amz-invocation-type': 'DryRun' }, '{}');
    } else return false;
  } catch {
    return true; // the endpoint did not answer: let the delivery report it
  }
  await res.arrayBuffer();
  return res.status < 300;
}
