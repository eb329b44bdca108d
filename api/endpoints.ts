import type { Router } from 'express';
import { z } from 'zod';
import { endpointErrorRates } from '../db/attempts.ts';
import type { Db } from '../db/connection.ts';
import type { App, EnabledEvents, Endpoint, EndpointUpdate, Subscriber } from '../db/database.ts';
import { createEndpoint, deleteEndpoint, listEndpoints, rotateEndpointSecret, updateEndpoint } from '../db/endpoints.ts';
import { eventTypesOf, type EventTypeRef } from '../db/event-types.ts';
import { findSubscribers } from '../db/subscribers.ts';
import type { SecretBox } from '../lib/secrets.ts';
import { addressPolicy, type NetworkPolicy } from '../lib/network.ts';
import { newSigningSecret } from '../lib/signing.ts';
import { isIP } from 'node:net';
import { ApiError, notFound } from './errors.ts';
import { sendPage } from './pagination.ts';
import { resourceRouter, type ApiSpec } from './route.ts';
import { Id, NullableTimestamp, Timestamp } from './schemas.ts';
import { singleLine } from './validation.ts';
import { requireApp, requireEndpoint, requireSubscriber } from './scope.ts';
import { SubscriptionRef, subscriptionRef } from './subscribers.ts';

const url = singleLine(2000)
  .refine((value) => {
    try {
      return ['http:', 'https:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, 'must be an http(s) URL')
  .meta({ format: 'uri', example: 'https://example.com/webhooks' });
const EnabledEventsSchema = z
  .union([z.literal('*'), z.array(z.string().trim().min(1).max(100)).max(500)])
  .meta({ description: 'Event types this endpoint receives, or "*" for all', example: ['user.created'] });
const fields = {
  url,
  description: z.string().max(1000).nullish(),
  version: z.string().trim().min(1).max(50).meta({ description: 'Only messages of this version are delivered here', example: '1.0' }),
  status: z.enum(['active', 'inactive']).optional(),
  enabled_events: EnabledEventsSchema.optional(),
};
export const EndpointIn = z.strictObject(fields).meta({ id: 'EndpointIn' });
export const EndpointPatch = z.strictObject({ ...fields, url: fields.url.optional(), version: fields.version.optional() }).meta({ id: 'EndpointPatch' });
const SigningSecret = z.string().regex(/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/, 'must be whsec_ followed by 24 to 64 bytes in base64').meta({ example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' });
export const SecretRotateIn = z.strictObject({ key: SigningSecret.optional().meta({ description: 'The new secret; omit to have one generated' }) }).meta({ id: 'SecretRotateIn' });
export const SecretOut = z
  .object({ key: SigningSecret, previous_key_expires_at: NullableTimestamp.meta({ description: 'Until then the previous secret signs too' }) })
  .meta({ id: 'EndpointSecret' });

export const EndpointOut = z
  .object({
    id: Id('endpoint', 'ep'),
    url: z.string(),
    description: z.string().nullable(),
    version: z.string(),
    status: z.enum(['active', 'inactive']),
    enabled_events: EnabledEventsSchema,
    webhook_events: z.array(z.object({ id: z.string(), event_type: z.string(), created_at: Timestamp })).meta({ description: 'The event types it receives, as HostedHooks lists them' }),
    subscription: SubscriptionRef,
    error_rate: z.number().meta({ description: 'Percentage of failed attempts over the last 24 hours' }),
    disabled_reason: z.string().nullable(),
    disabled_at: NullableTimestamp,
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'Endpoint' });
export const EndpointCreatedOut = EndpointOut.extend({ secret: SigningSecret.meta({ description: 'Shown in this answer only; later through GET …/secret' }) }).meta({ id: 'EndpointCreated' });

function endpointOut(endpoint: Endpoint, subscriber: Subscriber, eventTypes: EventTypeRef[], errorRate: number): z.infer<typeof EndpointOut> {
  const enabled = endpoint.enabled_events;
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    version: endpoint.version,
    status: endpoint.status,
    enabled_events: enabled,
    webhook_events: eventTypes
      .filter((et) => enabled === '*' || enabled.includes(et.name))
      .map((et) => ({ id: et.id, event_type: et.name, created_at: et.created_at.toISOString() })),
    subscription: subscriptionRef(subscriber),
    error_rate: errorRate,
    disabled_reason: endpoint.disabled_reason,
    disabled_at: endpoint.disabled_at?.toISOString() ?? null,
    created_at: endpoint.created_at.toISOString(),
    updated_at: endpoint.updated_at.toISOString(),
  };
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

/**
 * What can be judged when the URL is saved: the scheme, and an IP literal's address. Names are
 * judged again on every connection, where their address is known.
 */
function checkUrl(url: string | undefined, policy: { allowHttp: boolean }, allowed: (address: string) => boolean): void {
  if (url === undefined) return;
  const parsed = new URL(url);
  if (parsed.protocol === 'http:' && !policy.allowHttp) {
    throw new ApiError(422, 'insecure_url', 'the endpoint URL must use https:// (this server does not allow plain http)', [{ field: 'url', message: 'must use https://' }]);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && !allowed(host)) {
    throw new ApiError(422, 'blocked_address', `${host} is a private or reserved address; endpoints must be reachable on the public internet`, [{ field: 'url', message: 'private or reserved address' }]);
  }
}

export interface EndpointsDeps {
  secrets: SecretBox;
  rotationOverlapMs: number;
  network: NetworkPolicy & { allowHttp: boolean };
  maxEndpointsPerSubscriber: number;
}

/**
 * How endpoints are created, changed and their secrets rotated and shown, with the API's checks
 * (they throw ApiError), for the API's routes and the portal's forms alike.
 */
export function endpointRules(deps: EndpointsDeps) {
  const { secrets } = deps;
  const allowed = addressPolicy(deps.network);

  const secretOut = (endpoint: Endpoint): z.infer<typeof SecretOut> => ({
    key: secrets.decrypt(endpoint.secret),
    previous_key_expires_at: endpoint.previous_secret && endpoint.previous_secret_expires_at && endpoint.previous_secret_expires_at > new Date() ? endpoint.previous_secret_expires_at.toISOString() : null,
  });

  /** `trx` must be a transaction: it holds the subscriber's lock that keeps creations within the limit. Answers the secret in plain text. */
  async function create(trx: Db, app: App, subscriber: Subscriber, body: z.output<typeof EndpointIn>): Promise<{ endpoint: Endpoint; secret: string }> {
    checkUrl(body.url, deps.network, allowed);
    checkEnabledEvents(body.enabled_events, await eventTypesOf(trx, app.id));
    const secret = newSigningSecret();
    const endpoint = await createEndpoint(
      trx,
      {
        app_id: app.id,
        subscriber_id: subscriber.id,
        url: body.url,
        description: body.description ?? null,
        version: body.version,
        status: body.status ?? 'active',
        enabled_events: JSON.stringify(body.enabled_events ?? '*'),
        secret: secrets.encrypt(secret),
      },
      deps.maxEndpointsPerSubscriber,
    );
    if (!endpoint) throw new ApiError(422, 'limit_exceeded', `a subscription can have at most ${deps.maxEndpointsPerSubscriber} endpoints (MAX_ENDPOINTS_PER_SUBSCRIBER)`);
    return { endpoint, secret };
  }

  /** The update a patch makes; `disabledReason` is recorded when it sets an active endpoint inactive. */
  async function changes(db: Db, appId: string, endpoint: Endpoint, body: z.output<typeof EndpointPatch>, disabledReason: string): Promise<EndpointUpdate> {
    checkUrl(body.url, deps.network, allowed);
    checkEnabledEvents(body.enabled_events, await eventTypesOf(db, appId));
    const { enabled_events, ...rest } = body;
    const now = new Date();
    const update: EndpointUpdate = { ...rest, updated_at: now };
    if (enabled_events !== undefined) update.enabled_events = JSON.stringify(enabled_events);
    if (body.status === 'active' && endpoint.status === 'inactive') Object.assign(update, { disabled_reason: null, disabled_at: null });
    if (body.status === 'inactive' && endpoint.status === 'active') Object.assign(update, { disabled_reason: disabledReason, disabled_at: now, last_disabled_at: now });
    return update;
  }

  /** Undefined when the app has no such endpoint. */
  function rotate(db: Db, appId: string, endpointId: string, key?: string): Promise<Endpoint | undefined> {
    const now = new Date();
    return rotateEndpointSecret(db, appId, endpointId, { secret: secrets.encrypt(key ?? newSigningSecret()), previousExpiresAt: new Date(now.getTime() + deps.rotationOverlapMs), now });
  }

  return { secretOut, create, changes, rotate };
}

export function endpointsRouter(db: Db, spec: ApiSpec, deps: EndpointsDeps): Router {
  const { router, define } = resourceRouter(spec, db, 'Endpoints');
  const { secretOut, ...rules } = endpointRules(deps);

  const render = async (db: Db, endpoints: Endpoint[], appId: string) => {
    const subscriberIds = [...new Set(endpoints.map((e) => e.subscriber_id))];
    const [eventTypes, rates, subscribers] = await Promise.all([eventTypesOf(db, appId), endpointErrorRates(db, endpoints.map((e) => e.id)), findSubscribers(db, subscriberIds)]);
    const byId = new Map(subscribers.map((s) => [s.id, s]));
    // No attempts in the last 24 hours: no failures.
    return endpoints.map((e) => endpointOut(e, byId.get(e.subscriber_id)!, eventTypes, rates.get(e.id) ?? 0));
  };

  for (const scope of ['app', 'subscription'] as const) {
    const path = scope === 'app' ? '/apps/:app_id/endpoints' : '/subscriptions/:id/endpoints';
    define({ method: 'get', path, summary: `List the endpoints of ${scope === 'app' ? 'an app' : 'a subscription'}`, paginated: true, status: 200, response: z.array(EndpointOut) }, async ({ req, res, params, page, accountId }) => {
      const appId = scope === 'app' ? (await requireApp(db, accountId, params.app_id!)).id : (await requireSubscriber(db, accountId, params.id!)).app.id;
      const { rows, total } = await listEndpoints(db, scope === 'app' ? { appId } : { subscriberId: params.id! }, page);
      sendPage(req, res, page, { rows: await render(db, rows, appId), total });
    });
  }

  define({ method: 'get', path: '/apps/:app_id/endpoints/:id', summary: 'Get an endpoint', status: 200, response: EndpointOut }, async ({ res, params, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    const endpoint = await requireEndpoint(db, { appId: app.id }, params.id!);
    res.json((await render(db, [endpoint], app.id))[0]);
  });

  define({ method: 'get', path: '/apps/:app_id/endpoints/:id/secret', summary: "Get an endpoint's signing secret", status: 200, response: SecretOut }, async ({ res, params, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    res.json(secretOut(await requireEndpoint(db, { appId: app.id }, params.id!)));
  });

  define({
    method: 'post', path: '/apps/:app_id/endpoints/:id/secret/rotate', summary: "Rotate an endpoint's signing secret",
    description: 'The previous secret keeps signing (a second signature in webhook-signature) for SECRET_ROTATION_OVERLAP, 24 hours by default, so receivers can switch without dropping requests.',
    body: SecretRotateIn, status: 200, response: SecretOut, idempotent: 'stored',
  }, async ({ res, params, body, accountId, db }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    const rotated = await rules.rotate(db, app.id, params.id!, body.key);
    if (!rotated) throw notFound('endpoint');
    res.json(secretOut(rotated));
  });

  define({ method: 'post', path: '/subscriptions/:id/endpoints', summary: 'Create an endpoint', body: EndpointIn, status: 201, response: EndpointCreatedOut, idempotent: 'stored', description: 'Answers 422 `insecure_url` for http:// unless ALLOW_HTTP, `blocked_address` for a private IP literal, and `limit_exceeded` past MAX_ENDPOINTS_PER_SUBSCRIBER.' }, async ({ res, params, body, accountId, db }) => {
    const { subscriber, app } = await requireSubscriber(db, accountId, params.id!);
    // db is this request's transaction, as rules.create needs.
    const { endpoint, secret } = await rules.create(db, app, subscriber, body);
    res.status(201).json({ ...(await render(db, [endpoint], app.id))[0]!, secret });
  });

  define({
    method: 'patch', path: '/subscriptions/:id/endpoints/:endpoint_id', summary: 'Update an endpoint',
    description: 'Setting status to active re-enables a disabled endpoint and clears disabled_reason.',
    errors: [],
    body: EndpointPatch, status: 200, response: EndpointOut,
  }, async ({ res, params, body, accountId }) => {
    const { subscriber, app } = await requireSubscriber(db, accountId, params.id!);
    const endpoint = await requireEndpoint(db, { subscriberId: subscriber.id }, params.endpoint_id!);
    const updated = await updateEndpoint(db, endpoint.id, await rules.changes(db, app.id, endpoint, body, 'disabled through the API'));
    res.json((await render(db, [updated], app.id))[0]);
  });

  for (const scope of ['app', 'subscription'] as const) {
    const path = scope === 'app' ? '/apps/:app_id/endpoints/:id' : '/subscriptions/:id/endpoints/:endpoint_id';
    define({
      method: 'delete', path, summary: `Delete an endpoint${scope === 'app' ? '' : ' of a subscription'}`,
      description: 'Its deliveries and attempts stay in the log; a delivery still under way ends skipped with reason endpoint_deleted. Answers the deleted endpoint (HostedHooks clients parse every answer as JSON).',
      status: 200, response: EndpointOut,
    }, async ({ res, params, accountId }) => {
      const appId = scope === 'app' ? (await requireApp(db, accountId, params.app_id!)).id : (await requireSubscriber(db, accountId, params.id!)).app.id;
      const endpoint = scope === 'app' ? await requireEndpoint(db, { appId }, params.id!) : await requireEndpoint(db, { subscriberId: params.id! }, params.endpoint_id!);
      const [deleted] = await render(db, [endpoint], appId);
      // A concurrent delete of the same endpoint: only one of them answers it.
      if (!(await deleteEndpoint(db, endpoint.id))) throw notFound('endpoint');
      res.json(deleted);
    });
  }

  return router;
}
