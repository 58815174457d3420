import { spawn } from 'node:child_process';
import { CreateTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { localClients } from '../../../test/support/local-env';
import { alive } from '../../../test/support/process';

async function waitUntil(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return pred();
}

describe('emulators', () => {
  it('serve SQS, S3 and DynamoDB over their real protocols', async () => {
    const { dynamodb, s3, sqs } = localClients();
    const TableName = `t${Date.now()}`;
    await dynamodb.send(
      new CreateTableCommand({
        TableName,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    expect((await dynamodb.send(new ListTablesCommand({}))).TableNames).toContain(TableName);

    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `q${Date.now()}` }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
    expect(got.Messages?.[0]?.Body).toBe('hello');

    const Bucket = `b${Date.now()}`;
    await s3.send(new CreateBucketCommand({ Bucket }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'v' }));
    const obj = await s3.send(new GetObjectCommand({ Bucket, Key: 'k' }));
    expect(await obj.Body?.transformToString()).toBe('v');
  });

  // A process that owns the emulators and is SIGKILLed (no handler runs) must not leave java behind,
  // and SIGINT must stop them cleanly.
  for (const signal of ['SIGKILL', 'SIGINT'] as const) {
    it(`leaves no DynamoDB Local JVM behind when its owner gets ${signal}`, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/emulator-owner.ts'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const pid = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /ddbPid=(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', (code) => reject(new Error(`owner exited early with ${code}`)));
      });
      const javaPids = await javaChildrenOf(pid);
      expect(javaPids.length).toBe(1);
      child.kill(signal);
      expect(await waitUntil(() => javaPids.every((p) => !alive(p)), 10_000)).toBe(true);
      expect(await waitUntil(() => !alive(pid), 10_000)).toBe(true);
    });
  }
});

async function javaChildrenOf(pid: number): Promise<number[]> {
  const { readFileSync, readdirSync } = await import('node:fs');
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    const kids = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
          const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
          const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
          return ppid === pid && cmd.startsWith('java');
        } catch {
          return false;
        }
      })
      .map(Number);
    if (kids.length > 0) return kids;
    await new Promise((r) => setTimeout(r, 100));
  }
  return [];
}
