import { newId } from '../lib/ids.ts';
import { queryPrepared, type Db, type PreparedStatement } from './connection.ts';
import type { Message } from './database.ts';
import type { DeliveryToStart } from './delivery-starts.ts';
import { fetchPage, newestFirst, type PageOf, type PageSlice } from './pages.ts';

export interface MessageToAccept {
  accountId: string;
  appId: string;
  /** Narrows the fan-out to one subscriber, or to one endpoint. */
  subscriberId?: string;
  endpointId?: string;
  eventType: string;
  version: string;
  data: unknown;
  eventId: string | null;
  overridePayload: boolean;
  idempotencyKey: string | null;
  requestHash: string;
}

export type AcceptResult =
  | { kind: 'created'; message: Message; pending: DeliveryToStart[] }
  | { kind: 'repeat'; message: Message }
  | { kind: 'key_reused'; message: Message }
  | { kind: 'app_not_found' }
  | { kind: 'unknown_event_type' };

/** The one row of ACCEPT_MESSAGE; the message columns are null when no message was inserted. */
interface AcceptRow {
  known: boolean;
  retry_initial_interval_ms: number | null;
  retry_backoff_coefficient: number | null;
  matched: number;
  message_id: string | null;
  /** As stored (jsonb), so the answer shows what GET and the delivery will. */
  data: unknown;
  created_at: Date | null;
  deliveries: [id: string, endpointId: string, subscriberId: string, status: 'pending' | 'skipped'][];
}

/**
 * The whole acceptance in one statement, so one round trip: check the app (in the caller's account)
 * and the event type, find the matching endpoints, insert the message and its deliveries. Delivery
 * ids are made by the caller ($12, numbered to the endpoints in id order); when more endpoints
 * match than ids were sent, nothing is written and `matched` says how many to send next time.
 * Both unique keys of a message (event_id, idempotency key) are per app: a repeat, or a concurrent
 * twin, inserts no message and so no deliveries. A null $10 / $11 matches every subscriber /
 * endpoint.
 */
const ACCEPT_MESSAGE: PreparedStatement = {
  name: 'accept_message',
  text: `
    with app as (
      select a.id, a.retry_initial_interval_ms, a.retry_backoff_coefficient,
             exists (select 1 from event_types t where t.app_id = a.id and t.name = $4) as known
      from apps a
      where a.id = $2 and a.account_id = $13
    ), target as (
      select e.id, e.subscriber_id, e.status, row_number() over (order by e.id) as n
      from endpoints e join app on e.app_id = app.id and app.known
      where e.version = $5 and (e.enabled_events = '"*"'::jsonb or e.enabled_events ? $4)
        and ($10::text is null or e.subscriber_id = $10) and ($11::text is null or e.id = $11)
    ), matched as (
      select count(*)::int as n from target
    ), m as (
      insert into messages (id, app_id, subscriber_id, endpoint_id, event_type, version, data, event_id, override_payload, idempotency_key, request_hash)
      select $1::text, app.id, $10::text, $11::text, $4::text, $5::text, $6::jsonb, $7::text, $8::boolean, $9::text, $3::text
      from app, matched
      where app.known and matched.n <= cardinality($12::text[])
      on conflict do nothing
      returning id, app_id, data, created_at
    ), d as (
      insert into deliveries (id, message_id, endpoint_id, app_id, subscriber_id, status)
      select ($12::text[])[target.n], m.id, target.id, m.app_id, target.subscriber_id,
             case when target.status = 'active' then 'pending' else 'skipped' end
      from m, target
      returning id, endpoint_id, subscriber_id, status
    )
    select app.known, app.retry_initial_interval_ms, app.retry_backoff_coefficient, matched.n as matched,
           m.id as message_id, m.data, m.created_at,
           (select coalesce(json_agg(json_build_array(d.id, d.endpoint_id, d.subscriber_id, d.status)), '[]') from d) as deliveries
    from app cross join matched left join m on true`,
};

/** Delivery ids sent with the first try; more endpoints than this cost a second round trip. */
const FIRST_TRY_IDS = 4;

