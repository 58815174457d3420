/**
 * Issue 24, parts 3 and 5, as a user gets them: examples/orders-esm installed from the packed tarballs
 * (offline, one install) in a project outside this repository, `floodgate-local up --keep --port P`
 * (P = 4566 when it is free, else another free port), driven the way LocalStack users drive LocalStack:
 *   - `GET /_localstack/health` answers in LocalStack's format with every served service "running";
 *   - the AWS CLI with `--endpoint-url http://localhost:P` (what awslocal does) and `AWS_ENDPOINT_URL`
 *     (DynamoDB: the CLI v1 honours it there), and the test/test credentials, unchanged;
 *   - the console at http://localhost:P/_floodgate/ in Debian's headless Chromium (playwright-core, no
 *     browser download): it shows the poison order's dead-lettered message with its ErrorClass and
 *     ErrorReason (screenshot: test-output/console.png), its counts match GetQueueAttributes, a mapping
 *     disabled from the page is Disabled for the Lambda API (and a new order stays queued), and the
 *     Redrive button moves the message back (StartMessageMoveTask);
 *   - the console refuses a foreign Host (DNS rebinding) and a change without its header.
 */
import { request } from 'node:http';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { awsCli, type AwsCli } from './support/aws-cli.js';
import { copyTree, EXAMPLES_DIR, installIntoProject, makeSandbox, packPackages, REPO_ROOT, run, start, type LongRunning, type PackedPackage } from './support/project.js';

const STEP_TIMEOUT = 240_000;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT_DIR = join(REPO_ROOT, 'test-output');
const LOCALSTACK_PORT = 4566;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
      srv.close(() => resolve(addr.port));
    });
  });
}

