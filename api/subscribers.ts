import type { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { App, Subscriber } from '../db/database.ts';
import { createSubscriber, listSubscribers, updateSubscriber } from '../db/subscribers.ts';
import { AppRef, appRef } from './apps.ts';
import { ApiError } from './errors.ts';
import { sendPage } from './pagination.ts';
import { resourceRouter, type ApiSpec } from './route.ts';
import { Id, optionalEmail, Timestamp } from './schemas.ts';
import { singleLine } from './validation.ts';
import { requireApp, requireSubscriber } from './scope.ts';

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

/**
 * Adds a subscriber within MAX_SUBSCRIBERS_PER_APP (an ApiError past it), for the API and the portal.
 * `trx` must be a transaction: it holds the app's lock that keeps creations within the limit.
 */
export async function addSubscriber(trx: Db, appId: string, body: z.output<typeof SubscriptionIn>, maxSubscribersPerApp: number): Promise<Subscriber> {
  const subscriber = await createSubscriber(trx, appId, { name: body.name, email: body.email ?? null }, maxSubscribersPerApp);
  if (!subscriber) throw new ApiError(422, 'limit_exceeded', `an app can have at most ${maxSubscribersPerApp} subscriptions (MAX_SUBSCRIBERS_PER_APP)`);
  return subscriber;
}

export function subscribersRouter(db: Db, spec: ApiSpec, limits: { maxSubscribersPerApp: number }): Router {
  const { router, define } = resourceRouter(spec, db, 'Subscriptions');

  define({ method: 'get', path: '/apps/:app_id/subscriptions', summary: 'List subscriptions', paginated: true, status: 200, response: z.array(SubscriptionOut) }, async ({ req, res, params, page, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    sendPage(req, res, page, await listSubscribers(db, app.id, page), (row) => subscriptionOut(row, app));
  });

  define({ method: 'post', path: '/apps/:app_id/subscriptions', summary: 'Create a subscription', body: SubscriptionIn, status: 201, response: SubscriptionOut, idempotent: 'stored' }, async ({ res, params, body, accountId, db }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    // db is this request's transaction, as addSubscriber needs.
    const subscriber = await addSubscriber(db, app.id, body, limits.maxSubscribersPerApp);
    res.status(201).json(subscriptionOut(subscriber, app));
  });

  define({ method: 'get', path: '/subscriptions/:id', summary: 'Get a subscription', status: 200, response: SubscriptionOut }, async ({ res, params, accountId }) => {
    const { subscriber, app } = await requireSubscriber(db, accountId, params.id!);
    res.json(subscriptionOut(subscriber, app));
  });

  define({ method: 'patch', path: '/subscriptions/:id', summary: 'Update a subscription', body: SubscriptionPatch, status: 200, response: SubscriptionOut }, async ({ res, params, body, accountId }) => {
    const { subscriber, app } = await requireSubscriber(db, accountId, params.id!);
    res.json(subscriptionOut(await updateSubscriber(db, subscriber.id, body), app));
  });

  return router;
}
