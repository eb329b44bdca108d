import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Db } from '../db/connection.ts';
import { claimIdempotencyKey, findStoredAnswer, releaseIdempotencyKey, storeIdempotentAnswer } from '../db/idempotency-keys.ts';
import { ApiError } from './errors.ts';

const MAX_KEY_LENGTH = 255;

export function idempotencyKeyOf(req: Request): string | null {
  const key = req.get('idempotency-key')?.trim() || null;
  if (key !== null && key.length > MAX_KEY_LENGTH) {
    throw new ApiError(422, 'validation_failed', `the Idempotency-Key header must be at most ${MAX_KEY_LENGTH} characters`, [
      { field: 'Idempotency-Key', message: `must be at most ${MAX_KEY_LENGTH} characters` },
    ]);
  }
  return key;
}

export function requestHash(req: Request, body: unknown): string {
  return createHash('sha256').update(JSON.stringify([req.method, req.path, body])).digest('hex');
}

/** A handler that writes through the transaction it is given. */
type Handler = (trx: Db) => Promise<void>;

/**
 * Runs a creating request at most once per (account, Idempotency-Key): the first one runs and its
 * 2xx answer is stored; a repeat with the same body gets that answer again, a repeat with another
 * body is refused (422), and one that arrives while the first is still running gets 409.
 *
 * The handler's writes and the stored answer are one transaction, and the answer is sent only after
 * it committed: a crash anywhere before leaves neither, so a retry (after the lock expires) creates
 * the resource exactly once. Without a key the handler still runs in a transaction of its own.
 */
export async function runIdempotent(db: Db, req: Request, res: Response, accountId: string, body: unknown, run: Handler): Promise<void> {
  const key = idempotencyKeyOf(req);
  if (key === null) return answerAfterCommit(db, res, run);
  const hash = requestHash(req, body);

  const claim = await claimIdempotencyKey(db, accountId, key, hash);
  if (!claim) {
    const stored = await findStoredAnswer(db, accountId, key);
    if (stored && stored.request_hash !== hash) throw new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was already used with a different request');
    // No row: the first request failed and released the key just now.
    if (!stored || stored.status_code === null) throw new ApiError(409, 'idempotency_key_in_progress', 'a request with this Idempotency-Key is still being processed; retry shortly');
    res.set('Idempotent-Replayed', 'true');
    res.status(stored.status_code).json(stored.response);
    return;
  }

  try {
    await answerAfterCommit(db, res, run, async (trx, statusCode, payload) => {
      // Only 2xx answers are kept; a refusal frees the key for a corrected retry.
      if (statusCode < 200 || statusCode >= 300) return releaseIdempotencyKey(trx, claim);
      if (!(await storeIdempotentAnswer(trx, claim, statusCode, payload))) {
        throw new ApiError(409, 'idempotency_key_in_progress', 'this request took longer than its Idempotency-Key lock and a retry took the key over; nothing was written');
      }
    });
  } catch (err) {
    // If even this fails (Postgres gone), the lock expires and a retry takes the key over.
    await releaseIdempotencyKey(db, claim).catch(() => undefined);
    throw err;
  }
}

/**
 * Runs the handler in one transaction and holds its JSON answer until that transaction committed;
 * `beforeCommit` runs last inside it, with the answer.
 */
async function answerAfterCommit(
  db: Db,
  res: Response,
  run: Handler,
  beforeCommit?: (trx: Db, statusCode: number, payload: unknown) => Promise<void>,
): Promise<void> {
  let held: { payload: unknown } | undefined;
  const send = res.json.bind(res);
  res.json = (payload: unknown) => {
    held = { payload };
    return res;
  };
  try {
    await db.transaction().execute(async (trx) => {
      await run(trx);
      await beforeCommit?.(trx, res.statusCode, held?.payload);
    });
  } finally {
    res.json = send;
  }
  if (held) send(held.payload);
}
