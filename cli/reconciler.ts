import { WorkflowNotFoundError } from '@temporalio/client';
import type { Db } from '../db/connection.ts';
import { claimOverdueStarts, markStarted, type ClaimedStart } from '../db/delivery-starts.ts';
import { leaseQuietReplays, markReplaysSignaled, saveReplayProgress } from '../db/replays.ts';
import type { Replay } from '../db/database.ts';
import type { Config } from '../lib/config.ts';
import { log } from '../lib/log.ts';
import { countDeliveryStarts, type StartSource } from '../lib/metrics.ts';
import { isTemporalUnreachable, type StartOutcome, type TemporalGateway } from '../lib/temporal.ts';
import { deliveryWorkflowId, startRequestOf, startsNewRun } from '../workflows/delivery-run.ts';
import { overdueStartMs, startDeliveryWorkflow } from '../workflows/delivery-start.ts';
import { replayWorkflowId } from '../workflows/replay.ts';
import { signalReplayWorkflow } from '../workflows/replay-start.ts';

/** Starts leased per round: one round's calls end well within the lease (see overdueStartMs). */
const CLAIM_BATCH = 16;
/** At most this many starts per pass, so one pass ends and the next interval comes round. */
const MAX_ROUNDS = 625;

export interface ReconcilerDeps {
  db: Db;
  temporal: TemporalGateway;
  config: Pick<Config, 'retry' | 'deliveryTimeoutMs' | 'temporal' | 'reconcileIntervalMs' | 'replayConcurrency'>;
}

/**
 * One pass of the reconciler, which every worker runs: starts the workflows of pending deliveries
 * whose start was asked for (accepted, resent) longer than `overdueMs` ago and never confirmed,
 * because Temporal was away or a process died between commit and start. Each start keeps the
 * trigger it was asked for. Safe with many workers at once: each round leases its rows (see
 * claimOverdueStarts). Ends early when `signal` aborts (the worker stopping). Returns how many
 * starts it confirmed.
 */
export async function reconcileStarts(
  { db, temporal, config }: ReconcilerDeps,
  { overdueMs = overdueStartMs(config), signal }: { overdueMs?: number; signal?: AbortSignal } = {},
): Promise<number> {
  return leaseRounds(temporal, signal, {
    what: 'delivery workflows not started',
    claim: () => claimOverdueStarts(db, { overdueMs, limit: CLAIM_BATCH }),
    start: (start) => finishStart(temporal, config, start),
    counted: 'reconciler',
    // One statement leased them all, so they share one request time.
    confirm: (confirmed, claimed) => markStarted(db, confirmed.map((start) => start.id), { requestedAt: claimed[0]!.requestedAt }),
  });
}

/**
 * Starts one leased delivery. A start that makes a new run (a resend) may already have made it and
 * lost only its confirmation: the run's memo names the request that started it, so a run started
 * for the request found unconfirmed counts as started instead of being replaced by a second one.
 */
async function finishStart(temporal: TemporalGateway, config: ReconcilerDeps['config'], start: ClaimedStart): Promise<StartOutcome> {
  if (startsNewRun(start.trigger)) {
    try {
      const run = await temporal.call((client) => client.workflow.getHandle(deliveryWorkflowId(start.id)).describe());
      if (startRequestOf(run.memo) === start.previousRequestedAt) return { ok: true, created: false };
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) return { ok: false, unreachable: isTemporalUnreachable(error), error };
    }
  }
  return startDeliveryWorkflow(temporal, config, start, start);
}

/**
 * Sends the replay requests whose signal-with-start was never confirmed (Temporal away, or the
 * process died after commit) once they are overdue. The workflow ignores a request it already has,
 * so a signal that did arrive but went unconfirmed is harmless. Returns how many it confirmed.
 */
