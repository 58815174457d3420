/**
 * Issue 21, the pure parts of EventBridge: the one event-pattern matcher (AWS "Content filtering in
 * Amazon EventBridge event patterns" examples, as tables), schedule expressions, the event envelope and
 * PutEvents' per-entry errors, and InputTransformer's substitution rules.
 */
import { describe, expect, it } from 'vitest';
import { compileEventPattern, EventPatternError } from '../src/core/event-pattern';
import { parseScheduleExpression, ScheduleExpressionError } from '../src/services/events/schedule-expression';
import { jsonPath, scheduledEvent, targetInput, toEnvelope, transformInput } from '../src/services/events/event';
import { scheduleInput } from '../src/services/scheduler/runtime';

const m = (pattern: unknown, event: unknown): boolean => compileEventPattern(pattern, 'p')(event);

// The AWS docs' example event (EC2 instance state change, with a few fields added for the operators).
const EC2 = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated', 'source-ip': '10.0.0.123', c_count: 5, d_count: 7, x_limit: 301.8, filename: 'photo.png', location: 'us-east-1a', 'Eventname': 'ConsoleLogin' },
};

describe('event patterns (one matcher for rules, FilterCriteria and SNS filter policies)', () => {
  it.each([
    ['exact', { source: ['aws.ec2'] }, true],
    ['exact miss', { source: ['aws.s3'] }, false],
    ['prefix', { time: [{ prefix: '2017-12-22' }] }, true],
    ['prefix ignoring case', { source: [{ prefix: { 'equals-ignore-case': 'AWS.' } }] }, true],
    ['suffix', { detail: { filename: [{ suffix: '.png' }] } }, true],
    ['suffix ignoring case', { detail: { filename: [{ suffix: { 'equals-ignore-case': '.PNG' } }] } }, true],
    ['equals-ignore-case', { detail: { Eventname: [{ 'equals-ignore-case': 'consolelogin' }] } }, true],
    ['anything-but value', { detail: { state: [{ 'anything-but': 'initializing' }] } }, true],
    ['anything-but value miss', { detail: { state: [{ 'anything-but': 'terminated' }] } }, false],
    ['anything-but list', { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } }, true],
    ['anything-but number list', { detail: { c_count: [{ 'anything-but': [5, 6] }] } }, false],
    ['anything-but prefix', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, true],
    ['anything-but prefix miss', { detail: { state: [{ 'anything-but': { prefix: 'term' } }] } }, false],
    ['anything-but suffix', { detail: { filename: [{ 'anything-but': { suffix: '.txt' } }] } }, true],
    ['anything-but suffix miss', { detail: { filename: [{ 'anything-but': { suffix: '.png' } }] } }, false],
    ['anything-but equals-ignore-case', { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['TERMINATED', 'x'] } }] } }, false],
    ['anything-but wildcard', { detail: { filename: [{ 'anything-but': { wildcard: '*.txt' } }] } }, true],
    ['numeric range', { detail: { c_count: [{ numeric: ['>', 0, '<=', 5] }], d_count: [{ numeric: ['<', 10] }], x_limit: [{ numeric: ['=', 301.8] }] } }, true],
    ['numeric miss', { detail: { c_count: [{ numeric: ['>', 5] }] } }, false],
    ['numeric on a string', { detail: { state: [{ numeric: ['>', 0] }] } }, false],
    ['exists true', { detail: { state: [{ exists: true }] } }, true],
    ['exists false on a missing field', { detail: { nope: [{ exists: false }] } }, true],
    ['exists false on a present field', { detail: { state: [{ exists: false }] } }, false],
    ['exists true on an object (not a leaf)', { detail: [{ exists: true }] }, false],
    ['cidr IPv4', { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }, true],
    ['cidr IPv4 miss', { detail: { 'source-ip': [{ cidr: '10.0.1.0/24' }] } }, false],
    ['wildcard', { detail: { location: [{ wildcard: 'us-*-1a' }] } }, true],
    ['wildcard miss', { detail: { location: [{ wildcard: 'eu-*' }] } }, false],
    ['resources list: any element', { resources: [{ prefix: 'arn:aws:ec2:' }] }, true],
    ['$or', { detail: { $or: [{ c_count: [{ numeric: ['>', 100] }] }, { d_count: [{ numeric: ['<', 10] }] }] } }, true],
    ['$or none', { detail: { $or: [{ c_count: [{ numeric: ['>', 100] }] }, { d_count: [{ numeric: ['>', 10] }] }] } }, false],
    ['AND of keys', { source: ['aws.ec2'], detail: { state: ['running'] } }, false],
    ['missing field does not match anything-but', { detail: { nope: [{ 'anything-but': 'x' }] } }, false],
  ])('%s', (_name, pattern, expected) => {
    expect(m(pattern, EC2)).toBe(expected);
  });

  it('cidr: IPv6', () => {
    expect(m({ ip: [{ cidr: '2001:db8::/32' }] }, { ip: '2001:db8:0:0:1::7' })).toBe(true);
    expect(m({ ip: [{ cidr: '2001:db8::/32' }] }, { ip: '2001:db9::1' })).toBe(false);
    expect(m({ ip: [{ cidr: '10.0.0.0/8' }] }, { ip: '2001:db8::1' })).toBe(false);
  });

  it('wildcard escapes and property: a literal pattern matches only itself', () => {
    expect(m({ k: [{ wildcard: 'a\\*b' }] }, { k: 'a*b' })).toBe(true);
    expect(m({ k: [{ wildcard: 'a\\*b' }] }, { k: 'axxb' })).toBe(false);
    for (const s of ['', 'a', 'a.b', 'x(y)', '[z]', 'q+r?']) {
      expect(m({ k: [{ wildcard: s }] }, { k: s })).toBe(true);
      expect(m({ k: [{ wildcard: s }] }, { k: `${s}!` })).toBe(false);
      expect(m({ k: [{ wildcard: `${s}*` }] }, { k: `${s}anything` })).toBe(true);
    }
  });

  it('property: anything-but [v] is the negation of [v] on present scalar values', () => {
    const values = ['a', 'b', 'terminated', 5, 6, 0, -1, 'A'];
    for (const v of values) for (const w of values) expect(m({ k: [{ 'anything-but': w }] }, { k: v })).toBe(!m({ k: [w] }, { k: v }));
  });

  it('property: numeric ranges agree with the comparison', () => {
    for (let i = 0; i < 200; i++) {
      const lo = Math.round(Math.random() * 200 - 100);
      const hi = lo + Math.round(Math.random() * 50);
      const x = Math.round(Math.random() * 300 - 150) / 2;
      expect(m({ n: [{ numeric: ['>=', lo, '<', hi] }] }, { n: x })).toBe(x >= lo && x < hi);
    }
  });

  it('dialects: FilterCriteria refuses wildcard and cidr, SNS filter policies wildcard, as those APIs do', () => {
    expect(() => compileEventPattern({ k: [{ wildcard: 'a*' }] }, 'p', 'lambda')).toThrow(/unknown operator "wildcard"/);
    expect(() => compileEventPattern({ k: [{ cidr: '10.0.0.0/8' }] }, 'p', 'lambda')).toThrow(/unknown operator "cidr"/);
    expect(() => compileEventPattern({ k: [{ 'anything-but': { wildcard: 'a*' } }] }, 'p', 'sns')).toThrow(/unknown operator "wildcard"/);
    expect(compileEventPattern({ k: [{ cidr: '10.0.0.0/8' }] }, 'p', 'sns')({ k: '10.1.2.3' })).toBe(true);
  });

  it.each([
    [{ k: [{ wildcard: 'a**b' }] }, /consecutive wildcard/],
    [{ k: [{ cidr: '10.0.0.0' }] }, /CIDR block/],
    [{ k: [{ numeric: ['<', 5, '>', 1] }] }, /numeric/],
    [{ k: [{ nope: 1 }] }, /unknown operator "nope"/],
    [{ k: [{ 'anything-but': { nope: 'x' } }] }, /anything-but/],
    [{ k: 'x' }, /list of rules or an object/],
    [{ $or: [{ a: ['x'] }] }, /at least two/],
  ])('refuses %j', (pattern, message) => {
    expect(() => compileEventPattern(pattern, 'p')).toThrow(EventPatternError);
    expect(() => compileEventPattern(pattern, 'p')).toThrow(message);
  });
});

