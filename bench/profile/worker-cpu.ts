/**
 * `npx tsx bench/profile/worker-cpu.ts [images] [--bundle ASSET_DIR]`: where the worker's main-thread CPU goes per image.
 * Starts the emulators here, then runs the real worker handler (real renderImage, sharp configured as in
 * Lambda) in a child started with the Lambda runtime's node flags, profiled (inspector) over the bench's
 * photos in batches of 10, and prints the profile's self time per image by area (libvips threads are
 * not in a V8 profile: the bench's thread accounting covers them) and the main thread's GC pauses by kind.
 * PROFILE_NODE_ARGS adds node flags after the Lambda ones (e.g. to try another heap setting). Diagnostic,
 * not part of `npm run bench`.
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { endpointEnv, lambdaNodeFlags, LOCAL_CREDENTIALS, startEmulators } from '@floodgate/local';
import { CONSUMER_ENV, PIPELINE_ENV, TABLE_ATTRIBUTES } from '../../lambda/shared/contract';
import { runChild } from '../child';
import { DEFAULT_IMAGE_SET, ensureImageSet } from '../images';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string }; hitCount?: number; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

/** Self time by area and the top functions, from a .cpuprofile. */
export function summarize(profile: CpuProfile): { byArea: Record<string, number>; top: [string, number][]; totalMs: number } {
  const selfMs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) selfMs.set(profile.samples[i]!, (selfMs.get(profile.samples[i]!) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  const area = (n: ProfileNode): string => {
    const { url, functionName } = n.callFrame;
    if (!url) return functionName.startsWith('(') ? functionName : '(native)';
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (m) return m[1]!;
    if (url.startsWith('node:')) return 'node core';
    return 'floodgate';
  };
  const byArea: Record<string, number> = {};
  const byFn = new Map<string, number>();
  for (const n of profile.nodes) {
    const ms = selfMs.get(n.id) ?? 0;
    if (ms === 0) continue;
    const a = area(n);
    byArea[a] = (byArea[a] ?? 0) + ms;
    const key = `${n.callFrame.functionName || '(anonymous)'} [${a}]`;
    byFn.set(key, (byFn.get(key) ?? 0) + ms);
  }
  const top = [...byFn].sort((x, y) => y[1] - x[1]).slice(0, 25);
  return { byArea, top, totalMs: (profile.endTime - profile.startTime) / 1000 };
}

const CHILD = fileURLToPath(new URL('./worker-cpu-child.ts', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const count = Number(process.argv[2] ?? '20');
  // --bundle DIR: profile a bundled worker asset (e.g. .floodgate/bench/cdk.out.floodgate/asset.<hash>).
  const b = process.argv.indexOf('--bundle');
  const bundle = b > 0 ? process.argv[b + 1] : undefined;
  const emulators = await startEmulators();
  try {
    const common = { region: emulators.region, credentials: LOCAL_CREDENTIALS };
    const s3 = new S3Client({ ...common, endpoint: emulators.s3, forcePathStyle: true });
    const ddb = new DynamoDBClient({ ...common, endpoint: emulators.dynamodb });
    const sqs = new SQSClient({ ...common, endpoint: emulators.sqs });
    const [uploads, renditions, jobs] = ['prof-uploads', 'prof-renditions', 'prof-jobs'];
    await s3.send(new CreateBucketCommand({ Bucket: uploads }));
    await s3.send(new CreateBucketCommand({ Bucket: renditions }));
    await ddb.send(new CreateTableCommand({ TableName: jobs, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: TABLE_ATTRIBUTES.jobs.partitionKey, AttributeType: 'S' }], KeySchema: [{ AttributeName: TABLE_ATTRIBUTES.jobs.partitionKey, KeyType: 'HASH' }] }));
    const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: 'prof-dlq' }))).QueueUrl!;
    const images = (await ensureImageSet(fileURLToPath(new URL('../../.floodgate/bench/images', import.meta.url)), DEFAULT_IMAGE_SET)).filter((i) => i.name.endsWith('.jpg')).slice(0, count);
    const keys: string[] = [];
    for (const [i, img] of images.entries()) {
      const key = `uploads/prof/${i}.jpg`;
      await s3.send(new PutObjectCommand({ Bucket: uploads, Key: key, Body: readFileSync(img.path) }));
      keys.push(key);
    }
    const dir = mkdtempSync(join(tmpdir(), 'floodgate-prof-'));
    const env = {
      ...endpointEnv(emulators),
      [PIPELINE_ENV.jobsTable]: jobs,
      [PIPELINE_ENV.idempotencyTable]: jobs,
      [PIPELINE_ENV.uploadsBucket]: uploads,
      [PIPELINE_ENV.renditionsBucket]: renditions,
      [CONSUMER_ENV.cpuConcurrency]: '1',
      [CONSUMER_ENV.deadLetterQueueUrl]: dlq,
      MALLOC_ARENA_MAX: '2',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      POWERTOOLS_METRICS_DISABLED: 'true',
    };
    const r = await runChild<{ images: number; elapsedMs: number; failures: number; threadCpuMs: Record<string, number>; gc: Record<string, { count: number; ms: number }>; heapUsedMb: number; externalMb: number }>(CHILD, { keys, profileFile: join(dir, 'worker.cpuprofile'), ...(bundle ? { bundle } : {}) }, { env, nodeArgs: [...lambdaNodeFlags(2048), ...(process.env.PROFILE_NODE_ARGS ?? '').split(' ').filter(Boolean)], timeoutMs: 600_000 });
    const file = 'worker.cpuprofile';
    const s = summarize(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile);
    const per = (ms: number) => (ms / r.images).toFixed(1);
    console.log(`${r.images} images (${r.failures} failed) in ${(r.elapsedMs / 1000).toFixed(1)} s; profile ${join(dir, file)}`);
    console.log(`GC pauses (main thread), per image: ${Object.entries(r.gc).map(([k, g]) => `${k} ${(g.count / r.images).toFixed(2)} x, ${(g.ms / r.images).toFixed(1)} ms`).join('; ')}; heap used ${r.heapUsedMb} MB, external ${r.externalMb} MB at the end`);
    const threads = Object.entries(r.threadCpuMs).filter(([, ms]) => ms > 0);
    console.log(`CPU per image by thread (ms): ${threads.map(([g, ms]) => `${g} ${per(ms)}`).join(', ')}; total ${per(threads.reduce((a, [, ms]) => a + ms, 0))}`);
    console.log('main-thread self time per image by area (ms):');
    for (const [a, ms] of Object.entries(s.byArea).sort((x, y) => y[1] - x[1])) console.log(`  ${a.padEnd(36)} ${per(ms)}`);
    console.log('top functions (ms per image):');
    for (const [fn, ms] of s.top) console.log(`  ${per(ms).padStart(6)}  ${fn}`);
  } finally {
    await emulators.stop();
  }
}