export async function reconcileReplays(
  { db, temporal, config }: ReconcilerDeps,
  { overdueMs = overdueStartMs(config), signal }: { overdueMs?: number; signal?: AbortSignal } = {},
): Promise<number> {
  return leaseRounds(temporal, signal, {
    what: 'replay requests not sent',
    claim: () => leaseQuietReplays(db, { signaled: false, quietMs: overdueMs, limit: CLAIM_BATCH }),
    start: (replay) => signalReplayWorkflow(temporal, config, replay),
    confirm: (confirmed) => markReplaysSignaled(db, confirmed.map((replay) => replay.id)),
  });
}

/**
 * Ends the replays no workflow serves any more (its run was terminated or failed in the Temporal
 * UI, or ended while Postgres was away for longer than it retries): once one has been quiet for
 * `staleMs`, and its endpoint's replay workflow is not running, it is recorded `stopped` with the
 * reason, so every replay ends. Returns how many it checked.
 */
export async function settleOrphanedReplays(
  { db, temporal, config }: ReconcilerDeps,
  { staleMs = overdueStartMs(config), signal }: { staleMs?: number; signal?: AbortSignal } = {},
): Promise<number> {
  return leaseRounds(temporal, signal, {
    what: 'replays not checked',
    claim: () => leaseQuietReplays(db, { signaled: true, quietMs: staleMs, limit: CLAIM_BATCH }),
    start: (replay) => settleIfOrphaned(db, temporal, replay),
    confirm: () => Promise.resolve(),
  });
}

async function settleIfOrphaned(db: ReconcilerDeps['db'], temporal: TemporalGateway, replay: Replay): Promise<StartOutcome> {
  let ended: string;
  try {
    const run = await temporal.call((client) => client.workflow.getHandle(replayWorkflowId(replay.endpoint_id)).describe());
    if (run.status.name === 'RUNNING') return { ok: true, created: false };
    ended = run.status.name.toLowerCase().replaceAll('_', ' ');
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) return { ok: false, unreachable: isTemporalUnreachable(error), error };
    ended = 'gone';
  }
  const { sent, succeeded, failed, remaining } = replay;
  await saveReplayProgress(db, [replay.id], { status: 'stopped', reason: `its workflow ended without finishing it (${ended})`, total: sent + remaining, sent, succeeded, failed, remaining });
  return { ok: true, created: true };
}

/**
 * Rounds of lease, start, confirm: each round leases up to CLAIM_BATCH rows, starts them all at
 * once and confirms the ones Temporal took, until none is left, MAX_ROUNDS passed, the worker
 * stops, or Temporal is unreachable (the rest would fail the same way). Returns how many it confirmed.
 */
async function leaseRounds<T>(
  temporal: TemporalGateway,
  signal: AbortSignal | undefined,
  job: {
    what: string;
    claim(): Promise<T[]>;
    start(row: T): Promise<StartOutcome>;
    confirm(confirmed: T[], claimed: T[]): Promise<void>;
    /** Delivery starts: their outcomes go to openhooks_delivery_starts_total under this source. */
    counted?: StartSource;
  },
): Promise<number> {
  try {
    await temporal.client();
  } catch (error) {
    // Leasing rows now would only push their starts back.
    log.warn('Temporal is unreachable; the reconciler will try again', { error });
    return 0;
  }
  let total = 0;
  for (let round = 0; round < MAX_ROUNDS && !signal?.aborted; round++) {
    const claimed = await job.claim();
    if (claimed.length === 0) break;
    const outcomes = await Promise.all(claimed.map((row) => job.start(row)));
    if (job.counted) countDeliveryStarts(job.counted, outcomes);
    const confirmed = claimed.filter((_, i) => outcomes[i]!.ok);
    await job.confirm(confirmed, claimed);
    total += confirmed.length;
    const failures = outcomes.filter((outcome) => !outcome.ok);
    if (failures.length > 0) {
      log.warn(`${job.what}; the reconciler will try again`, { count: failures.length, error: failures[0]!.error });
      if (failures.some((failure) => failure.unreachable)) break;
    }
    if (claimed.length < CLAIM_BATCH) break;
  }
  return total;
}
