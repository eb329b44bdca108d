import { sql, type Updateable } from 'kysely';
import { newId } from '../lib/ids.ts';
import { findApp } from './apps.ts';
import type { Db } from './connection.ts';
import type { App, Subscriber, SubscribersTable } from './database.ts';
import { fetchPage, newestFirst, type PageOf, type PageSlice } from './pages.ts';

export function listSubscribers(db: Db, appId: string, slice: PageSlice): Promise<PageOf<Subscriber>> {
  return fetchPage(newestFirst(db.selectFrom('subscribers').where('app_id', '=', appId).selectAll()), slice);
}

/**
 * Adds a subscriber unless the app has `max` already; undefined when it has. Locks the app in the
 * caller's transaction, so concurrent creations queue and cannot pass the limit together.
 */
export async function createSubscriber(trx: Db, appId: string, fields: { name: string; email: string | null }, max: number): Promise<Subscriber | undefined> {
  await trx.selectFrom('apps').select('id').where('id', '=', appId).forUpdate().executeTakeFirstOrThrow();
  const count = await trx.selectFrom('subscribers').select((eb) => eb.fn.countAll<number>().as('n')).where('app_id', '=', appId).executeTakeFirstOrThrow();
  if (Number(count.n) >= max) return undefined;
  return trx.insertInto('subscribers').values({ id: newId('subscriber'), app_id: appId, ...fields }).returningAll().executeTakeFirstOrThrow();
}

/** The subscriber with its app, scoped by the account: another account's subscriber is not found. */
export async function findSubscriber(db: Db, accountId: string, subscriberId: string): Promise<{ subscriber: Subscriber; app: App } | undefined> {
  const subscriber = await db.selectFrom('subscribers').selectAll().where('id', '=', subscriberId).executeTakeFirst();
  const app = subscriber && (await findApp(db, accountId, subscriber.app_id));
  return subscriber && app && { subscriber, app };
}

export function findSubscribers(db: Db, subscriberIds: readonly string[]): Promise<Subscriber[]> {
  if (subscriberIds.length === 0) return Promise.resolve([]);
  return db.selectFrom('subscribers').selectAll().where('id', 'in', subscriberIds).execute();
}

export function updateSubscriber(db: Db, subscriberId: string, changes: Pick<Updateable<SubscribersTable>, 'name' | 'email'>): Promise<Subscriber> {
  return db.updateTable('subscribers').set({ ...changes, updated_at: sql<Date>`now()` }).where('id', '=', subscriberId).returningAll().executeTakeFirstOrThrow();
}

export async function countSubscribers(db: Db, appId: string): Promise<number> {
  const row = await db.selectFrom('subscribers').select((eb) => eb.fn.countAll<number>().as('n')).where('app_id', '=', appId).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A subscriber as lists show it: with how many endpoints it has. */
export type SubscriberWithEndpointCount = Subscriber & { endpoints: number };

/**
 * The app's subscribers whose name or contact email contains `search` (any case; empty: all),
 * newest first, each with its endpoint count.
 */
export function searchSubscribers(db: Db, appId: string, search: string, slice: PageSlice): Promise<PageOf<SubscriberWithEndpointCount>> {
  // LIKE's wildcards in what was typed are matched as themselves.
  const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  let query = db
    .selectFrom('subscribers')
    .where('app_id', '=', appId)
    .selectAll()
    .select(sql<number>`(select count(*)::int from endpoints where endpoints.subscriber_id = subscribers.id)`.as('endpoints'));
  if (search) query = query.where((eb) => eb.or([eb('name', 'ilike', pattern), eb('email', 'ilike', pattern)]));
  return fetchPage(newestFirst(query), slice);
}

/** Refuses every portal link of the subscriber issued so far, and the sessions they opened; false when it does not exist. */
export async function revokePortalLinks(db: Db, subscriberId: string, now: Date): Promise<boolean> {
  const row = await db.updateTable('subscribers').set({ portal_links_revoked_at: now }).where('id', '=', subscriberId).returning('id').executeTakeFirst();
  return row !== undefined;
}

/** The subscriber with its app, unscoped: for the subscriber portal, whose signed session names the subscriber. */
export async function findSubscriberAndApp(db: Db, subscriberId: string): Promise<{ subscriber: Subscriber; app: App } | undefined> {
  const subscriber = await db.selectFrom('subscribers').selectAll().where('id', '=', subscriberId).executeTakeFirst();
  const app = subscriber && (await db.selectFrom('apps').selectAll().where('id', '=', subscriber.app_id).executeTakeFirst());
  return subscriber && app && { subscriber, app };
}
