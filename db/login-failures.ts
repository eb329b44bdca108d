import { sql } from 'kysely';
import type { Db } from './connection.ts';

const since = (windowMs: number) => sql<Date>`now() - make_interval(secs => ${windowMs / 1000})`;

/** The most failures any of `keys` had within the last `windowMs` (0 when none did). */
export async function mostRecentLoginFailures(db: Db, keys: readonly string[], windowMs: number): Promise<number> {
  if (keys.length === 0) return 0;
  const rows = await db
    .selectFrom('login_failures')
    .select((eb) => eb.fn.countAll<number>().as('failures'))
    .where('key', 'in', keys)
    .where('failed_at', '>', since(windowMs))
    .groupBy('key')
    .execute();
  return Math.max(0, ...rows.map((row) => Number(row.failures)));
}

/**
 * Counts one failure against each of `keys`, and deletes every failure older than `windowMs` in the
 * same statement: the table holds at most one window's failures, however long the server runs.
 */
export async function recordLoginFailures(db: Db, keys: readonly string[], windowMs: number): Promise<void> {
  if (keys.length === 0) return;
  await db
    .with('expired', (qb) => qb.deleteFrom('login_failures').where('failed_at', '<=', since(windowMs)))
    .insertInto('login_failures')
    .values(keys.map((key) => ({ key })))
    .execute();
}

/** Forgets the failures counted against `key` (a successful login forgives its email's). */
export async function clearLoginFailures(db: Db, key: string): Promise<void> {
  await db.deleteFrom('login_failures').where('key', '=', key).execute();
}
