import type { AppLoadContext } from '@remix-run/node';
import type { Endpoint, Replay } from '../../db/database.ts';
import { findEndpoint, listEndpoints, updateEndpoint } from '../../db/endpoints.ts';
import { requestReplay } from '../../db/replays.ts';
import { endpointRulesOf } from './endpoints.server';
import type { SignedInSubscriber } from './subscriber-session.server';

// What the subscriber portal's pages do beyond what they share with the provider's: every lookup is
// scoped by the signed-in subscriber, so another subscriber's ids are simply not found (404).

const notFound = () => new Response('Not found', { status: 404, statusText: 'Not Found' });

/** The subscriber's endpoints, newest first (MAX_ENDPOINTS_PER_SUBSCRIBER bounds them: one page). */
export async function subscriberEndpoints(context: AppLoadContext, { subscriber }: SignedInSubscriber): Promise<Endpoint[]> {
  return (await listEndpoints(context.db, { subscriberId: subscriber.id }, { limit: context.config.maxEndpointsPerSubscriber, offset: 0 })).rows;
}

/** One of the subscriber's endpoints; another's, or none, is a 404. */
export async function requireOwnEndpoint(context: AppLoadContext, { subscriber }: SignedInSubscriber, endpointId: string | undefined): Promise<Endpoint> {
  const endpoint = endpointId ? await findEndpoint(context.db, { subscriberId: subscriber.id }, endpointId) : undefined;
  if (!endpoint) throw notFound();
  return endpoint;
}

/**
 * Re-enables the endpoint as the API's PATCH status=active does (its disabled reason and time are
 * cleared; last_disabled_at stays, so the replay knows where the miss began) and, with `replay`,
 * records a replay of what it missed in the same transaction. The replay is handed to its workflow
 * only once that committed; the reconciler covers a failure there.
 */
export async function reenableEndpoint(context: AppLoadContext, { app, subscriber }: SignedInSubscriber, endpoint: Endpoint, options: { replay: boolean }, now = new Date()): Promise<{ replay?: Replay }> {
  const rules = endpointRulesOf(context);
  const replay = await context.db.transaction().execute(async (trx) => {
    await updateEndpoint(trx, endpoint.id, await rules.changes(trx, app.id, endpoint, { status: 'active' }, ''));
    if (!options.replay) return undefined;
    const outcome = await requestReplay(trx, endpoint, { requestedBy: { kind: 'subscriber_link', id: subscriber.id } }, now);
    // The endpoint is active in this transaction, and the default range ends now: only a miss that began after now could be refused.
    return outcome.kind === 'accepted' ? outcome.replay : undefined;
  });
  if (replay) context.starts.startReplay(replay);
  return replay ? { replay } : {};
}
