/**
 * `npm run burst -- --compare`: the same burst of orders, three ways, against the same PostgreSQL
 * (max_connections 100): `unbounded` (the seed's consumer, no caps), `seedSnippet` (the seed's consumer
 * with the article's settings) and `floodgate` (examples/orders-postgres, caps derived from the budget).
 *
 * Each run gets its own database on the one server, its own deployment of its stack on the local stack,
 * and the whole burst enqueued before its pollers start. Measured:
 * - connections: client backends in pg_stat_activity, sampled every 100 ms by an observer that connects
 *   as a logical-replication session (a walsender: it takes a max_wal_senders slot, not one of the
 *   100 connections it is counting);
 * - refused connections: the 53300 "too many clients" errors the handlers met, from their EMF lines;
 * - completed and duplicate effects: counted in the run's database (order_effects rows per order);
 * - dead-lettered: the DLQ's depth at the end; executions: the runner's exact peak and samples.
 * Each order's effect holds its connection for `workMs` (a trigger on order_effects sleeps), the same in
 * every run: without it a local insert takes a millisecond and no run would ever fill the server.
 */
import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DEFAULT_LOCAL_CONCURRENCY_CEILING, LOCAL_CEILING_ENV, LOCAL_CREDENTIALS, startEmulators, startLocalStack, synthesize, type LocalEndpoints } from '@floodgate/local';
import { startPostgres, type RunningPostgres } from '@floodgate/postgres';
import { ORDERS_DOWNSTREAM_BUDGET, ORDERS_OUTPUTS } from '../../examples/orders-postgres/lib/orders-stack';
import { SCHEMA_SQL } from '../../examples/orders-postgres/src/store';
import { COMPARE_STACKS, RUN_NAMES, type RunName } from './stacks';

export const DOWNSTREAM = { kind: 'postgres', maxConnections: 100 } as const;
/** The local stack's ceiling on an uncapped mapping's scale-up (its stand-in for Lambda's 1,250). */
export const DEFAULT_UNBOUNDED_CEILING = DEFAULT_LOCAL_CONCURRENCY_CEILING;
const APP_ROLE = 'orders';

export interface RunResult {
  readonly completed: number;
  readonly peakDownstreamConnections: number;
  readonly refusedConnections: number;
  readonly duplicateEffects: number;
  readonly deadLettered: number;
  readonly peakConcurrentExecutions: number;
  /** Seconds from the pollers' start until the queue was empty; null when the run's budget ran out first. */
  readonly drainSeconds: number | null;
}

export interface CompareResult {
  readonly downstream: typeof DOWNSTREAM;
  readonly messages: number;
  readonly runs: Record<RunName, RunResult>;
}

export interface TimelinePoint {
  /** ms since the pollers started. */
  readonly t: number;
  readonly value: number;
}

export interface RunTimeline {
  readonly queueVisible: TimelinePoint[];
  readonly queueInFlight: TimelinePoint[];
  readonly executions: TimelinePoint[];
  /** Concurrent invocations the mapping allowed (a cap, or Lambda's scale-up up to the local ceiling). */
  readonly limit: TimelinePoint[];
  readonly connections: TimelinePoint[];
  /** The run's execution cap (undefined: no cap, Lambda's scale-up up to the local ceiling). */
  readonly executionCap: number | undefined;
}