describe('schedule expressions', () => {
  const at = (s: string) => new Date(s);
  const next = (expr: string, from: string, tz?: string) => parseScheduleExpression(expr, tz).nextFire(at(from))?.toISOString();

  it.each([
    ['cron(0 12 * * ? *)', '2026-03-01T11:59:00Z', '2026-03-01T12:00:00.000Z'],
    ['cron(0 12 * * ? *)', '2026-03-01T12:00:00Z', '2026-03-02T12:00:00.000Z'],
    ['cron(15 10 ? * 6L 2026)', '2026-01-01T00:00:00Z', '2026-01-30T10:15:00.000Z'], // last Friday of January
    ['cron(0/15 * * * ? *)', '2026-03-01T10:07:00Z', '2026-03-01T10:15:00.000Z'],
    ['cron(0 8 1 * ? *)', '2026-03-05T00:00:00Z', '2026-04-01T08:00:00.000Z'],
    ['cron(0 18 ? * MON-FRI *)', '2026-03-06T19:00:00Z', '2026-03-09T18:00:00.000Z'], // Friday evening → Monday
    ['cron(0 9 ? * 3#2 *)', '2026-03-01T00:00:00Z', '2026-03-10T09:00:00.000Z'], // second Tuesday
    ['cron(0 0 L * ? *)', '2026-02-03T00:00:00Z', '2026-02-28T00:00:00.000Z'],
    ['cron(0 0 LW * ? *)', '2026-05-01T00:00:00Z', '2026-05-29T00:00:00.000Z'], // May 31 2026 is a Sunday
    ['cron(0 0 15W * ? *)', '2026-08-01T00:00:00Z', '2026-08-14T00:00:00.000Z'], // Aug 15 2026 is a Saturday
    ['cron(30 2 ? JAN,JUL SUN *)', '2026-02-01T00:00:00Z', '2026-07-05T02:30:00.000Z'],
  ])('%s after %s', (expr, from, expected) => {
    expect(next(expr, from)).toBe(expected);
  });

  it('time zones and at()', () => {
    // 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
    expect(next('cron(0 9 * * ? *)', '2026-01-10T00:00:00Z', 'Europe/Paris')).toBe('2026-01-10T08:00:00.000Z');
    expect(next('cron(0 9 * * ? *)', '2026-07-10T00:00:00Z', 'Europe/Paris')).toBe('2026-07-10T07:00:00.000Z');
    expect(next('at(2030-01-01T09:30:00)', '2026-01-01T00:00:00Z', 'America/New_York')).toBe('2030-01-01T14:30:00.000Z');
    expect(next('at(2020-01-01T09:30:00)', '2026-01-01T00:00:00Z', 'UTC')).toBeUndefined();
  });

  it('rate', () => {
    const s = parseScheduleExpression('rate(5 minutes)');
    const now = new Date();
    const n = s.nextFire(now)!.getTime() - now.getTime();
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(5 * 60_000);
  });

  it.each(['rate(1 minutes)', 'rate(5 minute)', 'rate(0 hours)', 'cron(0 12 * * * *)', 'cron(0 12 * *)', 'cron(61 * * * ? *)', 'every day'])('refuses %s', (expr) => {
    expect(() => parseScheduleExpression(expr)).toThrow(ScheduleExpressionError);
  });
});