/**
 * Writes the message and one delivery per matching endpoint (active, subscribed to the event type
 * or "*", same version) in one statement, so an accepted message is durable before the API answers:
 * `pending` for active endpoints, `skipped` for inactive ones (a replay can send those later). A
 * repeated `event_id` or `Idempotency-Key` returns the original message and writes nothing.
 *
 * This is the API's hot path: one prepared statement of hand-written SQL, one round trip for up to
 * FIRST_TRY_IDS endpoints (the query builder, re-planning and extra round trips cost more CPU than
 * the work itself; see bench/RESULTS.md).
 */
export async function acceptMessage(db: Db, input: MessageToAccept): Promise<AcceptResult> {
  const messageId = newId('message');
  const data = JSON.stringify(input.data);
  let ids = FIRST_TRY_IDS;
  let row: AcceptRow | undefined;
  for (let tries = 0; tries < 3; tries++) {
    [row] = await queryPrepared<AcceptRow>(db, ACCEPT_MESSAGE, [
      messageId, input.appId, input.requestHash, input.eventType, input.version, data, input.eventId, input.overridePayload,
      input.idempotencyKey, input.subscriberId ?? null, input.endpointId ?? null, Array.from({ length: ids }, () => newId('delivery')), input.accountId,
    ]);
    // Endpoints added since the count are the only reason to go round more than twice.
    if (!row || row.message_id || !row.known || row.matched <= ids) break;
    ids = row.matched + FIRST_TRY_IDS;
  }
  if (!row) return { kind: 'app_not_found' };
  if (!row.known) return { kind: 'unknown_event_type' };
  if (row.matched > ids) throw new Error('the endpoints of this app kept changing while a message was accepted; try again');
  if (!row.message_id || !row.created_at) {
    const original = await db
      .selectFrom('messages')
      .selectAll()
      .where('app_id', '=', input.appId)
      .where((eb) =>
        eb.or([
          ...(input.idempotencyKey !== null ? [eb('idempotency_key', '=', input.idempotencyKey)] : []),
          ...(input.eventId !== null ? [eb('event_id', '=', input.eventId)] : []),
        ]),
      )
      .orderBy('created_at')
      .executeTakeFirstOrThrow();
    const keyReused = input.idempotencyKey !== null && original.idempotency_key === input.idempotencyKey && original.request_hash !== input.requestHash;
    return { kind: keyReused ? 'key_reused' : 'repeat', message: original };
  }

  const message: Message = {
    id: row.message_id, app_id: input.appId, subscriber_id: input.subscriberId ?? null, endpoint_id: input.endpointId ?? null,
    event_type: input.eventType, version: input.version, data: row.data, event_id: input.eventId, override_payload: input.overridePayload,
    idempotency_key: input.idempotencyKey, request_hash: input.requestHash, payload_purged_at: null, created_at: row.created_at,
  };
  const retry = { retry_initial_interval_ms: row.retry_initial_interval_ms, retry_backoff_coefficient: row.retry_backoff_coefficient };
  const pending = row.deliveries.flatMap(([id, endpoint_id, subscriber_id, status]) =>
    status === 'pending' ? [{ id, app_id: input.appId, subscriber_id, endpoint_id, event_type: input.eventType, ...retry }] : [],
  );
  return { kind: 'created', message, pending };
}

export function listMessages(db: Db, appId: string, slice: PageSlice): Promise<PageOf<Message>> {
  return fetchPage(newestFirst(db.selectFrom('messages').where('app_id', '=', appId).selectAll()), slice);
}

export function findMessage(db: Db, appId: string, messageId: string): Promise<Message | undefined> {
  return db.selectFrom('messages').selectAll().where('app_id', '=', appId).where('id', '=', messageId).executeTakeFirst();
}

/** Messages the app accepted at or after `since`. */
export async function countMessagesSince(db: Db, appId: string, since: Date): Promise<number> {
  const row = await db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('app_id', '=', appId).where('created_at', '>=', since).executeTakeFirstOrThrow();
  return Number(row.n);
}
