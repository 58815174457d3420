/**
 * The local CloudWatch Logs without I/O: the bounded store (ring buffer per group, stream cap), the
 * filter patterns, the four operations' shapes and pagination, and their IAM mapping.
 */
import { describe, expect, it } from 'vitest';
import { compileFilterPattern, FilterPatternError, LogStore, RingBuffer } from '../src/services/logs/store';
import { logsOperation, LogsApiError } from '../src/services/logs/handler';
import { logsAuthorizations } from '../src/gateway/iam/actions';

const ctx = { region: 'us-east-1', accountId: '000000000000' };

describe('RingBuffer', () => {
  it('keeps the newest `capacity` items, oldest first, and says what it dropped', () => {
    const r = new RingBuffer<number>(3);
    expect([1, 2, 3].map((n) => r.push(n))).toEqual([undefined, undefined, undefined]);
    expect(r.push(4)).toBe(1);
    expect(r.push(5)).toBe(2);
    expect(r.toArray()).toEqual([3, 4, 5]);
    expect(r.size).toBe(3);
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });
});

describe('LogStore', () => {
  it('bounds each group to maxEventsPerGroup events (the newest) and counts what it dropped', () => {
    const s = new LogStore({ maxEventsPerGroup: 100 });
    for (let i = 0; i < 1000; i++) s.put('/aws/lambda/f', 'a', `line ${i}`, 1_000 + i);
    const events = s.events('/aws/lambda/f')!;
    expect(events).toHaveLength(100);
    expect(events[0]!.message).toBe('line 900');
    expect(events.at(-1)!.message).toBe('line 999');
    expect(s.listGroups()[0]).toMatchObject({ logGroupName: '/aws/lambda/f', events: 100, dropped: 900, streams: 1 });
  });

  it('bounds the streams of a group, dropping the least recently written', () => {
    let t = 0;
    const s = new LogStore({ maxStreamsPerGroup: 2, now: () => ++t });
    s.put('g', 'one', 'x');
    s.put('g', 'two', 'x');
    s.put('g', 'one', 'x');
    s.put('g', 'three', 'x');
    expect(s.listStreams('g')!.map((x) => x.logStreamName).sort()).toEqual(['one', 'three']);
  });
});

describe('filter patterns', () => {
  const m = (p: string, line: string) => compileFilterPattern(p)(line);
  it('terms (all, case sensitive), "phrases", ?any and -excluded', () => {
    expect(m('', 'anything')).toBe(true);
    expect(m('ERROR timeout', 'ERROR: upstream timeout')).toBe(true);
    expect(m('ERROR timeout', 'ERROR: upstream')).toBe(false);
    expect(m('error', 'ERROR')).toBe(false);
    expect(m('"stored w1"', 'stored w1 ok')).toBe(true);
    expect(m('"stored w1"', 'stored w12')).toBe(true);
    expect(m('"stored w1"', 'w1 stored')).toBe(false);
    expect(m('?WARN ?ERROR', 'an ERROR')).toBe(true);
    expect(m('?WARN ?ERROR', 'INFO')).toBe(false);
    expect(m('REPORT -Init', 'REPORT RequestId: x\tInit Duration: 1 ms')).toBe(false);
    expect(m('REPORT -Init', 'REPORT RequestId: x')).toBe(true);
  });
  it('refuses JSON and space-delimited patterns instead of matching them loosely', () => {
    expect(() => compileFilterPattern('{ $.level = "ERROR" }')).toThrow(FilterPatternError);
    expect(() => compileFilterPattern('[ip, user, ...]')).toThrow(FilterPatternError);
  });
});

