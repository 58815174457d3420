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
import { policyResource, type DeliveryGate, type DeniedDelivery } from '../core/delivery-gate.js';
import { evaluate, type Decision } from './iam/evaluate.js';
import type { PolicyIndex } from './iam/policies.js';

export type { DeliveryDecision, DeliveryFailures, DeliveryGate, DeniedDelivery, ServiceDelivery } from '../core/delivery-gate.js';
export { deliveryAction, policyResource } from '../core/delivery-gate.js';

const KEPT = 100;

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
    async authorize(d, o) {
      if (!options.iam) return { allowed: true };
      const index = options.policies();
      const accountId = options.accountId();
      const a = { action: d.action, resource: policyResource(d.resource) };
      const decision: Decision =
        index === undefined
          ? { allowed: false, authorization: a, reason: 'implicit', message: `${d.service} may not perform ${d.action} on ${d.resource}: no policies are known yet` }
          : await evaluate({ kind: 'service', service: d.service, sourceArn: d.sourceArn, sourceAccount: d.sourceAccount ?? accountId }, a, { index, accountId, service: d.action.split(':')[0]! });
      if (!decision.allowed && o?.exists && !(await o.exists(d.resource))) return { allowed: true };
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
