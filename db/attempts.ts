import { sql } from 'kysely';
import { queryPrepared, type Db, type PreparedStatement } from './connection.ts';
import type { Attempt, NewAttempt } from './database.ts';
import { fetchPage, newestFirst, type PageOf, type PageSlice } from './pages.ts';

const ATTEMPT_COLUMNS = [
  'id', 'delivery_id', 'message_id', 'endpoint_id', 'subscriber_id', 'app_id', 'event_type', 'number', 'trigger', 'url', 'request_headers',
  'request_body', 'status_code', 'response_body', 'error_code', 'error', 'succeeded', 'will_retry', 'duration_ms', 'workflow_id', 'workflow_run_id',
] as const satisfies readonly (keyof NewAttempt)[];

/**
 * The send activity's write, one prepared statement and so one atomic round trip: the attempt, and
 * on success the delivery's end. Each request gets its id before its first try to record, so
 * recording the same attempt twice inserts it once (the success is written again, unchanged).
 */
const RECORD_ATTEMPT: PreparedStatement = {
  name: 'record_attempt',
  text: `
    with attempt as (
      insert into attempts (${ATTEMPT_COLUMNS.join(', ')})
      values (${ATTEMPT_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
      on conflict (id) do nothing
    )
    update deliveries set status = 'succeeded', reason = null, error = null, finished_at = $${ATTEMPT_COLUMNS.length + 1}, updated_at = $${ATTEMPT_COLUMNS.length + 1}
    where id = $2 and $${ATTEMPT_COLUMNS.length + 2}::boolean`,
};

export async function recordAttempt(db: Db, attempt: NewAttempt, now: Date): Promise<void> {
  // An optional column left out is sent as null (node-postgres turns undefined into null).
  await queryPrepared(db, RECORD_ATTEMPT, [...ATTEMPT_COLUMNS.map((column) => attempt[column]), now, attempt.succeeded]);
}

/** The newest attempt of a delivery, to say why its endpoint was disabled. */
export function findLastAttempt(db: Db, deliveryId: string) {
  return db
    .selectFrom('attempts')
    .select(['status_code', 'error', 'number'])
    .where('delivery_id', '=', deliveryId)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Narrows a list of attempts; an empty or missing field narrows nothing. */
export interface AttemptFilter {
  succeeded?: boolean;
  subscriberId?: string;
  endpointId?: string;
  messageId?: string;
  eventType?: string;
  /** A message id, or the provider's event id of a message. */
  search?: string;
  /** At or after. */
  since?: Date;
  /** Before. */
  until?: Date;
}

/** The app's attempts that pass the filter, unordered. */
function filteredAttempts(db: Db, appId: string, filter: AttemptFilter) {
  let query = db.selectFrom('attempts').where('attempts.app_id', '=', appId);
  if (filter.succeeded !== undefined) query = query.where('succeeded', '=', filter.succeeded);
  if (filter.subscriberId) query = query.where('subscriber_id', '=', filter.subscriberId);
  if (filter.endpointId) query = query.where('endpoint_id', '=', filter.endpointId);
  if (filter.messageId) query = query.where('message_id', '=', filter.messageId);
  if (filter.eventType) query = query.where('event_type', '=', filter.eventType);
  if (filter.since) query = query.where('created_at', '>=', filter.since);
  if (filter.until) query = query.where('created_at', '<', filter.until);
  const search = filter.search;
  if (search) {
    // One IN over the app's messages, so both lookups use their indexes (an OR would scan attempts).
    query = query.where('message_id', 'in', (eb) =>
      eb.selectFrom('messages').select('messages.id').where('messages.app_id', '=', appId).where((m) => m.or([m('messages.id', '=', search), m('messages.event_id', '=', search)])),
    );
  }
  return query;
}

/** The app's attempts, newest first. */
export function listAttempts(db: Db, appId: string, filter: AttemptFilter, slice: PageSlice): Promise<PageOf<Attempt>> {
  return fetchPage(newestFirst(filteredAttempts(db, appId, filter).selectAll()), slice);
}

/** Where a page of the attempt log ends: the next page starts after it. The time is microseconds since the epoch, as text: exact (a JS Date would round to milliseconds). */
export interface AttemptCursor {
  createdAtMicros: string;
  id: string;
}

/**
 * One page of the app's attempt log, newest first, after `cursor` (keyset pagination: a page stays
 * the same while new attempts arrive, and a deep page costs what the first does). `next` is set
 * when more rows follow.
 */
export async function attemptLogPage(db: Db, appId: string, filter: AttemptFilter, page: { cursor?: AttemptCursor; limit: number }): Promise<{ rows: Attempt[]; next?: AttemptCursor }> {
  let query = filteredAttempts(db, appId, filter);
  const cursor = page.cursor;
  if (cursor) query = query.where(sql<boolean>`(attempts.created_at, attempts.id) < (timestamptz 'epoch' + ${cursor.createdAtMicros}::bigint * interval '1 microsecond', ${cursor.id})`);
  const rows = await newestFirst(query.selectAll().select(sql<string>`(extract(epoch from attempts.created_at) * 1000000)::bigint::text`.as('cursor_at')))
    .limit(page.limit + 1)
    .execute();
  const more = rows.length > page.limit;
  if (more) rows.pop();
  const last = rows.at(-1);
  return { rows, ...(more && last ? { next: { createdAtMicros: last.cursor_at, id: last.id } } : {}) };
}

export function findAttempt(db: Db, appId: string, attemptId: string): Promise<Attempt | undefined> {
  return db.selectFrom('attempts').selectAll().where('app_id', '=', appId).where('id', '=', attemptId).executeTakeFirst();
}

/** Percentage of failed attempts per endpoint over the last 24 hours (endpoints without attempts are absent). */
export async function endpointErrorRates(db: Db, endpointIds: readonly string[]): Promise<Map<string, number>> {
  if (endpointIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('attempts')
    .select((eb) => ['endpoint_id', eb.fn.countAll<number>().as('total'), sql<number>`count(*) filter (where not succeeded)`.as('failed')])
    .where('endpoint_id', 'in', endpointIds)
    .where('created_at', '>', sql<Date>`now() - interval '24 hours'`)
    .groupBy('endpoint_id')
    .execute();
  return new Map(rows.map((r) => [r.endpoint_id, Math.round((Number(r.failed) / r.total) * 1000) / 10]));
}

/** The app's attempts at or after `since`: how many, and how many succeeded. */
export async function countAttemptsSince(db: Db, appId: string, since: Date): Promise<{ total: number; succeeded: number }> {
  const row = await db
    .selectFrom('attempts')
    .select((eb) => [eb.fn.countAll<number>().as('total'), sql<number>`count(*) filter (where succeeded)`.as('succeeded')])
    .where('app_id', '=', appId)
    .where('created_at', '>=', since)
    .executeTakeFirstOrThrow();
  return { total: Number(row.total), succeeded: Number(row.succeeded) };
}
