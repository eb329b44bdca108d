import type { Db } from './connection.ts';
import type { NewAttempt } from './database.ts';

/** How many HTTP attempts one workflow run of a delivery has recorded: the run's spent budget. */
export async function countAttemptsOfRun(db: Db, deliveryId: string, runId: string): Promise<number> {
  const row = await db
    .selectFrom('attempts')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('delivery_id', '=', deliveryId)
    .where('workflow_run_id', '=', runId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Records one attempt; its id is derived from the activity execution, so recording it twice is harmless. */
export async function insertAttempt(db: Db, attempt: NewAttempt): Promise<void> {
  await db
    .insertInto('attempts')
    .values(attempt)
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

/** The newest attempt of a delivery, to say why its endpoint was disabled. */
export function findLastAttempt(db: Db, deliveryId: string) {
  return db
    .selectFrom('attempts')
    .select(['status_code', 'error', 'number'])
    .where('delivery_id', '=', deliveryId)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}
