import { sql, type Insertable } from 'kysely';
import { newId } from '../lib/ids.ts';
import type { Db } from './connection.ts';
import type { Endpoint, EndpointStatus, EndpointsTable, EndpointUpdate } from './database.ts';
import { fetchPage, newestFirst, type PageOf, type PageSlice } from './pages.ts';

/** Sets an active endpoint inactive; true only for the call that changed it (so only one notifies). */
export async function disableEndpoint(db: Db, endpointId: string, reason: string, now: Date): Promise<boolean> {
  const row = await db
    .updateTable('endpoints')
    .set({ status: 'inactive', disabled_reason: reason, disabled_at: now, last_disabled_at: now, updated_at: now })
    .where('id', '=', endpointId)
    .where('status', '=', 'active')
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** An endpoint is looked up within its app, or within its subscriber. */
export type EndpointScope = { appId: string } | { subscriberId: string };

function endpointsIn(db: Db, scope: EndpointScope) {
  const query = db.selectFrom('endpoints').selectAll();
  return 'appId' in scope ? query.where('app_id', '=', scope.appId) : query.where('subscriber_id', '=', scope.subscriberId);
}

export function listEndpoints(db: Db, scope: EndpointScope, slice: PageSlice): Promise<PageOf<Endpoint>> {
  return fetchPage(newestFirst(endpointsIn(db, scope)), slice);
}

export function findEndpoint(db: Db, scope: EndpointScope, endpointId: string): Promise<Endpoint | undefined> {
  return endpointsIn(db, scope).where('id', '=', endpointId).executeTakeFirst();
}

/**
 * Adds an endpoint unless the subscriber has `max` already; undefined when it has. Locks the
 * subscriber in the caller's transaction, so concurrent creations queue and cannot pass the limit together.
 */
export async function createEndpoint(trx: Db, fields: Omit<Insertable<EndpointsTable>, 'id'>, max: number): Promise<Endpoint | undefined> {
  await trx.selectFrom('subscribers').select('id').where('id', '=', fields.subscriber_id).forUpdate().executeTakeFirstOrThrow();
  const count = await trx.selectFrom('endpoints').select((eb) => eb.fn.countAll<number>().as('n')).where('subscriber_id', '=', fields.subscriber_id).executeTakeFirstOrThrow();
  if (Number(count.n) >= max) return undefined;
  return trx.insertInto('endpoints').values({ id: newId('endpoint'), ...fields }).returningAll().executeTakeFirstOrThrow();
}

export function updateEndpoint(db: Db, endpointId: string, changes: EndpointUpdate): Promise<Endpoint> {
  return db.updateTable('endpoints').set(changes).where('id', '=', endpointId).returningAll().executeTakeFirstOrThrow();
}

/** False when it was already gone (a concurrent delete). */
export async function deleteEndpoint(db: Db, endpointId: string): Promise<boolean> {
  const { numDeletedRows } = await db.deleteFrom('endpoints').where('id', '=', endpointId).executeTakeFirstOrThrow();
  return numDeletedRows > 0n;
}

/**
 * Makes `secret` (encrypted) the signing secret and keeps the current one signing until
 * `previousExpiresAt`. One statement, so concurrent rotations queue on the row: each moves the
 * secret current at its turn to previous_secret (the right-hand `secret` is the row's value before
 * this update). Undefined when the app has no such endpoint.
 */
export function rotateEndpointSecret(db: Db, appId: string, endpointId: string, rotation: { secret: string; previousExpiresAt: Date; now: Date }): Promise<Endpoint | undefined> {
  return db
    .updateTable('endpoints')
    .set((eb) => ({ previous_secret: eb.ref('secret'), secret: rotation.secret, previous_secret_expires_at: rotation.previousExpiresAt, updated_at: rotation.now }))
    .where('id', '=', endpointId)
    .where('app_id', '=', appId)
    .returningAll()
    .executeTakeFirst();
}

/** Endpoints that name the event type in their enabled_events (a "*" endpoint names none). */
export async function countEndpointsNaming(db: Db, appId: string, eventType: string): Promise<number> {
  const row = await db
    .selectFrom('endpoints')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('app_id', '=', appId)
    .where(sql<boolean>`enabled_events @> ${JSON.stringify([eventType])}::jsonb`)
    .executeTakeFirstOrThrow();
  return row.n;
}

/** How many of the app's endpoints are active and how many inactive (disabled). */
export async function countEndpointsByStatus(db: Db, appId: string): Promise<Record<EndpointStatus, number>> {
  const rows = await db.selectFrom('endpoints').select((eb) => ['status', eb.fn.countAll<number>().as('n')]).where('app_id', '=', appId).groupBy('status').execute();
  const counts: Record<EndpointStatus, number> = { active: 0, inactive: 0 };
  for (const row of rows) counts[row.status] = Number(row.n);
  return counts;
}

/** These apps' inactive endpoints, most recently disabled first. */
export function listDisabledEndpoints(db: Db, appIds: readonly string[], limit: number) {
  if (appIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('endpoints')
    .innerJoin('subscribers', 'subscribers.id', 'endpoints.subscriber_id')
    .select(['endpoints.id', 'endpoints.app_id', 'endpoints.url', 'endpoints.subscriber_id', 'subscribers.name as subscriber_name', 'endpoints.disabled_reason', 'endpoints.disabled_at'])
    .where('endpoints.app_id', 'in', appIds)
    .where('endpoints.status', '=', 'inactive')
    .orderBy('endpoints.disabled_at', (ob) => ob.desc().nullsLast())
    .orderBy('endpoints.id', 'desc')
    .limit(limit)
    .execute();
}
