import { sql } from 'kysely';
import type { Db } from './connection.ts';

/** What the operators' gauges read from Postgres (lib/metrics.ts). */
export interface DatabaseGauges {
  /** Replays under way, by status. */
  replays: { running: number; paused: number };
  /** How long the oldest pending delivery has waited for its workflow start to be confirmed; 0 when none waits. */
  oldestUnstartedSeconds: number;
}

/**
 * One round trip of cheap aggregates: the oldest unconfirmed start is the first row of the
 * `deliveries_unstarted` partial index (same predicate); unfinished replays are few.
 */
export async function readDatabaseGauges(db: Db): Promise<DatabaseGauges> {
  const { rows } = await sql<{ oldest: number | null; running: number; paused: number }>`
    select
      (select extract(epoch from now() - min(start_requested_at))::float8 from deliveries where status = 'pending' and workflow_started_at is null) as oldest,
      (select count(*) from replays where status = 'running') as running,
      (select count(*) from replays where status = 'paused') as paused
  `.execute(db);
  const row = rows[0]!;
  return { replays: { running: row.running, paused: row.paused }, oldestUnstartedSeconds: Math.max(0, row.oldest ?? 0) };
}
