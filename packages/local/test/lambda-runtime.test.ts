/**
 * The Lambda runtime as AWS provides it (issue 19, part 7), on the host alone: non-bundled handlers in
 * a directory OUTSIDE the repository (so Node cannot walk up to the repo's node_modules), importing
 * SDK packages Lambda's runtime provides and their project does not list; and init failures reported
 * as Lambda reports them, at once, with the cause in the function's log lines.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFunctionHost, type FunctionHost, type LogEntry } from '../src/lambda-host/index';
import { PROVIDED_SDK_PACKAGES, providedSdk } from '../src/lambda-host/provided-sdk';

let root: string;
const hosts: FunctionHost[] = [];

/** Writes `files` under a fresh task root and returns it. */
function app(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  return dir;
}

function host(assetDir: string, opts: Partial<Parameters<typeof createFunctionHost>[0]> = {}): { h: FunctionHost; logs: LogEntry[] } {
  const logs: LogEntry[] = [];
  // A long timeout: an init failure that were waited out would take 10 s + 60 s, far past the test's own timeout.
  const h = createFunctionHost({ functionName: 'rt-fn', assetDir, handler: 'index.handler', timeoutSeconds: 60, maxEnvironments: 1, onLog: (e) => logs.push(e), ...opts });
  hosts.push(h);
  return { h, logs };
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'fg-runtime-'));
  // The premise of these tests: nothing above the task roots has a node_modules to fall back on.
  for (let d = root; ; d = dirname(d)) {
    expect(existsSync(join(d, 'node_modules')), `${d}/node_modules`).toBe(false);
    if (dirname(d) === d) break;
  }
});
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SDK_USER_CJS = `
const { marshall } = require('@aws-sdk/util-dynamodb');
const { DynamoDBDocumentClient } = require('@aws-sdk/lib-dynamodb');
exports.handler = async (event) => {
  console.log('handled', event.id);
  return { item: marshall({ id: event.id, n: 1 }), doc: typeof DynamoDBDocumentClient.from };
};`;

describe('the AWS SDK v3 as Lambda provides it', () => {
  it('lists what @floodgate/local provides, every one resolvable from it', () => {
    expect(PROVIDED_SDK_PACKAGES).toEqual(expect.arrayContaining(['@aws-sdk/util-dynamodb', '@aws-sdk/lib-dynamodb', '@aws-sdk/client-dynamodb']));
    for (const p of providedSdk()) expect(p.path, p.name).toBeDefined();
  });

  it('a CommonJS handler whose project does not list @aws-sdk/util-dynamodb or lib-dynamodb finds them', async () => {
    const dir = app('sdk-user-cjs', { 'index.js': SDK_USER_CJS, 'package.json': JSON.stringify({ name: 'sdk-user', version: '1.0.0' }) });
    const { h, logs } = host(dir);
    const r = await h.invoke({ id: 'a1' });
    expect(r.ok ? r.value : r.error).toEqual({ item: { id: { S: 'a1' }, n: { N: '1' } }, doc: 'function' });
    expect(logs.some((l) => l.line.endsWith('\tINFO\thandled a1'))).toBe(true);
  });

  it('an ES module handler finds them too (import, with the import conditions)', async () => {
    const dir = app('sdk-user-esm', {
      'index.mjs': `import { unmarshall } from '@aws-sdk/util-dynamodb';\nimport { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';\nexport const handler = async () => ({ v: unmarshall({ a: { N: '2' } }), doc: typeof DynamoDBDocumentClient });`,
    });
    const r = await host(dir).h.invoke({});
    expect(r.ok ? r.value : r.error).toEqual({ v: { a: 2 }, doc: 'function' });
  });

  it('without the provided SDK the same handler fails as on a runtime without it (the test above can fail)', async () => {
    const dir = app('sdk-user-cjs-2', { 'index.js': SDK_USER_CJS });
    const r = await host(dir, { provideAwsSdk: false }).h.invoke({ id: 'a1' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ kind: 'init', errorType: 'Runtime.ImportModuleError' });
  });

  it("the function's own copy wins over the provided one (a vendored SDK package)", async () => {
    const dir = app('vendored', {
      'node_modules/@aws-sdk/util-dynamodb/package.json': JSON.stringify({ name: '@aws-sdk/util-dynamodb', version: '0.0.1-vendored', main: 'index.js' }),
      'node_modules/@aws-sdk/util-dynamodb/index.js': `exports.marshall = () => 'vendored';`,
      'index.js': `const { marshall } = require('@aws-sdk/util-dynamodb'); exports.handler = async () => marshall({});`,
    });
    const r = await host(dir).h.invoke({});
    expect(r.ok ? r.value : r.error).toBe('vendored');
  });
});

