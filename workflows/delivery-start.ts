// How a delivery workflow is started: its id, input, search attributes, id policies and timing.
// Beside the workflow it starts; not part of the bundle (workflows/index.ts does not export it).
import type { WorkflowStartOptions } from '@temporalio/client';
import type { AttemptTrigger } from '../db/database.ts';
import type { DeliveryToStart } from '../db/delivery-starts.ts';
import type { Config } from '../lib/config.ts';
import { START_BOUND_MS, type StartOutcome, type TemporalGateway } from '../lib/temporal.ts';
import type { deliveryWorkflow } from './delivery.ts';
import { deliveryInput, deliverySearchAttributes, deliveryTaskTimeoutMs, deliveryWorkflowId, START_POLICIES, startRequestMemo } from './delivery-run.ts';

export type DeliveryStartSettings = Pick<Config, 'retry' | 'deliveryTimeoutMs' | 'temporal'>;

/**
 * When the reconciler takes over an unconfirmed start: once its request is older than a reconciler
 * interval plus the longest start already under way, and 5 s to spare. Until then it is the
 * workers' delivery starters' (cli/delivery-starter.ts), which take only younger requests.
 */
export const overdueStartMs = (config: Pick<Config, 'reconcileIntervalMs'>): number => config.reconcileIntervalMs + START_BOUND_MS + 5_000;

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
    workflowTaskTimeout: deliveryTaskTimeoutMs(settings),
    ...START_POLICIES[request.trigger],
    ...(request.requestedAt === undefined ? {} : { memo: startRequestMemo(request.requestedAt) }),
    typedSearchAttributes: deliverySearchAttributes(delivery),
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
