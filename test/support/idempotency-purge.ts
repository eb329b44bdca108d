import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import { clearMessageIdempotencyKeyBatch, IDEMPOTENCY_RETENTION_HOURS, purgeIdempotencyKeyBatch } from '../../db/idempotency-keys.ts';

/** Rows changed per purge statement, as the retention workflow's batches. */
const PURGE_BATCH = 1_000;

/**
 * Forgets Idempotency-Keys older than the retention, all at once, with the batch statements the
 * retention workflow runs: the stored answers of creating requests, and the keys on messages. The
 * cutoff is fixed at the start, so it ends.
 */
export async function purgeExpiredIdempotencyKeys(db: Db, retentionHours = IDEMPOTENCY_RETENTION_HOURS): Promise<{ keys: number; messages: number }> {
  const { rows } = await sql<{ cutoff: Date }>`select now() - make_interval(hours => ${retentionHours}) as cutoff`.execute(db);
  const cutoff = rows[0]!.cutoff;
  return {
    keys: await inBatches(() => purgeIdempotencyKeyBatch(db, cutoff, PURGE_BATCH)),
    messages: await inBatches(() => clearMessageIdempotencyKeyBatch(db, cutoff, PURGE_BATCH)),
  };
}

/** Repeats `step` (which changes at most PURGE_BATCH rows) until a batch comes back short; the total changed. */
async function inBatches(step: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await step();
    total += n;
    if (n < PURGE_BATCH) return total;
  }
}
