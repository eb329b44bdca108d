import type { DeliveryToStart } from '../lib/delivery-starter.ts';
import { newId } from '../lib/ids.ts';
import { queryPrepared, type Db, type PreparedStatement } from './connection.ts';
import type { EndpointStatus, Message } from './database.ts';

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

interface TargetRow {
  retry_initial_interval_ms: number | null;
  retry_backoff_coefficient: number | null;
  known: boolean;
  /** The endpoint columns are null on the one row of an app with no matching endpoint. */
  id: string | null;
  subscriber_id: string | null;
  status: EndpointStatus | null;
}

// The endpoint filters are optional: a null $5 / $6 matches every subscriber / endpoint.
const FIND_TARGETS: PreparedStatement = {
  name: 'accept_message_find_targets',
  text: `
    select a.retry_initial_interval_ms, a.retry_backoff_coefficient,
           exists (select 1 from event_types t where t.app_id = a.id and t.name = $3) as known,
           e.id, e.subscriber_id, e.status
    from apps a
    left join endpoints e on e.app_id = a.id and e.version = $4
      and (e.enabled_events = '"*"'::jsonb or e.enabled_events ? $3)
      and ($5::text is null or e.subscriber_id = $5)
      and ($6::text is null or e.id = $6)
    where a.id = $1 and a.account_id = $2`,
};

// Both unique keys (event_id, idempotency key) are per app: a repeat, or a concurrent twin, finds no
// message inserted and so inserts no deliveries either. The deliveries' columns come as arrays
// zipped by unnest, so the statement is the same whatever the fan-out.
const INSERT_MESSAGE: PreparedStatement = {
  name: 'accept_message_insert',
  text: `
    with m as (
      insert into messages (id, app_id, subscriber_id, endpoint_id, event_type, version, data, event_id, override_payload, idempotency_key, request_hash)
      values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
      on conflict do nothing
      returning *
    ), d as (
      insert into deliveries (id, message_id, endpoint_id, app_id, subscriber_id, status)
      select unnest($12::text[]), m.id, unnest($13::text[]), m.app_id, unnest($14::text[]), unnest($15::text[])
      from m
    )
    select * from m`,
};

/**
 * Writes the message and one delivery per matching endpoint (active, subscribed to the event type
 * or "*", same version) in one statement, so an accepted message is durable before the API answers:
 * `pending` for active endpoints, `skipped` for inactive ones (a replay can send those later). A
 * repeated `event_id` or `Idempotency-Key` returns the original message and writes nothing.
 *
 * This is the API's hot path, so it is two prepared statements of hand-written SQL (the query
 * builder and re-planning cost more CPU than the work; see bench/RESULTS.md): one read that checks
 * the app and the event type and finds the endpoints, one write. Reading the endpoints before the
 * write is no weaker than reading them inside a READ COMMITTED transaction: an endpoint changed in
 * between is judged again by the delivery activity when it sends.
 */
export async function acceptMessage(db: Db, input: MessageToAccept): Promise<AcceptResult> {
  const rows = await queryPrepared<TargetRow>(db, FIND_TARGETS, [input.appId, input.accountId, input.eventType, input.version, input.subscriberId ?? null, input.endpointId ?? null]);
  const app = rows[0];
  if (!app) return { kind: 'app_not_found' };
  if (!app.known) return { kind: 'unknown_event_type' };
  const deliveries = rows.flatMap((e) =>
    e.id && e.subscriber_id ? [{ id: newId('delivery'), endpoint_id: e.id, subscriber_id: e.subscriber_id, status: e.status === 'active' ? ('pending' as const) : ('skipped' as const) }] : [],
  );

  const [message] = await queryPrepared<Message>(db, INSERT_MESSAGE, [
    newId('message'), input.appId, input.subscriberId ?? null, input.endpointId ?? null, input.eventType, input.version,
    JSON.stringify(input.data), input.eventId, input.overridePayload, input.idempotencyKey, input.requestHash,
    deliveries.map((d) => d.id), deliveries.map((d) => d.endpoint_id), deliveries.map((d) => d.subscriber_id), deliveries.map((d) => d.status),
  ]);

  if (!message) {
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

  const pending = deliveries
    .filter((d) => d.status === 'pending')
    .map((d) => ({
      id: d.id,
      app_id: input.appId,
      subscriber_id: d.subscriber_id,
      endpoint_id: d.endpoint_id,
      event_type: input.eventType,
      retry_initial_interval_ms: app.retry_initial_interval_ms,
      retry_backoff_coefficient: app.retry_backoff_coefficient,
    }));
  return { kind: 'created', message, pending };
}
