/**
 * The gate between services' deliveries and the destinations' resource policies, as the services see
 * it (SNS, S3 notifications, EventBridge): what they ask, what is counted. Dependency-free so that any
 * service can use it; gateway/deliveries.ts implements it with the IAM evaluation.
 */

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

/** Allowed, or denied with AWS's AccessDenied message. */
export type DeliveryDecision = { readonly allowed: true } | { readonly allowed: false; readonly message: string };

export interface DeliveryGate {
  /**
   * Whether the destination's resource policy lets the service deliver. Denials are recorded. With
   * `exists`, a destination that does not exist is not a denial (allowed here: the delivery itself then
   * fails as not found, as on AWS).
   */
  authorize(d: ServiceDelivery, options?: { readonly exists?: (arn: string) => Promise<boolean> }): Promise<DeliveryDecision>;
  /** Counts an SNS notification that was not delivered (and whether its subscription's DLQ took it). */
  notificationFailed(topicArn: string, redrivenToDlq: boolean): void;
  /** Denials and SNS counts (EventBridge's are the rules' own stats, merged in by the stack). */
  snapshot(): Pick<DeliveryFailures, 'deniedDeliveries' | 'denied' | 'sns'>;
}

/** The action a service needs on a destination, from its ARN: sqs:SendMessage, sns:Publish or lambda:InvokeFunction. */
export function deliveryAction(arn: string): string {
  const service = arn.split(':')[2];
  return service === 'sqs' ? 'sqs:SendMessage' : service === 'sns' ? 'sns:Publish' : service === 'lambda' ? 'lambda:InvokeFunction' : `${service}:Unknown`;
}

/** A destination ARN as its policy names it: a function without its version or alias qualifier. */
export function policyResource(arn: string): string {
  return arn.split(':')[2] === 'lambda' ? arn.split(':').slice(0, 7).join(':') : arn;
}
