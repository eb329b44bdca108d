import { sql } from 'kysely';
import type { Db } from './connection.ts';
import { clearMessageIdempotencyKeyBatch, IDEMPOTENCY_RETENTION_HOURS, purgeIdempotencyKeyBatch } from './idempotency-keys.ts';

/**
 * What the retention schedule removes, each in batches of its own: message payloads and attempt
 * bodies older than RETENTION; Idempotency-Keys older than IDEMPOTENCY_RETENTION_HOURS (stored
 * answers, and the keys kept on messages).
 */
export const PURGE_TARGETS = ['message_payloads', 'attempt_bodies', 'idempotency_keys', 'message_idempotency_keys'] as const;
export type PurgeTarget = (typeof PURGE_TARGETS)[number];

/** The moment before which a target's rows are purged, for a purge run at `asOf`. */
export function purgeCutoff(target: PurgeTarget, asOf: Date, retentionMs: number): Date {
  const keep = target === 'message_payloads' || target === 'attempt_bodies' ? retentionMs : IDEMPOTENCY_RETENTION_HOURS * 3_600_000;
  return new Date(asOf.getTime() - keep);
}

/**
 * Purges at most `limit` rows of `target` created before `cutoff`, each row once (purged rows no
 * longer match), so a repeated call is harmless; answers how many it purged.
 */
export function purgeBatch(db: Db, target: PurgeTarget, cutoff: Date, limit: number): Promise<number> {
  switch (target) {
    case 'message_payloads':
      return updated(messagePayloadPurge(db, cutoff, limit));
    case 'attempt_bodies':
      return updated(attemptBodyPurge(db, cutoff, limit));
    case 'idempotency_keys':
      return purgeIdempotencyKeyBatch(db, cutoff, limit);
    case 'message_idempotency_keys':
      return clearMessageIdempotencyKeyBatch(db, cutoff, limit);
  }
}

/**
 * Replaces the `data` of up to `limit` old messages with JSON null and marks them purged; the row
 * (event type, times, its deliveries and their statuses) stays. A message with a delivery still
 * pending keeps its payload until that delivery ends, so a run under way never loses its body.
 * Rows a resend holds are passed over (it locks the message to check it is not purged).
 */
export function messagePayloadPurge(db: Db, cutoff: Date, limit: number) {
  return db
    .updateTable('messages')
    .set({ data: 'null', payload_purged_at: sql<Date>`now()` })
    .where((eb) =>
      eb(
        'id',
        'in',
        // The partial index messages_unpurged_created_at: only rows not purged yet, oldest first.
        eb
          .selectFrom('messages as m')
          .select('m.id')
          .where('m.payload_purged_at', 'is', null)
          .where('m.created_at', '<', cutoff)
          .where((m) => m.not(m.exists(m.selectFrom('deliveries as d').select(sql`1`.as('one')).whereRef('d.message_id', '=', 'm.id').where('d.status', '=', 'pending'))))
          .orderBy('m.created_at')
          .limit(limit)
          .forUpdate()
          .skipLocked(),
      ),
    );
}

/** Empties the request and response bodies of up to `limit` old attempts and marks them purged; status, error, headers and times stay. */
export function attemptBodyPurge(db: Db, cutoff: Date, limit: number) {
  return db
    .updateTable('attempts')
    .set({ request_body: '', response_body: null, payload_purged_at: sql<Date>`now()` })
    .where((eb) =>
      eb(
        'id',
        'in',
        // The partial index attempts_unpurged_created_at.
        eb.selectFrom('attempts as a').select('a.id').where('a.payload_purged_at', 'is', null).where('a.created_at', '<', cutoff).orderBy('a.created_at').limit(limit).forUpdate().skipLocked(),
      ),
    );
}

async function updated(query: { executeTakeFirst(): Promise<{ numUpdatedRows: bigint }> }): Promise<number> {
  return Number((await query.executeTakeFirst()).numUpdatedRows);
}
