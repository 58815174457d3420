/**
 * Schedule expressions, pure: EventBridge rules' `rate(...)` and `cron(...)` (UTC), and EventBridge
 * Scheduler's `rate`, `cron` and one-time `at(yyyy-mm-ddThh:mm:ss)` in a time zone
 * (ScheduleExpressionTimezone). `nextFire(after)` is the first fire time strictly after `after`.
 *
 * Cron is EventBridge's six fields: minutes hours day-of-month month day-of-week year. One of
 * day-of-month and day-of-week must be `?`. Fields take `*`, lists `,`, ranges `-`, steps `/`; months
 * JAN-DEC, days 1-7 = SUN-SAT; day-of-month `L` (last day), `LW` (last weekday), `15W` (weekday nearest
 * the 15th); day-of-week `5L` (last Thursday of the month) and `3#2` (second Tuesday).
 */

export class ScheduleExpressionError extends Error {
  override readonly name = 'ScheduleExpressionError';
}

export interface Schedule {
  readonly expression: string;
  /** The next fire time strictly after `after`; undefined when it never fires again (a past `at()`). */
  nextFire(after: Date): Date | undefined;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** Calendar fields of an instant in a time zone (UTC when tz is undefined). */
interface Local {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  dow: number; // 1-7, SUN = 1
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function localFields(d: Date, tz: string | undefined): Local {
  if (!tz || tz === 'UTC') return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), dow: d.getUTCDay() + 1 };
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'short' });
    formatters.set(tz, f);
  }
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(d)) parts[p.type] = p.value;
  return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour), minute: Number(parts.minute), dow: DAYS.indexOf(parts.weekday!.toUpperCase().slice(0, 3)) + 1 };
}

/** The UTC instant of a wall-clock time in a time zone. */
function zonedInstant(y: number, mo: number, d: number, h: number, mi: number, s: number, tz: string | undefined): Date {
  const guess = Date.UTC(y, mo - 1, d, h, mi, s);
  if (!tz || tz === 'UTC') return new Date(guess);
  // Two passes of "how far is the zone's wall clock from UTC at this instant".
  let t = guess;
  for (let i = 0; i < 2; i++) {
    const l = localFields(new Date(t), tz);
    const wall = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, s);
    t += guess - wall;
  }
  return new Date(t);
}

function checkTimeZone(tz: string | undefined): void {
  if (!tz) return;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new ScheduleExpressionError(`unknown time zone "${tz}" (ScheduleExpressionTimezone takes an IANA name such as Europe/Paris)`);
  }
}

function rate(value: number, unit: string, expression: string): Schedule {
  const u = unit.replace(/s$/, '');
  const singular = unit === u;
  if (!Number.isInteger(value) || value < 1) throw new ScheduleExpressionError(`${expression}: the rate must be a positive whole number`);
  if (!['minute', 'hour', 'day'].includes(u)) throw new ScheduleExpressionError(`${expression}: the unit is minute(s), hour(s) or day(s)`);
  if (singular !== (value === 1)) throw new ScheduleExpressionError(`${expression}: use the singular unit for 1 and the plural otherwise (rate(1 minute), rate(5 minutes))`);
  const ms = value * (u === 'minute' ? 60_000 : u === 'hour' ? 3_600_000 : 86_400_000);
  // Rate schedules run from when they are created, every `ms`.
  const origin = Date.now();
  return { expression, nextFire: (after) => new Date(origin + (Math.floor((after.getTime() - origin) / ms) + 1) * ms) };
}

type FieldTest = (v: number, l: Local) => boolean;

function parseNumber(token: string, names: string[] | undefined, min: number, max: number, expression: string, field: string): number {
  const named = names?.indexOf(token.toUpperCase());
  const n = named !== undefined && named >= 0 ? named + min : Number(token);
  if (!Number.isInteger(n) || n < min || n > max) throw new ScheduleExpressionError(`${expression}: ${field} value "${token}" is out of ${min}-${max}`);
  return n;
}

function parseField(text: string, min: number, max: number, field: string, expression: string, names?: string[]): (v: number) => boolean {
  if (text === '*') return () => true;
  const sets = text.split(',').map((part) => {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new ScheduleExpressionError(`${expression}: ${field} step "${stepText}" must be a positive number`);
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [min, max];
    else if (range!.includes('-')) {
      const [a, b] = range!.split('-');
      lo = parseNumber(a!, names, min, max, expression, field);
      hi = parseNumber(b!, names, min, max, expression, field);
    } else {
      lo = parseNumber(range!, names, min, max, expression, field);
      hi = stepText === undefined ? lo : max;
    }
    return (v: number) => {
      // A wrapping range (FRI-MON, 22-2) as cron allows.
      const inRange = lo <= hi ? v >= lo && v <= hi : v >= lo || v <= hi;
      const offset = (v - lo + (max - min + 1)) % (max - min + 1);
      return inRange && offset % step === 0;
    };
  });
  return (v) => sets.some((s) => s(v));
}