export interface CompareOptions {
  readonly messages: number;
  /** Give up on a run that has not drained after this long (its drainSeconds is then null). */
  readonly runSeconds: number;
  readonly unboundedCeiling?: number;
  /** How long applying one order's effect holds its connection, ms (a trigger sleeps). */
  readonly workMs: number;
  readonly runs?: readonly RunName[];
  readonly log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function queueCounts(sqs: SQSClient, url: string): Promise<{ visible: number; inFlight: number }> {
  const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return { visible: Number(a.Attributes?.ApproximateNumberOfMessages ?? 0), inFlight: Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

/** The burst: N valid orders (every one should complete), SendMessageBatch from 8 senders. */
async function enqueue(sqs: SQSClient, queueUrl: string, messages: number, runId: string): Promise<void> {
  let next = 0;
  const batches = Math.ceil(messages / 10);
  const sender = async (): Promise<void> => {
    for (let b = next++; b < batches; b = next++) {
      const Entries = Array.from({ length: Math.min(10, messages - b * 10) }, (_, i) => {
        const n = b * 10 + i;
        const body = { v: 1, orderId: `${runId}-${n}`, sku: `sku-${n % 37}`, quantity: 1 + (n % 5), amountCents: 100 + n };
        return { Id: String(i), MessageBody: JSON.stringify(body) };
      });
      const res = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries }));
      if ((res.Failed ?? []).length > 0) throw new Error(`SendMessageBatch failed: ${JSON.stringify(res.Failed)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, () => sender()));
}

async function withClient<T>(config: pg.ClientConfig, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(config);
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

async function runOne(name: RunName, ctx: { endpoints: LocalEndpoints; server: RunningPostgres; assemblyDir: string; options: CompareOptions }): Promise<{ result: RunResult; timeline: RunTimeline }> {
  const { endpoints, server, assemblyDir, options } = ctx;
  const log = options.log ?? (() => undefined);
  const database = `orders_${name.toLowerCase()}`;
  const admin = { host: server.host, port: server.port, user: server.user, database: 'postgres' };
  await withClient(admin, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${database}`);
    await c.query(`CREATE DATABASE ${database} OWNER ${APP_ROLE}`);
  });
  const app = { host: server.host, port: server.port, user: APP_ROLE, database };
  await withClient(app, async (c) => {
    await c.query(SCHEMA_SQL);
    // The order's work, the same in every run: applying an effect holds its connection for workMs
    // (a trigger installed by this harness; the handlers' code is untouched).
    await c.query(`CREATE FUNCTION simulate_work() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(${options.workMs / 1000}); RETURN NEW; END $$`);
    await c.query('CREATE TRIGGER simulate_work BEFORE INSERT ON order_effects FOR EACH ROW EXECUTE FUNCTION simulate_work()');
  });
  const databaseUrl = `postgres://${APP_ROLE}@${server.host}:${server.port}/${database}`;

  let refused = 0;
  const failureClasses = new Map<string, number>();
  const stack = await startLocalStack({
    assemblyDir,
    stackName: COMPARE_STACKS[name],
    emulators: endpoints,
    api: false,
    startRunners: false,
    waitTimeSeconds: 1,
    functionEnv: { ORDERS_DATABASE_URL: databaseUrl },
    log: () => undefined,
    // The handlers publish what the clients saw as EMF; the runner collects every log line.
    onLog: (entry) => {
      const v = entry.json?.RefusedConnections;
      if (typeof v === 'number' && entry.json?._aws !== undefined) refused += v;
      const cls = entry.json?.errorClass;
      if (entry.json?.message === 'record failed' && typeof cls === 'string') failureClasses.set(cls, (failureClasses.get(cls) ?? 0) + 1);
    },
  });
  const sqs = new SQSClient({ region: endpoints.region, credentials: LOCAL_CREDENTIALS, endpoint: endpoints.sqs });
  const observer = new pg.Client({ ...admin, replication: 'database' } as pg.ClientConfig);
  try {
    const queueUrl = stack.outputs[ORDERS_OUTPUTS.queueUrl]!;
    const dlqUrl = stack.outputs[ORDERS_OUTPUTS.deadLetterQueueUrl]!;
    const runner = [...stack.runners.values()][0]!;
    const fn = stack.deployment.functions[0]!;
    const mapping = stack.deployment.eventSourceMappings[0]!;
    const executionCap = mapping.maximumConcurrency ?? fn.reservedConcurrency;
    const runId = `${name}-${Date.now().toString(36)}`;
    await enqueue(sqs, queueUrl, options.messages, runId);
    await observer.connect();
    log(`compare ${name}: ${options.messages} orders enqueued; cap ${executionCap ?? `none (Lambda's scale-up, local ceiling ${options.unboundedCeiling ?? DEFAULT_UNBOUNDED_CEILING})`}`);

    const connections: TimelinePoint[] = [];
    const t0 = Date.now();
    const runnerOffset = t0 - runner.stats().startedAt;
    stack.startRunners();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          const r = await observer.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'");
          connections.push({ t: Date.now() - t0, value: r.rows[0]!.n });
        } catch {
          // a sample lost under load is a gap in the chart, not a failure of the run
        }
        await sleep(100);
      }
    })();

    let drainSeconds: number | null = null;
    let lastLog = 0;
    const budgetMs = options.runSeconds * 1000;
    while (Date.now() - t0 < budgetMs) {
      await sleep(250);
      const q = await queueCounts(sqs, queueUrl);
      const inFlight = runner.stats().inFlight;
      if (q.visible === 0 && q.inFlight === 0 && inFlight === 0) {
        drainSeconds = Number(((Date.now() - t0) / 1000).toFixed(1));
        break;
      }
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(`compare ${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s, queue ${q.visible} waiting + ${q.inFlight} in flight, executions ${inFlight}, connections ${connections.at(-1)?.value ?? '?'}, refused so far ${refused}`);
      }
    }
    sampling = false;
    await sampler;
    const dlq = await queueCounts(sqs, dlqUrl);
    const stats = runner.stats();
    await stack.stop({ destroy: true });

    const counted = await withClient(app, async (c) => {
      const r = await c.query<{ completed: number; duplicates: number }>(
        'SELECT count(*)::int AS completed, coalesce(sum(n - 1), 0)::int AS duplicates FROM (SELECT count(*) AS n FROM order_effects GROUP BY order_id) e',
      );
      return r.rows[0]!;
    });
    const shift = (t: number) => t - runnerOffset;
    const samples = stats.samples.filter((s) => shift(s.t) >= 0);
    const timeline: RunTimeline = {
      queueVisible: samples.map((s) => ({ t: shift(s.t), value: s.visible ?? 0 })),
      queueInFlight: samples.map((s) => ({ t: shift(s.t), value: s.notVisible ?? 0 })),
      executions: samples.map((s) => ({ t: shift(s.t), value: s.inFlight })),
      limit: samples.map((s) => ({ t: shift(s.t), value: s.limit })),
      connections,
      executionCap,
    };
    const result: RunResult = {
      completed: counted.completed,
      peakDownstreamConnections: Math.max(0, ...connections.map((c) => c.value)),
      refusedConnections: refused,
      duplicateEffects: counted.duplicates,
      deadLettered: dlq.visible + dlq.inFlight,
      peakConcurrentExecutions: stats.maxConcurrentExecutions,
      drainSeconds,
    };
    const invocationFailures = new Map<string, number>();
    for (const r of stats.invocationLog) {
      if (r.outcome === 'success') continue;
      const key = `${r.outcome}: ${r.reason?.slice(0, 80) ?? r.failureKind ?? 'batch item failures'}`;
      invocationFailures.set(key, (invocationFailures.get(key) ?? 0) + 1);
    }
    log(`compare ${name}: ${JSON.stringify(result)}`);
    log(`compare ${name}: record failures by class ${JSON.stringify(Object.fromEntries(failureClasses))}; invocations not fully successful ${JSON.stringify(Object.fromEntries(invocationFailures))}; slowest invocation ${Math.max(0, ...stats.invocationLog.map((r) => r.durationMs)).toFixed(0)} ms (init ${Math.max(0, ...stats.invocationLog.map((r) => r.initDurationMs ?? 0)).toFixed(0)} ms); runner received ${stats.messagesReceived}, deleted ${stats.messagesDeleted}, failed ${stats.messagesFailed}, invocations ${stats.invocations}`);
    return { result, timeline };
  } finally {
    await observer.end().catch(() => undefined);
    sqs.destroy();
    await stack.stop({ destroy: true }).catch(() => undefined);
  }
}

