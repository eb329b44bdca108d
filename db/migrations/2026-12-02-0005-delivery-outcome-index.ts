import { sql, type Kysely } from 'kysely';

// The portal's charts count an app's deliveries by when they ended: read by app and time, not by scan.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('deliveries_app_id_finished_at')
    .on('deliveries')
    .columns(['app_id', 'finished_at'])
    .where(sql.ref('finished_at'), 'is not', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('deliveries_app_id_finished_at').execute();
}
