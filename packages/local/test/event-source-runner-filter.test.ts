import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { compileFilterCriteria, FilterCriteriaError } from '../src/services/lambda/event-source-filter';

const record = (body: string, extra: Partial<SQSRecord> = {}): SQSRecord => ({
  messageId: 'm1',
  receiptHandle: 'r',
  body,
  attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1', SenderId: 'AIDA', ApproximateFirstReceiveTimestamp: '1' },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q',
  awsRegion: 'us-east-1',
  ...extra,
});
const matcher = (...patterns: object[]) => compileFilterCriteria({ Filters: patterns.map((p) => ({ Pattern: JSON.stringify(p) })) })!;
const json = (o: object) => record(JSON.stringify(o));

describe('FilterCriteria matcher (Lambda event filtering on SQS records)', () => {
  it('no filters: everything is delivered', () => {
    expect(compileFilterCriteria(undefined)).toBeUndefined();
    expect(compileFilterCriteria({ Filters: [] })).toBeUndefined();
  });

  it('exact values on the JSON body; keys ANDed; values ORed; filters ORed', () => {
    const m = matcher({ body: { RequestCode: ['BBBB', 'CCCC'], Tier: ['gold'] } }, { body: { RequestCode: ['ZZZZ'] } });
    expect(m(json({ RequestCode: 'BBBB', Tier: 'gold' }))).toBe(true);
    expect(m(json({ RequestCode: 'CCCC', Tier: 'gold' }))).toBe(true);
    expect(m(json({ RequestCode: 'BBBB', Tier: 'silver' }))).toBe(false);
    expect(m(json({ RequestCode: 'ZZZZ' }))).toBe(true);
    expect(m(json({ RequestCode: 'AAAA', Tier: 'gold' }))).toBe(false);
  });

  it('numbers, booleans, null and empty string match exactly (types included)', () => {
    const m = matcher({ body: { n: [100], b: [true], z: [null], e: [''] } });
    expect(m(json({ n: 100, b: true, z: null, e: '' }))).toBe(true);
    expect(m(json({ n: '100', b: true, z: null, e: '' }))).toBe(false);
    expect(m(json({ n: 100, b: true, e: '' }))).toBe(false); // null is not absence
  });

  it('nested objects and lists in the record (any element matches)', () => {
    const m = matcher({ body: { order: { items: ['sku-1'] } } });
    expect(m(json({ order: { items: ['sku-9', 'sku-1'] } }))).toBe(true);
    expect(m(json({ order: { items: ['sku-9'] } }))).toBe(false);
    expect(m(json({ order: 'sku-1' }))).toBe(false);
  });

  it('prefix, suffix, equals-ignore-case', () => {
    const m = matcher({ body: { region: [{ prefix: 'us-' }], file: [{ suffix: '.png' }], name: [{ 'equals-ignore-case': 'alice' }] } });
    expect(m(json({ region: 'us-east-1', file: 'a.png', name: 'ALICE' }))).toBe(true);
    expect(m(json({ region: 'eu-west-1', file: 'a.png', name: 'alice' }))).toBe(false);
    expect(m(json({ region: 'us-east-1', file: 'a.jpg', name: 'alice' }))).toBe(false);
    expect(m(json({ region: 'us-east-1', file: 'a.png', name: 'bob' }))).toBe(false);
  });

  it('anything-but: a value, a list, a prefix; an absent key does not match', () => {
    const one = matcher({ body: { state: [{ 'anything-but': 'DONE' }] } });
    expect(one(json({ state: 'NEW' }))).toBe(true);
    expect(one(json({ state: 'DONE' }))).toBe(false);
    expect(one(json({}))).toBe(false);
    const list = matcher({ body: { code: [{ 'anything-but': [1, 2] }] } });
    expect(list(json({ code: 3 }))).toBe(true);
    expect(list(json({ code: 2 }))).toBe(false);
    const pre = matcher({ body: { id: [{ 'anything-but': { prefix: 'test-' } }] } });
    expect(pre(json({ id: 'prod-1' }))).toBe(true);
    expect(pre(json({ id: 'test-1' }))).toBe(false);
  });

  it('numeric equals and ranges', () => {
    const m = matcher({ body: { n: [{ numeric: ['>', 10, '<=', 20] }] } });
    expect([9, 10, 11, 20, 21, '15'].map((n) => m(json({ n })))).toEqual([false, false, true, true, false, false]);
    expect(matcher({ body: { n: [{ numeric: ['=', 100] }] } })(json({ n: 100 }))).toBe(true);
  });

  it('exists true / false', () => {
    const has = matcher({ body: { tag: [{ exists: true }] } });
    const lacks = matcher({ body: { tag: [{ exists: false }] } });
    expect(has(json({ tag: 'x' }))).toBe(true);
    expect(has(json({}))).toBe(false);
    expect(lacks(json({}))).toBe(true);
    expect(lacks(json({ tag: 'x' }))).toBe(false);
  });

  it('$or between patterns', () => {
    const m = matcher({ body: { $or: [{ a: ['1'] }, { b: ['2'] }] } });
    expect(m(json({ a: '1' }))).toBe(true);
    expect(m(json({ b: '2' }))).toBe(true);
    expect(m(json({ a: '2', b: '1' }))).toBe(false);
  });

  it('an object body pattern drops a body that is not JSON; a list body pattern matches the plain string', () => {
    expect(matcher({ body: { a: ['1'] } })(record('not json'))).toBe(false);
    const plain = matcher({ body: [{ prefix: 'Result: ' }] });
    expect(plain(record('Result: ok'))).toBe(true);
    expect(plain(record('Other'))).toBe(false);
  });

  it('attributes and messageAttributes of the record', () => {
    const m = matcher({ attributes: { SenderId: ['AIDA'] }, messageAttributes: { kind: { stringValue: ['thumbnail'] } } });
    const withAttr = record('{}', { messageAttributes: { kind: { dataType: 'String', stringValue: 'thumbnail' } } });
    expect(m(withAttr)).toBe(true);
    expect(m(record('{}', { messageAttributes: { kind: { dataType: 'String', stringValue: 'full' } } }))).toBe(false);
    expect(m(record('{}'))).toBe(false);
  });

  it('rejects bad patterns with a classified error that says where', () => {
    const bad: Array<[unknown, RegExp]> = [
      ['{not json', /not valid JSON/],
      ['[1]', /must be a JSON object/],
      ['{"body":{"a":"x"}}', /Filters\[0\]\.body\.a: a pattern value must be a list/],
      ['{"body":{"a":[{"wildcard":"*"}]}}', /unknown operator "wildcard"/],
      ['{"body":{"a":[{"numeric":[">"]}]}}', /numeric/],
      ['{"body":{"a":[]}}', /empty rule list/],
    ];
    for (const [Pattern, re] of bad) {
      expect(() => compileFilterCriteria({ Filters: [{ Pattern: Pattern as string }] })).toThrow(FilterCriteriaError);
      expect(() => compileFilterCriteria({ Filters: [{ Pattern: Pattern as string }] })).toThrow(re);
    }
  });
});
