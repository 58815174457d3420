/**
 * @floodgate/local/testing, the CommonJS entry for jest: a real jest run (CommonJS, no ESM flags) of
 * the README's example against the fixture app, and the same entry required from CommonJS here,
 * checking that stop() leaves nothing running.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { alive, descendants } from '../../../test/support/process';
import { synthFixtureApp } from './fixtures/fixture-app';

type TestingEntry = typeof import('../src/testing/index');
const require = createRequire(import.meta.url);
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

describe('@floodgate/local/testing', () => {
  let assembly: string;
  beforeAll(() => {
    assembly = synthFixtureApp(join(mkdtempSync(join(tmpdir(), 'fl-testing-')), 'cdk.out'));
  });

  it('is CommonJS: require() gives startLocalStack, which runs the stack and stops all of it', { timeout: 180_000 }, async () => {
    const resolved = require.resolve('@floodgate/local/testing');
    expect(resolved).toMatch(/dist\/cjs\/testing\/index\.js$/);
    const { startLocalStack } = require('@floodgate/local/testing') as TestingEntry;
    const stack = await startLocalStack({ assembly });
    let running: number[] = [];
    try {
      expect(stack.env).toMatchObject({ AWS_ENDPOINT_URL: stack.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test' });
      await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.outputs.QueueUrl, MessageBody: JSON.stringify({ id: 't-1', action: 'ok' }) }));
      let item: Record<string, unknown> | undefined;
      for (let i = 0; i < 200 && !item; i++) {
        await new Promise((r) => setTimeout(r, 250));
        item = (await stack.clients.dynamodb.send(new GetItemCommand({ TableName: stack.outputs.TableName, Key: { pk: { S: 't-1' } } }))).Item;
      }
      expect(item?.attempts).toEqual({ N: '1' });
      running = [stack.pid, ...descendants(stack.pid)];
    } finally {
      await stack.stop();
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(running.length).toBeGreaterThan(1);
    expect(running.filter(alive)).toEqual([]);
  });

  it('runs under jest in a CommonJS project (the README example)', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'node_modules/jest/bin/jest.js'), '--config', fileURLToPath(new URL('./jest/jest.config.cjs', import.meta.url)), '--runInBand', '--colors=false'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, FLOODGATE_TEST_ASSEMBLY: assembly },
      timeout: 170_000,
    });
    const output = `${r.stdout}\n${r.stderr}`;
    expect(output).toMatch(/Tests:\s+1 passed, 1 total/);
    expect(r.status).toBe(0);
    const pid = Number(/floodgate-pid=(\d+)/.exec(output)?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
  }, 180_000);
});
