import { Context } from '@temporalio/activity';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { findLastAttempt, recordAttempt } from '../db/attempts.ts';
import type { AttemptTrigger, DeliveryReason, NewAttempt } from '../db/database.ts';
import { endDelivery, findDeliveryToSend, type DeliveryToSend } from '../db/deliveries.ts';
import { disableEndpoint } from '../db/endpoints.ts';
import { disablesEndpoint, FAILURE, retryAfterDetails } from '../lib/failures.ts';
import { newId } from '../lib/ids.ts';
import { log } from '../lib/log.ts';
import { countDeliveryEnded, countDeliverySucceeded, observeAttempt } from '../lib/metrics.ts';
import { retryWhileDatabaseDown } from '../lib/retry.ts';
import { signatureHeaders } from '../lib/signing.ts';
import type { HttpResult } from './http.ts';
import type { ActivityDeps } from './deps.ts';
import { disabledReason, judge, type Outcome } from './judge.ts';

export interface SendAttemptInput {
  deliveryId: string;
  trigger: AttemptTrigger;
  maximumAttempts: number;
}

/** How long an attempt that reached the endpoint keeps trying to record itself while Postgres is away. */
export const RECORD_BUDGET_MS = 30_000;
const HEARTBEAT_EVERY_MS = 2_000;

/** One signed request, ready to send. */
interface SignedRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The number this attempt gets within its run. */
  number: number;
}

export function createDeliveryActivities({ db, http, secrets, clock = () => new Date() }: ActivityDeps) {
  /**
   * Before the request: loads the delivery, ends it (a typed, non-retryable failure) when it cannot
   * be sent, and signs the body. Undefined when an earlier try already recorded success. Anything
   * else thrown here (Postgres away, a bug) is retried by Temporal within OWN_FAILURE_RETRIES.
   */
  function prepare(delivery: DeliveryToSend | undefined, input: SendAttemptInput, now: Date): SignedRequest | undefined {
    if (!delivery) throw sendFailure(FAILURE.deliveryNotFound, 'the delivery no longer exists (its message or app was deleted)', true);
    // A retry after a crash that followed a recorded success must not send again.
    if (delivery.delivery_status === 'succeeded') return undefined;
    if (delivery.url === null || delivery.secret === null) throw sendFailure(FAILURE.endpointDeleted, 'the endpoint was deleted', true);
    if (delivery.endpoint_status !== 'active') throw sendFailure(FAILURE.endpointInactive, 'the endpoint is inactive', true);
    // Never an empty body: a payload the retention policy removed ends the delivery.
    if (delivery.payload_purged_at !== null) throw sendFailure(FAILURE.payloadPurged, 'the message payload was removed by the retention policy', true);
    const number = delivery.attempts_of_run + 1;
    // More means the last attempt was recorded but its execution died before it could say so.
    if (number > input.maximumAttempts) throw sendFailure(FAILURE.attemptFailed, `all ${input.maximumAttempts} attempts failed`, true);

    const body = JSON.stringify(
      delivery.override_payload
        ? delivery.data
        : { id: delivery.message_id, type: delivery.event_type, version: delivery.version, created: delivery.message_created_at.toISOString(), data: delivery.data },
    );
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'openhooks/0.1',
      ...signatureHeaders(signingSecrets(delivery, now), delivery.message_id, Math.floor(now.getTime() / 1000), body),
    };
    return { url: delivery.url, headers, body, number };
  }

  function signingSecrets(delivery: DeliveryToSend, now: Date): [string, ...string[]] {
    try {
      const active: [string, ...string[]] = [secrets.decrypt(delivery.secret!)];
      if (delivery.previous_secret && delivery.previous_secret_expires_at && delivery.previous_secret_expires_at > now) {
        active.push(secrets.decrypt(delivery.previous_secret));
      }
      return active;
    } catch (err) {
      // No retry can help until an operator fixes ENCRYPTION_KEY / ENCRYPTION_KEYS_PREVIOUS.
      const why = err instanceof Error ? err.message : String(err);
      throw ApplicationFailure.create({ type: FAILURE.secretUnreadable, message: `the endpoint's signing secret cannot be decrypted: ${why}`, nonRetryable: true });
    }
  }

  /** After the request: the attempt (and a success) is recorded, surviving a short Postgres outage. */
  async function record(attempt: NewAttempt, now: Date, onWait: () => void): Promise<void> {
    await retryWhileDatabaseDown(() => recordAttempt(db, attempt, now), RECORD_BUDGET_MS, onWait);
  }

  return {
    /**
     * One signed HTTP attempt: prepare → send → record. Temporal's retry policy paces the attempts;
     * the budget of `maximumAttempts` counts only attempts recorded for this run, so a failure of
     * our own (Postgres away, a worker killed) never uses up an endpoint's attempts.
     */
    async sendAttempt(input: SendAttemptInput): Promise<void> {
      const context = Context.current();
      const { info } = context;
      // Always set for activities run by a workflow, which are the only ones we run.
      const execution = info.workflowExecution!;
      // A local activity (the first attempt) has no heartbeat: the workflow task timeout covers a dead worker.
      const beat = info.isLocal ? () => undefined : () => context.heartbeat();
      return withHeartbeat(beat, async () => {
        const now = clock();
        const delivery = await findDeliveryToSend(db, input.deliveryId, execution.runId);
        const request = prepare(delivery, input, now);
        if (!delivery || !request) return;

        const result = await http.post(request.url, request.headers, request.body);
        observeAttempt(result);
        if (log.enabled('debug')) {
          log.debug('attempt made', { deliveryId: input.deliveryId, workflowId: execution.workflowId, runId: execution.runId, attempt: request.number, statusCode: result.statusCode, errorCode: result.errorCode, ms: result.durationMs });
        }
        const outcome = judge(result, now);
        const last = !outcome.succeeded && (outcome.final || request.number >= input.maximumAttempts);

        await record(
          attemptRow(delivery, input, request, result, outcome, last, {
            // One id per request made, kept across the record's own retries (a commit whose answer was
            // lost inserts nothing twice). Not derived from the activity execution: a first attempt (a
            // local activity) whose workflow task timed out runs again with the same attempt number,
            // and that second request needs a row of its own.
            id: newId('attempt', now.getTime()),
            workflowId: execution.workflowId,
            runId: execution.runId,
          }),
          now,
          beat,
        );

        if (outcome.succeeded) {
          countDeliverySucceeded();
          return;
        }
        throw sendFailure(outcome.final ? FAILURE.endpointGone : FAILURE.attemptFailed, result.error ?? `endpoint answered HTTP ${result.statusCode}`, last, outcome.retryAfterMs);
      });
    },

    /**
     * The endpoint was inactive or deleted when the delivery's turn came: a later replay can still
     * send it. (Runs started before reasons existed call it with the id alone.)
     */
    async recordSkipped(deliveryId: string, reason: DeliveryReason = 'endpoint_inactive'): Promise<void> {
      const ended = await endDelivery(db, deliveryId, { status: 'skipped', reason, error: null }, clock());
      if (ended !== undefined) countDeliveryEnded('skipped', reason);
    },

    /**
     * Marks the delivery failed with its reason. A failure that is the endpoint's fault disables the
     * endpoint; only the first such delivery changes its status, and `endpointDisabled` says whether
     * this one did (and so should notify). (Runs started before reasons existed call it with the id
     * alone, after the endpoint's attempts ran out.)
     */
    async recordFailure(deliveryId: string, reason: DeliveryReason = 'attempts_exhausted', error: string | null = null): Promise<{ endpointDisabled: boolean }> {
      const now = clock();
      const { ended, endpointDisabled } = await db.transaction().execute(async (trx) => {
        const endpointId = await endDelivery(trx, deliveryId, { status: 'failed', reason, error }, now);
        if (endpointId === undefined || !disablesEndpoint(reason)) return { ended: endpointId !== undefined, endpointDisabled: false };
        return { ended: true, endpointDisabled: await disableEndpoint(trx, endpointId, disabledReason(await findLastAttempt(trx, deliveryId)), now) };
      });
      // Counted once committed, and only by the call that ended it (a retried activity finds it ended).
      if (ended) countDeliveryEnded('failed', reason, endpointDisabled);
      return { endpointDisabled };
    },
  };
}

