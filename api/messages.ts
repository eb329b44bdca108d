import { createHash } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { App, Message } from '../db/database.ts';
import { acceptMessage } from '../db/messages.ts';
import type { DeliveryStarter } from '../lib/delivery-starter.ts';
import { log } from '../lib/log.ts';
import { accountOf } from './auth.ts';
import { ApiError, handle, notFound } from './errors.ts';
import { readPage, sendPage } from './pagination.ts';
import { findApp, findEndpoint, findSubscriber } from './scope.ts';
import { parseBody } from './validation.ts';

export const MESSAGE_BODY_LIMIT = '256kb';

export const MessageIn = z.strictObject({
  event_type: z.string().trim().min(1, 'must not be empty').max(100),
  data: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())], { error: 'must be a JSON object or array' }),
  version: z.string().trim().min(1, 'must not be empty').max(50),
  event_id: z.string().trim().min(1).max(255).nullish(),
  override_payload: z.boolean().optional(),
});

export const messageOut = (message: Message) => ({
  id: message.id,
  event_type: message.event_type,
  version: message.version,
  data: message.data,
  event_id: message.event_id,
  override_payload: message.override_payload,
  created_at: message.created_at.toISOString(),
});

export function messagesRouter(db: Db, starter: DeliveryStarter): Router {
  const router = Router();
  const json = express.json({ limit: MESSAGE_BODY_LIMIT, type: () => true });

  async function send(req: Request, res: Response, app: App, target: { subscriberId?: string; endpointId?: string }) {
    const input = parseBody(MessageIn, req);
    const idempotencyKey = req.get('idempotency-key')?.trim() || null;
    if (idempotencyKey !== null && idempotencyKey.length > 255) {
      throw new ApiError(422, 'validation_failed', 'the Idempotency-Key header must be at most 255 characters', [
        { field: 'Idempotency-Key', message: 'must be at most 255 characters' },
      ]);
    }
    const known = await db.selectFrom('event_types').select('id').where('app_id', '=', app.id).where('name', '=', input.event_type).executeTakeFirst();
    if (!known) {
      throw new ApiError(422, 'unknown_event_type', `event type ${input.event_type} does not exist in this app; create it with POST /apps/${app.id}/webhook_events`, [
        { field: 'event_type', message: 'unknown event type' },
      ]);
    }
    const requestHash = createHash('sha256').update(JSON.stringify([req.path, input])).digest('hex');
    const result = await acceptMessage(db, {
      app,
      ...target,
      eventType: input.event_type,
      version: input.version,
      data: input.data,
      eventId: input.event_id ?? null,
      overridePayload: input.override_payload ?? false,
      idempotencyKey,
      requestHash,
    });
    if (result.kind === 'key_reused') {
      throw new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was already used with a different request body');
    }
    res.status(202).json(messageOut(result.message));
    // The message is committed; Temporal is told after the answer, and the reconciler covers a failure here.
    if (result.kind === 'created') {
      starter.start(result.pending).catch((err: unknown) => log.warn('starting deliveries failed', { message_id: result.message.id, error: err }));
    }
  }

  router.post('/apps/:app_id/messages', json, handle(async (req, res) => {
    const app = await findApp(db, accountOf(res), req.params.app_id!);
    await send(req, res, app, {});
  }));

  router.post('/subscriptions/:id/messages', json, handle(async (req, res) => {
    const { subscriber, app } = await findSubscriber(db, accountOf(res), req.params.id!);
    await send(req, res, app, { subscriberId: subscriber.id });
  }));

  router.post('/subscriptions/:id/endpoints/:endpoint_id/messages', json, handle(async (req, res) => {
    const { subscriber, app } = await findSubscriber(db, accountOf(res), req.params.id!);
    const endpoint = await findEndpoint(db, { subscriberId: subscriber.id }, req.params.endpoint_id!);
    await send(req, res, app, { subscriberId: subscriber.id, endpointId: endpoint.id });
  }));

  router.get('/apps/:app_id/messages', handle(async (req, res) => {
    const app = await findApp(db, accountOf(res), req.params.app_id!);
    const page = readPage(req);
    const base = db.selectFrom('messages').where('app_id', '=', app.id);
    const [rows, count] = await Promise.all([
      base.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.perPage).offset(page.offset).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    sendPage(req, res, page, count.n, rows.map(messageOut));
  }));

  router.get('/apps/:app_id/messages/:id', handle(async (req, res) => {
    const app = await findApp(db, accountOf(res), req.params.app_id!);
    const message = await db.selectFrom('messages').selectAll().where('app_id', '=', app.id).where('id', '=', req.params.id!).executeTakeFirst();
    if (!message) throw notFound('message');
    const deliveries = await db
      .selectFrom('deliveries')
      .select(['id', 'endpoint_id', 'subscriber_id', 'status', 'created_at', 'finished_at'])
      .where('message_id', '=', message.id)
      .orderBy('created_at')
      .execute();
    res.json({
      ...messageOut(message),
      deliveries: deliveries.map((d) => ({
        id: d.id,
        endpoint_id: d.endpoint_id,
        subscription_id: d.subscriber_id,
        status: d.status,
        created_at: d.created_at.toISOString(),
        finished_at: d.finished_at?.toISOString() ?? null,
      })),
    });
  }));

  return router;
}
