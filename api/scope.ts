import type { Db } from '../db/connection.ts';
import type { App, Endpoint, Subscriber } from '../db/database.ts';
import { findApp } from '../db/apps.ts';
import { findEndpoint, type EndpointScope } from '../db/endpoints.ts';
import { findSubscriber } from '../db/subscribers.ts';
import { notFound } from './errors.ts';

// Every lookup is scoped by the caller's account: another account's resource is simply "not found" (404).

export async function requireApp(db: Db, accountId: string, appId: string): Promise<App> {
  const app = await findApp(db, accountId, appId);
  if (!app) throw notFound('app');
  return app;
}

export async function requireSubscriber(db: Db, accountId: string, subscriberId: string): Promise<{ subscriber: Subscriber; app: App }> {
  const found = await findSubscriber(db, accountId, subscriberId);
  if (!found) throw notFound('subscription');
  return found;
}

export async function requireEndpoint(db: Db, scope: EndpointScope, endpointId: string): Promise<Endpoint> {
  const endpoint = await findEndpoint(db, scope, endpointId);
  if (!endpoint) throw notFound('endpoint');
  return endpoint;
}
