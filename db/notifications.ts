import { newId } from '../lib/ids.ts';
import type { Db } from './connection.ts';

/** The account's users plus the subscriber's contact, each once. */
export async function endpointDisabledRecipients(db: Db, accountId: string, subscriberEmail: string | null): Promise<string[]> {
  const users = await db.selectFrom('users').select('email').where('account_id', '=', accountId).execute();
  return [...new Set([...users.map((u) => u.email), ...(subscriberEmail ? [subscriberEmail] : [])])];
}

/** One `pending` notification per recipient; existing ones (a retry) are left as they are. */
export async function createEndpointDisabledNotifications(
  db: Db,
  target: { accountId: string; appId: string; endpointId: string; deliveryId: string },
  recipients: readonly string[],
): Promise<void> {
  if (recipients.length === 0) return;
  await db
    .insertInto('notifications')
    .values(
      recipients.map((recipient) => ({
        id: newId('notification'),
        account_id: target.accountId,
        app_id: target.appId,
        endpoint_id: target.endpointId,
        delivery_id: target.deliveryId,
        kind: 'endpoint_disabled' as const,
        recipient,
        status: 'pending' as const,
      })),
    )
    .onConflict((oc) => oc.columns(['delivery_id', 'kind', 'recipient']).doNothing())
    .execute();
}

/** The delivery's endpoint-disabled notifications not yet sent or given up on. */
export function findPendingNotifications(db: Db, deliveryId: string) {
  return db
    .selectFrom('notifications')
    .select(['id', 'recipient'])
    .where('delivery_id', '=', deliveryId)
    .where('kind', '=', 'endpoint_disabled')
    .where('status', '=', 'pending')
    .execute();
}

/** Sent, or given up on (`failed`) with the last error; `pending` keeps the error of a try that will be repeated. */
export async function updateNotification(db: Db, id: string, change: { status: 'pending' | 'sent' | 'failed'; error: string | null; sentAt?: Date }): Promise<void> {
  await db
    .updateTable('notifications')
    .set({ status: change.status, error: change.error, ...(change.sentAt ? { sent_at: change.sentAt } : {}) })
    .where('id', '=', id)
    .execute();
}