const daysIn = (y: number, m: number): number => new Date(Date.UTC(y, m, 0)).getUTCDate();
const dowOf = (y: number, m: number, d: number): number => new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 1;

/** The weekday (Mon-Fri) nearest `day` within the month, as cron's W. */
function nearestWeekday(y: number, m: number, day: number): number {
  const last = daysIn(y, m);
  const d = Math.min(day, last);
  const w = dowOf(y, m, d);
  if (w >= 2 && w <= 6) return d;
  if (w === 7) return d === 1 ? 3 : d - 1; // Saturday: Friday, or Monday the 3rd
  return d === last ? d - 2 : d + 1; // Sunday: Monday, or Friday when the month ends
}

function dayOfMonthTest(text: string, expression: string): FieldTest {
  if (text === '?') return () => true;
  if (text === 'L') return (v, l) => v === daysIn(l.year, l.month);
  if (text === 'LW') return (v, l) => v === nearestWeekday(l.year, l.month, daysIn(l.year, l.month));
  const w = /^(\d{1,2})W$/.exec(text);
  if (w) {
    const n = parseNumber(w[1]!, undefined, 1, 31, expression, 'day-of-month');
    return (v, l) => v === nearestWeekday(l.year, l.month, n);
  }
  const f = parseField(text, 1, 31, 'day-of-month', expression);
  return (v) => f(v);
}

function dayOfWeekTest(text: string, expression: string): FieldTest {
  if (text === '?') return () => true;
  const last = /^([1-7]|[A-Za-z]{3})L$/.exec(text);
  if (last) {
    const dow = parseNumber(last[1]!, DAYS, 1, 7, expression, 'day-of-week');
    return (_v, l) => l.dow === dow && l.day + 7 > daysIn(l.year, l.month);
  }
  if (text === 'L') return (_v, l) => l.dow === 7;
  const nth = /^([1-7]|[A-Za-z]{3})#([1-5])$/.exec(text);
  if (nth) {
    const dow = parseNumber(nth[1]!, DAYS, 1, 7, expression, 'day-of-week');
    const n = Number(nth[2]);
    return (_v, l) => l.dow === dow && Math.ceil(l.day / 7) === n;
  }
  const f = parseField(text, 1, 7, 'day-of-week', expression, DAYS);
  return (_v, l) => f(l.dow);
}

function cron(body: string, expression: string, tz: string | undefined): Schedule {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) throw new ScheduleExpressionError(`${expression}: cron takes six fields (minutes hours day-of-month month day-of-week year)`);
  const [min, hour, dom, mon, dow, year] = fields as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) throw new ScheduleExpressionError(`${expression}: exactly one of day-of-month and day-of-week must be "?"`);
  const minute = parseField(min, 0, 59, 'minutes', expression);
  const hours = parseField(hour, 0, 23, 'hours', expression);
  const dayOfMonth = dayOfMonthTest(dom, expression);
  const month = parseField(mon, 1, 12, 'month', expression, MONTHS);
  const dayOfWeek = dayOfWeekTest(dow, expression);
  const years = parseField(year, 1970, 2199, 'year', expression);
  return {
    expression,
    nextFire(after) {
      let t = Math.floor(after.getTime() / 60_000) * 60_000 + 60_000;
      const end = t + 5 * 366 * 86_400_000;
      while (t < end) {
        const l = localFields(new Date(t), tz);
        if (!years(l.year) || !month(l.month) || !dayOfMonth(l.day, l) || !dayOfWeek(l.dow, l)) {
          t += (60 - l.minute) * 60_000 + (23 - l.hour) * 3_600_000; // to the next local day
          continue;
        }
        if (!hours(l.hour)) {
          t += (60 - l.minute) * 60_000;
          continue;
        }
        if (minute(l.minute)) return new Date(t);
        t += 60_000;
      }
      return undefined;
    },
  };
}

/** Parses a rule's or a schedule's expression; `tz` only for Scheduler (rules are UTC). */
export function parseScheduleExpression(expression: string, tz?: string): Schedule {
  checkTimeZone(tz);
  const r = /^rate\(\s*(\d+)\s+([a-z]+)\s*\)$/.exec(expression.trim());
  if (r) return rate(Number(r[1]), r[2]!, expression);
  const c = /^cron\((.*)\)$/.exec(expression.trim());
  if (c) return cron(c[1]!, expression, tz);
  const a = /^at\((\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\)$/.exec(expression.trim());
  if (a) {
    const [y, mo, d, h, mi, s] = a.slice(1).map(Number) as [number, number, number, number, number, number];
    const when = zonedInstant(y, mo, d, h, mi, s, tz);
    if (Number.isNaN(when.getTime())) throw new ScheduleExpressionError(`${expression}: not a valid date and time`);
    return { expression, nextFire: (after) => (when.getTime() > after.getTime() ? when : undefined) };
  }
  throw new ScheduleExpressionError(`"${expression}" is not a schedule expression (rate(5 minutes), cron(0 12 * * ? *)${tz !== undefined ? ' or at(2030-01-01T09:00:00)' : ''})`);
}
