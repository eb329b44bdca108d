import { attemptLogPage } from '../../db/attempts.ts';
import type { Db } from '../../db/connection.ts';
import { findMessageDeliveries } from '../../db/deliveries.ts';
import { findMessage } from '../../db/messages.ts';
import { findSubscribers } from '../../db/subscribers.ts';

/** A message's attempts shown at most (a delivery makes 5 per run; resends add runs). */
const MAX_ATTEMPTS = 500;

/**
 * A message of the app as its page shows it: the payload, and each delivery with why it ended and its
 * attempts oldest first. `subscriberId` keeps that subscriber's deliveries only (the subscriber
 * portal): a message that has none of them is not found, like another app's.
 */
export async function messageView(db: Db, appId: string, messageId: string | undefined, scope: { subscriberId?: string } = {}) {
  const message = messageId ? await findMessage(db, appId, messageId) : undefined;
  if (!message) return undefined;
  const all = await findMessageDeliveries(db, message.id);
  const deliveries = scope.subscriberId ? all.filter((d) => d.subscriber_id === scope.subscriberId) : all;
  if (scope.subscriberId && deliveries.length === 0) return undefined;
  const [attempts, subscribers] = await Promise.all([
    attemptLogPage(db, appId, { messageId: message.id, ...(scope.subscriberId ? { subscriberId: scope.subscriberId } : {}) }, { limit: MAX_ATTEMPTS }),
    findSubscribers(db, [...new Set(deliveries.map((d) => d.subscriber_id))]),
  ]);
  const names = new Map(subscribers.map((s) => [s.id, s.name]));
  return {
    message: {
      id: message.id,
      eventType: message.event_type,
      version: message.version,
      eventId: message.event_id,
      overridePayload: message.override_payload,
      createdAt: message.created_at.toISOString(),
      /** Set once the retention policy removed the payload: there is none to show or resend. */
      payloadPurgedAt: message.payload_purged_at?.toISOString() ?? null,
      payload: message.payload_purged_at ? null : JSON.stringify(message.data, null, 2),
    },
    deliveries: deliveries.map((d) => ({
      id: d.id,
      endpointId: d.endpoint_id,
      subscriber: names.get(d.subscriber_id) ?? d.subscriber_id,
      status: d.status,
      reason: d.reason,
      error: d.error,
      finishedAt: d.finished_at?.toISOString() ?? null,
      // Oldest first: a timeline.
      attempts: attempts.rows
        .filter((a) => a.delivery_id === d.id)
        .reverse()
        .map((a) => ({
          id: a.id,
          at: a.created_at.toISOString(),
          number: a.number,
          trigger: a.trigger,
          succeeded: a.succeeded,
          statusCode: a.status_code,
          durationMs: a.duration_ms,
          error: a.error,
          url: a.url,
          requestHeaders: a.request_headers,
          responseBody: a.response_body,
          bodiesPurgedAt: a.payload_purged_at?.toISOString() ?? null,
        })),
    })),
  };
}

export type MessageView = NonNullable<Awaited<ReturnType<typeof messageView>>>;
