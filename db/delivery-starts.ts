import { sql, type Expression, type RawBuilder } from 'kysely';
import { poolOf, type Db } from './connection.ts';
import type { AttemptTrigger } from './database.ts';

/** What starting one delivery workflow needs to know, read with the delivery. */
export interface DeliveryToStart {
  id: string;
  app_id: string;
  subscriber_id: string;
  endpoint_id: string;
  event_type: string;
  retry_initial_interval_ms: number | null;
  retry_backoff_coefficient: number | null;
}

/**
 * One start of a delivery's workflow as it was asked for: what for (`start_trigger`) and when
 * (`start_requested_at` in microseconds since the epoch, as text: exact, so the workflow's memo can
 * carry it and the reconciler can tell whether this very request already started a run).
 */
export interface StartRequest {
  trigger: AttemptTrigger;
  requestedAt: string;
}

export type RequestedStart = DeliveryToStart & StartRequest;

/** A start the reconciler leased: its new request, and the one it found unconfirmed. */
export type ClaimedStart = RequestedStart & { previousRequestedAt: string };

export const requestToken = (column: Expression<Date>): RawBuilder<string> => sql<string>`(extract(epoch from ${column}) * 1000000)::bigint::text`;

/** What a start reads of a delivery, its message and its app. */
export const START_COLUMNS = [
  'deliveries.id',
  'deliveries.app_id',
  'deliveries.subscriber_id',
  'deliveries.endpoint_id',
  'messages.event_type',
  'apps.retry_initial_interval_ms',
  'apps.retry_backoff_coefficient',
  'deliveries.start_trigger as trigger',
] as const;

/** Deliveries with what starting each needs and its current start request (RequestedStart). */
function requestedStarts(db: Db) {
  return db
    .selectFrom('deliveries')
    .innerJoin('messages', 'messages.id', 'deliveries.message_id')
    .innerJoin('apps', 'apps.id', 'deliveries.app_id')
    .select(START_COLUMNS)
    .select((eb) => requestToken(eb.ref('deliveries.start_requested_at')).as('requestedAt'));
}

/** What starting these deliveries needs, with their current start request. */
export async function deliveriesToStart(db: Db, ids: readonly string[]): Promise<RequestedStart[]> {
  if (ids.length === 0) return [];
  return requestedStarts(db).where('deliveries.id', 'in', ids).execute();
}

/** The channel on which the API tells workers that new deliveries wait for their start. */
const STARTS_CHANNEL = 'delivery_starts';

/** Tells every listening worker that committed deliveries wait for their start (after commit: a notification carries nothing). */
export async function announceStarts(db: Db): Promise<void> {
  await sql`select pg_notify(${STARTS_CHANNEL}, '')`.execute(db);
}

/**
 * Calls `onAnnounce` for every announcement until closed, on a connection of its own taken from
 * the pool. `onLost` hears when that connection fails; the caller listens again.
 */
export async function listenForStarts(db: Db, onAnnounce: () => void, onLost: (err: Error) => void): Promise<{ close(): void }> {
  const client = await poolOf(db).connect();
  client.on('notification', onAnnounce);
  client.once('error', onLost);
  try {
    await client.query(`listen ${STARTS_CHANNEL}`);
  } catch (err) {
    client.release(true);
    throw err;
  }
  return { close: () => client.release(true) };
}

/**
 * A worker's immediate starts, in the caller's transaction: locks up to `limit` pending deliveries
 * whose automatic start was asked for less than `freshMs` ago and never confirmed, oldest request
 * first, skipping rows another worker holds. The locks last until the caller commits its
 * confirmations (or its process dies and they are freed for another), so two workers never start
 * the same delivery. Older requests are the reconciler's (claimOverdueStarts), paced by its interval.
 */
export async function lockNewStarts(trx: Db, options: { limit: number; freshMs: number }): Promise<RequestedStart[]> {
  return requestedStarts(trx)
    .where('deliveries.status', '=', 'pending')
    .where('deliveries.workflow_started_at', 'is', null)
    .where('deliveries.start_trigger', '=', 'automatic')
    .where('deliveries.start_requested_at', '>=', sql<Date>`now() - make_interval(secs => ${options.freshMs / 1000})`)
    .orderBy('deliveries.start_requested_at')
    .limit(options.limit)
    .forUpdate('deliveries')
    .skipLocked()
    .execute();
}

