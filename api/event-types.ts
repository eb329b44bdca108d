import type { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { App, EventType } from '../db/database.ts';
import { countEndpointsNaming } from '../db/endpoints.ts';
import { createEventType, deleteEventType, eventTypeNameTaken, findEventType, listEventTypes, updateEventType } from '../db/event-types.ts';
import { AppRef, appRef } from './apps.ts';
import { ApiError, notFound } from './errors.ts';
import { sendPage } from './pagination.ts';
import { resourceRouter, type ApiSpec } from './route.ts';
import { Id, Timestamp } from './schemas.ts';
import { requireApp } from './scope.ts';

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

export function eventTypesRouter(db: Db, spec: ApiSpec): Router {
  const { router, define } = resourceRouter(spec, db, 'Webhook events');

  const requireEventType = async (appId: string, id: string) => {
    const eventType = await findEventType(db, appId, id);
    if (!eventType) throw notFound('webhook event');
    return eventType;
  };

  define({ method: 'get', path: '/apps/:app_id/webhook_events', summary: 'List event types', paginated: true, status: 200, response: z.array(WebhookEventOut) }, async ({ req, res, params, page, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    sendPage(req, res, page, await listEventTypes(db, app.id, page), (row) => webhookEventOut(row, app));
  });

  define({ method: 'post', path: '/apps/:app_id/webhook_events', summary: 'Create an event type', body: WebhookEventIn, status: 201, response: WebhookEventOut, errors: [409], idempotent: 'stored' }, async ({ res, params, body, accountId, db }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    const created = await createEventType(db, app.id, { name: body.event_type, description: body.description ?? null });
    if (!created) throw new ApiError(409, 'conflict', `event type ${body.event_type} already exists in this app`);
    res.status(201).json(webhookEventOut(created, app));
  });

  define({ method: 'get', path: '/apps/:app_id/webhook_events/:id', summary: 'Get an event type', status: 200, response: WebhookEventOut }, async ({ res, params, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    res.json(webhookEventOut(await requireEventType(app.id, params.id!), app));
  });

  define({
    method: 'patch', path: '/apps/:app_id/webhook_events/:id', summary: 'Update an event type',
    description: 'Renaming answers 409 while endpoints list the old name in enabled_events, so no subscription is silently dropped.',
    body: WebhookEventPatch, status: 200, response: WebhookEventOut, errors: [409],
  }, async ({ res, params, body, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    const eventType = await requireEventType(app.id, params.id!);
    if (body.event_type !== undefined && body.event_type !== eventType.name) {
      const users = await countEndpointsNaming(db, app.id, eventType.name);
      if (users > 0) throw new ApiError(409, 'event_type_in_use', `${users} endpoint(s) subscribe to ${eventType.name} by name; update their enabled_events first`);
      if (await eventTypeNameTaken(db, app.id, body.event_type)) throw new ApiError(409, 'conflict', `event type ${body.event_type} already exists in this app`);
    }
    const updated = await updateEventType(db, eventType.id, { name: body.event_type, description: body.description });
    res.json(webhookEventOut(updated, app));
  });

  define({
    method: 'delete', path: '/apps/:app_id/webhook_events/:id', summary: 'Delete an event type',
    description: 'Answers 409 while endpoints list it in enabled_events. Answers the deleted event type (HostedHooks clients parse every answer as JSON).',
    status: 200, response: WebhookEventOut, errors: [409],
  }, async ({ res, params, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    const eventType = await requireEventType(app.id, params.id!);
    const users = await countEndpointsNaming(db, app.id, eventType.name);
    if (users > 0) throw new ApiError(409, 'event_type_in_use', `${users} endpoint(s) subscribe to ${eventType.name}; update their enabled_events first`);
    await deleteEventType(db, eventType.id);
    res.json(webhookEventOut(eventType, app));
  });

  return router;
}
