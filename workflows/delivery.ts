import { ActivityFailure, ApplicationFailure, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { AttemptTrigger, DeliveryStatus } from '../db/database.ts';
import { DELIVERY_STATUS } from '../lib/search-attributes.ts';
import { FAILURE } from '../lib/failures.ts';

export interface DeliveryInput {
  deliveryId: string;
  trigger: AttemptTrigger;
  retry: { initialIntervalMs: number; backoffCoefficient: number; maximumAttempts: number };
  /** Time one HTTP request may take; the activity gets a little more for its database writes. */
  timeoutMs: number;
}

// Bookkeeping talks only to Postgres: it retries until the database answers, never gives up.
const { recordSkipped, recordFailure, notifyEndpointDisabled } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** One message to one endpoint: send under the retry policy, then record how it ended. */
export async function deliveryWorkflow(input: DeliveryInput): Promise<DeliveryStatus> {
  const { initialIntervalMs, backoffCoefficient, maximumAttempts } = input.retry;
  // The send proxy is built per run because its retry policy comes from the app's settings.
  const { sendAttempt } = proxyActivities<Activities>({
    // The request itself, then up to RECORD_BUDGET_MS (30 s) of recording it while Postgres is away.
    startToCloseTimeout: input.timeoutMs + 45_000,
    heartbeatTimeout: '10 seconds',
    retry: {
      initialInterval: initialIntervalMs,
      backoffCoefficient,
      // No maximumAttempts (unbounded): the activity counts the endpoint's attempts itself (only
      // HTTP attempts it recorded), so our own outages are retried without spending that budget.
      // Never cap the exponential growth below the last gap the policy asks for.
      maximumInterval: Math.max(initialIntervalMs, initialIntervalMs * backoffCoefficient ** Math.max(0, maximumAttempts - 2)),
    },
  });

  let status: DeliveryStatus;
  try {
    await sendAttempt({ deliveryId: input.deliveryId, trigger: input.trigger, maximumAttempts });
    status = 'succeeded';
  } catch (err) {
    if (failureType(err) === FAILURE.endpointInactive) {
      await recordSkipped(input.deliveryId);
      status = 'skipped';
    } else {
      const { endpointDisabled } = await recordFailure(input.deliveryId);
      if (endpointDisabled) await notifyEndpointDisabled(input.deliveryId);
      status = 'failed';
    }
  }
  upsertSearchAttributes([{ key: DELIVERY_STATUS, value: status }]);
  return status;
}

function failureType(err: unknown): string | undefined {
  if (!(err instanceof ActivityFailure)) throw err;
  return err.cause instanceof ApplicationFailure ? (err.cause.type ?? undefined) : undefined;
}
