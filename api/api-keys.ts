import type { Router } from 'express';
import { z } from 'zod';
import { createApiKey, listApiKeys, revokeApiKey } from '../db/api-keys.ts';
import type { ApiKey } from '../db/database.ts';
import type { Db } from '../db/connection.ts';
import { newApiKey } from '../lib/secrets.ts';
import { notFound } from './errors.ts';
import type { TrustedKeys } from './auth.ts';
import { sendPage } from './pagination.ts';
import { resourceRouter, type ApiSpec } from './route.ts';
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

const apiKeyOut = (row: ApiKey): z.infer<typeof ApiKeyOut> => ({
  id: row.id,
  name: row.name,
  prefix: `ohk_${row.prefix}`,
  created_at: row.created_at.toISOString(),
  last_used_at: row.last_used_at?.toISOString() ?? null,
  revoked_at: row.revoked_at?.toISOString() ?? null,
});

/** The account's API keys: stored hashed, shown once at creation, revoked rather than deleted. */
export function apiKeysRouter(db: Db, spec: ApiSpec, trustedKeys: TrustedKeys): Router {
  const { router, define } = resourceRouter(spec, db, 'API keys');

  define({ method: 'get', path: '/api_keys', summary: "List the account's API keys", paginated: true, status: 200, response: z.array(ApiKeyOut) }, async ({ req, res, page, accountId }) => {
    sendPage(req, res, page, await listApiKeys(db, accountId, page), apiKeyOut);
  });

  define({ method: 'post', path: '/api_keys', summary: 'Create an API key', body: ApiKeyIn, status: 201, response: ApiKeyCreatedOut, idempotent: 'stored' }, async ({ res, body, accountId, db }) => {
    const key = newApiKey();
    const row = await createApiKey(db, accountId, body.name, key);
    res.status(201).json({ ...apiKeyOut(row), key: key.key });
  });

  define({ method: 'delete', path: '/api_keys/:id', summary: 'Revoke an API key', description: 'Requests with the key fail with 401 from now on (on other API processes within 2 s). Answers the revoked key.', status: 200, response: ApiKeyOut }, async ({ res, params, accountId }) => {
    const row = await revokeApiKey(db, accountId, params.id!);
    if (!row) throw notFound('API key');
    trustedKeys.forget(row.id);
    res.json(apiKeyOut(row));
  });

  return router;
}