/**
 * Leases up to `limit` pending deliveries whose start was asked for more than `overdueMs` ago and
 * never confirmed, oldest request first: one short statement locks them (skipping rows another
 * reconciler holds) and moves their `start_requested_at` to now, so no other reconciler takes them
 * while this one calls Temporal, and none is held locked meanwhile. The predicate is exactly the
 * `deliveries_unstarted` partial index's, so the scan reads only what it may start.
 */
export async function claimOverdueStarts(db: Db, options: { overdueMs: number; limit: number }): Promise<ClaimedStart[]> {
  return db
    .with('claimed', (qb) =>
      qb
        .selectFrom('deliveries')
        .select((eb) => ['id', requestToken(eb.ref('start_requested_at')).as('previous')])
        .where('status', '=', 'pending')
        .where('workflow_started_at', 'is', null)
        .where('start_requested_at', '<', sql<Date>`now() - make_interval(secs => ${options.overdueMs / 1000})`)
        .orderBy('start_requested_at')
        .limit(options.limit)
        .forUpdate()
        .skipLocked(),
    )
    .with('leased', (qb) =>
      qb
        .updateTable('deliveries')
        .from('claimed')
        .set({ start_requested_at: sql<Date>`now()` })
        .whereRef('deliveries.id', '=', 'claimed.id')
        .returning((eb) => ['deliveries.id', 'claimed.previous', requestToken(eb.ref('deliveries.start_requested_at')).as('requested')]),
    )
    .selectFrom('leased')
    .innerJoin('deliveries', 'deliveries.id', 'leased.id')
    .innerJoin('messages', 'messages.id', 'deliveries.message_id')
    .innerJoin('apps', 'apps.id', 'deliveries.app_id')
    .select(START_COLUMNS)
    .select(['leased.requested as requestedAt', 'leased.previous as previousRequestedAt'])
    .execute();
}

/**
 * Records that Temporal confirmed these deliveries' workflow starts, for the request they were
 * started for (the exact request, or the trigger when the caller never read its time): a request
 * made since, such as a resend, stays unconfirmed and so stays the reconciler's to finish.
 */
export async function markStarted(db: Db, ids: readonly string[], request: { requestedAt: string } | { trigger: AttemptTrigger }): Promise<void> {
  if (ids.length === 0) return;
  let update = db.updateTable('deliveries').set({ workflow_started_at: sql<Date>`now()` }).where('id', 'in', ids);
  update = 'requestedAt' in request ? update.where(requestToken(sql.ref('start_requested_at')), '=', request.requestedAt) : update.where('start_trigger', '=', request.trigger);
  await update.execute();
}

/** A delivery `pending` again, its last outcome cleared, with a start of `trigger` asked for now: a resend's or a replay's. */
export function startAgain(trigger: 'manual' | 'replay') {
  return {
    status: 'pending',
    finished_at: null,
    reason: null,
    error: null,
    workflow_started_at: null,
    start_trigger: trigger,
    start_requested_at: sql<Date>`now()`,
    updated_at: sql<Date>`now()`,
  } as const;
}

export type ResendRequest = { kind: 'requested'; start: RequestedStart } | { kind: 'endpoint_inactive' } | { kind: 'endpoint_deleted' } | { kind: 'payload_purged' };

/**
 * A resend of one delivery, for the caller's transaction: the delivery is `pending` again with its
 * last outcome cleared and a `manual` start asked for now. The start itself comes after commit; if
 * it never comes (a crash), the reconciler finds the request overdue and starts it as a resend.
 * Nothing is written when the endpoint is inactive or deleted, or the retention policy removed the
 * message's payload (the message row is locked for that check, so a purge cannot slip in before commit).
 */
export async function requestResend(trx: Db, deliveryId: string): Promise<ResendRequest> {
  const found = await trx
    .selectFrom('deliveries')
    .leftJoin('endpoints', 'endpoints.id', 'deliveries.endpoint_id')
    .select(['endpoints.status', 'deliveries.message_id'])
    .where('deliveries.id', '=', deliveryId)
    .forUpdate('deliveries')
    .executeTakeFirstOrThrow();
  if (found.status === null) return { kind: 'endpoint_deleted' };
  if (found.status !== 'active') return { kind: 'endpoint_inactive' };
  const message = await trx.selectFrom('messages').select('payload_purged_at').where('id', '=', found.message_id).forShare().executeTakeFirstOrThrow();
  if (message.payload_purged_at !== null) return { kind: 'payload_purged' };
  await trx.updateTable('deliveries').set(startAgain('manual')).where('id', '=', deliveryId).execute();
  const [start] = await deliveriesToStart(trx, [deliveryId]);
  return { kind: 'requested', start: start! };
}
