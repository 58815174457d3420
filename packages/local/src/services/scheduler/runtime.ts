/**
 * The local stack's EventBridge Scheduler: each AWS::Scheduler::Schedule fires on time (rate, cron or
 * one-time at(), in its ScheduleExpressionTimezone; a FLEXIBLE time window delays each run by a random
 * part of MaximumWindowInMinutes, as Scheduler spreads invocations) and on demand (`fire`). A run sends
 * the target's Input (context attributes <aws.scheduler.schedule-arn>, <aws.scheduler.scheduled-time>,
 * <aws.scheduler.execution-id>, <aws.scheduler.attempt-number> substituted) to SQS (SqsParameters
 * MessageGroupId), SNS or Lambda (asynchronous), signed as the schedule's execution role so the
 * endpoint's IAM applies: a role without the grant is denied (AccessDenied, not retried), and the run
 * goes to the target's DeadLetterConfig queue (sent as the role too, as Scheduler does) or is counted as
 * a failed invocation. One-time schedules run once (ActionAfterCompletion is not applied).
 */
import { randomUUID } from 'node:crypto';
import type { RecordedResource } from '../../core/deployment/provisioner.js';
import type { FireResult } from '../events/bus-runtime.js';
import type { Credentials } from '../events/deliver.js';
import { isoSeconds } from '../events/event.js';
import { parseScheduleExpression, type Schedule } from '../events/schedule-expression.js';
import { createTargetDispatcher, newStats, type DispatchStats } from '../events/target-dispatch.js';

export interface ScheduleStats {
  readonly name: string;
  readonly group: string;
  readonly state: string;
  readonly expression: string;
  readonly runs: number;
  readonly invocations: number;
  readonly failedInvocations: number;
  readonly deadLetterInvocations: number;
  readonly retries: number;
  readonly nextFire?: string;
}

export interface SchedulerRuntime {
  /** Runs a schedule now (by name or logical id); undefined when there is no such schedule. */
  fire(name: string): Promise<FireResult> | undefined;
  stats(): ScheduleStats[];
  idle(): Promise<void>;
  stop(): void;
}

interface Running {
  readonly name: string;
  readonly group: string;
  readonly logicalId: string;
  readonly arn: string;
  readonly roleArn: string;
  readonly state: string;
  readonly expression: string;
  readonly schedule: Schedule;
  readonly flexibleMinutes: number;
  readonly target: Record<string, any>;
  readonly stats: DispatchStats & { runs: number };
  timer?: NodeJS.Timeout;
  nextFire?: Date;
}

export interface SchedulerRuntimeOptions {
  readonly region: string;
  readonly endpoint: () => string;
  readonly recorded: readonly RecordedResource[];
  /** The credentials a role signs with (the stack's CredentialStore issues them), by role ARN and session name. */
  readonly roleCredentials: (roleArn: string, session: string) => Credentials;
  readonly retryBaseMs?: number;
  readonly log: (line: string) => void;
  /** Start the timers. @default true */
  readonly timers?: boolean;
}

/** Scheduler's context attributes in a target's Input. */
export function scheduleInput(input: string | undefined, ctx: { arn: string; scheduledTime: Date; executionId: string; attempt: number }): string {
  if (input === undefined) return '{}';
  return input
    .replaceAll('<aws.scheduler.schedule-arn>', ctx.arn)
    .replaceAll('<aws.scheduler.scheduled-time>', isoSeconds(ctx.scheduledTime))
    .replaceAll('<aws.scheduler.execution-id>', ctx.executionId)
    .replaceAll('<aws.scheduler.attempt-number>', String(ctx.attempt));
}

