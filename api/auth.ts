import type { RequestHandler, Response } from 'express';
import { sql } from 'kysely';
import type { Db } from '../db/connection.ts';
import { parseApiKey, verifyApiKey } from '../lib/secrets.ts';
import { ApiError, handle } from './errors.ts';

/** Checks `Authorization: Bearer <api key>` and puts the key's account on `res.locals.accountId`. */
export function authenticate(db: Db): RequestHandler {
  return handle(async (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (!match) throw new ApiError(401, 'unauthorized', 'send your API key as Authorization: Bearer <key>');
    const key = match[1]!;
    const parsed = parseApiKey(key);
    const row = parsed
      ? await db
          .selectFrom('api_keys')
          .select(['id', 'account_id', 'key_hash', 'last_used_at'])
          .where('prefix', '=', parsed.prefix)
          .where('revoked_at', 'is', null)
          .executeTakeFirst()
      : undefined;
    if (!row || !verifyApiKey(key, row.key_hash)) throw new ApiError(401, 'unauthorized', 'the API key is not valid');
    res.locals.accountId = row.account_id;
    res.locals.apiKeyId = row.id;
    // Coarse on purpose: one write per key per minute, not one per request.
    if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
      void db.updateTable('api_keys').set({ last_used_at: sql<Date>`now()` }).where('id', '=', row.id).execute().catch(() => undefined);
    }
    next();
  });
}

export function accountOf(res: Response): string {
  return res.locals.accountId as string;
}
