import { sql, type Kysely } from 'kysely';

/**
 * Data retention: message payloads and attempt bodies older than RETENTION are removed, the rows
 * (counts, statuses, times) stay.
 * - `payload_purged_at` on messages and attempts says when, so the API and portals say "removed by
 *   the retention policy" and a resend or replay refuses instead of sending an empty body;
 * - the purge pages through the rows not purged yet by age: partial indexes on exactly those rows,
 *   so a batch never walks the ones already purged (the ever-growing part of both tables).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('messages').addColumn('payload_purged_at', 'timestamptz').execute();
  await db.schema.alterTable('attempts').addColumn('payload_purged_at', 'timestamptz').execute();
  await db.schema.createIndex('messages_unpurged_created_at').on('messages').column('created_at').where(sql.ref('payload_purged_at'), 'is', null).execute();
  await db.schema.createIndex('attempts_unpurged_created_at').on('attempts').column('created_at').where(sql.ref('payload_purged_at'), 'is', null).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('attempts_unpurged_created_at').execute();
  await db.schema.dropIndex('messages_unpurged_created_at').execute();
  await db.schema.alterTable('attempts').dropColumn('payload_purged_at').execute();
  await db.schema.alterTable('messages').dropColumn('payload_purged_at').execute();
}