describe('init failures as Lambda reports them, at once', () => {
  it('a CommonJS require of a package nobody provides: Runtime.ImportModuleError, "Cannot find module" with its require stack', async () => {
    const dir = app('missing-cjs', { 'index.js': `require('@aws-sdk/client-not-a-service');\nexports.handler = async () => 1;` });
    const { h, logs } = host(dir);
    const r = await h.invoke({});
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.kind).toBe('init');
    expect(r.error.errorType).toBe('Runtime.ImportModuleError');
    expect(r.error.errorMessage).toBe(`Error: Cannot find module '@aws-sdk/client-not-a-service'\nRequire stack:\n- ${join(dir, 'index.js')}`);
    expect(r.error.trace?.slice(0, 3)).toEqual(["Runtime.ImportModuleError: Error: Cannot find module '@aws-sdk/client-not-a-service'", 'Require stack:', `- ${join(dir, 'index.js')}`]);
    // The cause in the function's logs: Lambda's "Uncaught Exception" line, then the platform lines.
    const uncaught = logs.find((l) => l.line.includes('\tERROR\tUncaught Exception \t'));
    expect(uncaught?.line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z\tundefined\tERROR\tUncaught Exception \t\{"errorType":"Runtime.ImportModuleError","errorMessage":"Error: Cannot find module '@aws-sdk\/client-not-a-service'\\nRequire stack:/);
    expect(logs.some((l) => l.line.includes('@aws-sdk/client-not-a-service would come with Lambda') && l.line.includes('devDependencies'))).toBe(true);
    const platform = logs.filter((l) => l.stream === 'platform').map((l) => l.line.split(' ')[0]);
    expect(platform).toEqual(['INIT_REPORT', 'START', 'END', 'REPORT']);
    expect(logs.find((l) => l.line.startsWith('REPORT'))?.line).toMatch(/\tStatus: error\tError Type: Runtime.ImportModuleError$/);
  });

  it('an ES module import of a missing package: the error as thrown (Error, ERR_MODULE_NOT_FOUND), as Lambda passes it on', async () => {
    const dir = app('missing-esm', { 'index.mjs': `import { X } from '@aws-sdk/client-not-a-service';\nexport const handler = async () => X;` });
    const r = await host(dir).h.invoke({});
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ kind: 'init', errorType: 'Error', errorMessage: `Cannot find package '@aws-sdk/client-not-a-service' imported from ${join(dir, 'index.mjs')}` });
  });

  it('a missing export: Runtime.HandlerNotFound', async () => {
    const dir = app('no-export', { 'index.js': `exports.other = async () => 1;` });
    const r = await host(dir).h.invoke({});
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ kind: 'init', errorType: 'Runtime.HandlerNotFound', errorMessage: 'index.handler is undefined or not exported' });
  });

  it('an exception thrown at init: its own type and message', async () => {
    const dir = app('throws', { 'index.js': `class ConfigError extends Error { name = 'ConfigError'; }\nthrow new ConfigError('TABLE_NAME is not set');` });
    const { h, logs } = host(dir);
    const r = await h.invoke({});
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatchObject({ kind: 'init', errorType: 'ConfigError', errorMessage: 'TABLE_NAME is not set' });
    expect(logs.some((l) => l.line.includes('Uncaught Exception') && l.line.includes('"errorType":"ConfigError"'))).toBe(true);
    // Lambda runs init again on the next invocation: the same error again, not a stuck environment.
    const again = await h.invoke({});
    expect(!again.ok && again.error.errorType).toBe('ConfigError');
  });

  it('a rejection nobody handles during init: Runtime.UnhandledPromiseRejection', async () => {
    const dir = app('rejects', { 'index.mjs': `Promise.reject(new Error('no connection'));\nawait new Promise((r) => setTimeout(r, 500));\nexport const handler = async () => 1;` });
    const r = await host(dir).h.invoke({});
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ kind: 'init', errorType: 'Runtime.UnhandledPromiseRejection', errorMessage: 'Error: no connection' });
  });

  it('a syntax error: Runtime.UserCodeSyntaxError', async () => {
    const dir = app('syntax', { 'index.js': `exports.handler = async () => {;` });
    const r = await host(dir).h.invoke({});
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ kind: 'init', errorType: 'Runtime.UserCodeSyntaxError' });
  });
});

