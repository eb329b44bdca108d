import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { findDisabledEndpointNotice, type DisabledEndpointNotice } from '../db/deliveries.ts';
import { createEndpointDisabledNotifications, endpointDisabledRecipients, findPendingNotifications, updateNotification } from '../db/notifications.ts';
import { NOTIFY_ATTEMPTS } from '../lib/failures.ts';
import { issuePortalLink, PORTAL_LINK_DEFAULT_TTL_MS, PORTAL_LINK_KEY_PURPOSE } from '../lib/portal-links.ts';
import type { ActivityDeps } from './deps.ts';
import type { Mail } from './mailer.ts';

export function createNotifyActivities({ db, mailer, secrets, publicUrl, clock = () => new Date() }: ActivityDeps) {
  return {
    /**
     * Emails every provider user of the account and the subscriber's contact that an endpoint was
     * disabled: the team with a link to the subscriber's page of the provider portal, the subscriber
     * with a fresh link into its own portal, where it re-enables the endpoint and replays. Each
     * recipient's notification row is written first and marked after, so a retry sends only what did
     * not go out. A recipient the mail server refuses for good (5xx), and on the
     * last of NOTIFY_ATTEMPTS tries every one still unsent, is marked `failed` with the error: the
     * step ends rather than blocking on one address.
     */
    async notifyEndpointDisabled(deliveryId: string): Promise<{ sent: number; failed: number }> {
      const notice = await findDisabledEndpointNotice(db, deliveryId);
      if (!notice?.url) return { sent: 0, failed: 0 };
      const recipients = await endpointDisabledRecipients(db, notice.account_id, notice.subscriber_email);
      await createEndpointDisabledNotifications(db, { accountId: notice.account_id, appId: notice.app_id, endpointId: notice.endpoint_id, deliveryId }, recipients);

      const lastTry = Context.current().info.attempt >= NOTIFY_ATTEMPTS;
      // The provider portal's page of the endpoint's subscriber, where the team re-enables it.
      const providerLink = `${publicUrl}/apps/${notice.app_id}/subscribers/${notice.subscriber_id}`;
      let sent = 0;
      let failed = 0;
      let retry: string | undefined;
      for (const notification of await findPendingNotifications(db, deliveryId)) {
        try {
          const mail =
            notification.recipient === notice.subscriber_email
              ? subscriberMail(notification.recipient, notice, issuePortalLink(secrets.deriveKey(PORTAL_LINK_KEY_PURPOSE), publicUrl, notice.subscriber_id, PORTAL_LINK_DEFAULT_TTL_MS, clock().getTime()))
              : endpointDisabledMail(notification.recipient, notice, providerLink);
          await mailer.send(mail);
          await updateNotification(db, notification.id, { status: 'sent', error: null, sentAt: clock() });
          sent++;
        } catch (err) {
          const error = err instanceof Error ? err.message : String(err);
          const giveUp = lastTry || refusedForGood(err);
          await updateNotification(db, notification.id, { status: giveUp ? 'failed' : 'pending', error });
          if (giveUp) failed++;
          else retry = error;
        }
      }
      if (retry !== undefined) throw ApplicationFailure.create({ type: 'NotificationNotSent', message: `some notifications were not sent; trying again: ${retry}` });
      return { sent, failed };
    },
  };
}

/** SMTP 5xx replies are permanent (RFC 5321): trying again cannot help. */
function refusedForGood(err: unknown): boolean {
  const code = (err as { responseCode?: unknown } | undefined)?.responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

function endpointDisabledMail(to: string, notice: DisabledEndpointNotice, link: string): Mail {
  return {
    to,
    subject: `[openhooks] Webhook endpoint disabled: ${notice.url}`,
    text: [
      `The webhook endpoint ${notice.url} (${notice.endpoint_id}) of ${notice.subscriber_name} in ${notice.app_name} has been disabled.`,
      '',
      `Why: ${notice.disabled_reason ?? 'deliveries kept failing'}.`,
      `The failing message: ${notice.message_id} (${notice.event_type}).`,
      '',
      'While the endpoint is disabled, new messages for it are recorded but not sent.',
      `Fix the receiver, then re-enable the endpoint and replay what it missed: ${link}`,
    ].join('\n'),
  };
}

/** The subscriber's copy: what happened, in its words, and a link into its own portal (each try mints a fresh one). */
function subscriberMail(to: string, notice: DisabledEndpointNotice, link: { url: string; expiresAt: Date }): Mail {
  return {
    to,
    subject: `[${notice.app_name}] Your webhook endpoint was disabled: ${notice.url}`,
    text: [
      `The webhook endpoint ${notice.url} (${notice.endpoint_id}), where ${notice.app_name} sends your webhooks, has been disabled.`,
      '',
      `Why: ${notice.disabled_reason ?? 'deliveries kept failing'}.`,
      `The failing message: ${notice.message_id} (${notice.event_type}).`,
      '',
      'While the endpoint is disabled, new messages for it are recorded but not sent.',
      `Fix your receiver, then open your webhook portal to re-enable the endpoint and replay the messages it missed: ${link.url}`,
      `This link works until ${link.expiresAt.toISOString().slice(0, 16).replace('T', ' ')} UTC; after that, ask ${notice.app_name} for a new one.`,
    ].join('\n'),
  };
}
