import { Context } from '@temporalio/activity';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { createHash } from 'node:crypto';
import type { AttemptTrigger } from '../db/database.ts';
import { FAILURE } from '../lib/failures.ts';
import { retryWhileDatabaseDown } from '../lib/retry.ts';
import { signatureHeaders } from '../lib/signing.ts';
import type { ActivityDeps } from './index.ts';
import type { HttpResult } from './http.ts';

export interface SendAttemptInput {
  deliveryId: string;
  trigger: AttemptTrigger;
  maximumAttempts: number;
}

/** A Retry-After longer than this is capped, so one receiver cannot park a delivery for days. */
const RETRY_AFTER_CAP_MS = 60 * 60 * 1000;
/** How long an attempt that reached the endpoint keeps trying to record itself while Postgres is away. */
export const RECORD_BUDGET_MS = 30_000;
const HEARTBEAT_EVERY_MS = 2_000;

export function createDeliveryActivities({ db, http, secrets, clock = () => new Date() }: ActivityDeps) {
  const loadDelivery = (deliveryId: string) =>
    db
      .selectFrom('deliveries')
      .innerJoin('messages', 'messages.id', 'deliveries.message_id')
      .innerJoin('endpoints', 'endpoints.id', 'deliveries.endpoint_id')
      .select([
        'deliveries.status as delivery_status',
        'deliveries.app_id',
        'deliveries.subscriber_id',
        'deliveries.endpoint_id',
        'messages.id as message_id',
        'messages.event_type',
        'messages.version',
        'messages.data',
        'messages.override_payload',
        'messages.created_at as message_created_at',
        'endpoints.url',
        'endpoints.status as endpoint_status',
        'endpoints.secret',
        'endpoints.previous_secret',
        'endpoints.previous_secret_expires_at',
      ])
      .where('deliveries.id', '=', deliveryId)
      .executeTakeFirst();

  const attemptsRecorded = async (deliveryId: string, runId: string) => {
    const row = await db
      .selectFrom('attempts')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('delivery_id', '=', deliveryId)
      .where('workflow_run_id', '=', runId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };

  return {
    /**
     * One signed HTTP attempt. Records the attempt (and, on 2xx, the delivery's success) before it
     * returns or throws. Temporal's retry policy paces the attempts; the budget of
     * `maximumAttempts` counts only attempts recorded for this run, so a failure of our own
     * (Postgres away, a worker killed) never uses up an endpoint's attempts.
     */
    async sendAttempt({ deliveryId, trigger, maximumAttempts }: SendAttemptInput): Promise<void> {
      const context = Context.current();
      const { info } = context;
      // Always set for activities run by a workflow, which are the only ones we run.
      const execution = info.workflowExecution!;
      return withHeartbeat(context, async () => {
        const row = await loadDelivery(deliveryId);
        // A retry after a crash that followed a recorded success must not send again.
        if (row?.delivery_status === 'succeeded') return;
        if (!row || row.endpoint_status !== 'active') throw failure(FAILURE.endpointInactive, 'endpoint is inactive', true);
        const number = (await attemptsRecorded(deliveryId, execution.runId)) + 1;
        // More means the last attempt was recorded but its execution died before it could say so.
        if (number > maximumAttempts) throw failure(FAILURE.attemptFailed, `all ${maximumAttempts} attempts failed`, true);

        const now = clock();
        const body = JSON.stringify(
          row.override_payload
            ? row.data
            : { id: row.message_id, type: row.event_type, version: row.version, created: row.message_created_at.toISOString(), data: row.data },
        );
        const activeSecrets: [string, ...string[]] = [secrets.decrypt(row.secret)];
        if (row.previous_secret && row.previous_secret_expires_at && row.previous_secret_expires_at > now) {
          activeSecrets.push(secrets.decrypt(row.previous_secret));
        }
        const headers = {
          'content-type': 'application/json',
          'user-agent': 'openhooks/0.1',
          ...signatureHeaders(activeSecrets, row.message_id, Math.floor(now.getTime() / 1000), body),
        };

        const result = await http.post(row.url, headers, body);
        const outcome = judge(result, now);
        const last = !outcome.succeeded && (outcome.final || number >= maximumAttempts);

        // The request reached the endpoint: its record must not be lost to a short database outage.
        await retryWhileDatabaseDown(
          () =>
            db.transaction().execute(async (trx) => {
              await trx
                .insertInto('attempts')
                .values({
                  // Derived from the activity execution, so recording the same attempt twice is harmless.
                  id: `att_${createHash('sha256').update(`${execution.runId}/${info.activityId}/${info.attempt}`).digest('hex').slice(0, 26)}`,
                  delivery_id: deliveryId,
                  message_id: row.message_id,
                  endpoint_id: row.endpoint_id,
                  subscriber_id: row.subscriber_id,
                  app_id: row.app_id,
                  event_type: row.event_type,
                  number,
                  trigger,
                  url: row.url,
                  request_headers: JSON.stringify(headers),
                  request_body: body,
                  status_code: result.statusCode,
                  response_body: result.body,
                  error_code: result.errorCode ?? (outcome.succeeded ? null : 'http_status'),
                  error: result.error ?? (outcome.succeeded ? null : `HTTP ${result.statusCode}`),
                  succeeded: outcome.succeeded,
                  will_retry: !outcome.succeeded && !last,
                  duration_ms: result.durationMs,
                  workflow_id: execution.workflowId,
                  workflow_run_id: execution.runId,
                })
                .onConflict((oc) => oc.column('id').doNothing())
                .execute();
              if (outcome.succeeded) {
                await trx.updateTable('deliveries').set({ status: 'succeeded', finished_at: now, updated_at: now }).where('id', '=', deliveryId).execute();
              }
            }),
          RECORD_BUDGET_MS,
          () => context.heartbeat(),
        );

        if (outcome.succeeded) return;
        throw failure(outcome.final ? FAILURE.endpointGone : FAILURE.attemptFailed, result.error ?? `endpoint answered HTTP ${result.statusCode}`, last, outcome.retryAfterMs);
      });
    },

    /** The endpoint was inactive when its turn came: a later replay can still send it. */
    async recordSkipped(deliveryId: string): Promise<void> {
      const now = clock();
      await db
        .updateTable('deliveries')
        .set({ status: 'skipped', finished_at: now, updated_at: now })
        .where('id', '=', deliveryId)
        .where('status', '=', 'pending')
        .execute();
    },

    /**
     * Marks the delivery failed and disables its endpoint. Only the first failing delivery changes
     * the endpoint's status; `endpointDisabled` says whether this one did (and so should notify).
     */
    async recordFailure(deliveryId: string): Promise<{ endpointDisabled: boolean }> {
      const now = clock();
      return db.transaction().execute(async (trx) => {
        const delivery = await trx
          .updateTable('deliveries')
          .set({ status: 'failed', finished_at: now, updated_at: now })
          .where('id', '=', deliveryId)
          .returning(['endpoint_id'])
          .executeTakeFirst();
        if (!delivery) return { endpointDisabled: false };
        const last = await trx
          .selectFrom('attempts')
          .select(['status_code', 'error', 'number'])
          .where('delivery_id', '=', deliveryId)
          .orderBy('created_at', 'desc')
          .limit(1)
          .executeTakeFirst();
        const disabled = await trx
          .updateTable('endpoints')
          .set({ status: 'inactive', disabled_reason: disabledReason(last), disabled_at: now, updated_at: now })
          .where('id', '=', delivery.endpoint_id)
          .where('status', '=', 'active')
          .returning('id')
          .executeTakeFirst();
        return { endpointDisabled: disabled !== undefined };
      });
    },
  };
}

/** Failures the workflow expects are BENIGN: recorded as attempts, kept out of the SDK's warning logs. */
function failure(type: string, message: string, nonRetryable: boolean, nextRetryDelay?: number): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable, nextRetryDelay, category: ApplicationFailureCategory.BENIGN });
}

