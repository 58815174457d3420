/**
 * `npm run bench:stream`: records per second of a stream consumer with a no-op step, Floodgate's
 * createStreamHandler against Powertools' BatchProcessor (EventType.DynamoDBStreams) on the same DynamoDB
 * Streams events, in one process and one run. Rounds alternate A B C C B A ... so warm-up and machine
 * load fall on every side alike; each figure is the median of its rounds.
 *
 * Each invocation is one batch of one shard, invoked one after the other (as Lambda does per shard and
 * parallelization slot). Sides:
 *   - floodgate: key order kept (one record per item key at a time), lanes, deadline, checkpoint, logs
 *     and metrics as in production (log level SILENT, metrics not flushed);
 *   - powertools-parallel: processPartialResponse with processInParallel (its default): Promise.all over
 *     the batch, no order within a key, no bound;
 *   - powertools-sequential: processInParallel false: one record at a time (what keeps key order).
 *
 *   npm run bench:stream [-- --batches 200 --batch-size 100 --keys 32 --rounds 3 --step-ms 0 --json]
 *
 * `--step-ms N` replaces the no-op with an N ms wait (an I/O call), where the sides differ by how many
 * records each has in flight: Powertools parallel all of the batch, sequential one, Floodgate one per key
 * within its lanes.
 *
 * Prints a table, and with --json one JSON object as the LAST line of stdout.
 */
process.env['POWERTOOLS_LOG_LEVEL'] = 'SILENT';
process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';

import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { cpus } from 'node:os';
import { createStreamHandler, type HandlerClients } from '@floodgate/runtime';
import { ddbEvent } from '../packages/runtime/test/support/stream-events';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const batches = arg('batches', 200);
const batchSize = arg('batch-size', 100);
const keyCount = arg('keys', 32);
const rounds = arg('rounds', 3);
const stepMs = arg('step-ms', 0);
const json = process.argv.includes('--json');

type Side = 'floodgate' | 'powertools-parallel' | 'powertools-sequential';
const SIDES: readonly Side[] = ['floodgate', 'powertools-parallel', 'powertools-sequential'];

// The same events for every side: `batches` batches of `batchSize` records over `keyCount` item keys.
const events: DynamoDBStreamEvent[] = Array.from({ length: batches }, (_, b) =>
  ddbEvent(Array.from({ length: batchSize }, (_, j) => `order#${(b * 7 + j * 13) % keyCount}`), b * batchSize),
);
const context = { getRemainingTimeInMillis: () => 900_000, awsRequestId: 'bench', functionName: 'bench' };
const noop = stepMs > 0 ? (): Promise<void> => new Promise((resolve) => setTimeout(resolve, stepMs)) : async (): Promise<void> => {};

const floodgate = createStreamHandler<DynamoDBRecord>({
  processRecord: noop,
  // No AWS call is made by a no-op step; clients are never used.
  clients: { requests: undefined } as unknown as HandlerClients,
  env: { FLOODGATE_IO_CONCURRENCY: '16', FLOODGATE_CPU_CONCURRENCY: '2' },
});
const processor = new BatchProcessor(EventType.DynamoDBStreams);

const invokeOne: Record<Side, (event: DynamoDBStreamEvent) => Promise<{ batchItemFailures: unknown[] }>> = {
  floodgate: (event) => floodgate(event, context),
  'powertools-parallel': (event) => processPartialResponse(event, noop, processor, { context: context as never }),
  'powertools-sequential': (event) => processPartialResponse(event, noop, processor, { context: context as never, processInParallel: false }),
};

async function runSide(side: Side): Promise<number> {
  const t0 = performance.now();
  for (const event of events) {
    const out = await invokeOne[side](event);
    if (out.batchItemFailures.length !== 0) throw new Error(`${side}: unexpected failures ${JSON.stringify(out.batchItemFailures)}`);
  }
  const ms = performance.now() - t0;
  return (batches * batchSize) / (ms / 1000);
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// Warm-up (JIT, first allocations), not measured.
for (const side of SIDES) await runSide(side);
const perSide: Record<Side, number[]> = { floodgate: [], 'powertools-parallel': [], 'powertools-sequential': [] };
const order: Side[] = [];
for (let r = 0; r < rounds; r++) order.push(...(r % 2 === 0 ? SIDES : [...SIDES].reverse()));
for (const side of order) {
  perSide[side].push(await runSide(side));
  process.stderr.write(`${side}: ${Math.round(perSide[side].at(-1)!)} records/s\n`);
}

const result = {
  records: batches * batchSize,
  batchSize,
  keys: keyCount,
  stepMs,
  rounds,
  order: order.join(' '),
  node: process.version,
  cpus: cpus().length,
  recordsPerSec: Object.fromEntries(SIDES.map((s) => [s, Math.round(median(perSide[s]))])) as Record<Side, number>,
  runsRecordsPerSec: Object.fromEntries(SIDES.map((s) => [s, perSide[s].map(Math.round)])) as Record<Side, number[]>,
  ratio: {
    floodgateVsPowertoolsParallel: +(median(perSide.floodgate) / median(perSide['powertools-parallel'])).toFixed(2),
    floodgateVsPowertoolsSequential: +(median(perSide.floodgate) / median(perSide['powertools-sequential'])).toFixed(2),
  },
};
console.log(`stream consumer, ${stepMs > 0 ? `${stepMs} ms step` : 'no-op step'}: ${result.records} DynamoDB Streams records per round (${batches} batches of ${batchSize}, ${keyCount} item keys), ${rounds} rounds (${result.order}), ${result.node}, ${result.cpus} CPUs`);
console.log('side                    records/s (median)   runs');
for (const s of SIDES) console.log(`${s.padEnd(24)}${String(result.recordsPerSec[s]).padStart(18)}   ${result.runsRecordsPerSec[s].join(', ')}`);
console.log(`ratio floodgate / powertools-parallel:   ${result.ratio.floodgateVsPowertoolsParallel}`);
console.log(`ratio floodgate / powertools-sequential: ${result.ratio.floodgateVsPowertoolsSequential}`);
if (json) console.log(JSON.stringify(result));
