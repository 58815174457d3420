/**
 * CloudWatch Logs as the local stack keeps it: log groups of log streams of events, in memory, bounded.
 * Each group keeps its newest `maxEventsPerGroup` events in a ring buffer (older ones are dropped, as a
 * retention would drop them), and at most `maxStreamsPerGroup` streams (the least recently written
 * goes first). Pure: no I/O; the Logs API (handler.ts) and `LocalStack.logs()` read it.
 */

export interface LogEvent {
  readonly logGroupName: string;
  readonly logStreamName: string;
  /** When the line was written (ms since the epoch). */
  readonly timestamp: number;
  readonly ingestionTime: number;
  readonly message: string;
  /** Increasing over the whole store: orders events and makes the pagination tokens. */
  readonly seq: number;
  readonly eventId: string;
}

export interface LogStreamInfo {
  readonly logStreamName: string;
  readonly creationTime: number;
  readonly firstEventTimestamp?: number;
  readonly lastEventTimestamp?: number;
  readonly lastIngestionTime?: number;
  readonly storedBytes: number;
}

export interface LogGroupInfo {
  readonly logGroupName: string;
  readonly creationTime: number;
  readonly storedBytes: number;
  readonly streams: number;
  /** Events currently kept (at most maxEventsPerGroup). */
  readonly events: number;
  /** Events dropped from the ring buffer so far. */
  readonly dropped: number;
}

export interface LogStoreOptions {
  /** Events kept per log group (the newest). @default 10000 */
  readonly maxEventsPerGroup?: number;
  /** Log streams kept per log group (the most recently written). @default 1000 */
  readonly maxStreamsPerGroup?: number;
  /** Log groups kept. @default 1000 */
  readonly maxGroups?: number;
  readonly now?: () => number;
}

