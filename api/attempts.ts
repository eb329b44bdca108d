import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { Attempt } from '../db/database.ts';
import { accountOf } from './auth.ts';
import { handle, notFound } from './errors.ts';
import { readPage, sendPage } from './pagination.ts';
import { findApp } from './scope.ts';
import { parseQuery } from './validation.ts';

const AttemptQuery = z.looseObject({
  status: z.enum(['success', 'failed']).optional(),
  subscription_id: z.string().max(100).optional(),
  endpoint_id: z.string().max(100).optional(),
  message_id: z.string().max(100).optional(),
  event_type: z.string().max(100).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
});

/** The HostedHooks `webhook_attempt` shape, plus what a debugger wants (trigger, duration, workflow). */
export const attemptOut = (attempt: Attempt) => ({
  id: attempt.id,
  // HostedHooks sends the status code as a string.
  status_code: attempt.status_code === null ? null : String(attempt.status_code),
  retry_status: attempt.succeeded ? null : attempt.will_retry ? 'scheduled' : 'failed',
  status_message: attempt.succeeded ? 'success' : 'failed',
  payload: parsePayload(attempt.request_body),
  response: attempt.response_body,
  error_message: attempt.error ?? '',
  error_code: attempt.error_code,
  app_id: attempt.app_id,
  subscription_id: attempt.subscriber_id,
  endpoint_id: attempt.endpoint_id,
  message_id: attempt.message_id,
  delivery_id: attempt.delivery_id,
  attempt: attempt.number,
  trigger: attempt.trigger,
  url: attempt.url,
  request_headers: attempt.request_headers,
  duration_ms: attempt.duration_ms,
  workflow_id: attempt.workflow_id,
  created_at: attempt.created_at.toISOString(),
});

function parsePayload(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

export function attemptsRouter(db: Db): Router {
  const router = Router();

  router.get('/apps/:app_id/webhook_attempts', handle(async (req, res) => {
    const app = await findApp(db, accountOf(res), req.params.app_id!);
    const filter = parseQuery(AttemptQuery, req);
    const page = readPage(req);
    let base = db.selectFrom('attempts').where('app_id', '=', app.id);
    if (filter.status) base = base.where('succeeded', '=', filter.status === 'success');
    if (filter.subscription_id) base = base.where('subscriber_id', '=', filter.subscription_id);
    if (filter.endpoint_id) base = base.where('endpoint_id', '=', filter.endpoint_id);
    if (filter.message_id) base = base.where('message_id', '=', filter.message_id);
    if (filter.event_type) base = base.where('event_type', '=', filter.event_type);
    if (filter.since) base = base.where('created_at', '>=', new Date(filter.since));
    if (filter.until) base = base.where('created_at', '<', new Date(filter.until));
    const [rows, count] = await Promise.all([
      base.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.perPage).offset(page.offset).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    sendPage(req, res, page, count.n, rows.map(attemptOut));
  }));

  router.get('/apps/:app_id/webhook_attempts/:id', handle(async (req, res) => {
    const app = await findApp(db, accountOf(res), req.params.app_id!);
    const attempt = await db.selectFrom('attempts').selectAll().where('app_id', '=', app.id).where('id', '=', req.params.id!).executeTakeFirst();
    if (!attempt) throw notFound('webhook attempt');
    res.json(attemptOut(attempt));
  }));

  return router;
}
