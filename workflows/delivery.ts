import { ActivityFailure, ApplicationFailure, log, patched, proxyActivities, proxyLocalActivities, sleep, TemporalFailure, TimeoutFailure, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { AttemptTrigger, DeliveryReason, DeliveryStatus } from '../db/database.ts';
import { endingOf, FIRST_ATTEMPT_RECORD_MS, NOTIFY_ATTEMPTS, OWN_FAILURE_RETRIES, retryAfterOf } from '../lib/failures.ts';
import { DELIVERY_STATUS } from '../lib/search-attributes.ts';

export interface DeliveryInput {
  deliveryId: string;
  trigger: AttemptTrigger;
  retry: { initialIntervalMs: number; backoffCoefficient: number; maximumAttempts: number };
  /** Time one HTTP request may take; the activity gets a little more for its database writes. */
  timeoutMs: number;
}

// Bookkeeping talks only to Postgres: it rides out an outage of about an hour, then the run fails
// where an operator sees it (Temporal Web UI) rather than retrying forever.
const { recordSkipped, recordFailure } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 70 },
});

// Telling people is worth a few tries, never a stuck delivery: the activity marks what it could not send.
const { notifyEndpointDisabled } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 3, maximumInterval: '15 minutes', maximumAttempts: NOTIFY_ATTEMPTS },
});

/**
 * New runs make their first attempt as a local activity: a success ends the run in the workflow task
 * that started it, with no activity task through matching and no activity events in its history.
 * Anything else falls back to the regular activity for the rest of the retry policy.
 */
export const LOCAL_FIRST_ATTEMPT = 'local-first-attempt';

interface Ending {
  status: 'skipped' | 'failed';
  reason: DeliveryReason;
  error: string | null;
}

/** One message to one endpoint: prepare and send under the retry policy, then record how it ended. */
export async function deliveryWorkflow(input: DeliveryInput): Promise<DeliveryStatus> {
  let status: DeliveryStatus;
  const ending = await send(input);
  if (!ending) {
    status = 'succeeded';
  } else if (ending.status === 'skipped') {
    await recordSkipped(input.deliveryId, ending.reason);
    status = 'skipped';
  } else {
    const { endpointDisabled } = await recordFailure(input.deliveryId, ending.reason, ending.error);
    if (endpointDisabled) await notify(input.deliveryId);
    status = 'failed';
  }
  upsertSearchAttributes([{ key: DELIVERY_STATUS, value: status }]);
  return status;
}

/** Runs the send activity to its end; undefined on success, otherwise how the delivery ends. */
async function send(input: DeliveryInput): Promise<Ending | undefined> {
  const { initialIntervalMs, backoffCoefficient, maximumAttempts } = input.retry;
  if (!patched(LOCAL_FIRST_ATTEMPT)) return sendUnderPolicy(input, { initialIntervalMs, tries: maximumAttempts + OWN_FAILURE_RETRIES });
  try {
    await firstAttempt(input)(sendInput(input));
    return undefined;
  } catch (err) {
    // A local activity's failure reaches the workflow as the activity's own error, not wrapped.
    if (!(err instanceof TemporalFailure)) throw err;
    if (err instanceof ApplicationFailure && err.nonRetryable) return endingOfFailure(err);
    // The gap before attempt 2, or the endpoint's Retry-After. A timeout or a failure of our own
    // takes the same path: the regular activity, heartbeating, rides those out.
    await sleep((err instanceof ApplicationFailure ? retryAfterOf(err.details) : undefined) ?? initialIntervalMs);
  }
  // Attempts 2… on the policy's own schedule: the regular activity's first retry waits initial × coefficient.
  return sendUnderPolicy(input, { initialIntervalMs: initialIntervalMs * backoffCoefficient, tries: maximumAttempts + OWN_FAILURE_RETRIES - 1 });
}

/**
 * The first attempt: one try, allowed the request plus a little recording (a longer Postgres outage
 * fails it, and the regular activity rides that out). Core keeps the workflow task alive while it
 * runs; a lost worker's task, and with it this attempt, is retried elsewhere after the workflow
 * task timeout.
 */
function firstAttempt(input: DeliveryInput): Activities['sendAttempt'] {
  return proxyLocalActivities<Activities>({ startToCloseTimeout: input.timeoutMs + FIRST_ATTEMPT_RECORD_MS, retry: { maximumAttempts: 1 } }).sendAttempt;
}

/** The send activity under the app's backoff, `tries` Temporal attempts in all (the endpoint's and our own failures'). */
async function sendUnderPolicy(input: DeliveryInput, policy: { initialIntervalMs: number; tries: number }): Promise<Ending | undefined> {
  const { initialIntervalMs, backoffCoefficient, maximumAttempts } = input.retry;
  // Built per run because its retry policy comes from the app's settings.
  const { sendAttempt } = proxyActivities<Activities>({
    // The request itself, then up to RECORD_BUDGET_MS (30 s) of recording it while Postgres is away.
    startToCloseTimeout: input.timeoutMs + 45_000,
    heartbeatTimeout: '10 seconds',
    retry: {
      initialInterval: policy.initialIntervalMs,
      backoffCoefficient,
      // The activity counts the endpoint's attempts itself (only HTTP attempts it recorded) and stops
      // at maximumAttempts; the extra tries absorb failures of our own without spending that budget.
      maximumAttempts: policy.tries,
      // Never cap the exponential growth below the last gap the policy asks for.
      maximumInterval: Math.max(policy.initialIntervalMs, initialIntervalMs * backoffCoefficient ** Math.max(0, maximumAttempts - 2)),
    },
  });
  try {
    await sendAttempt(sendInput(input));
    return undefined;
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    return endingOfFailure(err.cause ?? err);
  }
}

function sendInput(input: DeliveryInput) {
  return { deliveryId: input.deliveryId, trigger: input.trigger, maximumAttempts: input.retry.maximumAttempts };
}

/** How the delivery ends when the send activity failed for good with `cause`. */
function endingOfFailure(cause: Error): Ending {
  if (cause instanceof ApplicationFailure) return { ...endingOf(cause.type ?? undefined), error: cause.message };
  if (cause instanceof TimeoutFailure) return { status: 'failed', reason: 'timed_out', error: cause.message };
  return { status: 'failed', reason: 'internal_error', error: cause.message };
}

async function notify(deliveryId: string): Promise<void> {
  try {
    await notifyEndpointDisabled(deliveryId);
  } catch (err) {
    // The endpoint is disabled and the delivery recorded either way; the notifications table says who was not told.
    log.warn('endpoint-disabled notification gave up', { deliveryId, error: err instanceof Error ? err.message : String(err) });
  }
}
