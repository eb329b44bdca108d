import { sql, type Kysely } from 'kysely';

/**
 * Replays and the subscriber portal:
 * - `replays`: the read model of replay requests (who asked, the range, live counts), so the API and
 *   both portals list them without asking Temporal; `workflow_signaled_at` stays null until Temporal
 *   confirmed the signal-with-start, and the reconciler sends the ones that stay unconfirmed;
 * - `endpoints.last_disabled_at`: when it was last disabled, kept after it is re-enabled, so "replay
 *   what it missed" still knows where the miss began;
 * - `subscribers.portal_links_revoked_at`: subscriber portal links (and their sessions) issued
 *   before it are refused;
 * - the endpoint's failed and skipped deliveries by creation, which a replay pages through and counts.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('replays')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
    .addColumn('subscriber_id', 'text', (c) => c.notNull())
    .addColumn('endpoint_id', 'text', (c) => c.notNull().references('endpoints.id').onDelete('cascade'))
    .addColumn('requested_by_kind', 'text', (c) => c.notNull().check(sql`requested_by_kind in ('user', 'api_key', 'subscriber_link')`))
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('since', 'timestamptz', (c) => c.notNull())
    .addColumn('until', 'timestamptz', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('running').check(sql`status in ('running', 'paused', 'completed', 'cancelled', 'stopped')`))
    .addColumn('reason', 'text')
    .addColumn('total', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('sent', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('succeeded', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('remaining', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('workflow_signaled_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('replays_endpoint_id_created_at').on('replays').columns(['endpoint_id', 'created_at']).execute();
  await db.schema.createIndex('replays_unsignaled').on('replays').column('created_at').where(sql<boolean>`workflow_signaled_at is null and finished_at is null`).execute();
  await db.schema.alterTable('endpoints').addColumn('last_disabled_at', 'timestamptz').execute();
  await sql`update endpoints set last_disabled_at = disabled_at`.execute(db);
  await db.schema.alterTable('subscribers').addColumn('portal_links_revoked_at', 'timestamptz').execute();
  await db.schema
    .createIndex('deliveries_replayable')
    .on('deliveries')
    .columns(['endpoint_id', 'created_at', 'id'])
    .where(sql<boolean>`status in ('failed', 'skipped')`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('deliveries_replayable').execute();
  await db.schema.alterTable('subscribers').dropColumn('portal_links_revoked_at').execute();
  await db.schema.alterTable('endpoints').dropColumn('last_disabled_at').execute();
  await db.schema.dropTable('replays').execute();
}