/** A raw HTTP request with the headers as given (fetch does not let a caller set Host). */
function rawRequest(port: number, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

// Decided when the file is collected, so the skip below can say why (other runs on this machine may hold 4566).
const on4566 = await portFree(LOCALSTACK_PORT);
const port = on4566 ? LOCALSTACK_PORT : await freePort();
const hasChromium = existsSync(CHROMIUM);

let sandbox: { dir: string; env: NodeJS.ProcessEnv };
let packages: PackedPackage[];
let project: string;
/** The endpoint `up` printed. */
let served: string | undefined;

beforeAll(async () => {
  sandbox = makeSandbox('floodgate-new-user-console-');
  packages = await packPackages(sandbox.env);
}, STEP_TIMEOUT);

afterAll(() => {
  if (sandbox && process.env.FLOODGATE_KEEP_NEW_USER === undefined) rmSync(sandbox.dir, { recursive: true, force: true });
});

describe('orders-esm on `floodgate-local up --port`, seen through the console and LocalStack-style clients', () => {
  test('installs the tarballs offline (one install)', async () => {
    project = join(sandbox.dir, 'orders-esm');
    mkdirSync(project);
    copyTree(join(EXAMPLES_DIR, 'orders-esm'), project);
    await installIntoProject(project, sandbox.env, packages, {
      dependencies: ['aws-cdk-lib', 'constructs', '@aws-sdk/client-dynamodb', 'zod'],
      devDependencies: ['aws-cdk', 'tsx', 'esbuild'],
    });
  }, STEP_TIMEOUT);

  const consoleTest = `the health route, the AWS CLI on http://localhost:${port}, and the console in headless Chromium`;
  test.skipIf(!hasChromium)(
    hasChromium ? consoleTest : `${consoleTest}: SKIPPED, no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`,
    async () => {
      const bin = join(project, 'node_modules', '.bin', 'floodgate-local');
      const local: LongRunning = start(bin, ['up', '--keep', '--port', String(port), '--outputs-file', 'outputs.json'], { cwd: project, env: sandbox.env });
      let browser: Browser | undefined;
      try {
        const [, printed] = await local.waitForLine(/^endpoint=(\S+)\s*$/, 180_000);
        served = printed;
        expect(printed).toBe(`http://127.0.0.1:${port}`);
        // What a LocalStack user's configuration says: localhost and the port, nothing else.
        const endpoint = `http://localhost:${port}`;

        // LocalStack's health route.
        const health = (await (await fetch(`${endpoint}/_localstack/health`)).json()) as { services: Record<string, string>; edition: string; version: string };
        const localVersion = JSON.parse(readFileSync(join(project, 'node_modules', '@floodgate', 'local', 'package.json'), 'utf8')).version as string;
        expect(health).toMatchObject({ edition: 'floodgate-local', version: localVersion });
        for (const s of ['sqs', 'sns', 's3', 'dynamodb', 'dynamodbstreams', 'lambda', 'logs', 'events', 'cloudformation']) expect(health.services[s], s).toBe('running');
        expect(new Set(Object.values(health.services))).toEqual(new Set(['running']));

        // awslocal-style: --endpoint-url http://localhost:PORT and test/test (the AWS CLI v1 needs the flag for SQS).
        const aws: AwsCli = awsCli(endpoint, sandbox.env, project);
        const outputs = (JSON.parse(readFileSync(join(project, 'outputs.json'), 'utf8')) as Record<string, Record<string, string>>)['OrdersEsmStack']!;
        const { OrderQueueUrl: queueUrl, OrderDeadLetterQueueUrl: dlqUrl, OrdersTableName: table } = outputs;
        const queueName = queueUrl!.split('/').pop()!;
        const dlqName = dlqUrl!.split('/').pop()!;
        for (const order of [{ orderId: 'poison-1', quantity: 0 }, { orderId: 'o-1', quantity: 1 }, { orderId: 'o-2', quantity: 2 }]) {
          await aws.json(['sqs', 'send-message', '--queue-url', queueUrl!, '--message-body', JSON.stringify(order)]);
        }
        const counts = async (url: string) => {
          const a = (await aws.json<{ Attributes: Record<string, string> }>(['sqs', 'get-queue-attributes', '--queue-url', url, '--attribute-names', 'All'])).Attributes;
          return { visible: Number(a.ApproximateNumberOfMessages), inFlight: Number(a.ApproximateNumberOfMessagesNotVisible) };
        };
        await until('the poison order in the DLQ, the queue drained', async () => ({ q: await counts(queueUrl!), d: await counts(dlqUrl!) }), (c) => c.d.visible === 1 && c.q.visible === 0 && c.q.inFlight === 0, 90_000);
        // AWS_ENDPOINT_URL, with no flag: the good orders are in the table.
        const cliEnv = { ...sandbox.env, AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'true', AWS_PAGER: '' };
        const scan = await until(
          'the good orders stored',
          async () => JSON.parse((await run('aws', ['dynamodb', 'scan', '--table-name', table!, '--output', 'json'], { cwd: project, env: cliEnv, timeoutMs: 60_000 })).stdout) as { Count: number },
          (s) => s.Count === 2,
        );
        expect(scan.Count).toBe(2);

        // The console, in a real browser.
        browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
        const page: Page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
        const pageErrors: string[] = [];
        page.on('pageerror', (e) => pageErrors.push(e.message));
        await page.goto(`${endpoint}/_floodgate/`);
        const message = page.locator(`[data-queue="${dlqName}"] + tr [data-message]`).first();
        await message.waitFor({ timeout: 30_000 });
        expect(await message.locator('[data-field=errorClass]').textContent()).toBe('InvalidMessage');
        expect(await message.locator('[data-field=errorReason]').textContent()).toMatch(/^quantity: .+/);
        expect(await message.textContent()).toContain('"orderId":"poison-1"');
        await expect.poll(() => page.locator('#live').textContent()).toBe('live');

        // The page's counts are the API's (both settled: nothing moves now).
        const pageCount = async (queue: string, field: string) => Number(await page.locator(`[data-queue="${queue}"] [data-field=${field}]`).textContent());
        const settled = async () => {
          const before = await page.locator('body').getAttribute('data-updated');
          // The page stamps each render on <body data-updated>: wait for one after the API reads below began.
          await expect.poll(() => page.locator('body').getAttribute('data-updated'), { timeout: 10_000 }).not.toBe(before);
        };
        await settled();
        for (const [name, url] of [[queueName, queueUrl!], [dlqName, dlqUrl!]] as const) {
          const api = await counts(url);
          expect({ visible: await pageCount(name, 'visible'), inFlight: await pageCount(name, 'inFlight') }, name).toEqual(api);
        }
        expect(await pageCount(queueName, 'deadLettered')).toBe((await counts(dlqUrl!)).visible);
        const fnRow = page.locator('[data-function]').first();
        expect(await fnRow.locator('[data-field=inFlight]').textContent()).toBe('0 / 2');
        expect(await fnRow.locator('[data-field=recentErrors]').textContent()).toContain('InvalidMessage');
        mkdirSync(OUTPUT_DIR, { recursive: true });
        await page.screenshot({ path: join(OUTPUT_DIR, 'console.png'), fullPage: true });

        // Disable the mapping from the page: the Lambda API says Disabled, and a new order stays queued.
        const mapping = page.locator('[data-mapping]').first();
        await mapping.locator('[data-action=disable]').click();
        await expect.poll(() => mapping.locator('[data-field=state]').textContent(), { timeout: 15_000 }).toBe('Disabled');
        const listed = await aws.json<{ EventSourceMappings: Array<{ UUID: string; State: string }> }>(['lambda', 'list-event-source-mappings']);
        expect(listed.EventSourceMappings.map((m) => m.State)).toEqual(['Disabled']);
        expect(await mapping.getAttribute('data-uuid')).toBe(listed.EventSourceMappings[0]!.UUID);
        await aws.json(['sqs', 'send-message', '--queue-url', queueUrl!, '--message-body', JSON.stringify({ orderId: 'o-3', quantity: 3 })]);
        await expect.poll(() => pageCount(queueName, 'visible'), { timeout: 15_000 }).toBe(1);
        expect(await counts(queueUrl!)).toEqual({ visible: 1, inFlight: 0 });

        // Redrive from the page: StartMessageMoveTask moves the poison order back to its queue.
        await page.locator(`[data-queue="${dlqName}"] [data-action=redrive]`).click();
        await until('the redrive', async () => ({ q: await counts(queueUrl!), d: await counts(dlqUrl!) }), (c) => c.d.visible === 0 && c.q.visible === 2, 30_000);
        await expect.poll(() => page.locator(`[data-queue="${dlqName}"] [data-field=redrive]`).textContent(), { timeout: 15_000 }).toContain('COMPLETED, 1/1 moved');
        await page.screenshot({ path: join(OUTPUT_DIR, 'console-after-redrive.png'), fullPage: true });
        expect(pageErrors).toEqual([]);

        // `up` says where the console is.
        expect(local.output()).toContain(`console: ${printed}/_floodgate/ (loopback only)`);

        // Loopback only: a foreign Host (DNS rebinding) and a change without the console's header are refused.
        expect((await rawRequest(port, 'GET', '/_floodgate/console/state', { host: `rebound.example:${port}` })).status).toBe(403);
        const noHeader = await rawRequest(port, 'POST', `/_floodgate/console/queues/${dlqName}/redrive`, { host: `localhost:${port}` });
        expect(noHeader.status).toBe(403);
        expect(noHeader.body).toContain('x-floodgate-console');
      } finally {
        await browser?.close();
        expect(await local.stop()).toBe(0);
      }
    },
    STEP_TIMEOUT * 2,
  );

  test.skipIf(!on4566 || !hasChromium)(
    on4566 ? '`--port 4566`: the stack served LocalStack\'s port, reached as http://localhost:4566' : `\`--port 4566\`: SKIPPED, port 4566 is taken on this machine (--port was tested with ${port})`,
    () => {
      expect(served).toBe('http://127.0.0.1:4566');
    },
  );
});