describe('the Logs operations', () => {
  const store = (): LogStore => {
    let t = 1_000;
    const s = new LogStore({ now: () => t });
    for (let i = 1; i <= 5; i++) {
      t += 10;
      s.put('/aws/lambda/fn', '2026/12/06/[$LATEST]aaaa', `a${i}`, t);
      s.put('/aws/lambda/fn', '2026/12/06/[$LATEST]bbbb', `b${i}`, t);
    }
    s.put('/aws/lambda/other', 's', 'x', t);
    return s;
  };

  it('DescribeLogGroups: prefix, limit and nextToken; ARNs as CloudWatch writes them', () => {
    const s = store();
    const first = logsOperation(s, 'DescribeLogGroups', { logGroupNamePrefix: '/aws/lambda/', limit: 1 }, ctx) as any;
    expect(first.logGroups.map((g: any) => g.logGroupName)).toEqual(['/aws/lambda/fn']);
    expect(first.logGroups[0]).toMatchObject({ arn: 'arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/fn:*', logGroupArn: 'arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/fn', metricFilterCount: 0 });
    const second = logsOperation(s, 'DescribeLogGroups', { logGroupNamePrefix: '/aws/lambda/', limit: 1, nextToken: first.nextToken }, ctx) as any;
    expect(second.logGroups.map((g: any) => g.logGroupName)).toEqual(['/aws/lambda/other']);
    expect(second.nextToken).toBeUndefined();
  });

  it('DescribeLogStreams: by name or by last event time, descending', () => {
    const r = logsOperation(store(), 'DescribeLogStreams', { logGroupName: '/aws/lambda/fn', orderBy: 'LastEventTime', descending: true }, ctx) as any;
    expect(r.logStreams).toHaveLength(2);
    expect(r.logStreams[0]).toMatchObject({ firstEventTimestamp: 1_010, lastEventTimestamp: 1_050 });
    expect(() => logsOperation(store(), 'DescribeLogStreams', { logGroupName: '/nope' }, ctx)).toThrow(expect.objectContaining({ code: 'ResourceNotFoundException', message: 'The specified log group does not exist.' }));
  });

  it('GetLogEvents: newest page by default, from the head on request; forward token repeats at the end', () => {
    const s = store();
    const stream = '2026/12/06/[$LATEST]aaaa';
    const tail = logsOperation(s, 'GetLogEvents', { logGroupName: '/aws/lambda/fn', logStreamName: stream, limit: 2 }, ctx) as any;
    expect(tail.events.map((e: any) => e.message)).toEqual(['a4', 'a5']);
    const head = logsOperation(s, 'GetLogEvents', { logGroupName: '/aws/lambda/fn', logStreamName: stream, limit: 2, startFromHead: true }, ctx) as any;
    expect(head.events.map((e: any) => e.message)).toEqual(['a1', 'a2']);
    const next = logsOperation(s, 'GetLogEvents', { logGroupName: '/aws/lambda/fn', logStreamName: stream, limit: 10, nextToken: head.nextForwardToken }, ctx) as any;
    expect(next.events.map((e: any) => e.message)).toEqual(['a3', 'a4', 'a5']);
    const end = logsOperation(s, 'GetLogEvents', { logGroupName: '/aws/lambda/fn', logStreamName: stream, nextToken: next.nextForwardToken }, ctx) as any;
    expect(end.events).toEqual([]);
    expect(end.nextForwardToken).toBe(next.nextForwardToken);
    expect(() => logsOperation(s, 'GetLogEvents', { logGroupName: '/aws/lambda/fn', logStreamName: 'nope' }, ctx)).toThrow('The specified log stream does not exist.');
  });

  it('FilterLogEvents: across streams in time order, by pattern, stream names and time, paginated', () => {
    const s = store();
    const all = logsOperation(s, 'FilterLogEvents', { logGroupIdentifier: 'arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/fn:*', limit: 4 }, ctx) as any;
    expect(all.events.map((e: any) => e.message)).toEqual(['a1', 'b1', 'a2', 'b2']);
    expect(all.events[0]).toMatchObject({ logStreamName: '2026/12/06/[$LATEST]aaaa', timestamp: 1_010 });
    expect(all.events[0].eventId).toMatch(/^\d{56}$/);
    const rest = logsOperation(s, 'FilterLogEvents', { logGroupName: '/aws/lambda/fn', nextToken: all.nextToken }, ctx) as any;
    expect(rest.events).toHaveLength(6);
    expect(rest.nextToken).toBeUndefined();
    const only = logsOperation(s, 'FilterLogEvents', { logGroupName: '/aws/lambda/fn', filterPattern: '?a2 ?b5', logStreamNames: ['2026/12/06/[$LATEST]bbbb'], startTime: 1_000 }, ctx) as any;
    expect(only.events.map((e: any) => e.message)).toEqual(['b5']);
    expect(() => logsOperation(s, 'FilterLogEvents', { logGroupName: '/aws/lambda/fn', filterPattern: '{ $.a = 1 }' }, ctx)).toThrow(LogsApiError);
  });

  it('refuses other operations by name', () => {
    expect(() => logsOperation(store(), 'PutLogEvents', {}, ctx)).toThrow(expect.objectContaining({ code: 'UnknownOperationException' }));
  });
});

describe('IAM for the Logs API', () => {
  const req = (op: string, body: object) => ({ service: 'logs' as const, method: 'POST', path: '/', query: '', headers: { 'x-amz-target': `Logs_20140328.${op}` }, body: Buffer.from(JSON.stringify(body)) });
  it('logs:<Operation> on the resource AWS names in its denials', () => {
    expect(logsAuthorizations(req('DescribeLogGroups', {}), ctx)).toEqual([{ action: 'logs:DescribeLogGroups', resource: 'arn:aws:logs:us-east-1:000000000000:log-group::log-stream:' }]);
    expect(logsAuthorizations(req('FilterLogEvents', { logGroupName: '/aws/lambda/f' }), ctx)).toEqual([{ action: 'logs:FilterLogEvents', resource: 'arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/f:log-stream:' }]);
    expect(logsAuthorizations(req('GetLogEvents', { logGroupName: '/aws/lambda/f', logStreamName: 's1' }), ctx)).toEqual([{ action: 'logs:GetLogEvents', resource: 'arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/f:log-stream:s1' }]);
  });
});
