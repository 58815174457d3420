/**
 * What the local stack does with each resource of a template, decided before anything is created:
 * a type is supported when a provisioner in a service folder handles it (services/provisioners.ts), and
 * that provisioner may still refuse a shape it cannot run (`Provisioner.refuse`, e.g. an event source
 * that is not a queue). Types that move no message are passed over with a note (not-emulated.ts).
 * Everything else is refused by type and logical id, because a resource that can move or transform a
 * message and silently does nothing makes a local run lie. `--allow-unsupported` turns the refusals
 * into warnings that say what will not happen.
 *
 * This is the one place refusals come from: when a provisioner for SNS (say) lands in services/sns/,
 * SNS is no longer refused, with nothing to edit here.
 */
import type { CfnResource, CfnTemplate } from '../core/deployment/assembly.js';
import type { Provisioner } from '../core/deployment/provisioner.js';

/** What does not happen locally when a type that moves messages is let through (`--allow-unsupported`). */
const CONSEQUENCES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^AWS::SNS::Topic$/, 'messages published to the topic reach no subscriber'],
  [/^AWS::SNS::Subscription$/, 'the topic delivers nothing to this endpoint'],
  [/^AWS::SNS::TopicPolicy$/, 'the topic policy is not applied'],
  [/^(Custom::.*|AWS::CloudFormation::CustomResource)$/, "its function is not invoked at deploy, so whatever it sets up (bucket notifications, seed data, ...) does not exist"],
  [/^AWS::S3::BucketNotification/, 'S3 sends no event notification'],
  [/^AWS::Events::/, 'no event is matched or delivered to any target'],
  [/^AWS::Scheduler::/, 'no schedule fires'],
  [/^AWS::Pipes::Pipe$/, 'the pipe moves nothing from its source to its target'],
  [/^AWS::Kinesis::/, 'no stream exists: nothing is written to it or read from it'],
  [/^AWS::KinesisFirehose::/, 'no delivery stream exists: nothing is delivered'],
  [/^AWS::DynamoDB::/, 'the table is not created'],
  [/^AWS::StepFunctions::/, 'no state machine runs'],
  [/^AWS::Lambda::EventInvokeConfig$/, "asynchronous invocations' retry settings and destinations (OnSuccess/OnFailure) are not applied"],
  [/^AWS::Lambda::EventSourceMapping$/, 'the function is not fed from this event source'],
  [/^AWS::Logs::SubscriptionFilter$/, 'log events are not forwarded to the destination'],
  [/^AWS::SES::/, 'no email is received or sent'],
  [/^AWS::IoT::/, 'no IoT message is routed'],
  [/^AWS::AppSync::/, 'the API is not served'],
  [/^AWS::ApiGateway::/, 'the REST API is not served (only HTTP APIs, ApiGatewayV2, are)'],
  [/^AWS::ElasticLoadBalancingV2::/, 'the load balancer routes nothing'],
];

export function consequenceOf(type: string): string {
  return CONSEQUENCES.find(([re]) => re.test(type))?.[1] ?? 'the local stack neither creates nor runs it; if it moves or transforms messages, that does not happen';
}

export function provisionerFor(type: string, provisioners: readonly Provisioner[]): Provisioner | undefined {
  return provisioners.find((p) => (typeof p.handles === 'function' ? p.handles(type) : p.handles.includes(type)));
}

/** Stands in for a resource let through with --allow-unsupported: a Ref and an Arn, nothing created. */
export const placeholder: Provisioner = {
  handles: () => true,
  kind: 'unsupported',
  async provision({ resource, arn, name }) {
    const ref = name(undefined, { max: 64 });
    const service = (resource.Type.split('::')[1] ?? 'custom').toLowerCase();
    return { physical: { type: resource.Type, ref, attributes: { Arn: arn(service, ref) } } };
  },
};

export interface Unsupported {
  readonly logicalId: string;
  readonly type: string;
  /** What the local stack cannot do with it, and so what will not happen. */
  readonly consequence: string;
  /** Let through (--allow-unsupported), it only gets a placeholder Ref/Arn (no provisioner can create it). */
  readonly placeholder: boolean;
}

/** Every resource the local stack would refuse, in template order (`include` filters, e.g. by Condition). */
export function unsupportedResources(template: CfnTemplate, provisioners: readonly Provisioner[], include: (logicalId: string, r: CfnResource) => boolean = () => true): Unsupported[] {
  const out: Unsupported[] = [];
  for (const [logicalId, r] of Object.entries(template.Resources ?? {}) as Array<[string, CfnResource]>) {
    if (!include(logicalId, r)) continue;
    const p = provisionerFor(r.Type, provisioners);
    if (!p) {
      out.push({ logicalId, type: r.Type, consequence: consequenceOf(r.Type), placeholder: true });
      continue;
    }
    const refusal = p.refuse?.(logicalId, r, template);
    if (refusal) out.push({ logicalId, type: r.Type, consequence: refusal.consequence, placeholder: refusal.placeholder ?? false });
  }
  return out;
}

export function describeUnsupported(u: Unsupported): string {
  return `${u.type} (${u.logicalId}): ${u.consequence}`;
}
