import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { EnabledEvents, Endpoint, EndpointUpdate, Subscriber } from '../db/database.ts';
import { newId } from '../lib/ids.ts';
import type { SecretBox } from '../lib/secrets.ts';
import { newSigningSecret } from '../lib/signing.ts';
import { accountOf } from './auth.ts';
import { ApiError, handle } from './errors.ts';
import { readPage, sendPage } from './pagination.ts';
import { findApp, findEndpoint, findSubscriber } from './scope.ts';
import { subscriptionRef } from './subscribers.ts';
import { parseBody } from './validation.ts';

const url = z
  .string()
  .trim()
  .max(2000)
  .refine((value) => {
    try {
      return ['http:', 'https:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, 'must be an http(s) URL');
const enabledEvents = z.union([z.literal('*'), z.array(z.string().trim().min(1).max(100)).max(500)]);
const fields = {
  url,
  description: z.string().max(1000).nullish(),
  version: z.string().trim().min(1).max(50),
  status: z.enum(['active', 'inactive']).optional(),
  enabled_events: enabledEvents.optional(),
};
export const EndpointIn = z.strictObject(fields);
export const EndpointPatch = z.strictObject({ ...fields, url: fields.url.optional(), version: fields.version.optional() });

interface EventTypeRef {
  id: string;
  name: string;
  created_at: Date;
}

export const endpointOut = (endpoint: Endpoint, subscriber: Subscriber, eventTypes: EventTypeRef[]) => {
  const enabled = endpoint.enabled_events;
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    version: endpoint.version,
    status: endpoint.status,
    enabled_events: enabled,
    // HostedHooks lists the subscribed event types as objects.
    webhook_events: eventTypes
      .filter((et) => enabled === '*' || enabled.includes(et.name))
      .map((et) => ({ id: et.id, event_type: et.name, created_at: et.created_at.toISOString() })),
    subscription: subscriptionRef(subscriber),
    disabled_reason: endpoint.disabled_reason,
    disabled_at: endpoint.disabled_at?.toISOString() ?? null,
    created_at: endpoint.created_at.toISOString(),
    updated_at: endpoint.updated_at.toISOString(),
  };
};

async function eventTypesOf(db: Db, appId: string): Promise<EventTypeRef[]> {
  return db.selectFrom('event_types').select(['id', 'name', 'created_at']).where('app_id', '=', appId).orderBy('name').execute();
}

/** Enabled events must name event types of the app, so a typo does not silently drop messages. */
function checkEnabledEvents(events: EnabledEvents | undefined, known: EventTypeRef[]): void {
  if (events === undefined || events === '*') return;
  const names = new Set(known.map((et) => et.name));
  const unknown = events.filter((name) => !names.has(name));
  if (unknown.length > 0) {
    throw new ApiError(422, 'unknown_event_type', `enabled_events names event types this app does not have: ${unknown.join(', ')}`, [
      { field: 'enabled_events', message: `unknown event types: ${unknown.join(', ')}` },
    ]);
  }
}

export function endpointsRouter(db: Db, secrets: SecretBox): Router {
  const router = Router();

  const subscribersById = async (ids: string[]) =>
    new Map(ids.length ? (await db.selectFrom('subscribers').selectAll().where('id', 'in', ids).execute()).map((s) => [s.id, s]) : []);

  const list = async (where: { app_id: string } | { subscriber_id: string }, appId: string, req: Parameters<Parameters<typeof handle>[0]>[0], res: Parameters<Parameters<typeof handle>[0]>[1]) => {
    const page = readPage(req);
    const base = 'app_id' in where ? db.selectFrom('endpoints').where('app_id', '=', where.app_id) : db.selectFrom('endpoints').where('subscriber_id', '=', where.subscriber_id);
    const [rows, count, eventTypes] = await Promise.all([
      base.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.perPage).offset(page.offset).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      eventTypesOf(db, appId),
    ]);
    const subscribers = await subscribersById([...new Set(rows.map((r) => r.subscriber_id))]);
    sendPage(req, res, page, count.n, rows.map((row) => endpointOut(row, subscribers.get(row.subscriber_id)!, eventTypes)));
  };

  router.get('/apps/:app_id/endpoints', handle(async (req, res) => {
    const app = await findApp(db, accountOf(res), req.params.app_id!);
    await list({ app_id: app.id }, app.id, req, res);
  }));

  router.get('/apps/:app_id/endpoints/:id', handle(async (req, res) => {
    const app = await findApp(db, accountOf(res), req.params.app_id!);
    const endpoint = await findEndpoint(db, { appId: app.id }, req.params.id!);
    const subscribers = await subscribersById([endpoint.subscriber_id]);
    res.json(endpointOut(endpoint, subscribers.get(endpoint.subscriber_id)!, await eventTypesOf(db, app.id)));
  }));

  // The signing secret, shown only to the provider that owns the endpoint.
  router.get('/apps/:app_id/endpoints/:id/secret', handle(async (req, res) => {
    const app = await findApp(db, accountOf(res), req.params.app_id!);
    const endpoint = await findEndpoint(db, { appId: app.id }, req.params.id!);
    res.json({ key: secrets.decrypt(endpoint.secret) });
  }));

  router.get('/subscriptions/:id/endpoints', handle(async (req, res) => {
    const { subscriber, app } = await findSubscriber(db, accountOf(res), req.params.id!);
    await list({ subscriber_id: subscriber.id }, app.id, req, res);
  }));

  router.post('/subscriptions/:id/endpoints', handle(async (req, res) => {
    const input = parseBody(EndpointIn, req);
    const { subscriber, app } = await findSubscriber(db, accountOf(res), req.params.id!);
    const eventTypes = await eventTypesOf(db, app.id);
    checkEnabledEvents(input.enabled_events, eventTypes);
    const secret = newSigningSecret();
    const endpoint = await db
      .insertInto('endpoints')
      .values({
        id: newId('endpoint'),
        app_id: app.id,
        subscriber_id: subscriber.id,
        url: input.url,
        description: input.description ?? null,
        version: input.version,
        status: input.status ?? 'active',
        enabled_events: JSON.stringify(input.enabled_events ?? '*'),
        secret: secrets.encrypt(secret),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    // The one answer that carries the secret unasked; later, GET …/endpoints/:id/secret.
    res.status(201).json({ ...endpointOut(endpoint, subscriber, eventTypes), secret });
  }));

  router.patch('/subscriptions/:id/endpoints/:endpoint_id', handle(async (req, res) => {
    const input = parseBody(EndpointPatch, req);
    const { subscriber, app } = await findSubscriber(db, accountOf(res), req.params.id!);
    const endpoint = await findEndpoint(db, { subscriberId: subscriber.id }, req.params.endpoint_id!);
    const eventTypes = await eventTypesOf(db, app.id);
    checkEnabledEvents(input.enabled_events, eventTypes);
    const { enabled_events, ...rest } = input;
    const now = new Date();
    const changes: EndpointUpdate = { ...rest, updated_at: now };
    if (enabled_events !== undefined) changes.enabled_events = JSON.stringify(enabled_events);
    // Re-enabling clears why it was disabled.
    if (input.status === 'active' && endpoint.status === 'inactive') Object.assign(changes, { disabled_reason: null, disabled_at: null });
    if (input.status === 'inactive' && endpoint.status === 'active') Object.assign(changes, { disabled_reason: 'disabled through the API', disabled_at: now });
    const updated = await db.updateTable('endpoints').set(changes).where('id', '=', endpoint.id).returningAll().executeTakeFirstOrThrow();
    res.json(endpointOut(updated, subscriber, eventTypes));
  }));

  return router;
}
