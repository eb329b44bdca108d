import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { PurgeTarget } from '../db/retention.ts';

export interface RetentionInput {
  /** RETENTION in ms: payloads and attempt bodies older than this are purged. */
  retentionMs: number;
  /** Rows per batch; RETENTION_BATCH unless a test asks for fewer. */
  batchSize?: number;
  /** Batches per target in one run; RETENTION_MAX_BATCHES unless a test asks for fewer. */
  maxBatches?: number;
}

export interface RetentionResult {
  /** Rows purged per target by this run. */
  purged: Record<PurgeTarget, number>;
  /** False when a target still had rows once its batches ran out: the next run carries on. */
  complete: boolean;
}

/** Rows one purge statement changes at most: short transactions, few locks. */
export const RETENTION_BATCH = 1_000;
/** Batches per target in one run: bounds the run and its history; a backlog takes several runs. */
export const RETENTION_MAX_BATCHES = 100;

const { purgeBatch } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // Postgres only; a run that fails is followed by the next scheduled one.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

/**
 * One pass of the data retention policy, started by the `openhooks-retention` schedule: for each
 * target in turn, purges batches up to one cutoff fixed at the start of the run (so it ends) until a
 * batch comes back short or the run's batches for that target are used up.
 */
export async function retentionWorkflow(input: RetentionInput): Promise<RetentionResult> {
  const limit = input.batchSize ?? RETENTION_BATCH;
  const maxBatches = input.maxBatches ?? RETENTION_MAX_BATCHES;
  // Workflow time: the same on replay.
  const asOf = new Date().toISOString();
  // Every target, in this order; the Record type keeps the list complete.
  const purged: Record<PurgeTarget, number> = { message_payloads: 0, attempt_bodies: 0, idempotency_keys: 0, message_idempotency_keys: 0 };
  let complete = true;
  for (const target of Object.keys(purged) as PurgeTarget[]) {
    let batches = 0;
    for (;;) {
      const n = await purgeBatch({ target, asOf, retentionMs: input.retentionMs, limit });
      purged[target] += n;
      batches++;
      if (n < limit) break;
      if (batches >= maxBatches) {
        complete = false;
        break;
      }
    }
  }
  log.info('retention pass done', { purged, complete });
  return { purged, complete };
}
