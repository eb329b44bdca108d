import type { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { Message } from '../db/database.ts';
import { findMessageDeliveries, listMessageDeliveries, type MessageDelivery } from '../db/deliveries.ts';
import { firstEventTypeName } from '../db/event-types.ts';
import { acceptMessage, findMessage, listMessages } from '../db/messages.ts';
import { DELIVERY_REASONS } from '../lib/failures.ts';
import { countAcceptedMessage } from '../lib/metrics.ts';
import { codeSamples, ENDPOINT_ID_PLACEHOLDER, SAMPLE_LANGUAGES } from './code-samples.ts';
import type { DeliveryStarts } from './delivery-starts.ts';
import { ApiError, jsonBody, notFound } from './errors.ts';
import { idempotencyKeyOf, requestHash } from './idempotency.ts';
import { sendPage } from './pagination.ts';
import { resourceRouter, type ApiSpec, type Context } from './route.ts';
import { Id, NullableTimestamp, Timestamp } from './schemas.ts';
import { requireApp, requireEndpoint, requireSubscriber } from './scope.ts';

export const MESSAGE_BODY_LIMIT = '256kb';

export const MessageIn = z
  .strictObject({
    event_type: z.string().trim().min(1, 'must not be empty').max(100).meta({ example: 'user.created' }),
    data: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())], { error: 'must be a JSON object or array' }).meta({ example: { id: 42 } }),
    version: z.string().trim().min(1, 'must not be empty').max(50).meta({ example: '1.0' }),
    event_id: z.string().trim().min(1).max(255).nullish().meta({ description: 'Your id for this event: a repeat returns the original message and sends nothing' }),
    override_payload: z.boolean().optional().meta({ description: 'Send exactly `data` as the request body instead of the envelope' }),
  })
  .meta({ id: 'MessageIn' });

export const MessageOut = z
  .object({
    id: Id('message', 'msg'),
    event_type: z.string(),
    version: z.string(),
    data: z.unknown().meta({ description: 'The payload; null once the retention policy removed it (see payload_purged_at)' }),
    event_id: z.string().nullable(),
    override_payload: z.boolean(),
    payload_purged_at: NullableTimestamp.meta({
      description: 'When the data retention policy (RETENTION) removed the payload; null while it is kept. A purged message keeps its deliveries and their statuses, but cannot be resent or replayed',
    }),
    created_at: Timestamp,
  })
  .meta({ id: 'Message' });

export const DeliveryOut = z
  .object({
    id: Id('delivery', 'dlv'),
    message_id: z.string(),
    endpoint_id: z.string(),
    subscription_id: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed', 'skipped']),
    reason: z
      .enum(DELIVERY_REASONS)
      .nullable()
      .meta({
        description:
          'Why it ended without success. skipped: endpoint_inactive, endpoint_deleted (a replay can send it once the endpoint is active). failed: attempts_exhausted, endpoint_gone (410), secret_unreadable (no configured ENCRYPTION_KEY opens the signing secret), payload_purged (the retention policy removed the payload before it could be sent), internal_error (a failure of ours that outlasted its retries), timed_out',
      }),
    error: z.string().nullable().meta({ description: 'What went wrong, for people; null on success' }),
    attempts: z.number().int().meta({ description: 'HTTP attempts made so far, resends included' }),
    last_attempt_at: NullableTimestamp,
    created_at: Timestamp,
    finished_at: NullableTimestamp,
  })
  .meta({ id: 'Delivery' });
export const MessageWithDeliveriesOut = MessageOut.extend({ deliveries: z.array(DeliveryOut) }).meta({ id: 'MessageWithDeliveries' });

export const messageOut = (message: Message): z.infer<typeof MessageOut> => ({
  id: message.id,
  event_type: message.event_type,
  version: message.version,
  data: message.data,
  event_id: message.event_id,
  override_payload: message.override_payload,
  payload_purged_at: message.payload_purged_at?.toISOString() ?? null,
  created_at: message.created_at.toISOString(),
});

const deliveryOut = (d: MessageDelivery): z.infer<typeof DeliveryOut> => ({
  id: d.id,
  message_id: d.message_id,
  endpoint_id: d.endpoint_id,
  subscription_id: d.subscriber_id,
  status: d.status,
  reason: d.reason,
  error: d.error,
  attempts: Number(d.attempts),
  last_attempt_at: d.last_attempt_at ? new Date(d.last_attempt_at).toISOString() : null,
  created_at: d.created_at.toISOString(),
  finished_at: d.finished_at?.toISOString() ?? null,
});

const languageMap = (description: string) => z.object(Object.fromEntries(SAMPLE_LANGUAGES.map((l) => [l, z.string()]))).meta({ description });
export const CodeSamplesQuery = z.looseObject({
  event_type: z.string().max(100).optional().meta({ description: "Defaults to the app's first event type" }),
  version: z.string().max(50).optional().meta({ description: 'Defaults to 1.0' }),
  endpoint_id: z.string().max(100).optional().meta({ description: `An endpoint of this app for the replay programs; without it they say ${ENDPOINT_ID_PLACEHOLDER}` }),
});
export const CodeSamplesOut = z
  .object({
    send: languageMap('A complete program per language that sends a message; the API key is read from OPENHOOKS_API_KEY'),
    replay: languageMap('A complete program per language that replays what the endpoint missed (POST /apps/{app_id}/endpoints/{endpoint_id}/replay, default range); the API key is read from OPENHOOKS_API_KEY'),
    verify: languageMap("A receiver-side verify(secret, headers, rawBody) per language that checks the HostedHooks and Standard Webhooks signatures"),
  })
  .meta({ id: 'CodeSamples' });

