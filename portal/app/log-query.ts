import type { AttemptCursor, AttemptFilter } from '../../db/attempts.ts';

/**
 * The logs page keeps its whole state in the query string, so a link shows the same attempts to a
 * colleague: `status` (success|failed), `subscriber`, `endpoint`, `event_type`, `since` and `until`
 * (dates, YYYY-MM-DD, in UTC; `until` includes that day), `q` (a message id or event id) and
 * `after` (where the previous page ended).
 */
export interface LogQuery {
  filter: AttemptFilter;
  cursor?: AttemptCursor;
  /** What the form shows back, as typed. */
  values: Record<(typeof FIELDS)[number], string>;
  /** Fields that could not be read, with why; they narrow nothing. */
  errors: Partial<Record<(typeof FIELDS)[number] | 'after', string>>;
}

const FIELDS = ['status', 'subscriber', 'endpoint', 'event_type', 'since', 'until', 'q'] as const;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;
/** Microseconds since the epoch: anything else never reaches the query. */
const MICROS = /^\d{1,17}$/;

export function parseLogQuery(params: URLSearchParams): LogQuery {
  const values = Object.fromEntries(FIELDS.map((name) => [name, (params.get(name) ?? '').trim().slice(0, 255)])) as LogQuery['values'];
  const errors: LogQuery['errors'] = {};
  const filter: AttemptFilter = {};
  if (values.status === 'success' || values.status === 'failed') filter.succeeded = values.status === 'success';
  else if (values.status) errors.status = 'must be success or failed';
  if (values.subscriber) filter.subscriberId = values.subscriber;
  if (values.endpoint) filter.endpointId = values.endpoint;
  if (values.event_type) filter.eventType = values.event_type;
  if (values.q) filter.search = values.q;
  const since = day(values.since);
  if (since === null) errors.since = 'must be a date such as 2026-12-01';
  else if (since) filter.since = since;
  const until = day(values.until);
  if (until === null) errors.until = 'must be a date such as 2026-12-01';
  else if (until) filter.until = new Date(until.getTime() + DAY_MS);
  const after = params.get('after');
  const cursor = after ? decodeCursor(after) : undefined;
  if (after && !cursor) errors.after = 'this link points at a page that cannot be read; showing the newest attempts';
  return { filter, ...(cursor ? { cursor } : {}), values, errors };
}

/** The query string of the next page: the same filters, after `cursor`. */
export function nextPageSearch(values: LogQuery['values'], cursor: AttemptCursor): string {
  const params = new URLSearchParams(Object.entries(values).filter(([, value]) => value !== ''));
  params.set('after', encodeCursor(cursor));
  return `?${params.toString()}`;
}

export function encodeCursor(cursor: AttemptCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAtMicros, cursor.id])).toString('base64url');
}

export function decodeCursor(text: string): AttemptCursor | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [createdAtMicros, id] = value as unknown[];
    if (typeof createdAtMicros !== 'string' || typeof id !== 'string' || !MICROS.test(createdAtMicros) || id.length > 255) return undefined;
    return { createdAtMicros, id };
  } catch {
    return undefined;
  }
}

/** A day in UTC; undefined when empty, null when it is not a real date. */
function day(text: string): Date | undefined | null {
  if (!text) return undefined;
  if (!DAY.test(text)) return null;
  const date = new Date(`${text}T00:00:00Z`);
  return Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== text ? null : date;
}
