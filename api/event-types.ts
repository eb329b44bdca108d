import { Router } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { App, EventType } from '../db/database.ts';
import { newId } from '../lib/ids.ts';
import { AppRef, appRef } from './apps.ts';
import { ApiError, notFound } from './errors.ts';
import { fetchPage, sendPage } from './pagination.ts';
import { definer, type ApiSpec } from './route.ts';
import { Id, Timestamp } from './schemas.ts';
import { findApp } from './scope.ts';

// Event types are `webhook_events` in the HostedHooks-compatible API.
const eventTypeName = z
  .string()
  .trim()
  .regex(/^[\w.:-]{1,100}$/, 'must be 1 to 100 letters, digits, dots, dashes, colons or underscores, such as user.created')
  .meta({ example: 'user.created' });
export const WebhookEventIn = z.strictObject({ event_type: eventTypeName, description: z.string().max(1000).nullish() }).meta({ id: 'WebhookEventIn' });
export const WebhookEventPatch = z.strictObject({ event_type: eventTypeName.optional(), description: z.string().max(1000).nullish() }).meta({ id: 'WebhookEventPatch' });
export const WebhookEventOut = z
  .object({ id: Id('event type', 'evt'), event_type: z.string(), description: z.string().nullable(), created_at: Timestamp, app: AppRef })
  .meta({ id: 'WebhookEvent' });

export const webhookEventOut = (eventType: EventType, app: App): z.infer<typeof WebhookEventOut> => ({
  id: eventType.id,
  event_type: eventType.name,
  description: eventType.description,
  created_at: eventType.created_at.toISOString(),
  app: appRef(app),
});

/** Endpoints that name the event type in their enabled_events (a "*" endpoint names none). */
async function endpointsNaming(db: Db, appId: string, name: string): Promise<number> {
  const row = await db
    .selectFrom('endpoints')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('app_id', '=', appId)
    .where(sql<boolean>`enabled_events @> ${JSON.stringify([name])}::jsonb`)
    .executeTakeFirstOrThrow();
  return row.n;
}

export function eventTypesRouter(db: Db, spec: ApiSpec): Router {
  const router = Router();
  const define = definer(router, spec, db);
  const tag = 'Webhook events';

  const find = async (appId: string, id: string) => {
    const eventType = await db.selectFrom('event_types').selectAll().where('app_id', '=', appId).where('id', '=', id).executeTakeFirst();
    if (!eventType) throw notFound('webhook event');
    return eventType;
  };

  define({ method: 'get', path: '/apps/:app_id/webhook_events', tag, summary: 'List event types', paginated: true, status: 200, response: z.array(WebhookEventOut) }, async ({ req, res, params, page, accountId }) => {
    const app = await findApp(db, accountId, params.app_id!);
    const { rows, total } = await fetchPage(db.selectFrom('event_types').where('app_id', '=', app.id).selectAll().orderBy('name'), page);
    sendPage(req, res, page, total, rows.map((row) => webhookEventOut(row, app)));
  });

  define({ method: 'post', path: '/apps/:app_id/webhook_events', tag, summary: 'Create an event type', body: WebhookEventIn, status: 201, response: WebhookEventOut, errors: [409], idempotent: 'stored' }, async ({ res, params, body, accountId, db }) => {
    const app = await findApp(db, accountId, params.app_id!);
    const created = await db
      .insertInto('event_types')
      .values({ id: newId('eventType'), app_id: app.id, name: body.event_type, description: body.description ?? null })
      .onConflict((oc) => oc.columns(['app_id', 'name']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!created) throw new ApiError(409, 'conflict', `event type ${body.event_type} already exists in this app`);
    res.status(201).json(webhookEventOut(created, app));
  });

  define({ method: 'get', path: '/apps/:app_id/webhook_events/:id', tag, summary: 'Get an event type', status: 200, response: WebhookEventOut }, async ({ res, params, accountId }) => {
    const app = await findApp(db, accountId, params.app_id!);
    res.json(webhookEventOut(await find(app.id, params.id!), app));
  });

  define({
    method: 'patch', path: '/apps/:app_id/webhook_events/:id', tag, summary: 'Update an event type',
    description: 'Renaming answers 409 while endpoints list the old name in enabled_events, so no subscription is silently dropped.',
    body: WebhookEventPatch, status: 200, response: WebhookEventOut, errors: [409],
  }, async ({ res, params, body, accountId }) => {
    const app = await findApp(db, accountId, params.app_id!);
    const eventType = await find(app.id, params.id!);
    if (body.event_type !== undefined && body.event_type !== eventType.name) {
      const users = await endpointsNaming(db, app.id, eventType.name);
      if (users > 0) throw new ApiError(409, 'event_type_in_use', `${users} endpoint(s) subscribe to ${eventType.name} by name; update their enabled_events first`);
      const clash = await db.selectFrom('event_types').select('id').where('app_id', '=', app.id).where('name', '=', body.event_type).executeTakeFirst();
      if (clash) throw new ApiError(409, 'conflict', `event type ${body.event_type} already exists in this app`);
    }
    const updated = await db
      .updateTable('event_types')
      .set({ ...(body.event_type !== undefined ? { name: body.event_type } : {}), ...(body.description !== undefined ? { description: body.description } : {}) })
      .where('id', '=', eventType.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    res.json(webhookEventOut(updated, app));
  });

  define({
    method: 'delete', path: '/apps/:app_id/webhook_events/:id', tag, summary: 'Delete an event type',
    description: 'Answers 409 while endpoints list it in enabled_events. Answers the deleted event type (HostedHooks clients parse every answer as JSON).',
    status: 200, response: WebhookEventOut, errors: [409],
  }, async ({ res, params, accountId }) => {
    const app = await findApp(db, accountId, params.app_id!);
    const eventType = await find(app.id, params.id!);
    const users = await endpointsNaming(db, app.id, eventType.name);
    if (users > 0) throw new ApiError(409, 'event_type_in_use', `${users} endpoint(s) subscribe to ${eventType.name}; update their enabled_events first`);
    await db.deleteFrom('event_types').where('id', '=', eventType.id).execute();
    res.json(webhookEventOut(eventType, app));
  });

  return router;
}