function attemptRow(
  delivery: DeliveryToSend,
  input: SendAttemptInput,
  request: SignedRequest,
  result: HttpResult,
  outcome: Outcome,
  last: boolean,
  execution: { id: string; workflowId: string; runId: string },
): NewAttempt {
  return {
    id: execution.id,
    delivery_id: input.deliveryId,
    message_id: delivery.message_id,
    endpoint_id: delivery.endpoint_id,
    subscriber_id: delivery.subscriber_id,
    app_id: delivery.app_id,
    event_type: delivery.event_type,
    number: request.number,
    trigger: input.trigger,
    url: request.url,
    request_headers: JSON.stringify(request.headers),
    request_body: request.body,
    status_code: result.statusCode,
    response_body: result.body,
    error_code: result.errorCode ?? (outcome.succeeded ? null : 'http_status'),
    error: result.error ?? (outcome.succeeded ? null : `HTTP ${result.statusCode}`),
    succeeded: outcome.succeeded,
    will_retry: !outcome.succeeded && !last,
    duration_ms: result.durationMs,
    workflow_id: execution.workflowId,
    workflow_run_id: execution.runId,
  };
}

/**
 * Failures the workflow expects are BENIGN: recorded as outcomes, kept out of the SDK's warning logs.
 * A Retry-After paces the regular activity's next try (nextRetryDelay) and travels in the details
 * for the workflow, which waits it after the local first attempt (the SDK does not decode nextRetryDelay).
 */
export function sendFailure(type: string, message: string, nonRetryable: boolean, nextRetryDelay?: number): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable, nextRetryDelay, details: retryAfterDetails(nextRetryDelay), category: ApplicationFailureCategory.BENIGN });
}

/** Heartbeats while `fn` runs, so Temporal notices a dead worker within the heartbeat timeout. */
async function withHeartbeat<T>(beat: () => void, fn: () => Promise<T>): Promise<T> {
  const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}
