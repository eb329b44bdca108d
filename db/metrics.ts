import { sql } from 'kysely';
import { Gauge } from 'prom-client';
import { log } from '../lib/log.ts';
import { registry } from '../lib/metrics.ts';
import { poolOf, type Db } from './connection.ts';

/** What the operators' gauges below read from Postgres. */
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

// Gauges read at scrape time: the pools of the databases this process watches, and what Postgres
// says about replays and waiting starts (one cheap query, cached briefly, bounded in time).

const GAUGES_FRESH_MS = 5_000;
const GAUGES_QUERY_TIMEOUT_MS = 2_000;
const watched = new Map<Db, number>();

new Gauge({
  name: 'openhooks_postgres_pool_connections',
  help: "Connections of this process's Postgres pool, by state (busy: checked out, the LISTEN connection included; idle)",
  labelNames: ['state'] as const,
  registers: [registry],
  collect() {
    let total = 0;
    let idle = 0;
    for (const pool of watchedPools()) {
      total += pool.totalCount;
      idle += pool.idleCount;
    }
    this.set({ state: 'busy' }, total - idle);
    this.set({ state: 'idle' }, idle);
  },
});

new Gauge({
  name: 'openhooks_postgres_pool_waiting_clients',
  help: "Queries of this process waiting for a free connection of its Postgres pool (the pool is exhausted while above 0)",
  registers: [registry],
  collect() {
    let waiting = 0;
    for (const pool of watchedPools()) waiting += pool.waitingCount;
    this.set(waiting);
  },
});

new Gauge({
  name: 'openhooks_postgres_pool_max_connections',
  help: "The size of this process's Postgres pool (DATABASE_POOL_SIZE)",
  registers: [registry],
  collect() {
    let max = 0;
    for (const pool of watchedPools()) max += pool.options.max;
    this.set(max);
  },
});

let gauges: { value: DatabaseGauges; at: number } | undefined;
let refreshing: Promise<DatabaseGauges | undefined> | undefined;

/** The database gauges, read at most every GAUGES_FRESH_MS; the last known values while Postgres does not answer in time. */
async function databaseGauges(): Promise<DatabaseGauges | undefined> {
  const db = watched.keys().next().value;
  if (db === undefined) return undefined;
  if (gauges && performance.now() - gauges.at < GAUGES_FRESH_MS) return gauges.value;
  refreshing ??= (async () => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const value = await Promise.race([
        readDatabaseGauges(db),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${GAUGES_QUERY_TIMEOUT_MS}ms`)), GAUGES_QUERY_TIMEOUT_MS))),
      ]);
      gauges = { value, at: performance.now() };
    } catch (err) {
      log.debug('metrics: the database gauges were not read; serving the last values', { error: err });
    } finally {
      clearTimeout(timer);
      refreshing = undefined;
    }
    return gauges?.value;
  })();
  return refreshing;
}

new Gauge({
  name: 'openhooks_replays_active',
  help: 'Replays under way (running or paused), across all endpoints (read from Postgres, at most 5 s old)',
  labelNames: ['status'] as const,
  registers: [registry],
  async collect() {
    const value = await databaseGauges();
    if (!value) return;
    this.set({ status: 'running' }, value.replays.running);
    this.set({ status: 'paused' }, value.replays.paused);
  },
});

new Gauge({
  name: 'openhooks_delivery_start_oldest_waiting_seconds',
  help: "Age of the oldest pending delivery whose workflow start is not confirmed yet (0 when none waits): the starters' and reconciler's lag (read from Postgres, at most 5 s old)",
  registers: [registry],
  async collect() {
    const value = await databaseGauges();
    if (value) this.set(value.oldestUnstartedSeconds);
  },
});

function* watchedPools() {
  // `npm start` watches one database from two sides: count its pool once.
  yield* new Set([...watched.keys()].map(poolOf));
}

/** Reports `db`'s pool and the database gauges until the returned function is called. */
export function watchDatabase(db: Db): () => void {
  watched.set(db, (watched.get(db) ?? 0) + 1);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const left = (watched.get(db) ?? 1) - 1;
    if (left > 0) watched.set(db, left);
    else watched.delete(db);
    if (watched.size === 0) gauges = undefined;
  };
}
