import type { Router } from 'express';
import { z } from 'zod';
import { findAttempt, listAttempts, type AttemptFilter } from '../db/attempts.ts';
import type { Db } from '../db/connection.ts';
import type { Attempt } from '../db/database.ts';
import { requestResend } from '../db/delivery-starts.ts';
import { deliveryWorkflowId } from '../workflows/delivery-run.ts';
import type { DeliveryStarts } from './delivery-starts.ts';
import { ApiError, notFound } from './errors.ts';
import { sendPage } from './pagination.ts';
import { resourceRouter, type ApiSpec } from './route.ts';
import { Id, NullableTimestamp, Timestamp } from './schemas.ts';
import { requireApp, requireEndpoint } from './scope.ts';

export const AttemptQuery = z.looseObject({
  status: z.enum(['success', 'failed']).optional(),
  subscription_id: z.string().max(100).optional(),
  endpoint_id: z.string().max(100).optional(),
  message_id: z.string().max(100).optional(),
  event_type: z.string().max(100).optional(),
  since: z.iso.datetime({ offset: true }).optional().meta({ description: 'Attempts at or after this time' }),
  until: z.iso.datetime({ offset: true }).optional().meta({ description: 'Attempts before this time' }),
});

/** The HostedHooks `webhook_attempt` shape, plus what a debugger wants (trigger, duration, workflow). */
export const AttemptOut = z
  .object({
    id: Id('webhook attempt', 'att'),
    status_code: z.string().nullable().meta({ description: 'HTTP status as a string, as HostedHooks sends it; null when no response came' }),
    retry_status: z.enum(['scheduled', 'failed']).nullable().meta({ description: 'scheduled: another attempt follows; failed: none will; null on success' }),
    status_message: z.enum(['success', 'failed']),
    payload: z.unknown().meta({ description: 'The delivered body; null once the retention policy removed it (see payload_purged_at)' }),
    response: z.string().nullable().meta({ description: 'Response body, at most 64 KiB; null once the retention policy removed it' }),
    error_message: z.string(),
    error_code: z.string().nullable().meta({ description: 'timeout, connection_failed, dns_failed, blocked_address, invalid_url or http_status' }),
    app_id: z.string(),
    subscription_id: z.string(),
    endpoint_id: z.string(),
    message_id: z.string(),
    delivery_id: z.string(),
    attempt: z.number().int().meta({ description: 'Number of this attempt within its run' }),
    trigger: z.enum(['automatic', 'manual', 'replay']).meta({ description: 'automatic: the attempts of the first run; manual: the attempts of a resend; replay: the attempts of a replay' }),
    url: z.string(),
    request_headers: z.record(z.string(), z.string()),
    duration_ms: z.number().int(),
    workflow_id: z.string().meta({ description: 'The Temporal workflow that made this attempt' }),
    payload_purged_at: NullableTimestamp.meta({ description: 'When the data retention policy (RETENTION) removed the request and response bodies; null while they are kept' }),
    created_at: Timestamp,
  })
  .meta({ id: 'WebhookAttempt' });

export const ResendOut = z
  .object({ delivery_id: z.string(), workflow_id: z.string().meta({ description: 'The Temporal workflow whose new run makes the attempts' }) })
  .meta({ id: 'DeliveryResend' });

export const attemptOut = (attempt: Attempt): z.infer<typeof AttemptOut> => ({
  id: attempt.id,
  status_code: attempt.status_code === null ? null : String(attempt.status_code),
  retry_status: attempt.succeeded ? null : attempt.will_retry ? 'scheduled' : 'failed',
  status_message: attempt.succeeded ? 'success' : 'failed',
  payload: attempt.payload_purged_at ? null : parsePayload(attempt.request_body),
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
  payload_purged_at: attempt.payload_purged_at?.toISOString() ?? null,
  created_at: attempt.created_at.toISOString(),
});

const attemptFilter = (query: z.output<typeof AttemptQuery>): AttemptFilter => ({
  succeeded: query.status === undefined ? undefined : query.status === 'success',
  subscriberId: query.subscription_id,
  endpointId: query.endpoint_id,
  messageId: query.message_id,
  eventType: query.event_type,
  since: query.since ? new Date(query.since) : undefined,
  until: query.until ? new Date(query.until) : undefined,
});

function parsePayload(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

export function attemptsRouter(db: Db, spec: ApiSpec, starts: DeliveryStarts): Router {
  const { router, define } = resourceRouter(spec, db, 'Webhook attempts');

  define({ method: 'get', path: '/apps/:app_id/webhook_attempts', summary: 'List webhook attempts, newest first', query: AttemptQuery, paginated: true, status: 200, response: z.array(AttemptOut) }, async ({ req, res, params, query, page, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    sendPage(req, res, page, await listAttempts(db, app.id, attemptFilter(query), page), attemptOut);
  });

  // The path HostedHooks' Node client uses for one endpoint's attempts.
  define({ method: 'get', path: '/apps/:app_id/endpoints/:endpoint_id/webhook_attempts', summary: "List an endpoint's webhook attempts, newest first", query: AttemptQuery, paginated: true, status: 200, response: z.array(AttemptOut) }, async ({ req, res, params, query, page, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    const endpoint = await requireEndpoint(db, { appId: app.id }, params.endpoint_id!);
    sendPage(req, res, page, await listAttempts(db, app.id, { ...attemptFilter(query), endpointId: endpoint.id }, page), attemptOut);
  });

  const requireAttempt = async (db: Db, accountId: string, appId: string, id: string) => {
    const app = await requireApp(db, accountId, appId);
    const attempt = await findAttempt(db, app.id, id);
    if (!attempt) throw notFound('webhook attempt');
    return attempt;
  };

  define({ method: 'get', path: '/apps/:app_id/webhook_attempts/:id', summary: 'Get a webhook attempt', status: 200, response: AttemptOut }, async ({ res, params, accountId }) => {
    res.json(attemptOut(await requireAttempt(db, accountId, params.app_id!, params.id!)));
  });

  // The path keeps the word replay (clients already call it); the action is a resend: replay is the bulk re-run of missed deliveries.
  define({
    method: 'post', path: '/apps/:app_id/webhook_attempts/:id/replay', summary: "Resend an attempt's delivery now",
    description: 'Runs the delivery again at once under the retry policy, as a new run whose attempts are marked trigger=manual; a run still retrying is replaced. The endpoint must be active (409 endpoint_inactive otherwise) and the message payload still kept (409 payload_purged once the retention policy removed it). Accepted once the resend is stored: if Temporal is away, the worker starts it once it is back.',
    status: 202, response: ResendOut, errors: [409], idempotent: 'stored',
  }, async ({ res, params, accountId, db: trx, afterCommit }) => {
    const attempt = await requireAttempt(trx, accountId, params.app_id!, params.id!);
    const resend = await requestResend(trx, attempt.delivery_id);
    if (resend.kind === 'endpoint_inactive') throw new ApiError(409, 'endpoint_inactive', 'the endpoint is inactive: re-enable it (PATCH status "active") before resending');
    if (resend.kind === 'endpoint_deleted') throw new ApiError(409, 'endpoint_deleted', 'the endpoint was deleted: its deliveries cannot be resent');
    if (resend.kind === 'payload_purged') throw new ApiError(409, 'payload_purged', 'the message payload was removed by the data retention policy (RETENTION): it cannot be resent');
    res.status(202).json({ delivery_id: attempt.delivery_id, workflow_id: deliveryWorkflowId(attempt.delivery_id) });
    // Only a committed resend may start its run.
    afterCommit(() => starts.startResend(resend.start));
  });

  return router;
}
