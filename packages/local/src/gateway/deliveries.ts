/**
 * Service-to-service deliveries under the destination's resource policy, as AWS applies them: SNS to a
 * queue or a function, S3 to a queue, a topic or a function, EventBridge to a queue, a topic or a
 * function. The service is the caller (`sns.amazonaws.com`, ...) with the source's ARN and account as
 * aws:SourceArn / aws:SourceAccount, and the queue policy, topic policy or the function's
 * `AWS::Lambda::Permission`s decide: the same IAM evaluation as the functions' calls (iam/evaluate.ts).
 *
 * What a denial does is the delivering service's: S3 refuses the notification configuration, SNS counts
 * the notification as failed (NumberOfNotificationsFailed), EventBridge the invocation
 * (FailedInvocations). The gate keeps the denials and SNS's per-topic counts for `deliveryFailures()`
 * (the stack object, the console, the `up` summary).
 *
 * With IAM off (`--no-iam`, or @cloud-copilot/iam-simulate not installed) every delivery is allowed.
 */
import { evaluate, type Decision } from './iam/evaluate.js';
import type { PolicyIndex } from './iam/policies.js';

export interface ServiceDelivery {
  /** The delivering service's principal: `sns.amazonaws.com`, `s3.amazonaws.com`, `events.amazonaws.com`. */
  readonly service: string;
  /** `sqs:SendMessage`, `sns:Publish` or `lambda:InvokeFunction`. */
  readonly action: string;
  /** The destination's ARN (queue, topic, function). */
  readonly resource: string;
  /** The topic, bucket or rule the delivery comes from. */
  readonly sourceArn: string;
  /** @default the stack's account */
  readonly sourceAccount?: string;
}

/** One delivery the destination's policy refused. */
export interface DeniedDelivery extends ServiceDelivery {
  /** ISO-8601. */
  readonly time: string;
  readonly message: string;
}

/** Counts named after AWS's CloudWatch metrics. */
export interface DeliveryFailures {
  /** Deliveries refused by a resource policy since start (all services). */
  readonly deniedDeliveries: number;
  /** The most recent denials (at most 100), oldest first. */
  readonly denied: readonly DeniedDelivery[];
  /** SNS, per topic: AWS/SNS NumberOfNotificationsFailed (denied, or the endpoint gone) and NumberOfNotificationsRedrivenToDlq. */
  readonly sns: ReadonlyArray<{ readonly topicArn: string; readonly NumberOfNotificationsFailed: number; readonly NumberOfNotificationsRedrivenToDlq: number }>;
  /** EventBridge, per rule with failures: AWS/Events FailedInvocations (denied, or the target failed) and DeadLetterInvocations. */
  readonly events: ReadonlyArray<{ readonly ruleArn: string; readonly FailedInvocations: number; readonly DeadLetterInvocations: number }>;
}

export interface DeliveryGate {
  /** Whether the destination's resource policy lets the service deliver. Denials are recorded. */
  authorize(d: ServiceDelivery): Promise<Decision>;
  /** Counts an SNS notification that was not delivered (and whether its subscription's DLQ took it). */
  notificationFailed(topicArn: string, redrivenToDlq: boolean): void;
  /** Denials and SNS counts (EventBridge's are the rules' own stats, merged in by the stack). */
  snapshot(): Pick<DeliveryFailures, 'deniedDeliveries' | 'denied' | 'sns'>;
}

const KEPT = 100;

/** The action a service needs on a destination, from its ARN: sqs:SendMessage, sns:Publish or lambda:InvokeFunction. */
export function deliveryAction(arn: string): string {
  const service = arn.split(':')[2];
  return service === 'sqs' ? 'sqs:SendMessage' : service === 'sns' ? 'sns:Publish' : service === 'lambda' ? 'lambda:InvokeFunction' : `${service}:Unknown`;
}

/** A destination ARN as its policy names it: a function without its version or alias qualifier. */
export function policyResource(arn: string): string {
  return arn.split(':')[2] === 'lambda' ? arn.split(':').slice(0, 7).join(':') : arn;
}

export function createDeliveryGate(options: {
  /** Evaluate the policies (false: `--no-iam`, or the simulator is not installed). */
  readonly iam: boolean;
  /** The stack's policies (those deployed so far while it is being deployed). */
  readonly policies: () => PolicyIndex | undefined;
  readonly accountId: () => string;
  /** Each denial, for the log. */
  readonly onDenied?: (d: DeniedDelivery) => void;
}): DeliveryGate {
  let deniedCount = 0;
  const denied: DeniedDelivery[] = [];
  const sns = new Map<string, { NumberOfNotificationsFailed: number; NumberOfNotificationsRedrivenToDlq: number }>();
  return {
    async authorize(d) {
      if (!options.iam) return { allowed: true };
      const index = options.policies();
      const accountId = options.accountId();
      const a = { action: d.action, resource: policyResource(d.resource) };
      const decision: Decision =
        index === undefined
          ? { allowed: false, authorization: a, reason: 'implicit', message: `${d.service} may not perform ${d.action} on ${d.resource}: no policies are known yet` }
          : await evaluate({ kind: 'service', service: d.service, sourceArn: d.sourceArn, sourceAccount: d.sourceAccount ?? accountId }, a, { index, accountId, service: d.action.split(':')[0]! });
      if (!decision.allowed) {
        deniedCount++;
        const entry: DeniedDelivery = { ...d, sourceAccount: d.sourceAccount ?? accountId, time: new Date().toISOString(), message: decision.message };
        denied.push(entry);
        if (denied.length > KEPT) denied.shift();
        options.onDenied?.(entry);
      }
      return decision;
    },
    notificationFailed(topicArn, redriven) {
      const c = sns.get(topicArn) ?? { NumberOfNotificationsFailed: 0, NumberOfNotificationsRedrivenToDlq: 0 };
      c.NumberOfNotificationsFailed++;
      if (redriven) c.NumberOfNotificationsRedrivenToDlq++;
      sns.set(topicArn, c);
    },
    snapshot: () => ({
      deniedDeliveries: deniedCount,
      denied: [...denied],
      sns: [...sns.entries()].map(([topicArn, c]) => ({ topicArn, ...c })),
    }),
  };
}
