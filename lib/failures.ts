/**
 * The contract between the delivery workflow and its activities: the ApplicationFailure types the
 * send activity throws, one per way a delivery can end without success, and the bounds on retries
 * that are not an endpoint's attempts. Pure, so the workflow bundle can import it.
 */

/**
 * Why a delivery ended without success. skipped: endpoint_inactive, endpoint_deleted. failed:
 * attempts_exhausted, endpoint_gone (410), secret_unreadable, payload_purged, internal_error, timed_out.
 */
export const DELIVERY_REASONS = ['endpoint_inactive', 'endpoint_deleted', 'attempts_exhausted', 'endpoint_gone', 'secret_unreadable', 'payload_purged', 'internal_error', 'timed_out'] as const;
export type DeliveryReason = (typeof DELIVERY_REASONS)[number];

export const FAILURE = {
  /** Before the request: the delivery row is gone (its message or app was deleted); nothing to record. */
  deliveryNotFound: 'DeliveryNotFound',
  /** Before the request: the endpoint is inactive; the delivery is skipped, a replay can send it. */
  endpointInactive: 'EndpointInactive',
  /** Before the request: the endpoint was deleted; the delivery is skipped. */
  endpointDeleted: 'EndpointDeleted',
  /** Before the request: no configured ENCRYPTION_KEY opens the endpoint's secret. Our fault, not the endpoint's. */
  secretUnreadable: 'SecretUnreadable',
  /** Before the request: the retention policy removed the message's payload; there is nothing to send. */
  payloadPurged: 'PayloadPurged',
  /** The request: 410 Gone, the receiver asks us to stop at once. */
  endpointGone: 'EndpointGone',
  /** The request: any other failed attempt; retried under the app's policy. */
  attemptFailed: 'AttemptFailed',
} as const;

export type FailureType = (typeof FAILURE)[keyof typeof FAILURE];

/** How a delivery ends when its send activity fails with `type` (undefined: an untyped error). */
export function endingOf(type: string | undefined): { status: 'skipped' | 'failed'; reason: DeliveryReason } {
  switch (type) {
    case FAILURE.endpointInactive:
      return { status: 'skipped', reason: 'endpoint_inactive' };
    // A deleted message or app takes its deliveries with it: there is no row left to record on.
    case FAILURE.deliveryNotFound:
    case FAILURE.endpointDeleted:
      return { status: 'skipped', reason: 'endpoint_deleted' };
    case FAILURE.secretUnreadable:
      return { status: 'failed', reason: 'secret_unreadable' };
    case FAILURE.payloadPurged:
      return { status: 'failed', reason: 'payload_purged' };
    case FAILURE.endpointGone:
      return { status: 'failed', reason: 'endpoint_gone' };
    case FAILURE.attemptFailed:
      return { status: 'failed', reason: 'attempts_exhausted' };
    default:
      return { status: 'failed', reason: 'internal_error' };
  }
}

/** Only these endings are the endpoint's fault, so only they disable it. */
export function disablesEndpoint(reason: DeliveryReason): boolean {
  return reason === 'attempts_exhausted' || reason === 'endpoint_gone';
}

/**
 * Failures of our own (Postgres away, a worker killed, a bug) retried on top of an endpoint's
 * attempts before the delivery ends as `internal_error`: they never spend the endpoint's budget,
 * but they do end. Spaced by the app's backoff, capped at its last gap: with the default policy
 * (1 min, ×4) that rides out about 20 hours of our own outage.
 */
export const OWN_FAILURE_RETRIES = 20;

/**
 * What the local first attempt may spend recording itself past the request's own timeout; a longer
 * Postgres outage fails it over to the regular activity, which has RECORD_BUDGET_MS.
 */
export const FIRST_ATTEMPT_RECORD_MS = 5_000;

/** Tries at mailing the people of a disabled endpoint; then each unsent notification is marked failed. */
export const NOTIFY_ATTEMPTS = 5;

/** The details of an AttemptFailed that carries the endpoint's Retry-After (none without one). */
export function retryAfterDetails(retryAfterMs: number | undefined): unknown[] | undefined {
  return retryAfterMs === undefined ? undefined : [{ retryAfterMs }];
}

/** The Retry-After an AttemptFailed's details carry, in ms. */
export function retryAfterOf(details: readonly unknown[] | undefined | null): number | undefined {
  const first = details?.[0];
  const value = typeof first === 'object' && first !== null ? (first as { retryAfterMs?: unknown }).retryAfterMs : undefined;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}
