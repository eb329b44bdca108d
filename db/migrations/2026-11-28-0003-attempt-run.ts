import type { Kysely } from 'kysely';

// The workflow run an attempt belongs to: a delivery's attempt budget counts the HTTP attempts of one run.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('attempts').addColumn('workflow_run_id', 'text').execute();
  await db.schema.createIndex('attempts_delivery_id_run').on('attempts').columns(['delivery_id', 'workflow_run_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('attempts_delivery_id_run').execute();
  await db.schema.alterTable('attempts').dropColumn('workflow_run_id').execute();
}