export function createSchedulerRuntime(options: SchedulerRuntimeOptions): SchedulerRuntime {
  const dispatcher = createTargetDispatcher({ endpoint: options.endpoint, region: options.region, log: options.log, ...(options.retryBaseMs !== undefined ? { retryBaseMs: options.retryBaseMs } : {}) });
  const schedules: Running[] = [];
  let stopped = false;

  const run = async (s: Running, scheduledTime: Date): Promise<FireResult> => {
    s.stats.runs++;
    const executionId = randomUUID();
    const t = s.target;
    const payload = scheduleInput(t.Input, { arn: s.arn, scheduledTime, executionId, attempt: 1 });
    const credentials = options.roleCredentials(s.roleArn, s.name);
    const outcome = await dispatcher.send(
      {
        id: s.name,
        arn: String(t.Arn),
        ...(t.SqsParameters?.MessageGroupId ? { messageGroupId: String(t.SqsParameters.MessageGroupId) } : {}),
        deduplicationId: executionId,
        ...(t.DeadLetterConfig?.Arn ? { deadLetterArn: String(t.DeadLetterConfig.Arn) } : {}),
        ...(t.RetryPolicy?.MaximumRetryAttempts !== undefined ? { maximumRetryAttempts: Number(t.RetryPolicy.MaximumRetryAttempts) } : {}),
        ...(t.RetryPolicy?.MaximumEventAgeInSeconds !== undefined ? { maximumEventAgeSeconds: Number(t.RetryPolicy.MaximumEventAgeInSeconds) } : {}),
      },
      payload,
      { credentials, stats: s.stats, dlqBody: payload, dlqAttributes: { EXECUTION_ID: executionId, SCHEDULE_ARN: s.arn } },
    );
    return { name: s.name, kind: 'schedule', arn: s.arn, event: payload, targets: [{ id: s.name, arn: String(t.Arn), outcome }] };
  };

  const arm = (s: Running): void => {
    if (stopped || options.timers === false || s.state !== 'ENABLED') return;
    const next = s.schedule.nextFire(new Date());
    if (!next) return;
    s.nextFire = next;
    const flex = s.flexibleMinutes > 0 ? Math.floor(Math.random() * s.flexibleMinutes * 60_000) : 0;
    const due = next.getTime() + flex;
    s.timer = setTimeout(() => {
      if (Date.now() + 5 < due) return arm(s);
      void run(s, next).catch((err: unknown) => options.log(`scheduler: ${s.name}: ${(err as Error).message}`));
      arm(s);
    }, Math.min(Math.max(0, due - Date.now()), 2 ** 31 - 1));
    s.timer.unref?.();
  };

  for (const r of options.recorded) {
    if (r.type !== 'AWS::Scheduler::Schedule') continue;
    const p = r.properties as Record<string, any>;
    const tz = typeof p.ScheduleExpressionTimezone === 'string' ? p.ScheduleExpressionTimezone : 'UTC';
    const window = p.FlexibleTimeWindow ?? {};
    const s: Running = {
      name: String(p.Name),
      group: String(p.GroupName ?? 'default'),
      logicalId: r.logicalId,
      arn: String(p.Arn),
      roleArn: String(p.Target?.RoleArn ?? ''),
      state: String(p.State ?? 'ENABLED'),
      expression: String(p.ScheduleExpression),
      schedule: parseScheduleExpression(String(p.ScheduleExpression), tz),
      flexibleMinutes: window.Mode === 'FLEXIBLE' ? Number(window.MaximumWindowInMinutes ?? 0) : 0,
      target: p.Target ?? {},
      stats: { ...newStats(), runs: 0 },
    };
    schedules.push(s);
    arm(s);
  }

  return {
    fire(name) {
      const s = schedules.find((x) => x.name === name || x.logicalId === name);
      return s ? run(s, new Date()) : undefined;
    },
    stats: () =>
      schedules.map((s) => ({
        name: s.name,
        group: s.group,
        state: s.state,
        expression: s.expression,
        runs: s.stats.runs,
        invocations: s.stats.invocations,
        failedInvocations: s.stats.failedInvocations,
        deadLetterInvocations: s.stats.deadLetterInvocations,
        retries: s.stats.retries,
        ...(s.nextFire ? { nextFire: s.nextFire.toISOString() } : {}),
      })),
    idle: () => dispatcher.idle(),
    stop() {
      stopped = true;
      for (const s of schedules) if (s.timer) clearTimeout(s.timer);
      dispatcher.stop();
    },
  };
}
