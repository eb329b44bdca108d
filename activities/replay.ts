import { markStarted, type DeliveryToStart } from '../db/delivery-starts.ts';
import type { ReplayStatus } from '../db/database.ts';
import { claimReplayDeliveries, countReplayable, saveReplayProgress, type ReplayCursor, type ReplayRange } from '../db/replays.ts';
import type { Range } from '../lib/replay-ranges.ts';
import type { ActivityDeps } from './deps.ts';

export interface ReplayStepInput {
  endpointId: string;
  /** The replay requests the workflow serves: their rows get its progress. */
  replayIds: string[];
  /** The range being paged, from where the last page ended, and how many deliveries to claim from it (0: none). */
  page?: { range: ReplayRange; limit: number };
  /** Ranges still waiting their turn, counted in `remaining`. */
  queued: Range[];
  /** Deliveries whose runs the workflow started since the last step. */
  started: string[];
  /** The status and reason only when they changed since the last step (see saveReplayProgress). */
  progress: { status?: ReplayStatus; reason?: string | null; sent: number; succeeded: number; failed: number };
}

/** One delivery to run again, claimed for the start request made at `requestedAt`. */
export interface ReplayDelivery {
  delivery: DeliveryToStart;
  requestedAt: string;
}

export interface ReplayStepResult {
  endpoint: 'active' | 'inactive' | 'deleted';
  deliveries: ReplayDelivery[];
  /** Where the page ended; absent when it claimed nothing. */
  last?: ReplayCursor;
  remaining: number;
}

export function createReplayActivities({ db }: ActivityDeps) {
  return {
    /**
     * One step of an endpoint's replay, in one transaction: confirms the starts the workflow made,
     * claims the next page of deliveries (only while the endpoint is active), counts what is left,
     * and writes the progress to the replay rows. Not repeatable to the row: if its result is lost
     * after commit, a retry claims the page after, and the reconciler starts the lost page's
     * deliveries (they are pending with a `replay` start asked for), so nothing is left unsent.
     */
    async replayStep(input: ReplayStepInput): Promise<ReplayStepResult> {
      return db.transaction().execute(async (trx) => {
        await markStarted(trx, input.started, { trigger: 'replay' });
        const endpoint = await trx.selectFrom('endpoints').select('status').where('id', '=', input.endpointId).executeTakeFirst();
        const status = endpoint ? (endpoint.status === 'active' ? 'active' : 'inactive') : 'deleted';
        const page = status === 'active' && input.page && input.page.limit > 0 ? await claimReplayDeliveries(trx, input.endpointId, input.page.range, input.page.limit) : { claimed: [] };
        const current = input.page ? [{ ...input.page.range, ...(page.last ? { after: page.last } : {}) }] : [];
        const remaining = await countReplayable(trx, input.endpointId, [...current, ...input.queued]);
        const sent = input.progress.sent + page.claimed.length;
        await saveReplayProgress(trx, input.replayIds, { ...input.progress, sent, remaining, total: sent + remaining });
        return {
          endpoint: status,
          deliveries: page.claimed.map(({ trigger: _, requestedAt, ...delivery }) => ({ delivery, requestedAt })),
          ...(page.last ? { last: page.last } : {}),
          remaining,
        };
      });
    },
  };
}