/** Heartbeats while `fn` runs, so Temporal notices a dead worker within the heartbeat timeout. */
async function withHeartbeat<T>(context: Context, fn: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

interface Outcome {
  succeeded: boolean;
  /** No further attempt can help (410 Gone). */
  final: boolean;
  retryAfterMs?: number;
}

/** Classifies an HTTP result: 2xx succeeds, 410 ends at once, 429/503 may name their own delay. */
export function judge(result: HttpResult, now: Date): Outcome {
  const code = result.statusCode;
  if (code !== null && code >= 200 && code < 300) return { succeeded: true, final: false };
  if (code === 410) return { succeeded: false, final: true };
  if (code === 429 || code === 503) {
    return { succeeded: false, final: false, retryAfterMs: parseRetryAfter(result.headers['retry-after'], now) };
  }
  return { succeeded: false, final: false };
}

// RFC 9110 IMF-fixdate, obsolete RFC 850 and asctime forms; Date.parse alone accepts far too much.
const HTTP_DATE = [
  /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/,
  /^[A-Za-z]{6,9}, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/,
  /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/,
];

/** `Retry-After` is either seconds or an HTTP date; anything else is ignored. */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else if (HTTP_DATE.some((form) => form.test(text))) ms = Date.parse(text) - now.getTime();
  else return undefined;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), RETRY_AFTER_CAP_MS);
}

function disabledReason(last: { status_code: number | null; error: string | null; number: number } | undefined): string {
  if (!last) return 'delivery failed';
  if (last.status_code === 410) return 'endpoint answered 410 Gone';
  const what = last.status_code !== null ? `HTTP ${last.status_code}` : (last.error ?? 'no response');
  return `${last.number} failed attempt${last.number === 1 ? '' : 's'}; the last got ${what}`;
}
