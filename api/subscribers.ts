import type { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { App, Subscriber } from '../db/database.ts';
import { createSubscriber, listSubscribers, revokePortalLinks, updateSubscriber } from '../db/subscribers.ts';
import { issuePortalLink, PORTAL_LINK_DEFAULT_TTL_MS, PORTAL_LINK_MAX_TTL_MS } from '../lib/portal-links.ts';
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

const MIN_PORTAL_LINK_TTL_S = 60;
const MAX_PORTAL_LINK_TTL_S = PORTAL_LINK_MAX_TTL_MS / 1000;
export const PortalLinkIn = z
  .strictObject({
    expires_in: z
      .number()
      .int('must be a whole number of seconds')
      .min(MIN_PORTAL_LINK_TTL_S, `must be at least ${MIN_PORTAL_LINK_TTL_S} seconds`)
      .max(MAX_PORTAL_LINK_TTL_S, `must be at most ${MAX_PORTAL_LINK_TTL_S} seconds (30 days)`)
      .optional()
      .meta({ description: `Seconds the link opens the portal for: ${MIN_PORTAL_LINK_TTL_S} to ${MAX_PORTAL_LINK_TTL_S} (30 days); default ${PORTAL_LINK_DEFAULT_TTL_MS / 1000} (24 hours)` }),
  })
  .meta({ id: 'PortalLinkIn' });
export const PortalLinkOut = z
  .object({
    url: z.string().meta({ format: 'uri', description: "Opens the subscription's portal, signed in, until it expires or the links are revoked" }),
    expires_at: Timestamp,
  })
  .meta({ id: 'PortalLink' });

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

export interface SubscribersDeps {
  maxSubscribersPerApp: number;
  publicUrl: string;
  /** `secrets.deriveKey(PORTAL_LINK_KEY_PURPOSE)`: what portal links are signed with. */
  portalLinkKey: Buffer;
}

export function subscribersRouter(db: Db, spec: ApiSpec, deps: SubscribersDeps): Router {
  const { router, define } = resourceRouter(spec, db, 'Subscriptions');

  define({ method: 'get', path: '/apps/:app_id/subscriptions', summary: 'List subscriptions', paginated: true, status: 200, response: z.array(SubscriptionOut) }, async ({ req, res, params, page, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    sendPage(req, res, page, await listSubscribers(db, app.id, page), (row) => subscriptionOut(row, app));
  });

  define({ method: 'post', path: '/apps/:app_id/subscriptions', summary: 'Create a subscription', body: SubscriptionIn, status: 201, response: SubscriptionOut, idempotent: 'stored' }, async ({ res, params, body, accountId, db }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    // db is this request's transaction, as addSubscriber needs.
    const subscriber = await addSubscriber(db, app.id, body, deps.maxSubscribersPerApp);
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

  define({
    method: 'post', path: '/subscriptions/:id/portal_link', summary: "Create a link to a subscription's portal",
    description: 'A signed link that opens the subscriber portal for this subscription, where its people manage their endpoints, read their logs and replay what they missed. Hand it to them; it works until it expires or DELETE …/portal_links revokes it.',
    body: PortalLinkIn, status: 201, response: PortalLinkOut, idempotent: 'stored',
  }, async ({ res, params, body, accountId, db }) => {
    const { subscriber } = await requireSubscriber(db, accountId, params.id!);
    const ttlMs = body.expires_in === undefined ? PORTAL_LINK_DEFAULT_TTL_MS : body.expires_in * 1000;
    const link = issuePortalLink(deps.portalLinkKey, deps.publicUrl, subscriber.id, ttlMs);
    res.status(201).json({ url: link.url, expires_at: link.expiresAt.toISOString() });
  });

  define({
    method: 'delete', path: '/subscriptions/:id/portal_links', summary: "Revoke a subscription's portal links",
    description: 'Every link issued so far stops working, and so do the portal sessions they opened. Links created afterwards work.',
    status: 204, response: z.null().meta({ description: 'No content' }),
  }, async ({ res, params, accountId }) => {
    const { subscriber } = await requireSubscriber(db, accountId, params.id!);
    await revokePortalLinks(db, subscriber.id, new Date());
    res.status(204).end();
  });

  return router;
}
