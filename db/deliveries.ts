import { sql } from 'kysely';
import { queryPrepared, type Db, type PreparedStatement } from './connection.ts';
import type { DeliveryReason, DeliveryStatus, EndpointStatus } from './database.ts';
import type { PageOf, PageSlice } from './pages.ts';

/**
 * A delivery joined with its message and app, and with its endpoint when that still exists (a
 * deleted endpoint leaves its deliveries behind). Every step of a delivery reads through this join
 * and picks its own columns, except the send activity's hot path (LOAD_DELIVERY, the same join in SQL).
 */
export function deliveryContext(db: Db) {
  return db
    .selectFrom('deliveries')
    .innerJoin('messages', 'messages.id', 'deliveries.message_id')
    .innerJoin('apps', 'apps.id', 'deliveries.app_id')
    .leftJoin('endpoints', 'endpoints.id', 'deliveries.endpoint_id');
}

/** What one signed attempt needs: the message to send, the endpoint's URL, status and secrets, and the run's attempts so far. */
export interface DeliveryToSend {
  delivery_status: DeliveryStatus;
  app_id: string;
  subscriber_id: string;
  endpoint_id: string;
  message_id: string;
  event_type: string;
  version: string;
  data: unknown;
  override_payload: boolean;
  message_created_at: Date;
  /** Set once the retention policy removed the payload: nothing may be sent any more. */
  payload_purged_at: Date | null;
  /** Null when the endpoint was deleted. */
  url: string | null;
  endpoint_status: EndpointStatus | null;
  secret: string | null;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  /** Attempts recorded for the delivery by the workflow run `runId`. */
  attempts_of_run: number;
}

/**
 * The send activity's read, one prepared statement (the activity's hot path, like the API's accept):
 * the delivery with its message and endpoint, and how many attempts the run already recorded.
 */
const LOAD_DELIVERY: PreparedStatement = {
  name: 'load_delivery_to_send',
  text: `
    select d.status as delivery_status, d.app_id, d.subscriber_id, d.endpoint_id,
           m.id as message_id, m.event_type, m.version, m.data, m.override_payload, m.created_at as message_created_at, m.payload_purged_at,
           e.url, e.status as endpoint_status, e.secret, e.previous_secret, e.previous_secret_expires_at,
           (select count(*)::int from attempts a where a.delivery_id = d.id and a.workflow_run_id = $2) as attempts_of_run
    from deliveries d
    join messages m on m.id = d.message_id
    left join endpoints e on e.id = d.endpoint_id
    where d.id = $1`,
};

export async function findDeliveryToSend(db: Db, deliveryId: string, runId: string): Promise<DeliveryToSend | undefined> {
  const [row] = await queryPrepared<DeliveryToSend>(db, LOAD_DELIVERY, [deliveryId, runId]);
  return row;
}

/** What the mail about a disabled endpoint says, and whom of the account it goes to. */
export function findDisabledEndpointNotice(db: Db, deliveryId: string) {
  return deliveryContext(db)
    .innerJoin('subscribers', 'subscribers.id', 'deliveries.subscriber_id')
    .select(['apps.account_id', 'apps.id as app_id', 'apps.name as app_name', 'deliveries.subscriber_id', 'deliveries.endpoint_id', 'endpoints.url', 'endpoints.disabled_reason'])
    .select(['subscribers.name as subscriber_name', 'subscribers.email as subscriber_email', 'messages.id as message_id', 'messages.event_type'])
    .where('deliveries.id', '=', deliveryId)
    .executeTakeFirst();
}

export type DisabledEndpointNotice = NonNullable<Awaited<ReturnType<typeof findDisabledEndpointNotice>>>;

/**
 * Ends a pending delivery without success. Returns its endpoint id, or undefined when it was not
 * pending (already ended, or its row is gone), so a repeated call changes nothing.
 */
export async function endDelivery(
  db: Db,
  deliveryId: string,
  ending: { status: 'skipped' | 'failed'; reason: DeliveryReason; error: string | null },
  now: Date,
): Promise<string | undefined> {
  const row = await db
    .updateTable('deliveries')
    .set({ status: ending.status, reason: ending.reason, error: ending.error, finished_at: now, updated_at: now })
    .where('id', '=', deliveryId)
    .where('status', '=', 'pending')
    .returning('endpoint_id')
    .executeTakeFirst();
  return row?.endpoint_id;
}

