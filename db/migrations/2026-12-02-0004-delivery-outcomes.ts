import { sql, type Kysely } from 'kysely';

/**
 * Every delivery ends with a recorded outcome, and every start can be finished by the reconciler:
 * - `reason` / `error`: why a delivery ended skipped or failed (machine code, human message);
 * - `start_trigger` / `start_requested_at`: what the next workflow start is for and when it was asked
 *   for, so a start that was queued but never confirmed is retried as what it was (a resend stays
 *   `manual`) and only once it is overdue;
 * - deliveries outlive their endpoint: deleting an endpoint keeps its log (the messages aimed at it,
 *   their deliveries and attempts, the mails about it), and a delivery in flight ends `skipped` with
 *   reason `endpoint_deleted`;
 * - the reconciler's partial index covers only what it scans (pending, start not confirmed);
 * - expired message idempotency keys are found without a full scan when they are purged;
 * - the unused `replays` table goes; the replay feature defines its own.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('deliveries')
    .addColumn('reason', 'text')
    .addColumn('error', 'text')
    .addColumn('start_trigger', 'text', (c) => c.notNull().defaultTo('automatic').check(sql`start_trigger in ('automatic', 'manual', 'replay')`))
    .addColumn('start_requested_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  for (const [table, constraint] of [['deliveries', 'deliveries_endpoint_id_fkey'], ['messages', 'messages_endpoint_id_fkey'], ['notifications', 'notifications_endpoint_id_fkey']] as const) {
    await db.schema.alterTable(table).dropConstraint(constraint).execute();
  }
  await db.schema.dropIndex('deliveries_unstarted').execute();
  await db.schema
    .createIndex('deliveries_unstarted')
    .on('deliveries')
    .column('start_requested_at')
    .where(sql<boolean>`status = 'pending' and workflow_started_at is null`)
    .execute();
  await db.schema
    .createIndex('messages_idempotency_key_created_at')
    .on('messages')
    .column('created_at')
    .where(sql.ref('idempotency_key'), 'is not', null)
    .execute();
  await db.schema.dropTable('replays').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  // The replays table is not restored: nothing ever wrote to it.
  await db.schema.dropIndex('messages_idempotency_key_created_at').execute();
  await db.schema.dropIndex('deliveries_unstarted').execute();
  await db.schema.createIndex('deliveries_unstarted').on('deliveries').column('created_at').where(sql.ref('workflow_started_at'), 'is', null).execute();
  for (const [table, constraint] of [['deliveries', 'deliveries_endpoint_id_fkey'], ['messages', 'messages_endpoint_id_fkey'], ['notifications', 'notifications_endpoint_id_fkey']] as const) {
    await sql`delete from ${sql.table(table)} t where t.endpoint_id is not null and not exists (select 1 from endpoints e where e.id = t.endpoint_id)`.execute(db);
    await db.schema.alterTable(table).addForeignKeyConstraint(constraint, ['endpoint_id'], 'endpoints', ['id'], (c) => c.onDelete('cascade')).execute();
  }
  await db.schema.alterTable('deliveries').dropColumn('reason').dropColumn('error').dropColumn('start_trigger').dropColumn('start_requested_at').execute();
}
