import type { AppLoadContext } from '@remix-run/node';
import type { Endpoint, Replay } from '../../db/database.ts';
import { findReplay, latestReplay, missedDeliveries, requestReplay, UNFINISHED, type ReplayRequester, type ReplayScope } from '../../db/replays.ts';
import type { Db } from '../../db/connection.ts';
import { type ReplayControlIntent, type ReplayFormResult, type ReplayView, type EndpointReplayState } from './components/replay-panel';
import { formText } from './forms.server';

// Shared by the provider portal (scope {appId}, requested by a user) and the subscriber portal
// (scope {subscriberId}, requested by its portal link): routes own their loaders and actions and
// call these with their own scope, requester and audience.

/** Who reads a replay: the provider's team sees which user or key asked; a subscriber sees "you" or "the provider". */
export type ReplayAudience = 'provider' | 'subscriber';

const notFound = () => new Response('Not found', { status: 404, statusText: 'Not Found' });

/** How the page names who asked for a replay. */
async function requesterName(db: Db, replay: Replay, audience: ReplayAudience): Promise<string> {
  const { requested_by_kind: kind, requested_by: id } = replay;
  if (kind === 'subscriber_link') return audience === 'subscriber' ? 'you (portal link)' : 'the subscriber, through its portal link';
  if (audience === 'subscriber') return 'the provider';
  if (kind === 'user') {
    const user = await db.selectFrom('users').select('email').where('id', '=', id).executeTakeFirst();
    return user?.email ?? 'a former team member';
  }
  const key = await db.selectFrom('api_keys').select('name').where('id', '=', id).executeTakeFirst();
  return key ? `API key “${key.name}”` : 'an API key since deleted';
}

/** A replay as the replay panel (and its polling resource route) shows it. */
export async function replayView(db: Db, replay: Replay, audience: ReplayAudience): Promise<ReplayView> {
  return {
    id: replay.id,
    endpointId: replay.endpoint_id,
    status: replay.status,
    reason: replay.reason,
    since: replay.since.toISOString(),
    until: replay.until.toISOString(),
    total: replay.total,
    sent: replay.sent,
    succeeded: replay.succeeded,
    failed: replay.failed,
    remaining: replay.remaining,
    requestedBy: { kind: replay.requested_by_kind, name: await requesterName(db, replay, audience) },
    createdAt: replay.created_at.toISOString(),
    updatedAt: replay.updated_at.toISOString(),
    finishedAt: replay.finished_at?.toISOString() ?? null,
    finished: !UNFINISHED.includes(replay.status),
  };
}

/** What a page's loader gives the replay panel of one endpoint: what a default replay would send, and its latest replay. */
export async function endpointReplayState(db: Db, endpoint: Pick<Endpoint, 'id' | 'last_disabled_at'>, audience: ReplayAudience, now = new Date()): Promise<EndpointReplayState> {
  const [missed, latest] = await Promise.all([missedDeliveries(db, endpoint, now), latestReplay(db, endpoint.id)]);
  return { missed: { count: missed.count, since: missed.since.toISOString() }, latest: latest ? await replayView(db, latest, audience) : null };
}

/**
 * The polling resource route's answer: the replay as JSON, or 404 when it is not in `scope` (another
 * account's or subscriber's ids reveal nothing).
 */
export async function replayResource(db: Db, scope: ReplayScope, replayId: string | undefined, audience: ReplayAudience): Promise<Response> {
  const replay = replayId ? await findReplay(db, scope, replayId) : undefined;
  if (!replay) throw notFound();
  return Response.json(await replayView(db, replay, audience), { headers: { 'Cache-Control': 'no-store' } });
}

const DATETIME_LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** A datetime-local value read as UTC (the form says so); undefined when it is not a real time. */
export function parseUtcDateTime(value: string): Date | undefined {
  const match = DATETIME_LOCAL.exec(value);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map((part) => Number(part ?? 0)) as [number, number, number, number, number, number];
  const at = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls 2026-02-31 over into March: refuse it instead.
  return at.getUTCMonth() === month - 1 && at.getUTCDate() === day && hour < 24 && minute < 60 && second < 60 ? at : undefined;
}