describe("the function's log lines as Lambda writes them", () => {
  it('START, the output, END and REPORT per invocation, in one log stream per environment named as Lambda names it', async () => {
    const dir = app('logs', { 'index.js': `exports.handler = async (e) => { console.log('one', e.n); console.error('two', e.n); return e.n; };` });
    const { h, logs } = host(dir, { logGroupName: '/custom/group' });
    const first = await h.invoke({ n: 1 });
    const second = await h.invoke({ n: 2 });
    // END and REPORT follow the invocation's output (its end mark on stdout), not its result: wait for them.
    for (let i = 0; i < 50 && !logs.some((l) => l.requestId === second.requestId && l.line.startsWith('REPORT')); i++) await new Promise((r) => setTimeout(r, 100));
    const ofFirst = logs.filter((l) => l.requestId === first.requestId);
    // console.* as Lambda patches it: <time>\t<request id>\t<LEVEL>\t<message>, all on stdout.
    const console1 = new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\t${first.requestId}\\tINFO\\tone 1$`);
    const console2 = new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\t${first.requestId}\\tERROR\\ttwo 1$`);
    expect(ofFirst.map((l) => l.line.split('\t')[0])).toEqual([`START RequestId: ${first.requestId} Version: $LATEST`, expect.any(String), expect.any(String), `END RequestId: ${first.requestId}`, `REPORT RequestId: ${first.requestId}`]);
    expect(ofFirst[1]!.line).toMatch(console1);
    expect(ofFirst[2]!.line).toMatch(console2);
    const report = ofFirst.at(-1)!.line;
    expect(report).toMatch(/^REPORT RequestId: \S+\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms$/);
    // Warm: no Init Duration.
    expect(logs.find((l) => l.requestId === second.requestId && l.line.startsWith('REPORT'))?.line).not.toContain('Init Duration');
    // A console.log of a JSON object is still read as one (LogEntry.json).
    expect(logs.every((l) => l.json === undefined)).toBe(true);
    for (const l of logs) {
      expect(l.logGroupName).toBe('/custom/group');
      expect(l.logStreamName).toMatch(/^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/);
    }
    expect(new Set(logs.map((l) => l.logStreamName)).size).toBe(1);
  });

  it('output without a final newline is still its own line, before END', async () => {
    const dir = app('no-newline', { 'index.js': `exports.handler = async () => { process.stdout.write('partial'); return 1; };` });
    const { h, logs } = host(dir);
    const r = await h.invoke({});
    for (let i = 0; i < 50 && !logs.some((l) => l.line.startsWith('REPORT')); i++) await new Promise((res) => setTimeout(res, 100));
    expect(logs.filter((l) => l.requestId === r.requestId).map((l) => l.line.split(' ')[0])).toEqual(['START', 'partial', 'END', 'REPORT']);
    expect(logs.some((l) => l.line.includes('\u0000'))).toBe(false);
  });
});

describe('console as Lambda patches it', () => {
  it('JSON objects logged with console.log are LogEntry.json; LogFormat JSON writes JSON lines', async () => {
    const dir = app('console', { 'index.js': `exports.handler = async () => { console.log(JSON.stringify({ event: 'x', n: 1 })); console.warn('multi\\nline'); return 1; };` });
    const text = host(dir);
    const r = await text.h.invoke({});
    for (let i = 0; i < 50 && !text.logs.some((l) => l.line.startsWith('REPORT')); i++) await new Promise((res) => setTimeout(res, 100));
    expect(text.logs.find((l) => l.json)?.json).toEqual({ event: 'x', n: 1 });
    // A multi-line message stays one event, its newlines written as \r.
    expect(text.logs.some((l) => l.line.endsWith(`\t${r.requestId}\tWARN\tmulti\rline`))).toBe(true);
    const json = host(dir, { logFormat: 'JSON' });
    const j = await json.h.invoke({});
    for (let i = 0; i < 50 && !json.logs.some((l) => l.line.startsWith('REPORT')); i++) await new Promise((res) => setTimeout(res, 100));
    const docs = json.logs.filter((l) => l.stream === 'stdout').map((l) => l.json);
    expect(docs).toEqual([
      { timestamp: expect.any(String), level: 'INFO', requestId: j.requestId, message: JSON.stringify({ event: 'x', n: 1 }) },
      { timestamp: expect.any(String), level: 'WARN', requestId: j.requestId, message: 'multi\nline' },
    ]);
  });
});
