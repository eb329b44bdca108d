import { purgeBatch, purgeCutoff, type PurgeTarget } from '../db/retention.ts';
import type { ActivityDeps } from './deps.ts';

export interface PurgeBatchInput {
  target: PurgeTarget;
  /** When the retention run started (ISO): every batch of one run purges up to the same cutoff, so the run ends. */
  asOf: string;
  /** RETENTION in ms, for payloads and attempt bodies. */
  retentionMs: number;
  /** Rows at most. */
  limit: number;
}

export function createRetentionActivities({ db }: ActivityDeps) {
  return {
    /** One bounded batch of the retention purge (one statement); how many rows it purged. Repeatable: purged rows no longer match. */
    async purgeBatch(input: PurgeBatchInput): Promise<number> {
      return purgeBatch(db, input.target, purgeCutoff(input.target, new Date(input.asOf), input.retentionMs), input.limit);
    },
  };
}
