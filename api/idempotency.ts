import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { sql } from 'kysely';
import type { Db } from '../db/connection.ts';
import { ApiError } from './errors.ts';

/** A stored answer is replayed for a day; after that the key may be used afresh. */
const RETENTION_HOURS = 24;
/** A first request that has not answered within this long is taken to have died; another may take over. */
const LOCK_SECONDS = 60;
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

/**
 * Runs a creating request at most once per (account, Idempotency-Key): the first one runs and its
 * 2xx answer is stored; a repeat with the same body gets that answer again, a repeat with another
 * body is refused (422), and one that arrives while the first is still running gets 409.
 */
export async function runIdempotent(
  db: Db,
  req: Request,
  res: Response,
  accountId: string,
  body: unknown,
  run: () => Promise<void>,
): Promise<void> {
  const key = idempotencyKeyOf(req);
  if (key === null) return run();
  const hash = requestHash(req, body);

  const claimed = await db
    .insertInto('idempotency_keys')
    .values({ account_id: accountId, key, request_hash: hash })
    .onConflict((oc) =>
      oc.columns(['account_id', 'key']).doUpdateSet({ request_hash: hash, status_code: null, response: null, locked_at: sql`now()`, created_at: sql`now()` })
        // Take the row over only when it has expired, or its first request died while holding it.
        .where((eb) => eb.or([
          eb('idempotency_keys.created_at', '<', sql<Date>`now() - make_interval(hours => ${RETENTION_HOURS})`),
          eb.and([eb('idempotency_keys.status_code', 'is', null), eb('idempotency_keys.request_hash', '=', hash), eb('idempotency_keys.locked_at', '<', sql<Date>`now() - make_interval(secs => ${LOCK_SECONDS})`)]),
        ])),
    )
    .returning('key')
    .executeTakeFirst();

  if (!claimed) {
    const stored = await db.selectFrom('idempotency_keys').selectAll().where('account_id', '=', accountId).where('key', '=', key).executeTakeFirstOrThrow();
    if (stored.request_hash !== hash) throw new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was already used with a different request');
    if (stored.status_code === null) throw new ApiError(409, 'idempotency_key_in_progress', 'a request with this Idempotency-Key is still being processed; retry shortly');
    res.set('Idempotent-Replayed', 'true');
    res.status(stored.status_code).json(stored.response);
    return;
  }

  // Hold the handler's answer until it is stored, so a retry right after it finds it.
  let answer: { payload: unknown } | undefined;
  const send = res.json.bind(res);
  res.json = (payload: unknown) => {
    answer = { payload };
    return res;
  };
  const release = () => db.deleteFrom('idempotency_keys').where('account_id', '=', accountId).where('key', '=', key).execute();
  try {
    await run();
  } catch (err) {
    await release();
    throw err;
  } finally {
    res.json = send;
  }
  if (res.statusCode >= 200 && res.statusCode < 300) {
    await db
      .updateTable('idempotency_keys')
      .set({ status_code: res.statusCode, response: JSON.stringify(answer?.payload ?? null) })
      .where('account_id', '=', accountId)
      .where('key', '=', key)
      .execute();
  } else {
    await release();
  }
  if (answer) send(answer.payload);
}
