import { sql, type Selectable } from 'kysely';
import type { Db } from './connection.ts';
import type { IdempotencyKeysTable } from './database.ts';

/** A repeat within this many hours gets the original answer; after that the key is purged and may be used afresh. */
export const IDEMPOTENCY_RETENTION_HOURS = 24;
/** A first request that has not answered within this long is taken to have died; another may take over its key. */
export const IDEMPOTENCY_LOCK_SECONDS = 60;

export type StoredAnswer = Pick<Selectable<IdempotencyKeysTable>, 'request_hash' | 'status_code' | 'response'>;

/** One request's hold on a key: its identity is the moment it claimed it, as Postgres wrote it. */
export interface KeyClaim {
  accountId: string;
  key: string;
  claimedAt: string;
}

/**
 * Claims (account, key) for one request, committed at once so concurrent requests see it. An existing
 * row is taken over only when it has expired, or when its first request, with the same body, died
 * while holding it. Undefined when the key is held or answered: read it with `findStoredAnswer`.
 */
export async function claimIdempotencyKey(db: Db, accountId: string, key: string, requestHash: string): Promise<KeyClaim | undefined> {
  const row = await db
    .insertInto('idempotency_keys')
    .values({ account_id: accountId, key, request_hash: requestHash })
    .onConflict((oc) =>
      oc
        .columns(['account_id', 'key'])
        .doUpdateSet({ request_hash: requestHash, status_code: null, response: null, locked_at: sql`now()`, created_at: sql`now()` })
        .where((eb) =>
          eb.or([
            eb('idempotency_keys.created_at', '<', sql<Date>`now() - make_interval(hours => ${IDEMPOTENCY_RETENTION_HOURS})`),
            eb.and([
              eb('idempotency_keys.status_code', 'is', null),
              eb('idempotency_keys.request_hash', '=', requestHash),
              eb('idempotency_keys.locked_at', '<', sql<Date>`now() - make_interval(secs => ${IDEMPOTENCY_LOCK_SECONDS})`),
            ]),
          ]),
        ),
    )
    // As text: a JS Date would drop the microseconds that tell two claims apart.
    .returning(sql<string>`locked_at::text`.as('claimed_at'))
    .executeTakeFirst();
  return row && { accountId, key, claimedAt: row.claimed_at };
}

export async function findStoredAnswer(db: Db, accountId: string, key: string): Promise<StoredAnswer | undefined> {
  return db.selectFrom('idempotency_keys').select(['request_hash', 'status_code', 'response']).where('account_id', '=', accountId).where('key', '=', key).executeTakeFirst();
}

/**
 * Stores the answer under the claim, in the caller's transaction (the one holding the handler's
 * writes). False when the claim was taken over meanwhile: the caller must then roll back.
 */
export async function storeIdempotentAnswer(trx: Db, claim: KeyClaim, statusCode: number, response: unknown): Promise<boolean> {
  const result = await trx
    .updateTable('idempotency_keys')
    .set({ status_code: statusCode, response: JSON.stringify(response ?? null) })
    .where('account_id', '=', claim.accountId)
    .where('key', '=', claim.key)
    .where(sql<boolean>`locked_at = ${claim.claimedAt}::timestamptz`)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Frees the key for a retry; a claim already taken over by another request is left alone. */
export async function releaseIdempotencyKey(db: Db, claim: KeyClaim): Promise<void> {
  await db
    .deleteFrom('idempotency_keys')
    .where('account_id', '=', claim.accountId)
    .where('key', '=', claim.key)
    .where(sql<boolean>`locked_at = ${claim.claimedAt}::timestamptz`)
    .execute();
}

/** Deletes up to `limit` stored answers of keys created before `cutoff`; how many it deleted. */
export async function purgeIdempotencyKeyBatch(db: Db, cutoff: Date, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('idempotency_keys')
    .where((eb) =>
      eb(eb.refTuple('account_id', 'key'), 'in', eb.selectFrom('idempotency_keys').select(['account_id', 'key']).where('created_at', '<', cutoff).limit(limit).$asTuple('account_id', 'key')),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Clears up to `limit` keys of messages created before `cutoff` (their unique key would otherwise
 * refuse the same key forever); how many it cleared.
 */
export async function clearMessageIdempotencyKeyBatch(db: Db, cutoff: Date, limit: number): Promise<number> {
  // The partial index messages_idempotency_key_created_at finds these without a scan.
  const result = await db
    .updateTable('messages')
    .set({ idempotency_key: null })
    .where((eb) => eb('id', 'in', eb.selectFrom('messages').select('id').where('idempotency_key', 'is not', null).where('created_at', '<', cutoff).limit(limit)))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