/** Synthesizes the comparison app, starts PostgreSQL and the emulators, runs the three runs in turn. */
export async function runCompare(options: CompareOptions): Promise<{ result: CompareResult; timelines: Record<RunName, RunTimeline>; postgres: { version: string; binaries: string } }> {
  const log = options.log ?? (() => undefined);
  const projectDir = fileURLToPath(new URL('.', import.meta.url));
  const { assemblyDir } = await synthesize({
    projectDir,
    outDir: '../../.floodgate/compare.out',
    inputs: ['.', '../../examples/orders-postgres/src', '../../examples/orders-postgres/lib', '../../packages/cdk/src', '../../packages/runtime/src', '../../package-lock.json'],
    log,
  });
  // superuser_reserved_connections 0: the application role may use all 100 slots, as the budget says.
  if (options.unboundedCeiling !== undefined) process.env[LOCAL_CEILING_ENV] = String(options.unboundedCeiling);
  const server = await startPostgres({ maxConnections: DOWNSTREAM.maxConnections, superuserReservedConnections: 0 });
  const emulators = await startEmulators();
  try {
    const version = await withClient({ host: server.host, port: server.port, user: server.user, database: 'postgres' }, async (c) => {
      await c.query(`CREATE ROLE ${APP_ROLE} LOGIN`);
      return (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
    });
    log(`compare: PostgreSQL ${version} (${server.binaries}) on port ${server.port}, max_connections ${server.maxConnections}; budget ${JSON.stringify(ORDERS_DOWNSTREAM_BUDGET)}`);
    const runs = {} as Record<RunName, RunResult>;
    const timelines = {} as Record<RunName, RunTimeline>;
    for (const name of options.runs ?? RUN_NAMES) {
      const r = await runOne(name, { endpoints: emulators, server, assemblyDir, options });
      runs[name] = r.result;
      timelines[name] = r.timeline;
    }
    return { result: { downstream: DOWNSTREAM, messages: options.messages, runs }, timelines, postgres: { version, binaries: server.binaries } };
  } finally {
    await emulators.stop();
    await server.stop();
  }
}