export function messagesRouter(db: Db, spec: ApiSpec, starts: DeliveryStarts, publicUrl: string): Router {
  const { router, define } = resourceRouter(spec, db, 'Messages');
  const json = jsonBody(MESSAGE_BODY_LIMIT);

  async function send({ req, res, body, accountId }: Context<z.output<typeof MessageIn>, undefined>, appId: string, target: { subscriberId?: string; endpointId?: string }) {
    const result = await acceptMessage(db, {
      accountId,
      appId,
      ...target,
      eventType: body.event_type,
      version: body.version,
      data: body.data,
      eventId: body.event_id ?? null,
      overridePayload: body.override_payload ?? false,
      idempotencyKey: idempotencyKeyOf(req),
      requestHash: requestHash(req, body),
    });
    if (result.kind === 'app_not_found') throw notFound('app');
    if (result.kind === 'unknown_event_type') {
      throw new ApiError(422, 'unknown_event_type', `event type ${body.event_type} does not exist in this app; create it with POST /apps/${appId}/webhook_events`, [
        { field: 'event_type', message: 'unknown event type' },
      ]);
    }
    if (result.kind === 'key_reused') throw new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was already used with a different request');
    if (result.kind === 'repeat') res.set('Idempotent-Replayed', 'true');
    res.status(202).json(messageOut(result.message));
    countAcceptedMessage(result.kind);
    // The message is committed; the workers are told after the answer (they also poll, and the reconciler covers the rest).
    if (result.kind === 'created' && result.pending.length > 0) starts.announce();
  }

  const sendOp = {
    method: 'post' as const, body: MessageIn, status: 202, response: MessageOut, errors: [413, 415], idempotent: 'atomic' as const, before: json,
    description: 'Accepted once it is stored with one delivery per matching endpoint (active, subscribed to the event type or "*", same version); delivery follows. A repeated event_id or Idempotency-Key answers the original message and sends nothing.',
  };

  define({ ...sendOp, path: '/apps/:app_id/messages', summary: 'Send a message to every subscribed endpoint of an app' }, async (ctx) => {
    await send(ctx, ctx.params.app_id!, {});
  });

  define({ ...sendOp, path: '/subscriptions/:id/messages', summary: "Send a message to one subscription's endpoints" }, async (ctx) => {
    const { subscriber, app } = await requireSubscriber(db, ctx.accountId, ctx.params.id!);
    await send(ctx, app.id, { subscriberId: subscriber.id });
  });

  define({ ...sendOp, path: '/subscriptions/:id/endpoints/:endpoint_id/messages', summary: 'Send a message to one endpoint' }, async (ctx) => {
    const { subscriber, app } = await requireSubscriber(db, ctx.accountId, ctx.params.id!);
    const endpoint = await requireEndpoint(db, { subscriberId: subscriber.id }, ctx.params.endpoint_id!);
    await send(ctx, app.id, { subscriberId: subscriber.id, endpointId: endpoint.id });
  });

  define({ method: 'get', path: '/apps/:app_id/messages', summary: 'List messages', paginated: true, status: 200, response: z.array(MessageOut) }, async ({ req, res, params, page, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    sendPage(req, res, page, await listMessages(db, app.id, page), messageOut);
  });

  const requireMessage = async (accountId: string, appId: string, id: string) => {
    const app = await requireApp(db, accountId, appId);
    const message = await findMessage(db, app.id, id);
    if (!message) throw notFound('message');
    return message;
  };

  define({ method: 'get', path: '/apps/:app_id/messages/:id', summary: 'Get a message with its deliveries', status: 200, response: MessageWithDeliveriesOut }, async ({ res, params, accountId }) => {
    const message = await requireMessage(accountId, params.app_id!, params.id!);
    res.json({ ...messageOut(message), deliveries: (await findMessageDeliveries(db, message.id)).map(deliveryOut) });
  });

  define({ method: 'get', path: '/apps/:app_id/messages/:id/deliveries', summary: 'List the deliveries of a message', paginated: true, status: 200, response: z.array(DeliveryOut) }, async ({ req, res, params, page, accountId }) => {
    const message = await requireMessage(accountId, params.app_id!, params.id!);
    sendPage(req, res, page, await listMessageDeliveries(db, message.id, page), deliveryOut);
  });

  define({ method: 'get', path: '/apps/:app_id/code_samples', summary: 'Code that sends a message to this app, code that replays what an endpoint missed, and code that verifies a delivery', query: CodeSamplesQuery, status: 200, response: CodeSamplesOut }, async ({ res, params, query, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    const eventType = query.event_type ?? (await firstEventTypeName(db, app.id)) ?? 'user.created';
    const endpoint = query.endpoint_id === undefined ? undefined : await requireEndpoint(db, { appId: app.id }, query.endpoint_id);
    res.json(codeSamples({ baseUrl: `${publicUrl}/api/v1`, appId: app.id, eventType, version: query.version ?? '1.0', endpointId: endpoint?.id }));
  });

  return router;
}
