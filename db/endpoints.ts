import type { Db } from './connection.ts';

/** Sets an active endpoint inactive; true only for the call that changed it (so only one notifies). */
export async function disableEndpoint(db: Db, endpointId: string, reason: string, now: Date): Promise<boolean> {
  const row = await db
    .updateTable('endpoints')
    .set({ status: 'inactive', disabled_reason: reason, disabled_at: now, updated_at: now })
    .where('id', '=', endpointId)
    .where('status', '=', 'active')
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}
