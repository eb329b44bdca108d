import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './database.ts';
import { migrations } from './migrations/index.ts';

// int8 (count(*), sums) arrive as strings by default; every int8 we read fits a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export type Db = Kysely<Database>;

export function createDb(connectionString: string, poolSize = 10): Db {
  const pool = new pg.Pool({ connectionString, max: poolSize, connectionTimeoutMillis: 10_000 });
  // A client losing its server (restart, failover) must not crash the process: idle ones report on
  // the pool, checked-out ones on themselves; the query under way fails and the caller answers 503.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  pools.set(db, pool);
  return db;
}

const pools = new WeakMap<Db, pg.Pool>();

/** Resolves when Postgres answers a trivial query (readiness). */
export async function ping(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}

/** A fixed SQL text with $n parameters, run as a named prepared statement. */
export interface PreparedStatement {
  name: string;
  text: string;
}

/**
 * Runs a fixed statement prepared once per pooled connection, so Postgres parses and plans it once
 * rather than on every call. For the API's hot path only (see bench/RESULTS.md); everything else
 * goes through the query builder.
 */
export async function queryPrepared<R extends pg.QueryResultRow>(db: Db, statement: PreparedStatement, values: unknown[]): Promise<R[]> {
  return (await poolOf(db).query<R>({ name: statement.name, text: statement.text, values })).rows;
}

/** The pool under a database made by createDb, for what the query builder cannot do (prepared statements, LISTEN). */
export function poolOf(db: Db): pg.Pool {
  const pool = pools.get(db);
  if (!pool) throw new Error('needs a database made by createDb');
  return pool;
}

/** Brings the schema to the newest migration; throws with the failing migration's error. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator works on any schema
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error('migration failed', { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
