import { sql } from 'kysely';
import type { DeliveryToStart } from '../lib/delivery-starter.ts';
import { newId } from '../lib/ids.ts';
import type { Db } from './connection.ts';
import type { App, Message } from './database.ts';

export interface MessageToAccept {
  app: App;
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
  | { kind: 'key_reused'; message: Message };

/**
 * Writes the message and one delivery per matching endpoint in one transaction, so an accepted
 * message is durable before the API answers: `pending` for active endpoints, `skipped` for inactive
 * ones (a replay can send those later). A repeated `event_id` or `Idempotency-Key` returns the
 * original message and writes nothing.
 */
export async function acceptMessage(db: Db, input: MessageToAccept): Promise<AcceptResult> {
  return db.transaction().execute(async (trx) => {
    const message = await trx
      .insertInto('messages')
      .values({
        id: newId('message'),
        app_id: input.app.id,
        subscriber_id: input.subscriberId ?? null,
        endpoint_id: input.endpointId ?? null,
        event_type: input.eventType,
        version: input.version,
        data: JSON.stringify(input.data),
        event_id: input.eventId,
        override_payload: input.overridePayload,
        idempotency_key: input.idempotencyKey,
        request_hash: input.requestHash,
      })
      // Both unique keys (event_id, idempotency key) per app; a concurrent twin loses here.
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();

    if (!message) {
      const original = await trx
        .selectFrom('messages')
        .selectAll()
        .where('app_id', '=', input.app.id)
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

    let endpoints = trx
      .selectFrom('endpoints')
      .select(['id', 'subscriber_id', 'status'])
      .where('app_id', '=', input.app.id)
      .where('version', '=', input.version)
      .where((eb) => eb.or([eb('enabled_events', '=', sql<never>`'"*"'::jsonb`), sql<boolean>`enabled_events ? ${input.eventType}`]));
    if (input.subscriberId) endpoints = endpoints.where('subscriber_id', '=', input.subscriberId);
    if (input.endpointId) endpoints = endpoints.where('id', '=', input.endpointId);
    const targets = await endpoints.execute();
    if (targets.length === 0) return { kind: 'created', message, pending: [] };

    const deliveries = await trx
      .insertInto('deliveries')
      .values(
        targets.map((endpoint) => ({
          id: newId('delivery'),
          message_id: message.id,
          endpoint_id: endpoint.id,
          app_id: input.app.id,
          subscriber_id: endpoint.subscriber_id,
          status: endpoint.status === 'active' ? ('pending' as const) : ('skipped' as const),
        })),
      )
      .returning(['id', 'endpoint_id', 'subscriber_id', 'status'])
      .execute();
    const pending = deliveries
      .filter((d) => d.status === 'pending')
      .map((d) => ({
        id: d.id,
        app_id: input.app.id,
        subscriber_id: d.subscriber_id,
        endpoint_id: d.endpoint_id,
        event_type: input.eventType,
        retry_initial_interval_ms: input.app.retry_initial_interval_ms,
        retry_backoff_coefficient: input.app.retry_backoff_coefficient,
      }));
    return { kind: 'created', message, pending };
  });
}
