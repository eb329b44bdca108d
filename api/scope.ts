import type { Db } from '../db/connection.ts';
import type { App, Endpoint, Subscriber } from '../db/database.ts';
import { notFound } from './errors.ts';

// Every lookup is scoped by the caller's account: another account's resource is simply "not found".

export async function findApp(db: Db, accountId: string, appId: string): Promise<App> {
  const app = await db.selectFrom('apps').selectAll().where('id', '=', appId).where('account_id', '=', accountId).executeTakeFirst();
  if (!app) throw notFound('app');
  return app;
}

export async function findSubscriber(db: Db, accountId: string, subscriberId: string): Promise<{ subscriber: Subscriber; app: App }> {
  const subscriber = await db.selectFrom('subscribers').selectAll().where('id', '=', subscriberId).executeTakeFirst();
  const app = subscriber && (await db.selectFrom('apps').selectAll().where('id', '=', subscriber.app_id).where('account_id', '=', accountId).executeTakeFirst());
  if (!subscriber || !app) throw notFound('subscription');
  return { subscriber, app };
}

export async function findEndpoint(db: Db, filter: { appId: string } | { subscriberId: string }, endpointId: string): Promise<Endpoint> {
  let query = db.selectFrom('endpoints').selectAll().where('id', '=', endpointId);
  query = 'appId' in filter ? query.where('app_id', '=', filter.appId) : query.where('subscriber_id', '=', filter.subscriberId);
  const endpoint = await query.executeTakeFirst();
  if (!endpoint) throw notFound('endpoint');
  return endpoint;
}
