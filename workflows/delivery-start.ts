// How a delivery workflow is started: its id, input, search attributes, id policies and timing.
// Beside the workflow it starts; not part of the bundle (workflows/index.ts does not export it).
import type { WorkflowStartOptions } from '@temporalio/client';
import type { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import type { AttemptTrigger } from '../db/database.ts';
import type { DeliveryToStart } from '../db/delivery-starts.ts';
import type { Config } from '../lib/config.ts';
import { APP_ID, DELIVERY_STATUS, ENDPOINT_ID, EVENT_TYPE, SUBSCRIBER_ID } from '../lib/search-attributes.ts';
import { START_BOUND_MS, type StartOutcome, type TemporalGateway } from '../lib/temporal.ts';
import type { DeliveryInput, deliveryWorkflow } from './delivery.ts';

export type DeliveryStartSettings = Pick<Config, 'retry' | 'deliveryTimeoutMs' | 'temporal'>;

/** How long the API's queue may hold a start before it leaves it to the reconciler. */
export const queuedStartMaxAgeMs = (config: Pick<Config, 'reconcileIntervalMs'>): number => config.reconcileIntervalMs;

/**
 * When the reconciler takes over an unconfirmed start: once its request is older than the queue
 * may hold it plus the longest start already under way, and 5 s to spare, so the two never race.
 */
export const overdueStartMs = (config: Pick<Config, 'reconcileIntervalMs'>): number => queuedStartMaxAgeMs(config) + START_BOUND_MS + 5_000;

export function deliveryWorkflowId(deliveryId: string): string {
  return `delivery:${deliveryId}`;
}

/**
 * What a start does when the delivery already has a run. A delivery runs once: an automatic (or
 * replay) start that finds its run, running or closed, creates nothing and counts as started, so
 * Postgres and the DeliveryStatus search attribute never disagree. A resend makes a new run on
 * purpose, replacing one still retrying rather than racing it.
 */
export const START_POLICIES: Record<AttemptTrigger, { workflowIdReusePolicy: WorkflowIdReusePolicy; workflowIdConflictPolicy: WorkflowIdConflictPolicy }> = {
  automatic: { workflowIdReusePolicy: 'REJECT_DUPLICATE', workflowIdConflictPolicy: 'FAIL' },
  replay: { workflowIdReusePolicy: 'REJECT_DUPLICATE', workflowIdConflictPolicy: 'FAIL' },
  manual: { workflowIdReusePolicy: 'ALLOW_DUPLICATE', workflowIdConflictPolicy: 'TERMINATE_EXISTING' },
};

/** Whether a start of this trigger may make a new run when one exists (then it must not be repeated blindly). */
export const startsNewRun = (trigger: AttemptTrigger): boolean => START_POLICIES[trigger].workflowIdReusePolicy !== 'REJECT_DUPLICATE';

/** The memo field that names the start request a run was started for (see StartRequest). */
const START_REQUEST_MEMO = 'startRequestedAt';

/** The start request a run's memo names, if any. */
export function startRequestOf(memo: Record<string, unknown> | undefined): string | undefined {
  const value = memo?.[START_REQUEST_MEMO];
  return typeof value === 'string' ? value : undefined;
}

/** The workflow's input: the app's retry settings where it has them, the server's otherwise. */
export function deliveryInput(delivery: DeliveryToStart, trigger: AttemptTrigger, settings: DeliveryStartSettings): DeliveryInput {
  return {
    deliveryId: delivery.id,
    trigger,
    retry: {
      initialIntervalMs: delivery.retry_initial_interval_ms ?? settings.retry.initialIntervalMs,
      backoffCoefficient: delivery.retry_backoff_coefficient ?? settings.retry.backoffCoefficient,
      maximumAttempts: settings.retry.maximumAttempts,
    },
    timeoutMs: settings.deliveryTimeoutMs,
  };
}

/**
 * Everything `client.workflow.start` needs for one delivery. `requestedAt`, when the caller knows
 * it, goes into the memo so that a later look at the run tells which request started it.
 */
export function deliveryStartOptions(
  delivery: DeliveryToStart,
  request: { trigger: AttemptTrigger; requestedAt?: string },
  settings: DeliveryStartSettings,
): WorkflowStartOptions<typeof deliveryWorkflow> {
  return {
    taskQueue: settings.temporal.taskQueue,
    workflowId: deliveryWorkflowId(delivery.id),
    args: [deliveryInput(delivery, request.trigger, settings)],
    ...START_POLICIES[request.trigger],
    ...(request.requestedAt === undefined ? {} : { memo: { [START_REQUEST_MEMO]: request.requestedAt } }),
    typedSearchAttributes: [
      { key: APP_ID, value: delivery.app_id },
      { key: SUBSCRIBER_ID, value: delivery.subscriber_id },
      { key: ENDPOINT_ID, value: delivery.endpoint_id },
      { key: EVENT_TYPE, value: delivery.event_type },
      { key: DELIVERY_STATUS, value: 'pending' },
    ],
  };
}

/** Starts one delivery's workflow under its trigger's id policies; never throws. */
export function startDeliveryWorkflow(
  temporal: TemporalGateway,
  settings: DeliveryStartSettings,
  delivery: DeliveryToStart,
  request: { trigger: AttemptTrigger; requestedAt?: string },
): Promise<StartOutcome> {
  return temporal.startWorkflow<typeof deliveryWorkflow>('deliveryWorkflow', deliveryStartOptions(delivery, request, settings));
}
