import type { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { Replay, ReplayRequesterKind, ReplayStatus } from '../db/database.ts';
import { findReplay, listEndpointReplays, missedDeliveries, requestReplay } from '../db/replays.ts';
import type { ReplayAction } from '../workflows/replay-start.ts';
import { apiKeyOf } from './auth.ts';
import type { DeliveryStarts } from './delivery-starts.ts';
import { ApiError, notFound } from './errors.ts';
import { sendPage } from './pagination.ts';
import { resourceRouter, type ApiSpec } from './route.ts';
import { Id, NullableTimestamp, Timestamp } from './schemas.ts';
import { requireApp, requireEndpoint } from './scope.ts';

export const ReplayIn = z
  .strictObject({
    since: z.iso
      .datetime({ offset: true })
      .optional()
      .meta({ description: 'Replay deliveries created at or after this time (ISO 8601). Default: where the endpoint began missing messages (its last disable), or 24 hours ago for an endpoint never disabled' }),
    until: z.iso
      .datetime({ offset: true })
      .optional()
      .meta({ description: 'Replay deliveries created before this time (ISO 8601). Default, and at most: now' }),
  })
  .meta({ id: 'ReplayIn' });

const STATUSES = ['running', 'paused', 'completed', 'cancelled', 'stopped'] as const satisfies readonly ReplayStatus[];
const REQUESTERS = ['user', 'api_key', 'subscriber_link'] as const satisfies readonly ReplayRequesterKind[];
const Count = (description: string) => z.number().int().min(0).meta({ description });

export const ReplayOut = z
  .object({
    id: Id('replay', 'rpl'),
    endpoint_id: z.string(),
    subscription_id: z.string(),
    status: z.enum(STATUSES).meta({ description: 'running or paused while under way; completed, cancelled or stopped (the endpoint was disabled again or deleted) once ended' }),
    reason: z.string().nullable().meta({ description: 'Why a stopped replay stopped' }),
    since: Timestamp,
    until: Timestamp,
    total: Count('Deliveries to send: sent + remaining'),
    sent: Count('Deliveries sent again so far'),
    succeeded: Count('Sent deliveries that succeeded'),
    failed: Count('Sent deliveries that did not succeed'),
    remaining: Count('Failed or skipped deliveries in the range not sent yet'),
    requested_by: z.object({ kind: z.enum(REQUESTERS), id: z.string().meta({ description: "The API key's, user's or subscription's id" }) }),
    created_at: Timestamp,
    finished_at: NullableTimestamp,
  })
  .meta({ id: 'Replay' });

export const MissedOut = z
  .object({
    count: z.number().int().min(0).meta({ description: 'Failed and skipped deliveries a replay with the default range would send now (those whose payload the retention policy removed are not counted)' }),
    since: Timestamp.meta({ description: "Where that default range starts: when the endpoint's miss began" }),
  })
  .meta({ id: 'MissedDeliveries' });

export const replayOut = (replay: Replay): z.infer<typeof ReplayOut> => ({
  id: replay.id,
  endpoint_id: replay.endpoint_id,
  subscription_id: replay.subscriber_id,
  status: replay.status,
  reason: replay.reason,
  since: replay.since.toISOString(),
  until: replay.until.toISOString(),
  total: replay.total,
  sent: replay.sent,
  succeeded: replay.succeeded,
  failed: replay.failed,
  remaining: replay.remaining,
  requested_by: { kind: replay.requested_by_kind, id: replay.requested_by },
  created_at: replay.created_at.toISOString(),
  finished_at: replay.finished_at?.toISOString() ?? null,
});

const CONTROLS: Record<ReplayAction, { summary: string; description: string }> = {
  pause: { summary: 'Pause a replay', description: 'No more deliveries are sent until it is resumed; those under way finish. Every unfinished replay of the endpoint pauses with it: one workflow serves them all.' },
  resume: { summary: 'Resume a paused replay', description: 'Sending carries on where it stopped, for every unfinished replay of the endpoint.' },
  cancel: { summary: 'Cancel a replay', description: 'No more deliveries are sent; those under way finish as deliveries of their own. Answers the replay as cancelled, with every unfinished replay of the endpoint.' },
};

export function replaysRouter(db: Db, spec: ApiSpec, starts: DeliveryStarts): Router {
  const { router, define } = resourceRouter(spec, db, 'Replays');

  define({
    method: 'post', path: '/apps/:app_id/endpoints/:endpoint_id/replay', summary: "Replay an endpoint's failed and skipped deliveries",
    description: [
      'Sends again, oldest first, the deliveries to this endpoint that failed or were skipped (it was inactive) and were created in [since, until); their attempts are marked trigger=replay.',
      'The endpoint must be active (409 endpoint_inactive otherwise: re-enable it first). A request while another replay of the endpoint runs is merged into it; nothing is sent twice.',
      'Deliveries of messages whose payload the data retention policy (RETENTION) removed are left out: they are neither counted nor sent.',
      'Accepted once stored: if Temporal is away, the worker starts it once it is back. Follow it with GET /apps/{app_id}/replays/{replay_id}.',
    ].join(' '),
    body: ReplayIn, status: 202, response: ReplayOut, errors: [409], idempotent: 'stored',
  }, async ({ res, params, body, accountId, db: trx, afterCommit }) => {
    const app = await requireApp(trx, accountId, params.app_id!);
    const endpoint = await requireEndpoint(trx, { appId: app.id }, params.endpoint_id!);
    const now = new Date();
    const until = body.until === undefined ? undefined : new Date(body.until);
    const since = body.since === undefined ? undefined : new Date(body.since);
    const outcome = await requestReplay(trx, endpoint, { since, until, requestedBy: { kind: 'api_key', id: apiKeyOf(res) } }, now);
    if (outcome.kind === 'endpoint_inactive') throw new ApiError(409, 'endpoint_inactive', 'the endpoint is inactive: re-enable it (PATCH status "active") before replaying');
    if (outcome.kind === 'invalid_range') throw new ApiError(422, 'validation_failed', `the replay range is not valid: ${outcome.message}`, [{ field: body.since === undefined ? 'until' : 'since', message: outcome.message }]);
    res.status(202).json(replayOut(outcome.replay));
    // Only a committed request may reach the workflow.
    afterCommit(() => starts.startReplay(outcome.replay));
  });

  define({ method: 'get', path: '/apps/:app_id/endpoints/:endpoint_id/replays', summary: "List an endpoint's replays, newest first", paginated: true, status: 200, response: z.array(ReplayOut) }, async ({ req, res, params, page, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    const endpoint = await requireEndpoint(db, { appId: app.id }, params.endpoint_id!);
    sendPage(req, res, page, await listEndpointReplays(db, endpoint.id, page), replayOut);
  });

  define({
    method: 'get', path: '/apps/:app_id/endpoints/:endpoint_id/missed', summary: 'Count what an endpoint missed',
    description: 'How many failed and skipped deliveries POST …/replay without a range would send now, and where that range starts.',
    status: 200, response: MissedOut,
  }, async ({ res, params, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    const endpoint = await requireEndpoint(db, { appId: app.id }, params.endpoint_id!);
    const missed = await missedDeliveries(db, endpoint, new Date());
    res.json({ count: missed.count, since: missed.since.toISOString() });
  });

  const requireReplay = async (accountId: string, appId: string, replayId: string): Promise<Replay> => {
    const app = await requireApp(db, accountId, appId);
    const replay = await findReplay(db, { appId: app.id }, replayId);
    if (!replay) throw notFound('replay');
    return replay;
  };

  define({ method: 'get', path: '/apps/:app_id/replays/:replay_id', summary: 'Get a replay and its progress', status: 200, response: ReplayOut }, async ({ res, params, accountId }) => {
    res.json(replayOut(await requireReplay(accountId, params.app_id!, params.replay_id!)));
  });

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    define({
      method: 'post', path: `/apps/:app_id/replays/:replay_id/${action}`, ...CONTROLS[action],
      status: 200, response: ReplayOut, errors: [409],
    }, async ({ res, params, accountId }) => {
      const replay = await requireReplay(accountId, params.app_id!, params.replay_id!);
      const outcome = await starts.controlReplay(replay, action);
      if (outcome.ok) return void res.json(replayOut(outcome.replay));
      if (outcome.why === 'unavailable') throw new ApiError(503, 'temporal_unavailable', 'Temporal is unreachable; try again shortly');
      if (outcome.why === 'not_started') throw new ApiError(409, 'replay_not_started', 'the replay has not reached its workflow yet; try again in a few seconds');
      const current = (await findReplay(db, { appId: replay.app_id }, replay.id)) ?? replay;
      throw new ApiError(409, 'replay_finished', `the replay already ended (${current.status}): start a new one with POST /apps/${replay.app_id}/endpoints/${replay.endpoint_id}/replay`);
    });
  }

  return router;
}
