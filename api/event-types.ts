import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { App, EventType } from '../db/database.ts';
import { newId } from '../lib/ids.ts';
import { appRef } from './apps.ts';
import { accountOf } from './auth.ts';
import { ApiError, handle } from './errors.ts';
import { readPage, sendPage } from './pagination.ts';
import { findApp } from './scope.ts';
import { parseBody } from './validation.ts';

// Event types are `webhook_events` in the HostedHooks-compatible API.
export const WebhookEventIn = z.strictObject({
  event_type: z
    .string()
    .trim()
    .regex(/^[\w.:-]{1,100}$/, 'must be 1 to 100 letters, digits, dots, dashes, colons or underscores, such as user.created'),
  description: z.string().max(1000).nullish(),
});

export const webhookEventOut = (eventType: EventType, app: App) => ({
  id: eventType.id,
  event_type: eventType.name,
  description: eventType.description,
  created_at: eventType.created_at.toISOString(),
  app: appRef(app),
});

export function eventTypesRouter(db: Db): Router {
  const router = Router();

  router.get('/apps/:app_id/webhook_events', handle(async (req, res) => {
    const app = await findApp(db, accountOf(res), req.params.app_id!);
    const page = readPage(req);
    const base = db.selectFrom('event_types').where('app_id', '=', app.id);
    const [rows, count] = await Promise.all([
      base.selectAll().orderBy('name').limit(page.perPage).offset(page.offset).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    sendPage(req, res, page, count.n, rows.map((row) => webhookEventOut(row, app)));
  }));

  router.post('/apps/:app_id/webhook_events', handle(async (req, res) => {
    const input = parseBody(WebhookEventIn, req);
    const app = await findApp(db, accountOf(res), req.params.app_id!);
    const created = await db
      .insertInto('event_types')
      .values({ id: newId('eventType'), app_id: app.id, name: input.event_type, description: input.description ?? null })
      .onConflict((oc) => oc.columns(['app_id', 'name']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!created) throw new ApiError(409, 'conflict', `event type ${input.event_type} already exists in this app`);
    res.status(201).json(webhookEventOut(created, app));
  }));

  return router;
}
