import { sql, type Kysely } from 'kysely';

/**
 * Failed portal logins, one row per failure and key (an email, a client address), so every server
 * process counts the same failures: the login throttle holds for the whole deployment, not per
 * process. Rows older than the throttle's window are deleted as new failures come in.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('login_failures')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('failed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('login_failures_key_failed_at').on('login_failures').columns(['key', 'failed_at']).execute();
  await db.schema.createIndex('login_failures_failed_at').on('login_failures').column('failed_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('login_failures').execute();
}
