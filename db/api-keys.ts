import { sql } from 'kysely';
import { newId } from '../lib/ids.ts';
import type { Db } from './connection.ts';
import type { ApiKey } from './database.ts';
import { fetchPage, newestFirst, type PageOf, type PageSlice } from './pages.ts';

export function listApiKeys(db: Db, accountId: string, slice: PageSlice): Promise<PageOf<ApiKey>> {
  return fetchPage(newestFirst(db.selectFrom('api_keys').where('account_id', '=', accountId).selectAll()), slice);
}

/** Stores the key's hash only: the key itself is shown once, by the caller. */
export function createApiKey(db: Db, accountId: string, name: string, key: { prefix: string; hash: string }): Promise<ApiKey> {
  return db
    .insertInto('api_keys')
    .values({ id: newId('apiKey'), account_id: accountId, name, prefix: key.prefix, key_hash: key.hash })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Revoked, not deleted; undefined when the account has no such key. */
export function revokeApiKey(db: Db, accountId: string, apiKeyId: string): Promise<ApiKey | undefined> {
  return db.updateTable('api_keys').set({ revoked_at: new Date() }).where('id', '=', apiKeyId).where('account_id', '=', accountId).returningAll().executeTakeFirst();
}

/** The unrevoked key with this prefix, with the hash to verify the whole key against. */
export function findLiveApiKey(db: Db, prefix: string) {
  return db.selectFrom('api_keys').select(['id', 'account_id', 'key_hash', 'last_used_at']).where('prefix', '=', prefix).where('revoked_at', 'is', null).executeTakeFirst();
}

export async function markApiKeyUsed(db: Db, apiKeyId: string): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: sql<Date>`now()` }).where('id', '=', apiKeyId).execute();
}
