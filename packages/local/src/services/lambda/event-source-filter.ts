/**
 * Lambda event filtering (FilterCriteria) for SQS records, as a pure matcher. A record is delivered when
 * ANY filter matches; a record no filter matches is deleted from the queue without an invocation.
 *
 * Pattern syntax (AWS "Lambda event filtering", "Filter rule syntax") is EventBridge's: the one matcher
 * in core/event-pattern.ts. Keys are record keys (`body`, `attributes`, `messageAttributes`, ...).
 *
 * The SQS `body` (AWS "Using event filtering with an Amazon SQS event source"): an object pattern under
 * `body` matches the body parsed as JSON; a body that is not JSON then does not match (Lambda drops it).
 * A list of rules under `body` matches the body as a plain string.
 */
import type { SQSRecord } from 'aws-lambda';
import { compileLeaf, compileObject, EventPatternError as FilterCriteriaError, isObject, type Json } from '../../core/event-pattern.js';

/** A bad FilterCriteria pattern (the one matcher's EventPatternError, under the name Lambda's API uses). */
export { EventPatternError as FilterCriteriaError, compileEventPattern } from '../../core/event-pattern.js';

export interface FilterCriteria {
  readonly Filters?: ReadonlyArray<{ readonly Pattern?: string }>;
}

/** One filter pattern against one SQS record. */
function compilePattern(pattern: Record<string, Json>, path: string): (record: SQSRecord) => boolean {
  const { body, ...rest } = pattern;
  const others = compileObject(rest, path, 'lambda');
  let bodyMatch: ((body: string) => boolean) | undefined;
  if (body !== undefined) {
    if (Array.isArray(body)) {
      const leaf = compileLeaf(body, `${path}.body`, 'lambda');
      bodyMatch = (b) => leaf(b);
    } else if (isObject(body)) {
      const inner = compileObject(body, `${path}.body`, 'lambda');
      bodyMatch = (b) => {
        let parsed: Json;
        try {
          parsed = JSON.parse(b) as Json;
        } catch {
          return false; // an object pattern needs a JSON body: Lambda drops the message
        }
        return isObject(parsed) && inner(parsed);
      };
    } else throw new FilterCriteriaError(`${path}.body: must be a list of rules or an object`);
  }
  return (record) => (bodyMatch ? bodyMatch(record.body) : true) && others(record as unknown as Json);
}

/**
 * The patterns of a mapping's FilterCriteria, parsed (the checks CreateEventSourceMapping makes, whatever
 * the source); undefined when there are no filters. Shared by the SQS and the stream pollers.
 */
export function parseFilterPatterns(criteria: FilterCriteria | undefined, where = 'FilterCriteria'): Array<{ readonly pattern: unknown; readonly at: string }> | undefined {
  const filters = criteria?.Filters ?? [];
  if (filters.length === 0) return undefined;
  if (filters.length > 10) throw new FilterCriteriaError(`${where}: at most 10 filters per event source mapping (got ${filters.length})`);
  return filters.map((f, i) => {
    const at = `${where}.Filters[${i}]`;
    if (typeof f.Pattern !== 'string') throw new FilterCriteriaError(`${at}: Pattern must be a JSON string`);
    try {
      return { pattern: JSON.parse(f.Pattern) as unknown, at };
    } catch (err) {
      throw new FilterCriteriaError(`${at}: Pattern is not valid JSON (${(err as Error).message})`);
    }
  });
}

/**
 * Compiles FilterCriteria once (a bad pattern is a FilterCriteriaError, as CreateEventSourceMapping
 * would reject it). Returns undefined when there are no filters (every record is delivered).
 */
export function compileFilterCriteria(criteria: FilterCriteria | undefined, where = 'FilterCriteria'): ((record: SQSRecord) => boolean) | undefined {
  const patterns = parseFilterPatterns(criteria, where);
  if (patterns === undefined) return undefined;
  const matchers = patterns.map(({ pattern, at }) => {
    if (!isObject(pattern)) throw new FilterCriteriaError(`${at}: Pattern must be a JSON object`);
    return compilePattern(pattern, at);
  });
  return (record) => matchers.some((m) => m(record));
}
