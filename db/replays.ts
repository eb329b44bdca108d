import { sql } from 'kysely';
import { newId } from '../lib/ids.ts';
import type { Range } from '../lib/replay-ranges.ts';
import type { Db } from './connection.ts';
import { requestToken, START_COLUMNS, startAgain, type RequestedStart } from './delivery-starts.ts';
import type { Endpoint, Replay, ReplayRequesterKind, ReplayStatus } from './database.ts';
import { fetchPage, newestFirst, type PageOf, type PageSlice } from './pages.ts';

/** Who asked for a replay. */
export interface ReplayRequester {
  kind: ReplayRequesterKind;
  id: string;
}

/** How far a replay got: `total` = `sent` + `remaining`; `failed` counts deliveries that did not succeed again. */
export interface ReplayCounts {
  total: number;
  sent: number;
  succeeded: number;
  failed: number;
  remaining: number;
}

/** Replays still under way (running or paused): at most one workflow per endpoint serves them all. */
export const UNFINISHED: readonly ReplayStatus[] = ['running', 'paused'];

/** When none is given, a replay starts where its endpoint's miss began; see missedSince. */
const DEFAULT_LOOKBACK_MS = 24 * 60 * 60 * 1000;

/**
 * Where a replay's page of one range ended: its last delivery's creation time (microseconds since the
 * epoch, as text: exact, where a JS Date would round) and id. The next page starts after it.
 */
export interface ReplayCursor {
  createdAtMicros: string;
  id: string;
}

/** A range to replay, with the point in it a replay already paged past. */
export type ReplayRange = Range & { after?: ReplayCursor };

/**
 * The endpoint's failed and skipped deliveries created in any of `ranges` (the deliveries_replayable
 * index) whose message still has its payload: one the retention policy removed is never sent again.
 */
function replayable(db: Db, endpointId: string, ranges: readonly ReplayRange[]) {
  return db
    .selectFrom('deliveries')
    .where('deliveries.endpoint_id', '=', endpointId)
    .where('deliveries.status', 'in', ['failed', 'skipped'])
    .where((eb) =>
      eb.not(eb.exists(eb.selectFrom('messages as purged').select(sql`1`.as('one')).whereRef('purged.id', '=', 'deliveries.message_id').where('purged.payload_purged_at', 'is not', null))),
    )
    .where((eb) =>
      eb.or(
        ranges.map((range) =>
          eb.and([
            eb('deliveries.created_at', '>=', new Date(range.since)),
            eb('deliveries.created_at', '<', new Date(range.until)),
            ...(range.after
              ? [sql<boolean>`(deliveries.created_at, deliveries.id) > (timestamptz 'epoch' + ${range.after.createdAtMicros}::bigint * interval '1 microsecond', ${range.after.id})`]
              : []),
          ]),
        ),
      ),
    );
}

/**
 * The next `limit` deliveries of one range a replay sends, oldest first, claimed in one statement:
 * each is `pending` again with its last outcome cleared and a `replay` start asked for now, so the
 * reconciler finishes the start should the replay never make it. Only failed and skipped deliveries
 * of this endpoint qualify, so one that succeeded meanwhile (or is being resent) is never sent again;
 * rows another transaction holds are passed over. Also says where the page ended.
 */
