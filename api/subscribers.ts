import { Router } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { App, Subscriber } from '../db/database.ts';
import { newId } from '../lib/ids.ts';
import { appRef } from './apps.ts';
import { accountOf } from './auth.ts';
import { handle } from './errors.ts';
import { readPage, sendPage } from './pagination.ts';
import { findApp, findSubscriber } from './scope.ts';
import { nonEmpty, optionalEmail, parseBody } from './validation.ts';

// Subscribers are `subscriptions` in the HostedHooks-compatible API; the word stays in this layer.
export const SubscriptionIn = z.strictObject({ name: nonEmpty(200), email: optionalEmail });
export const SubscriptionPatch = z.strictObject({ name: nonEmpty(200).optional(), email: optionalEmail });

export const subscriptionRef = (subscriber: Subscriber) => ({
  id: subscriber.id,
  subscriber_name: subscriber.name,
  email: subscriber.email,
  created_at: subscriber.created_at.toISOString(),
});

export const subscriptionOut = (subscriber: Subscriber, app: App) => ({ ...subscriptionRef(subscriber), app: appRef(app) });

export function subscribersRouter(db: Db): Router {
  const router = Router();

  router.get('/apps/:app_id/subscriptions', handle(async (req, res) => {
    const app = await findApp(db, accountOf(res), req.params.app_id!);
    const page = readPage(req);
    const base = db.selectFrom('subscribers').where('app_id', '=', app.id);
    const [rows, count] = await Promise.all([
      base.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.perPage).offset(page.offset).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    sendPage(req, res, page, count.n, rows.map((row) => subscriptionOut(row, app)));
  }));

  router.post('/apps/:app_id/subscriptions', handle(async (req, res) => {
    const input = parseBody(SubscriptionIn, req);
    const app = await findApp(db, accountOf(res), req.params.app_id!);
    const subscriber = await db
      .insertInto('subscribers')
      .values({ id: newId('subscriber'), app_id: app.id, name: input.name, email: input.email ?? null })
      .returningAll()
      .executeTakeFirstOrThrow();
    res.status(201).json(subscriptionOut(subscriber, app));
  }));

  router.get('/subscriptions/:id', handle(async (req, res) => {
    const { subscriber, app } = await findSubscriber(db, accountOf(res), req.params.id!);
    res.json(subscriptionOut(subscriber, app));
  }));

  router.patch('/subscriptions/:id', handle(async (req, res) => {
    const input = parseBody(SubscriptionPatch, req);
    const { subscriber, app } = await findSubscriber(db, accountOf(res), req.params.id!);
    const updated = await db
      .updateTable('subscribers')
      .set({ ...input, updated_at: sql<Date>`now()` })
      .where('id', '=', subscriber.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    res.json(subscriptionOut(updated, app));
  }));

  return router;
}
