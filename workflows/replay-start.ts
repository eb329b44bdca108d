// How an endpoint's replay workflow is reached from outside: the API, both portals and the
// reconciler send a request with signal-with-start, and pause, resume or cancel it with a signal.
// Not part of the bundle (workflows/index.ts does not export it).
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Replay } from '../db/database.ts';
import type { Config } from '../lib/config.ts';
import { APP_ID, ENDPOINT_ID, SUBSCRIBER_ID } from '../lib/search-attributes.ts';
import { isTemporalUnreachable, type StartOutcome, type TemporalGateway } from '../lib/temporal.ts';
import { cancelSignal, pauseSignal, replaySignal, replayWorkflowId, resumeSignal, type ReplayRequest, type replayWorkflow } from './replay.ts';

export type ReplayStartSettings = Pick<Config, 'temporal' | 'replayConcurrency' | 'retry' | 'deliveryTimeoutMs'>;

/** Hands one replay request to its endpoint's workflow, starting the workflow when none runs; never throws. */
export function signalReplayWorkflow(temporal: TemporalGateway, settings: ReplayStartSettings, replay: Replay): Promise<StartOutcome> {
  return temporal.signalWithStart<typeof replayWorkflow, [ReplayRequest]>('replayWorkflow', {
    taskQueue: settings.temporal.taskQueue,
    workflowId: replayWorkflowId(replay.endpoint_id),
    args: [{ endpointId: replay.endpoint_id, concurrency: settings.replayConcurrency, delivery: { retry: settings.retry, deliveryTimeoutMs: settings.deliveryTimeoutMs } }],
    signal: replaySignal,
    signalArgs: [{ replayId: replay.id, since: replay.since.toISOString(), until: replay.until.toISOString() }],
    // One run per endpoint at a time; a closed one is followed by a new run.
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [
      { key: APP_ID, value: replay.app_id },
      { key: SUBSCRIBER_ID, value: replay.subscriber_id },
      { key: ENDPOINT_ID, value: replay.endpoint_id },
    ],
  });
}

export type ReplayAction = 'pause' | 'resume' | 'cancel';

const SIGNALS = { pause: pauseSignal, resume: resumeSignal, cancel: cancelSignal } as const;

/**
 * Sends pause, resume or cancel to the endpoint's replay workflow. `not_running` when no run is
 * open (the replay ended, or was never started because Temporal was away: the reconciler sends it).
 */
export async function signalReplayAction(temporal: TemporalGateway, endpointId: string, action: ReplayAction): Promise<{ ok: true } | { ok: false; notRunning: boolean; unreachable: boolean; error: unknown }> {
  try {
    await temporal.call((client) => client.workflow.getHandle(replayWorkflowId(endpointId)).signal(SIGNALS[action]));
    return { ok: true };
  } catch (error) {
    return { ok: false, notRunning: error instanceof WorkflowNotFoundError, unreachable: isTemporalUnreachable(error), error };
  }
}
