import { newId } from '../lib/ids.ts';
import type { ActivityDeps } from './index.ts';
import type { Mail } from './mailer.ts';

export function createNotifyActivities({ db, mailer, publicUrl, clock = () => new Date() }: ActivityDeps) {
  return {
    /**
     * Emails every provider user of the account and the subscriber's contact that an endpoint was
     * disabled. Each recipient's notification row is written first and marked sent after, so a retry
     * sends only what did not go out.
     */
    async notifyEndpointDisabled(deliveryId: string): Promise<{ sent: number }> {
      const context = await db
        .selectFrom('deliveries')
        .innerJoin('endpoints', 'endpoints.id', 'deliveries.endpoint_id')
        .innerJoin('subscribers', 'subscribers.id', 'deliveries.subscriber_id')
        .innerJoin('apps', 'apps.id', 'deliveries.app_id')
        .innerJoin('messages', 'messages.id', 'deliveries.message_id')
        .select([
          'deliveries.id as delivery_id',
          'apps.account_id',
          'apps.id as app_id',
          'apps.name as app_name',
          'endpoints.id as endpoint_id',
          'endpoints.url',
          'endpoints.disabled_reason',
          'subscribers.name as subscriber_name',
          'subscribers.email as subscriber_email',
          'messages.id as message_id',
          'messages.event_type',
        ])
        .where('deliveries.id', '=', deliveryId)
        .executeTakeFirst();
      if (!context) return { sent: 0 };

      const users = await db.selectFrom('users').select('email').where('account_id', '=', context.account_id).execute();
      const recipients = [...new Set([...users.map((u) => u.email), ...(context.subscriber_email ? [context.subscriber_email] : [])])];
      if (recipients.length > 0) {
        await db
          .insertInto('notifications')
          .values(
            recipients.map((recipient) => ({
              id: newId('notification'),
              account_id: context.account_id,
              app_id: context.app_id,
              endpoint_id: context.endpoint_id,
              delivery_id: deliveryId,
              kind: 'endpoint_disabled' as const,
              recipient,
              status: 'pending' as const,
            })),
          )
          .onConflict((oc) => oc.columns(['delivery_id', 'kind', 'recipient']).doNothing())
          .execute();
      }

      const due = await db
        .selectFrom('notifications')
        .select(['id', 'recipient'])
        .where('delivery_id', '=', deliveryId)
        .where('kind', '=', 'endpoint_disabled')
        .where('status', '!=', 'sent')
        .execute();
      const link = `${publicUrl}/apps/${context.app_id}/endpoints/${context.endpoint_id}`;
      for (const notification of due) {
        await mailer.send(endpointDisabledMail(notification.recipient, context, link));
        await db.updateTable('notifications').set({ status: 'sent', sent_at: clock(), error: null }).where('id', '=', notification.id).execute();
      }
      return { sent: due.length };
    },
  };
}

function endpointDisabledMail(
  to: string,
  c: { app_name: string; subscriber_name: string; url: string; endpoint_id: string; disabled_reason: string | null; message_id: string; event_type: string },
  link: string,
): Mail {
  return {
    to,
    subject: `[openhooks] Webhook endpoint disabled: ${c.url}`,
    text: [
      `The webhook endpoint ${c.url} (${c.endpoint_id}) of ${c.subscriber_name} in ${c.app_name} has been disabled.`,
      '',
      `Why: ${c.disabled_reason ?? 'deliveries kept failing'}.`,
      `The failing message: ${c.message_id} (${c.event_type}).`,
      '',
      'While the endpoint is disabled, new messages for it are recorded but not sent.',
      `Fix the receiver, then re-enable the endpoint and replay what it missed: ${link}`,
    ].join('\n'),
  };
}
