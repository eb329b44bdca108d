import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { Selectable } from 'kysely';
import type { ApiKeysTable } from '../db/database.ts';
import { newId } from '../lib/ids.ts';
import { newApiKey } from '../lib/secrets.ts';
import { notFound } from './errors.ts';
import type { TrustedKeys } from './auth.ts';
import { fetchPage, sendPage } from './pagination.ts';
import { definer, type ApiSpec } from './route.ts';
import { Id, NullableTimestamp, Timestamp } from './schemas.ts';
import { singleLine } from './validation.ts';

export const ApiKeyIn = z.strictObject({ name: singleLine(200) }).meta({ id: 'ApiKeyIn' });
export const ApiKeyOut = z
  .object({
    id: Id('API key', 'key'),
    name: z.string(),
    prefix: z.string().meta({ description: 'The visible part of the key, to tell keys apart' }),
    created_at: Timestamp,
    last_used_at: NullableTimestamp.meta({ description: 'To the minute' }),
    revoked_at: NullableTimestamp,
  })
  .meta({ id: 'ApiKey' });
export const ApiKeyCreatedOut = ApiKeyOut.extend({ key: z.string().meta({ description: 'The key itself: shown in this answer only' }) }).meta({ id: 'ApiKeyCreated' });

const apiKeyOut = (row: Selectable<ApiKeysTable>): z.infer<typeof ApiKeyOut> => ({
  id: row.id,
  name: row.name,
  prefix: `ohk_${row.prefix}`,
  created_at: row.created_at.toISOString(),
  last_used_at: row.last_used_at?.toISOString() ?? null,
  revoked_at: row.revoked_at?.toISOString() ?? null,
});

/** The account's API keys: stored hashed, shown once at creation, revoked rather than deleted. */
export function apiKeysRouter(db: Db, spec: ApiSpec, trustedKeys: TrustedKeys): Router {
  const router = Router();
  const define = definer(router, spec, db);
  const tag = 'API keys';

  define({ method: 'get', path: '/api_keys', tag, summary: "List the account's API keys", paginated: true, status: 200, response: z.array(ApiKeyOut) }, async ({ req, res, page, accountId }) => {
    const { rows, total } = await fetchPage(db.selectFrom('api_keys').where('account_id', '=', accountId).selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'), page);
    sendPage(req, res, page, total, rows.map(apiKeyOut));
  });

  define({ method: 'post', path: '/api_keys', tag, summary: 'Create an API key', body: ApiKeyIn, status: 201, response: ApiKeyCreatedOut, idempotent: 'stored' }, async ({ res, body, accountId, db }) => {
    const key = newApiKey();
    const row = await db
      .insertInto('api_keys')
      .values({ id: newId('apiKey'), account_id: accountId, name: body.name, prefix: key.prefix, key_hash: key.hash })
      .returningAll()
      .executeTakeFirstOrThrow();
    res.status(201).json({ ...apiKeyOut(row), key: key.key });
  });

  define({ method: 'delete', path: '/api_keys/:id', tag, summary: 'Revoke an API key', description: 'Requests with the key fail with 401 from now on (on other API processes within 2 s). Answers the revoked key.', status: 200, response: ApiKeyOut }, async ({ res, params, accountId }) => {
    const row = await db
      .updateTable('api_keys')
      .set({ revoked_at: new Date() })
      .where('id', '=', params.id!)
      .where('account_id', '=', accountId)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw notFound('API key');
    trustedKeys.forget(row.id);
    res.json(apiKeyOut(row));
  });

  return router;
}
