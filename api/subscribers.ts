import { Router } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { App, Subscriber } from '../db/database.ts';
import { newId } from '../lib/ids.ts';
import { AppRef, appRef } from './apps.ts';
import { ApiError } from './errors.ts';
import { fetchPage, sendPage } from './pagination.ts';
import { definer, type ApiSpec } from './route.ts';
import { Id, optionalEmail, Timestamp } from './schemas.ts';
import { singleLine } from './validation.ts';
import { findApp, findSubscriber } from './scope.ts';

// Subscribers are `subscriptions` in the HostedHooks-compatible API; the word stays in this layer.
export const SubscriptionIn = z.strictObject({ name: singleLine(200), email: optionalEmail.meta({ description: 'Contact told when an endpoint is disabled' }) }).meta({ id: 'SubscriptionIn' });
export const SubscriptionPatch = z.strictObject({ name: singleLine(200).optional(), email: optionalEmail }).meta({ id: 'SubscriptionPatch' });
export const SubscriptionRef = z
  .object({ id: Id('subscription', 'sub'), subscriber_name: z.string(), email: z.string().nullable(), created_at: Timestamp })
  .meta({ id: 'SubscriptionRef' });
export const SubscriptionOut = SubscriptionRef.extend({ app: AppRef }).meta({ id: 'Subscription' });

export const subscriptionRef = (subscriber: Subscriber): z.infer<typeof SubscriptionRef> => ({
  id: subscriber.id,
  subscriber_name: subscriber.name,
  email: subscriber.email,
  created_at: subscriber.created_at.toISOString(),
});

export const subscriptionOut = (subscriber: Subscriber, app: App): z.infer<typeof SubscriptionOut> => ({ ...subscriptionRef(subscriber), app: appRef(app) });

export function subscribersRouter(db: Db, spec: ApiSpec, limits: { maxSubscribersPerApp: number }): Router {
  const router = Router();
  const define = definer(router, spec, db);
  const tag = 'Subscriptions';

  define({ method: 'get', path: '/apps/:app_id/subscriptions', tag, summary: 'List subscriptions', paginated: true, status: 200, response: z.array(SubscriptionOut) }, async ({ req, res, params, page, accountId }) => {
    const app = await findApp(db, accountId, params.app_id!);
    const { rows, total } = await fetchPage(db.selectFrom('subscribers').where('app_id', '=', app.id).selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'), page);
    sendPage(req, res, page, total, rows.map((row) => subscriptionOut(row, app)));
  });

  define({ method: 'post', path: '/apps/:app_id/subscriptions', tag, summary: 'Create a subscription', body: SubscriptionIn, status: 201, response: SubscriptionOut, idempotent: 'stored' }, async ({ res, params, body, accountId, db }) => {
    const app = await findApp(db, accountId, params.app_id!);
    // Locking the app (db is this request's transaction) serialises creations, so concurrent ones cannot pass the limit together.
    await db.selectFrom('apps').select('id').where('id', '=', app.id).forUpdate().executeTakeFirstOrThrow();
    const count = await db.selectFrom('subscribers').select((eb) => eb.fn.countAll<number>().as('n')).where('app_id', '=', app.id).executeTakeFirstOrThrow();
    if (Number(count.n) >= limits.maxSubscribersPerApp) {
      throw new ApiError(422, 'limit_exceeded', `an app can have at most ${limits.maxSubscribersPerApp} subscriptions (MAX_SUBSCRIBERS_PER_APP)`);
    }
    const subscriber = await db.insertInto('subscribers').values({ id: newId('subscriber'), app_id: app.id, name: body.name, email: body.email ?? null }).returningAll().executeTakeFirstOrThrow();
    res.status(201).json(subscriptionOut(subscriber, app));
  });

  define({ method: 'get', path: '/subscriptions/:id', tag, summary: 'Get a subscription', status: 200, response: SubscriptionOut }, async ({ res, params, accountId }) => {
    const { subscriber, app } = await findSubscriber(db, accountId, params.id!);
    res.json(subscriptionOut(subscriber, app));
  });

  define({ method: 'patch', path: '/subscriptions/:id', tag, summary: 'Update a subscription', body: SubscriptionPatch, status: 200, response: SubscriptionOut }, async ({ res, params, body, accountId }) => {
    const { subscriber, app } = await findSubscriber(db, accountId, params.id!);
    const updated = await db.updateTable('subscribers').set({ ...body, updated_at: sql<Date>`now()` }).where('id', '=', subscriber.id).returningAll().executeTakeFirstOrThrow();
    res.json(subscriptionOut(updated, app));
  });

  return router;
}
