/**
 * Issue 19, parts 6 and 7, as a user gets them: `@floodgate/local` installed from its packed tarball
 * (offline, from the npm cache) into a project outside this repository that lists no AWS SDK package;
 * a cloud assembly of non-bundled functions (the runtime-app fixture) in that project; the installed
 * `floodgate-local up --keep`, driven with the AWS CLI:
 *   - a handler requiring @aws-sdk/lib-dynamodb and util-dynamodb (provided by Lambda's runtime) works;
 *   - a handler whose module throws answers `FunctionError: Unhandled` with the thrown type, at once;
 *   - both functions' lines are in the `up` output (prefixed) and behind `aws logs filter-log-events`.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { synthRuntimeApp, WRITER_LOG_GROUP } from '../../packages/local/test/fixtures/runtime-app.js';
import { awsCli } from './support/aws-cli.js';
import { installIntoProject, makeSandbox, packPackages, start, type PackedPackage } from './support/project.js';

const STEP_TIMEOUT = 240_000;
let sandbox: { dir: string; env: NodeJS.ProcessEnv };
let packages: PackedPackage[];
let project: string;

beforeAll(async () => {
  sandbox = makeSandbox('floodgate-new-user-runtime-');
  packages = await packPackages(sandbox.env);
}, STEP_TIMEOUT);

afterAll(() => {
  if (sandbox && process.env.FLOODGATE_KEEP_NEW_USER === undefined) rmSync(sandbox.dir, { recursive: true, force: true });
});

describe('a project with only @floodgate/local installed, and non-bundled functions', () => {
  test('installs the @floodgate/local tarball offline; its project lists no AWS SDK package', async () => {
    project = join(sandbox.dir, 'runtime-app');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'runtime-app', version: '1.0.0', private: true }, null, 2)}\n`);
    // @floodgate/contract is @floodgate/local's own dependency; offline, its tarball has to be given too.
    await installIntoProject(project, sandbox.env, packages.filter((p) => p.name === '@floodgate/local' || p.name === '@floodgate/contract'), {});
    const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['@floodgate/contract', '@floodgate/local']);
    synthRuntimeApp(project);
  }, STEP_TIMEOUT);

  test('`floodgate-local up --keep`: the provided SDK, an init failure at once, and the logs through the AWS CLI', async () => {
    const bin = join(project, 'node_modules', '.bin', 'floodgate-local');
    const local = start(bin, ['up', '--assembly', 'cdk.out', '--keep', '--outputs-file', 'outputs.json'], { cwd: project, env: sandbox.env });
    try {
      const [, endpoint] = await local.waitForLine(/^endpoint=(\S+)\s*$/, 120_000);
      const outputs = (JSON.parse(readFileSync(join(project, 'outputs.json'), 'utf8')) as Record<string, Record<string, string>>)['FloodgateRuntimeFixture']!;
      const aws = awsCli(endpoint!, sandbox.env, project);

      // The writer requires @aws-sdk/lib-dynamodb and util-dynamodb, which only @floodgate/local brought.
      const ok = await aws.json<{ StatusCode: number; FunctionError?: string }>(['lambda', 'invoke', '--function-name', outputs.WriterName!, '--payload', JSON.stringify({ id: 'u1' }), 'writer.json']);
      expect(ok.FunctionError, readFileSync(join(project, 'writer.json'), 'utf8')).toBeUndefined();
      expect(JSON.parse(readFileSync(join(project, 'writer.json'), 'utf8'))).toEqual({ stored: 1 });
      const item = await aws.json<{ Item: Record<string, unknown> }>(['dynamodb', 'get-item', '--table-name', outputs.TableName!, '--key', JSON.stringify({ id: { S: 'u1' } })]);
      expect(item.Item).toEqual({ id: { S: 'u1' } });

      // Its module throws: Lambda's answer at once (the function's Timeout is 60 s; the CLI's own read timeout too).
      const failed = await aws.json<{ StatusCode: number; FunctionError?: string }>(['lambda', 'invoke', '--function-name', outputs.BrokenName!, 'broken.json']);
      expect(failed).toMatchObject({ StatusCode: 200, FunctionError: 'Unhandled' });
      expect(JSON.parse(readFileSync(join(project, 'broken.json'), 'utf8'))).toMatchObject({ errorType: 'Error', errorMessage: 'CONFIG_BUCKET is not set' });

      // The logs API, and the up output.
      let events: Array<{ message: string }> = [];
      for (let i = 0; i < 40 && !events.some((e) => e.message.startsWith('REPORT')); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 250));
        events = (await aws.json<{ events: Array<{ message: string }> }>(['logs', 'filter-log-events', '--log-group-name', WRITER_LOG_GROUP])).events;
      }
      expect(events.map((e) => (e.message.includes('\tINFO\t') ? 'INFO' : e.message.split(' ')[0]))).toEqual(['START', 'INFO', 'END', 'REPORT']);
      const broken = await aws.json<{ events: Array<{ message: string }> }>(['logs', 'filter-log-events', '--log-group-name', `/aws/lambda/${outputs.BrokenName}`, '--filter-pattern', 'Uncaught']);
      expect(broken.events[0]?.message).toContain('"errorMessage":"CONFIG_BUCKET is not set"');
      expect(local.output()).toMatch(new RegExp(`^\\[${outputs.WriterName}\\] \\S+\\t[0-9a-f-]{36}\\tINFO\\tstored u1 `, 'm'));
      expect(local.output()).toContain(`[${outputs.BrokenName}] INIT_REPORT Init Duration: `);
    } finally {
      expect(await local.stop()).toBe(0);
    }
  }, STEP_TIMEOUT);
});