describe('events: envelope, PutEvents entries, target input', () => {
  const ctx = { account: '000000000000', region: 'us-east-1', now: new Date('2026-03-01T10:00:00.123Z') };

  it('wraps an entry in AWS envelope (time without milliseconds)', () => {
    const r = toEnvelope({ Source: 'shop', DetailType: 'order', Detail: '{"total":5}', Resources: ['arn:x'] }, ctx);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.event).toMatchObject({ version: '0', 'detail-type': 'order', source: 'shop', account: '000000000000', time: '2026-03-01T10:00:00Z', region: 'us-east-1', resources: ['arn:x'], detail: { total: 5 } });
    expect(r.event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(scheduledEvent('arn:rule', ctx)).toMatchObject({ 'detail-type': 'Scheduled Event', source: 'aws.events', resources: ['arn:rule'], detail: {} });
  });

  it.each([
    [{ DetailType: 'x', Detail: '{}' }, 'InvalidArgument', /Source/],
    [{ Source: 's', Detail: '{}' }, 'InvalidArgument', /DetailType/],
    [{ Source: 's', DetailType: 'x' }, 'InvalidArgument', /Detail is a required/],
    [{ Source: 's', DetailType: 'x', Detail: 'not json' }, 'MalformedDetail', /malformed/],
    [{ Source: 's', DetailType: 'x', Detail: JSON.stringify({ big: 'x'.repeat(256 * 1024) }) }, 'InvalidArgument', /exceeds/],
  ])('per-entry error for %#', (entry, code, message) => {
    const r = toEnvelope(entry, ctx);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.ErrorCode).toBe(code);
    expect(r.ErrorMessage).toMatch(message);
  });

  const event = { id: 'e1', time: '2026-03-01T10:00:00Z', detail: { 'instance-id': 'i-1', state: 'running', n: 3, tags: ['a', 'b'], obj: { x: 1 } } };
  const rule = { arn: 'arn:aws:events:us-east-1:0:rule/r', name: 'r' };

  it('InputTransformer: quoted placeholders get text, unquoted get JSON (AWS docs examples)', () => {
    const paths = { instance: '$.detail.instance-id', state: '$.detail.state', n: '$.detail.n', tags: '$.detail.tags', obj: '$.detail.obj', none: '$.detail.missing' };
    expect(JSON.parse(transformInput({ InputPathsMap: paths, InputTemplate: '{"instance": <instance>, "state": "<state>", "n": <n>, "tags": <tags>, "obj": <obj>, "none": <none>}' }, event, rule))).toEqual({
      instance: 'i-1',
      state: 'running',
      n: 3,
      tags: ['a', 'b'],
      obj: { x: 1 },
      none: null,
    });
    expect(JSON.parse(transformInput({ InputPathsMap: paths, InputTemplate: '{"msg": "instance <instance> is <state> (n=<n>)", "rule": "<aws.events.rule-name>"}' }, event, rule))).toEqual({ msg: 'instance i-1 is running (n=3)', rule: 'r' });
    expect(transformInput({ InputPathsMap: paths, InputTemplate: '"<instance> is in state <state>"' }, event, rule)).toBe('"i-1 is in state running"');
    expect(transformInput({ InputPathsMap: paths, InputTemplate: 'plain <instance> text' }, event, rule)).toBe('plain i-1 text');
    expect(JSON.parse(transformInput({ InputTemplate: '{"whole": <aws.events.event>}' }, event, rule)).whole).toEqual(event);
  });

  it('Input, InputPath, and the whole event', () => {
    expect(targetInput({ Input: '{"k":1}' }, event, rule)).toBe('{"k":1}');
    expect(JSON.parse(targetInput({ InputPath: '$.detail.obj' }, event, rule))).toEqual({ x: 1 });
    expect(JSON.parse(targetInput({}, event, rule))).toEqual(event);
    expect(jsonPath(event, "$['detail'].tags[1]")).toBe('b');
  });

  it('Scheduler context attributes', () => {
    expect(scheduleInput('{"arn":"<aws.scheduler.schedule-arn>","t":"<aws.scheduler.scheduled-time>","a":<aws.scheduler.attempt-number>}', { arn: 'arn:s', scheduledTime: new Date('2026-01-01T00:00:00.500Z'), executionId: 'x', attempt: 1 })).toBe('{"arn":"arn:s","t":"2026-01-01T00:00:00Z","a":1}');
    expect(scheduleInput(undefined, { arn: 'a', scheduledTime: new Date(), executionId: 'x', attempt: 1 })).toBe('{}');
  });
});

