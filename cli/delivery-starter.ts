import type { Db } from '../db/connection.ts';
import { listenForStarts, lockNewStarts, markStarted } from '../db/delivery-starts.ts';
import { coalesced } from '../lib/coalesce.ts';
import type { Config } from '../lib/config.ts';
import { log } from '../lib/log.ts';
import { countDeliveryStarts } from '../lib/metrics.ts';
import type { TemporalGateway } from '../lib/temporal.ts';
import { overdueStartMs, startDeliveryWorkflow, type DeliveryStartSettings } from '../workflows/delivery-start.ts';

/** Deliveries one transaction locks and starts at once. */
const BATCH = 64;
/** Batches per pass, so a pass ends and the rest waits for the next (a long burst keeps passes coming). */
const MAX_ROUNDS = 100;
/** A pass runs this often even without announcements: a lost notification or LISTEN connection costs this much delay. */
const POLL_EVERY_MS = 1_000;
/** Wait before listening again after the LISTEN connection failed. */
const RELISTEN_AFTER_MS = 1_000;

/** What one worker's starter did since it started (for tests and the operator's logs). */
export interface StarterCounts {
  /** Runs made; `eager` of them ran their first workflow task here at once. */
  started: number;
  eager: number;
  /** Starts that found the run already made (another worker's or the reconciler's). */
  existing: number;
  /** Starts that failed; their deliveries were left for a later pass. */
  failed: number;
}

export interface DeliveryStarter {
  readonly counts: StarterCounts;
  /** Resolves when the pass under way (if any) is over; no pass starts after it. */
  stop(): Promise<void>;
}

/**
 * The worker's delivery starts, the normal path of every accepted message: the API commits the
 * message and its deliveries and announces them (NOTIFY); each worker listening locks a batch
 * (SKIP LOCKED, so workers share a burst and never start one delivery twice), starts their
 * workflows on its own connection, asking for eager execution so that the first workflow task,
 * with the first attempt as a local activity, runs here without a trip through matching, and
 * confirms the starts in the same transaction. A start that fails stays unconfirmed: the next passes
 * try again until it is overdue, then the reconciler takes it, as it does after a worker died.
 */
export async function startDeliveryStarter(deps: { db: Db; temporal: TemporalGateway; config: DeliveryStartSettings & Pick<Config, 'reconcileIntervalMs'> }): Promise<DeliveryStarter> {
  const { db, temporal, config } = deps;
  let stopping = false;
  let listener: { close(): void } | undefined;
  let relisten: NodeJS.Timeout | undefined;
  const counts: StarterCounts = { started: 0, eager: 0, existing: 0, failed: 0 };
  // Announcements during a pass are folded into one more pass.
  const passes = coalesced(pass, (err) => log.warn('delivery start pass failed; the next one tries again', { error: err }));
  const kick = (): void => {
    if (!stopping) passes.run();
  };

  async function pass(): Promise<void> {
    for (let round = 0; round < MAX_ROUNDS && !stopping; round++) {
      const { locked, unreachable } = await db.transaction().execute(async (trx) => {
        const starts = await lockNewStarts(trx, { limit: BATCH, freshMs: overdueStartMs(config) });
        const outcomes = await Promise.all(starts.map((start) => startDeliveryWorkflow(temporal, config, start, { trigger: 'automatic' })));
        await markStarted(trx, starts.filter((_, i) => outcomes[i]!.ok).map((start) => start.id), { trigger: 'automatic' });
        const failed = outcomes.filter((outcome) => !outcome.ok);
        countDeliveryStarts('starter', outcomes);
        for (const outcome of outcomes) {
          if (outcome.ok) {
            counts[outcome.created ? 'started' : 'existing']++;
            if (outcome.eager) counts.eager++;
          }
        }
        counts.failed += failed.length;
        if (failed.length > 0) log.warn('delivery workflows not started; they stay pending for the next pass', { count: failed.length, error: failed[0]!.error });
        return { locked: starts.length, unreachable: failed.some((outcome) => outcome.unreachable) };
      });
      // Temporal away: the poll tries again, without a tight loop over the same rows.
      if (unreachable || locked < BATCH) return;
    }
    kick();
  }

  async function listen(): Promise<void> {
    try {
      listener = await listenForStarts(db, kick, (err) => {
        log.warn('lost the connection that listens for delivery starts; listening again', { error: err });
        listener?.close();
        listener = undefined;
        scheduleListen();
      });
      // Announcements made while nobody listened are found by this pass.
      kick();
    } catch (err) {
      log.warn('cannot listen for delivery starts; trying again', { error: err });
      scheduleListen();
    }
  }
  function scheduleListen(): void {
    if (!stopping) relisten = setTimeout(() => void listen(), RELISTEN_AFTER_MS);
  }

  await listen();
  const poll = setInterval(kick, POLL_EVERY_MS);

  return {
    counts,
    async stop() {
      stopping = true;
      clearInterval(poll);
      clearTimeout(relisten);
      listener?.close();
      await passes.idle();
    },
  };
}