export async function claimReplayDeliveries(db: Db, endpointId: string, range: ReplayRange, limit: number): Promise<{ claimed: RequestedStart[]; last?: ReplayCursor }> {
  const rows = await db
    .with('picked', () =>
      replayable(db, endpointId, [range])
        .select(['deliveries.id', micros('deliveries.created_at').as('created_micros')])
        .orderBy('deliveries.created_at')
        .orderBy('deliveries.id')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .with('claimed', (qb) =>
      qb
        .updateTable('deliveries')
        .from('picked')
        .set(startAgain('replay'))
        .whereRef('deliveries.id', '=', 'picked.id')
        .returning((eb) => ['deliveries.id', 'picked.created_micros', requestToken(eb.ref('deliveries.start_requested_at')).as('requestedAt')]),
    )
    .selectFrom('claimed')
    .innerJoin('deliveries', 'deliveries.id', 'claimed.id')
    .innerJoin('messages', 'messages.id', 'deliveries.message_id')
    .innerJoin('apps', 'apps.id', 'deliveries.app_id')
    .select(START_COLUMNS)
    .select(['claimed.requestedAt', 'claimed.created_micros'])
    .orderBy('deliveries.created_at')
    .orderBy('deliveries.id')
    .execute();
  const lastRow = rows[rows.length - 1];
  return {
    claimed: rows.map(({ created_micros: _, ...start }) => start),
    ...(lastRow ? { last: { createdAtMicros: lastRow.created_micros, id: lastRow.id } } : {}),
  };
}

const micros = (column: 'deliveries.created_at') => sql<string>`(extract(epoch from ${sql.ref(column)}) * 1000000)::bigint::text`;

/** How many deliveries a replay of these ranges would send now. */
export async function countReplayable(db: Db, endpointId: string, ranges: readonly ReplayRange[]): Promise<number> {
  if (ranges.length === 0) return 0;
  const row = await replayable(db, endpointId, ranges)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Where the endpoint's miss began: the oldest of its failed or skipped deliveries that ended since
 * it was last disabled (the one whose failure disabled it included), or that moment when none did;
 * 24 h ago for an endpoint never disabled.
 */
export async function missedSince(db: Db, endpoint: Pick<Endpoint, 'id' | 'last_disabled_at'>, now: Date): Promise<Date> {
  if (!endpoint.last_disabled_at) return new Date(now.getTime() - DEFAULT_LOOKBACK_MS);
  const row = await db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.min('created_at').as('oldest'))
    .where('endpoint_id', '=', endpoint.id)
    .where('status', 'in', ['failed', 'skipped'])
    .where('finished_at', '>=', endpoint.last_disabled_at)
    .executeTakeFirst();
  const oldest = row?.oldest ? new Date(row.oldest) : undefined;
  return oldest && oldest < endpoint.last_disabled_at ? oldest : endpoint.last_disabled_at;
}

/** What a replay with the default range would send: `{count, since}`. */
export async function missedDeliveries(db: Db, endpoint: Pick<Endpoint, 'id' | 'last_disabled_at'>, now: Date): Promise<{ count: number; since: Date }> {
  const since = await missedSince(db, endpoint, now);
  return { count: await countReplayable(db, endpoint.id, [{ since: since.getTime(), until: now.getTime() + 1 }]), since };
}

export function insertReplay(
  db: Db,
  fields: { appId: string; subscriberId: string; endpointId: string; requestedBy: ReplayRequester; since: Date; until: Date; total: number },
): Promise<Replay> {
  return db
    .insertInto('replays')
    .values({
      id: newId('replay'),
      app_id: fields.appId,
      subscriber_id: fields.subscriberId,
      endpoint_id: fields.endpointId,
      requested_by_kind: fields.requestedBy.kind,
      requested_by: fields.requestedBy.id,
      since: fields.since,
      until: fields.until,
      total: fields.total,
      remaining: fields.total,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A replay is looked up within its app, or within its subscriber (the subscriber portal). */
export type ReplayScope = { appId: string } | { subscriberId: string };

export function findReplay(db: Db, scope: ReplayScope, replayId: string): Promise<Replay | undefined> {
  const query = db.selectFrom('replays').selectAll().where('id', '=', replayId);
  return ('appId' in scope ? query.where('app_id', '=', scope.appId) : query.where('subscriber_id', '=', scope.subscriberId)).executeTakeFirst();
}

export function listEndpointReplays(db: Db, endpointId: string, slice: PageSlice): Promise<PageOf<Replay>> {
  return fetchPage(newestFirst(db.selectFrom('replays').selectAll().where('endpoint_id', '=', endpointId)), slice);
}

/** The endpoint's newest replay, finished or not: what a progress view shows. */
export function latestReplay(db: Db, endpointId: string): Promise<Replay | undefined> {
  return newestFirst(db.selectFrom('replays').selectAll().where('endpoint_id', '=', endpointId)).limit(1).executeTakeFirst();
}

/** Temporal confirmed these replays' signal-with-start: the reconciler leaves them alone. */
export async function markReplaysSignaled(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.updateTable('replays').set({ workflow_signaled_at: sql<Date>`now()` }).where('id', 'in', ids).where('workflow_signaled_at', 'is', null).execute();
}

/**
 * Leases up to `limit` unfinished replays nothing wrote for `quietMs`, for the reconciler: with
 * `signaled: false` the requests whose signal was never confirmed (a crash, or Temporal away after
 * commit), to send them; with `signaled: true` the ones a workflow has had (paused, or terminated
 * by hand), to check that one still serves them. One statement locks them, skipping rows another
 * reconciler holds, and moves `updated_at` to now as the lease.
 */
export function leaseQuietReplays(db: Db, options: { signaled: boolean; quietMs: number; limit: number }): Promise<Replay[]> {
  return db
    .with('claimed', (qb) =>
      qb
        .selectFrom('replays')
        .select('id')
        .where('workflow_signaled_at', options.signaled ? 'is not' : 'is', null)
        .where('finished_at', 'is', null)
        .where('updated_at', '<', sql<Date>`now() - make_interval(secs => ${options.quietMs / 1000})`)
        .orderBy('updated_at')
        .limit(options.limit)
        .forUpdate()
        .skipLocked(),
    )
    .updateTable('replays')
    .from('claimed')
    .set({ updated_at: sql<Date>`now()` })
    .whereRef('replays.id', '=', 'claimed.id')
    .returningAll('replays')
    .execute();
}

/**
 * Sets the status of the endpoint's unfinished replays at once (they share its one workflow), as a
 * pause or resume signal just sent to it asks; the workflow writes the same when it acts on it.
 */
export async function setUnfinishedReplaysStatus(db: Db, endpointId: string, status: 'running' | 'paused'): Promise<void> {
  await db
    .updateTable('replays')
    .set({ status, updated_at: sql<Date>`now()` })
    .where('endpoint_id', '=', endpointId)
    .where('status', 'in', UNFINISHED)
    .execute();
}

/**
 * What the replay workflow writes of its requests as it goes, and once when they end. `status` only
 * when the workflow changed it (a pause or resume it acted on, the end), so a count written while a
 * pause is on its way never turns the status the API just wrote back to running.
 */
export async function saveReplayProgress(
  db: Db,
  replayIds: readonly string[],
  progress: ReplayCounts & { status?: ReplayStatus; reason?: string | null },
): Promise<void> {
  if (replayIds.length === 0) return;
  const finished = progress.status !== undefined && !UNFINISHED.includes(progress.status);
  await db
    .updateTable('replays')
    .set({
      ...progress,
      updated_at: sql<Date>`now()`,
      // The workflow has the request, whether or not its sender lived to confirm it.
      workflow_signaled_at: sql<Date>`coalesce(workflow_signaled_at, now())`,
      ...(finished ? { finished_at: sql<Date>`now()` } : {}),
    })
    .where('id', 'in', replayIds)
    // A finished replay stays as it ended, whatever a late write of its workflow says.
    .where('finished_at', 'is', null)
    .execute();
}

export type ReplayRequestOutcome = { kind: 'accepted'; replay: Replay } | { kind: 'endpoint_inactive' } | { kind: 'invalid_range'; message: string };

/**
 * Records a replay request, for the caller's transaction; its signal goes to the endpoint's workflow
 * after commit (see signalReplayWorkflow), or from the reconciler if that never happens. The range
 * defaults to where the endpoint's miss began (missedSince) until now. Nothing is written while the
 * endpoint is inactive: it must be re-enabled first, or the replay would only skip again.
 */
export async function requestReplay(
  trx: Db,
  endpoint: Pick<Endpoint, 'id' | 'app_id' | 'subscriber_id' | 'last_disabled_at'>,
  request: { since?: Date; until?: Date; requestedBy: ReplayRequester },
  now: Date,
): Promise<ReplayRequestOutcome> {
  const row = await trx.selectFrom('endpoints').select('status').where('id', '=', endpoint.id).forShare().executeTakeFirst();
  if (row?.status !== 'active') return { kind: 'endpoint_inactive' };
  // Deliveries created after now cannot have failed yet: a later end is taken as now.
  const until = request.until && request.until < now ? request.until : now;
  const since = request.since ?? (await missedSince(trx, endpoint, now));
  if (since.getTime() >= until.getTime()) return { kind: 'invalid_range', message: `since (${since.toISOString()}) must be before until (${until.toISOString()})` };
  const total = await countReplayable(trx, endpoint.id, [{ since: since.getTime(), until: until.getTime() }]);
  const replay = await insertReplay(trx, { appId: endpoint.app_id, subscriberId: endpoint.subscriber_id, endpointId: endpoint.id, requestedBy: request.requestedBy, since, until, total });
  return { kind: 'accepted', replay };
}