/** A fixed-capacity FIFO: pushing past the capacity drops the oldest element. */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private start = 0;
  private count = 0;
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring buffer capacity must be an integer >= 1 (got ${capacity})`);
    this.items = new Array<T | undefined>(capacity);
  }
  get size(): number {
    return this.count;
  }
  /** Adds `item`; returns the element it pushed out, if the buffer was full. */
  push(item: T): T | undefined {
    if (this.count < this.capacity) {
      this.items[(this.start + this.count) % this.capacity] = item;
      this.count++;
      return undefined;
    }
    const dropped = this.items[this.start];
    this.items[this.start] = item;
    this.start = (this.start + 1) % this.capacity;
    return dropped;
  }
  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.items[(this.start + i) % this.capacity] as T);
    return out;
  }
}

interface Stream {
  readonly logStreamName: string;
  readonly creationTime: number;
  firstEventTimestamp?: number;
  lastEventTimestamp?: number;
  lastIngestionTime?: number;
  storedBytes: number;
}

interface Group {
  readonly logGroupName: string;
  readonly creationTime: number;
  readonly events: RingBuffer<LogEvent>;
  readonly streams: Map<string, Stream>;
  storedBytes: number;
  dropped: number;
}

export class LogStore {
  readonly maxEventsPerGroup: number;
  readonly maxStreamsPerGroup: number;
  readonly maxGroups: number;
  private readonly groups = new Map<string, Group>();
  private readonly now: () => number;
  private seq = 0;

  constructor(options: LogStoreOptions = {}) {
    this.maxEventsPerGroup = options.maxEventsPerGroup ?? 10_000;
    this.maxStreamsPerGroup = options.maxStreamsPerGroup ?? 1_000;
    this.maxGroups = options.maxGroups ?? 1_000;
    this.now = options.now ?? Date.now;
  }

  /** Creates the group if needed (as Lambda does on a function's first line, or a LogGroup resource). */
  createLogGroup(logGroupName: string): void {
    this.group(logGroupName);
  }

  /** Appends one event (one line) to a stream, creating the group and the stream on first use. */
  put(logGroupName: string, logStreamName: string, message: string, timestamp: number = this.now()): LogEvent {
    const g = this.group(logGroupName);
    let s = g.streams.get(logStreamName);
    const ingestionTime = this.now();
    if (!s) {
      if (g.streams.size >= this.maxStreamsPerGroup) this.dropLeastRecentStream(g);
      s = { logStreamName, creationTime: ingestionTime, storedBytes: 0 };
      g.streams.set(logStreamName, s);
    }
    s.firstEventTimestamp ??= timestamp;
    s.lastEventTimestamp = Math.max(s.lastEventTimestamp ?? timestamp, timestamp);
    s.lastIngestionTime = ingestionTime;
    const bytes = Buffer.byteLength(message) + 26; // CloudWatch counts 26 bytes of overhead per event
    s.storedBytes += bytes;
    g.storedBytes += bytes;
    const seq = ++this.seq;
    const event: LogEvent = { logGroupName, logStreamName, timestamp, ingestionTime, message, seq, eventId: eventId(seq, timestamp) };
    if (g.events.push(event)) g.dropped++;
    return event;
  }

  hasGroup(logGroupName: string): boolean {
    return this.groups.has(logGroupName);
  }

  listGroups(): LogGroupInfo[] {
    return [...this.groups.values()]
      .map((g) => ({ logGroupName: g.logGroupName, creationTime: g.creationTime, storedBytes: g.storedBytes, streams: g.streams.size, events: g.events.size, dropped: g.dropped }))
      .sort((a, b) => (a.logGroupName < b.logGroupName ? -1 : a.logGroupName > b.logGroupName ? 1 : 0));
  }

  /** The group's streams, undefined when the group does not exist. */
  listStreams(logGroupName: string): LogStreamInfo[] | undefined {
    const g = this.groups.get(logGroupName);
    return g ? [...g.streams.values()].map((s) => ({ ...s })) : undefined;
  }

  /** The group's kept events, oldest first; undefined when the group does not exist. */
  events(logGroupName: string): LogEvent[] | undefined {
    return this.groups.get(logGroupName)?.events.toArray();
  }

  private group(logGroupName: string): Group {
    let g = this.groups.get(logGroupName);
    if (!g) {
      if (this.groups.size >= this.maxGroups) {
        const oldest = this.groups.keys().next().value;
        if (oldest !== undefined) this.groups.delete(oldest);
      }
      g = { logGroupName, creationTime: this.now(), events: new RingBuffer<LogEvent>(this.maxEventsPerGroup), streams: new Map(), storedBytes: 0, dropped: 0 };
      this.groups.set(logGroupName, g);
    }
    return g;
  }

  private dropLeastRecentStream(g: Group): void {
    let victim: Stream | undefined;
    for (const s of g.streams.values()) if (!victim || (s.lastIngestionTime ?? s.creationTime) < (victim.lastIngestionTime ?? victim.creationTime)) victim = s;
    if (victim) g.streams.delete(victim.logStreamName);
  }
}

/** A 56-digit id like CloudWatch's eventId, unique in the store. */
function eventId(seq: number, timestamp: number): string {
  return `${String(timestamp).padStart(20, '0')}${String(seq).padStart(36, '0')}`;
}

export class FilterPatternError extends Error {
  override readonly name = 'FilterPatternError';
}

/**
 * A CloudWatch Logs filter pattern for unstructured events: terms that must all appear (case
 * sensitive), `"quoted phrases"`, `?term` (any of the ?-terms), `-term` (must not appear). An empty
 * pattern matches everything. JSON (`{ $.x = ... }`) and space-delimited (`[a, b]`) patterns are refused
 * with a FilterPatternError rather than matched loosely.
 */
export function compileFilterPattern(pattern: string | undefined): (message: string) => boolean {
  const p = (pattern ?? '').trim();
  if (p === '' || p === '""') return () => true;
  if (p.startsWith('{') || p.startsWith('[')) throw new FilterPatternError(`JSON and space-delimited filter patterns are not supported by the local stack (got ${p}); use terms, "phrases", ?term and -term`);
  const required: string[] = [];
  const anyOf: string[] = [];
  const excluded: string[] = [];
  const tokens = p.match(/[?-]?"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
  for (const raw of tokens) {
    const op = raw[0] === '?' || raw[0] === '-' ? raw[0] : '';
    let term = op ? raw.slice(1) : raw;
    if (term.startsWith('"') && term.endsWith('"') && term.length >= 2) term = term.slice(1, -1).replace(/\\(.)/g, '$1');
    if (term === '') continue;
    if (op === '?') anyOf.push(term);
    else if (op === '-') excluded.push(term);
    else required.push(term);
  }
  return (m) => required.every((t) => m.includes(t)) && (anyOf.length === 0 || anyOf.some((t) => m.includes(t))) && !excluded.some((t) => m.includes(t));
}
