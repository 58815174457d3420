/**
 * Measures the job API through the local front on the local stack (bundled handler in the Lambda host,
 * DynamoDB Local, fauxqs): latency of signed `POST /jobs` one at a time, throughput with N in flight,
 * and how the stage throttle answers a burst above its bucket. Figures depend on the machine's load.
 *
 *   npx tsx local/api/bench-front.ts [--requests 200] [--concurrency 8] [--burst 300]
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { startLocalStack } from '@floodgate/local';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '@floodgate/local';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

const stack = await startLocalStack({ log: () => {}, waitTimeSeconds: 1 });
try {
  const base = stack.api?.url;
  if (base === undefined) throw new Error('the local stack has no API front');
  const signer = new SignatureV4({ credentials: LOCAL_CREDENTIALS, region: LOCAL_REGION, service: 'execute-api', sha256: Sha256 });
  let n = 0;
  async function submit(): Promise<{ status: number; ms: number }> {
    const key = `bench-${process.pid}-${++n}`;
    const body = JSON.stringify({ sourceKey: `uploads/bench/${key}.jpg` });
    const url = new URL('/jobs', base);
    const t0 = performance.now();
    const signed = await signer.sign({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/jobs', query: {}, headers: { host: url.host, 'content-type': 'application/json', 'idempotency-key': key }, body });
    const h: Record<string, string> = { ...signed.headers };
    delete h.host;
    const res = await fetch(url, { method: 'POST', headers: h, body });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - t0 };
  }
  const requests = arg('requests', 200);
  const concurrency = arg('concurrency', 8);
  const burst = arg('burst', 300);
  const throttle = (await import('@floodgate/local')).readApiDefinition(stack.template).throttle;

  for (let i = 0; i < 10; i++) await submit(); // warm the execution environments
  const seq: number[] = [];
  for (let i = 0; i < requests; i++) seq.push((await submit()).ms);
  console.log(`sequential POST /jobs: n=${requests} p50=${pct(seq, 50).toFixed(1)} ms p95=${pct(seq, 95).toFixed(1)} ms p99=${pct(seq, 99).toFixed(1)} ms`);

  // Throughput with a fixed number in flight, paced under the stage rate so the throttle does not interfere.
  await new Promise((r) => setTimeout(r, 3000));
  const t0 = performance.now();
  let done = 0;
  const statuses = new Map<number, number>();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (done < requests) {
        done++;
        const r = await submit();
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  console.log(`${concurrency} in flight: ${requests} requests in ${secs.toFixed(2)} s = ${(requests / secs).toFixed(1)} req/s; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);

  // A burst above the bucket: everything sent at once.
  await new Promise((r) => setTimeout(r, Math.ceil(((throttle?.burstLimit ?? 0) / (throttle?.rateLimit ?? 1)) * 1000) + 1000));
  const burstStatuses = new Map<number, number>();
  await Promise.all(Array.from({ length: burst }, async () => {
    const r = await submit();
    burstStatuses.set(r.status, (burstStatuses.get(r.status) ?? 0) + 1);
  }));
  console.log(`burst of ${burst} at once against rate=${throttle?.rateLimit}/s burst=${throttle?.burstLimit}: statuses ${JSON.stringify(Object.fromEntries(burstStatuses))}`);
} finally {
  await stack.stop({ destroy: true });
}