describe('provisioners and IAM mapping', () => {
  const ctx = (props: Record<string, unknown>) =>
    ({ logicalId: 'R', props, prefix: '', arn: (s: string, r: string) => `arn:aws:${s}:us-east-1:000000000000:${r}`, name: (explicit: unknown) => (typeof explicit === 'string' ? explicit : 'Stack-R-GENERATED') }) as never;

  it('a rule target the local stack does not deliver to is refused by name; a bad pattern fails the deploy', async () => {
    const { eventRule } = await import('../src/services/events/rule');
    const { schedulerSchedule } = await import('../src/services/scheduler/schedule');
    const { UnsupportedResourceError } = await import('../src/core/deployment/errors');
    await expect(eventRule.provision(ctx({ EventPattern: { source: ['x'] }, Targets: [{ Id: 'k', Arn: 'arn:aws:kinesis:us-east-1:0:stream/s' }] }))).rejects.toThrow(UnsupportedResourceError);
    await expect(eventRule.provision(ctx({ EventPattern: { source: [{ nope: 1 }] } }))).rejects.toThrow(EventPatternError);
    await expect(eventRule.provision(ctx({ ScheduleExpression: 'rate(5 minute)' }))).rejects.toThrow(ScheduleExpressionError);
    const ok = await eventRule.provision(ctx({ Name: 'r1', EventBusName: 'bus1', EventPattern: { source: ['x'] }, Targets: [{ Id: 'q', Arn: 'arn:aws:sqs:us-east-1:0:q' }] }));
    expect(ok.physical).toEqual({ type: 'AWS::Events::Rule', ref: 'bus1|r1', attributes: { Arn: 'arn:aws:events:us-east-1:000000000000:rule/bus1/r1' } });
    await expect(schedulerSchedule.provision(ctx({ ScheduleExpression: 'rate(1 hour)', Target: { Arn: 'arn:aws:scheduler:::aws-sdk:s3:listBuckets', RoleArn: 'arn:aws:iam::0:role/r' } }))).rejects.toThrow(UnsupportedResourceError);
  });

  it('EventBridge requests map to events:<Operation> on the bus or rule ARN', async () => {
    const { authorizationsFor } = await import('../src/gateway/iam/actions');
    const req = (op: string, body: unknown) => ({ service: 'events' as const, method: 'POST', path: '/', query: '', headers: { 'x-amz-target': `AWSEvents.${op}` }, body: Buffer.from(JSON.stringify(body)) });
    const c = { region: 'us-east-1', accountId: '000000000000' };
    expect(authorizationsFor(req('PutEvents', { Entries: [{ EventBusName: 'b1' }, {}, { EventBusName: 'b1' }] }), c)).toEqual([
      { action: 'events:PutEvents', resource: 'arn:aws:events:us-east-1:000000000000:event-bus/b1' },
      { action: 'events:PutEvents', resource: 'arn:aws:events:us-east-1:000000000000:event-bus/default' },
    ]);
    expect(authorizationsFor(req('PutRule', { Name: 'r', EventBusName: 'b1' }), c)).toEqual([{ action: 'events:PutRule', resource: 'arn:aws:events:us-east-1:000000000000:rule/b1/r' }]);
    expect(authorizationsFor(req('ListRules', {}), c)).toEqual([{ action: 'events:ListRules', resource: '*' }]);
    expect(() => authorizationsFor({ ...req('x', {}), headers: {}, path: '/_floodgate/schedules/x/fire' }, c)).toThrow(/local admin only/);
  });
});