/** The replay form's range: each bound optional (empty = the default), typed as UTC. */
export function parseReplayForm(form: FormData): { ok: true; since?: Date; until?: Date } | { ok: false; errors: Record<string, string>; values: Record<string, string> } {
  const values = { since: formText(form, 'since'), until: formText(form, 'until') };
  const since = values.since ? parseUtcDateTime(values.since) : undefined;
  const until = values.until ? parseUtcDateTime(values.until) : undefined;
  const errors: Record<string, string> = {};
  const bad = 'Enter a date and time like 2026-12-01 09:30 (UTC), or leave it empty.';
  if (values.since && !since) errors.since = bad;
  if (values.until && !until) errors.until = bad;
  if (since && until && since >= until) errors.until = 'Must be after “From”.';
  if (Object.keys(errors).length > 0) return { ok: false, errors, values };
  return { ok: true, ...(since ? { since } : {}), ...(until ? { until } : {}) };
}

/** A replay form's answer: the status for the route to answer with, and what the panel shows. */
export interface ReplayActionAnswer {
  status: number;
  result: ReplayFormResult;
}

/**
 * Records a replay of `endpoint` as the posted form asks (intent `replay`), then hands it to the
 * endpoint's replay workflow once the transaction committed; the reconciler covers a failure there.
 * 400 for a bad range, 409 while the endpoint is disabled: nothing is written then.
 */
export async function requestEndpointReplay(
  context: AppLoadContext,
  endpoint: Pick<Endpoint, 'id' | 'app_id' | 'subscriber_id' | 'last_disabled_at'>,
  form: FormData,
  requestedBy: ReplayRequester,
  now = new Date(),
): Promise<ReplayActionAnswer> {
  const intent = 'replay';
  const endpointId = endpoint.id;
  const parsed = parseReplayForm(form);
  if (!parsed.ok) return { status: 400, result: { intent, endpointId, errors: parsed.errors, values: parsed.values } };
  const values = { since: formText(form, 'since'), until: formText(form, 'until') };
  const outcome = await context.db.transaction().execute((trx) => requestReplay(trx, endpoint, { since: parsed.since, until: parsed.until, requestedBy }, now));
  if (outcome.kind === 'endpoint_inactive') {
    return { status: 409, result: { intent, endpointId, errors: { form: 'This endpoint is disabled, so a replay would only skip again. Re-enable the endpoint first, then replay.' }, values } };
  }
  if (outcome.kind === 'invalid_range') {
    // Only a default bound can meet this (the form checked typed ones): the miss began after the chosen end.
    return { status: 400, result: { intent, endpointId, errors: { form: `Choose a range whose start is before its end: ${outcome.message}.` }, values } };
  }
  context.starts.startReplay(outcome.replay);
  const { total } = outcome.replay;
  const done = total === 0 ? 'Replay requested: nothing in that range needs sending, so it ends at once.' : `Replay requested: ${total} ${total === 1 ? 'message' : 'messages'} to send again.`;
  return { status: 202, result: { intent, endpointId, errors: {}, values: {}, done } };
}

// The routes' actions tell the panel's control forms apart with it; it lives beside them.
export { isReplayControlIntent } from './components/replay-panel';

const CONTROL_DONE: Record<ReplayControlIntent, string> = {
  'replay-pause': 'Replay paused.',
  'replay-resume': 'Replay resumed.',
  'replay-cancel': 'Replay cancelled.',
};

/**
 * Pauses, resumes or cancels the replay the form names (`replay_id`), looked up within `scope`: 404
 * outside it; 409 when it has ended (or has not reached its workflow yet); 503 when Temporal is away.
 */
export async function controlEndpointReplay(context: AppLoadContext, scope: ReplayScope, intent: ReplayControlIntent, form: FormData): Promise<ReplayActionAnswer> {
  const replay = await findReplay(context.db, scope, formText(form, 'replay_id'));
  if (!replay) throw notFound();
  const endpointId = replay.endpoint_id;
  const outcome = await context.starts.controlReplay(replay, intent === 'replay-pause' ? 'pause' : intent === 'replay-resume' ? 'resume' : 'cancel');
  if (outcome.ok) return { status: 200, result: { intent, endpointId, errors: {}, values: {}, done: CONTROL_DONE[intent] } };
  if (outcome.why === 'unavailable') return { status: 503, result: { intent, endpointId, errors: { form: 'The replay could not be reached just now (Temporal is unavailable). Try again in a moment.' }, values: {} } };
  const now = await findReplay(context.db, scope, replay.id);
  const ended = !now || !UNFINISHED.includes(now.status);
  const error = ended ? `This replay has already ended (${now?.status ?? 'gone'}); nothing changed.` : 'This replay is still starting; try again in a moment.';
  return { status: 409, result: { intent, endpointId, errors: { form: error }, values: {} } };
}
