/**
 * The chaos run's network-fault proxy (chaos/network-faults.ts) against a tiny HTTP upstream: a held write
 * is delivered only after its release, and judged from the upstream's answer; a dropped response reaches
 * the upstream but not the client; decisions are a pure function of the seed. Plus the lock singleton's
 * overlap count.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxOverlap } from '../../chaos/lock-singleton';
import { seededUnit, startFaultProxy, writtenKeys, type FaultDecision } from '../../chaos/network-faults';

let upstream: Server;
let url = '';
const received: string[] = [];
beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      received.push(body);
      if (body.includes('stale')) {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', message: 'The conditional request failed' }));
      } else res.end('{}');
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => upstream.close(() => r())));

describe('network fault proxy', () => {
  it('holds a write until released, delivers it late and judges the answer; drops a response after the write', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    const decide = (req: { body: Buffer }): FaultDecision => {
      const b = req.body.toString();
      if (b.includes('hold')) return { fault: 'hold', release: () => released, judge: (a) => (a.status === 400 ? 'stale-rejected' : 'stale-accepted') };
      if (b.includes('drop')) return { fault: 'drop-response' };
      return { fault: 'none' };
    };
    const proxy = await startFaultProxy({ upstream: () => url, decide });
    try {
      expect(await (await fetch(proxy.url, { method: 'POST', body: 'plain' })).text()).toBe('{}');
      const dropped = await fetch(proxy.url, { method: 'POST', body: 'drop-me' }).then(() => 'answered', () => 'connection cut');
      expect(dropped).toBe('connection cut');
      expect(received).toContain('drop-me'); // applied although the client never heard
      const held = fetch(proxy.url, { method: 'POST', body: 'hold-stale', signal: AbortSignal.timeout(300) }).then(() => 'answered', () => 'sender gave up');
      expect(await held).toBe('sender gave up');
      expect(received).not.toContain('hold-stale'); // not delivered while held
      release();
      await proxy.idle(5000);
      expect(received).toContain('hold-stale');
      expect(proxy.stats()).toMatchObject({ held: 1, heldDelivered: 1, staleRejected: 1, staleAccepted: 0, droppedResponses: 1 });
    } finally {
      await proxy.stop();
    }
  });

  it('decides from the seed and the request identity only', () => {
    expect(seededUnit(1, 'hold|7|0')).toBe(seededUnit(1, 'hold|7|0'));
    expect(seededUnit(1, 'hold|7|0')).not.toBe(seededUnit(2, 'hold|7|0'));
    const share = Array.from({ length: 10_000 }, (_, i) => seededUnit(3, `x|${i}`)).filter((u) => u < 0.03).length / 10_000;
    expect(share).toBeGreaterThan(0.02);
    expect(share).toBeLessThan(0.04);
  });

  it('reads the keys a DynamoDB write names, single or transactional', () => {
    const body = (o: unknown) => ({ method: 'POST', path: '/', headers: {}, body: Buffer.from(JSON.stringify(o)) });
    expect(writtenKeys(body({ TableName: 'Jobs', Key: { jobId: { S: 'a' } } }), 'jobId', 'Jobs')).toEqual(['a']);
    expect(writtenKeys(body({ TransactItems: [{ Update: { TableName: 'Jobs', Key: { jobId: { S: 'b' } } } }, { Put: { TableName: 'Idem', Item: { jobId: { S: 'c' } } } }] }), 'jobId', 'Jobs')).toEqual(['b']);
  });

  it('counts live holders: touching intervals do not overlap, nested ones do', () => {
    expect(maxOverlap([{ start: 0, end: 10 }, { start: 10, end: 20 }])).toBe(1);
    expect(maxOverlap([{ start: 0, end: 10 }, { start: 5, end: 6 }, { start: 9, end: 12 }])).toBe(2);
  });
});
