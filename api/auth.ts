import type { RequestHandler, Response } from 'express';
import { createHash } from 'node:crypto';
import { findLiveApiKey, markApiKeyUsed } from '../db/api-keys.ts';
import type { Db } from '../db/connection.ts';
import { parseApiKey, verifyApiKey } from '../lib/secrets.ts';
import { ApiError, handle } from './errors.ts';

/**
 * How long a verified API key is trusted without asking Postgres again. Revoking a key takes effect
 * at once on the API process that revoked it, and within this time on the others.
 */
export const API_KEY_TRUST_MS = 2_000;
const MAX_TRUSTED_KEYS = 10_000;

interface TrustedKey {
  accountId: string;
  apiKeyId: string;
  until: number;
}

/** Recently verified API keys, held by a hash of the key (the key itself is never kept). */
export class TrustedKeys {
  private readonly keys = new Map<string, TrustedKey>();

  private static id(key: string): string {
    return createHash('sha256').update(key).digest('base64');
  }

  get(key: string): TrustedKey | undefined {
    const id = TrustedKeys.id(key);
    const trusted = this.keys.get(id);
    if (!trusted || trusted.until >= Date.now()) return trusted;
    this.keys.delete(id);
    return undefined;
  }

  trust(key: string, accountId: string, apiKeyId: string): void {
    // Full means an unusual number of live keys; starting over is cheaper than tracking recency.
    if (this.keys.size >= MAX_TRUSTED_KEYS) this.keys.clear();
    this.keys.set(TrustedKeys.id(key), { accountId, apiKeyId, until: Date.now() + API_KEY_TRUST_MS });
  }

  forget(apiKeyId: string): void {
    for (const [id, trusted] of this.keys) if (trusted.apiKeyId === apiKeyId) this.keys.delete(id);
  }
}

/** Checks `Authorization: Bearer <api key>` and puts the key's account and id on `res.locals.accountId` and `res.locals.apiKeyId`. */
export function authenticate(db: Db, trusted: TrustedKeys): RequestHandler {
  return handle(async (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (!match) throw new ApiError(401, 'unauthorized', 'send your API key as Authorization: Bearer <key>');
    const key = match[1]!;
    const known = trusted.get(key);
    if (known) {
      res.locals.accountId = known.accountId;
      res.locals.apiKeyId = known.apiKeyId;
      return next();
    }
    const parsed = parseApiKey(key);
    const row = parsed ? await findLiveApiKey(db, parsed.prefix) : undefined;
    if (!row || !verifyApiKey(key, row.key_hash)) throw new ApiError(401, 'unauthorized', 'the API key is not valid');
    trusted.trust(key, row.account_id, row.id);
    res.locals.accountId = row.account_id;
    res.locals.apiKeyId = row.id;
    // Coarse on purpose: one write per key per minute, not one per request.
    if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
      void markApiKeyUsed(db, row.id).catch(() => undefined);
    }
    next();
  });
}

export function accountOf(res: Response): string {
  return res.locals.accountId as string;
}

/** The id of the API key that authenticated the request: what a replay records as its requester. */
export function apiKeyOf(res: Response): string {
  return res.locals.apiKeyId as string;
}
