// What identifies one delivery's run, whoever starts it: the API and reconciler through the client
// (delivery-start.ts), a replay as a child workflow. Imports only what the workflow bundle may.
import type { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import type { AttemptTrigger } from '../db/database.ts';
import type { DeliveryToStart } from '../db/delivery-starts.ts';
import type { Config } from '../lib/config.ts';
import { FIRST_ATTEMPT_RECORD_MS } from '../lib/failures.ts';
import { APP_ID, DELIVERY_STATUS, ENDPOINT_ID, EVENT_TYPE, SUBSCRIBER_ID } from '../lib/search-attributes.ts';
import type { DeliveryInput } from './delivery.ts';

/** The server's delivery settings a run's input is made of. */
export type DeliverySettings = Pick<Config, 'retry' | 'deliveryTimeoutMs'>;

export function deliveryWorkflowId(deliveryId: string): string {
  return `delivery:${deliveryId}`;
}

/**
 * What a start does when the delivery already has a run. A delivery runs once: an automatic start
 * that finds its run, running or closed, creates nothing and counts as started, so Postgres and the
 * DeliveryStatus search attribute never disagree. A resend makes a new run on purpose, replacing one
 * still retrying rather than racing it. A replay makes a new run of a delivery that ended (failed or
 * skipped), and never touches one still running.
 */
export const START_POLICIES: Record<AttemptTrigger, { workflowIdReusePolicy: WorkflowIdReusePolicy; workflowIdConflictPolicy: WorkflowIdConflictPolicy }> = {
  automatic: { workflowIdReusePolicy: 'REJECT_DUPLICATE', workflowIdConflictPolicy: 'FAIL' },
  replay: { workflowIdReusePolicy: 'ALLOW_DUPLICATE', workflowIdConflictPolicy: 'FAIL' },
  manual: { workflowIdReusePolicy: 'ALLOW_DUPLICATE', workflowIdConflictPolicy: 'TERMINATE_EXISTING' },
};

/** Whether a start of this trigger may make a new run when one exists (then it must not be repeated blindly). */
export const startsNewRun = (trigger: AttemptTrigger): boolean => START_POLICIES[trigger].workflowIdReusePolicy !== 'REJECT_DUPLICATE';

/** The memo field that names the start request a run was started for (see StartRequest). */
const START_REQUEST_MEMO = 'startRequestedAt';

/** The memo of a run started for the request made at `requestedAt`. */
export function startRequestMemo(requestedAt: string): Record<string, string> {
  return { [START_REQUEST_MEMO]: requestedAt };
}

/** The start request a run's memo names, if any. */
export function startRequestOf(memo: Record<string, unknown> | undefined): string | undefined {
  const value = memo?.[START_REQUEST_MEMO];
  return typeof value === 'string' ? value : undefined;
}

/** The search attributes a delivery's run starts with, so the Temporal Web UI can filter by them. */
export function deliverySearchAttributes(delivery: DeliveryToStart) {
  return [
    { key: APP_ID, value: delivery.app_id },
    { key: SUBSCRIBER_ID, value: delivery.subscriber_id },
    { key: ENDPOINT_ID, value: delivery.endpoint_id },
    { key: EVENT_TYPE, value: delivery.event_type },
    { key: DELIVERY_STATUS, value: 'pending' },
  ];
}

/**
 * The workflow task timeout a delivery's run starts with: its first attempt runs inside a workflow
 * task (a local activity), so the task must outlast the request and its recording, else Core has to
 * heartbeat the task. Temporal's default is 10 s and it allows at most 120 s.
 */
export function deliveryTaskTimeoutMs(settings: Pick<DeliverySettings, 'deliveryTimeoutMs'>): number {
  return Math.min(120_000, Math.max(10_000, settings.deliveryTimeoutMs + FIRST_ATTEMPT_RECORD_MS + 5_000));
}

/** The workflow's input: the app's retry settings where it has them, the server's otherwise. */
export function deliveryInput(delivery: DeliveryToStart, trigger: AttemptTrigger, settings: DeliverySettings): DeliveryInput {
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