/** A message's deliveries, oldest first, each with how many attempts it made and when the last was. */
function deliveriesOfMessage(db: Db, messageId: string) {
  return db
    .selectFrom('deliveries')
    .leftJoin('attempts', 'attempts.delivery_id', 'deliveries.id')
    .select(['deliveries.id', 'deliveries.message_id', 'deliveries.endpoint_id', 'deliveries.subscriber_id', 'deliveries.status', 'deliveries.reason', 'deliveries.error'])
    .select(['deliveries.created_at', 'deliveries.finished_at'])
    .select((eb) => [eb.fn.count<number>('attempts.id').as('attempts'), eb.fn.max('attempts.created_at').as('last_attempt_at')])
    .where('deliveries.message_id', '=', messageId)
    .groupBy('deliveries.id')
    .orderBy('deliveries.created_at')
    .orderBy('deliveries.id');
}

export type MessageDelivery = Awaited<ReturnType<ReturnType<typeof deliveriesOfMessage>['execute']>>[number];

export function findMessageDeliveries(db: Db, messageId: string): Promise<MessageDelivery[]> {
  return deliveriesOfMessage(db, messageId).execute();
}

export async function listMessageDeliveries(db: Db, messageId: string, slice: PageSlice): Promise<PageOf<MessageDelivery>> {
  const [rows, count] = await Promise.all([
    deliveriesOfMessage(db, messageId).limit(slice.limit).offset(slice.offset).execute(),
    // Counted apart: the page query groups by delivery.
    db.selectFrom('deliveries').select((eb) => eb.fn.countAll<number>().as('n')).where('message_id', '=', messageId).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: count.n };
}

/** Deliveries that ended in one hour or day: how many succeeded and how many failed. */
export interface OutcomeBucket {
  start: Date;
  succeeded: number;
  failed: number;
}

/**
 * The deliveries of these apps that ended since `since`, counted per `unit` (UTC), oldest first,
 * every bucket present (zero when nothing ended in it), so a chart has no gaps.
 */
export async function deliveryOutcomes(db: Db, appIds: readonly string[], since: Date, unit: 'hour' | 'day'): Promise<OutcomeBucket[]> {
  const step = unit === 'hour' ? sql`interval '1 hour'` : sql`interval '1 day'`;
  const rows = await sql<{ start: Date; succeeded: number; failed: number }>`
    with buckets as (
      select generate_series(date_trunc(${unit}, ${since}::timestamptz, 'UTC'), date_trunc(${unit}, now(), 'UTC'), ${step}) as start
    ), counted as (
      select date_trunc(${unit}, finished_at, 'UTC') as start,
             count(*) filter (where status = 'succeeded')::int as succeeded,
             count(*) filter (where status = 'failed')::int as failed
      from deliveries
      where app_id = any(${[...appIds]}::text[]) and finished_at >= ${since}
      group by 1
    )
    select buckets.start, coalesce(counted.succeeded, 0) as succeeded, coalesce(counted.failed, 0) as failed
    from buckets left join counted using (start)
    order by buckets.start`.execute(db);
  return rows.rows;
}

/** Per app, how many of its deliveries that ended since `since` succeeded and how many failed. */
export async function deliveryTotalsByApp(db: Db, appIds: readonly string[], since: Date): Promise<Map<string, { succeeded: number; failed: number }>> {
  if (appIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('deliveries')
    .select((eb) => [
      'app_id',
      eb.fn.countAll<number>().filterWhere('status', '=', 'succeeded').as('succeeded'),
      eb.fn.countAll<number>().filterWhere('status', '=', 'failed').as('failed'),
    ])
    .where('app_id', 'in', appIds)
    .where('finished_at', '>=', since)
    .groupBy('app_id')
    .execute();
  return new Map(rows.map((r) => [r.app_id, { succeeded: Number(r.succeeded), failed: Number(r.failed) }]));
}
