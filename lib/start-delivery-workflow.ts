import { isGrpcServiceError, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { AttemptTrigger } from '../db/database.ts';
import type { DeliveryToStart } from '../db/delivery-starts.ts';
import { deliveryStartOptions, type DeliveryStartSettings } from '../workflows/delivery-start.ts';
import type { Config } from './config.ts';
import type { TemporalGateway } from './temporal.ts';

/** gRPC status codes that mean the server could not be reached or did not answer in time: UNAVAILABLE, DEADLINE_EXCEEDED. */
const UNREACHABLE_CODES = new Set<number>([14, 4]);

/** The longest one start can take: connecting (5 s, lib/temporal.ts) and the call's deadline. */
const START_CALL_MS = 5_000;
const START_BOUND_MS = 5_000 + START_CALL_MS;

/** How long the API's queue may hold a start before it leaves it to the reconciler. */
export const queuedStartMaxAgeMs = (config: Pick<Config, 'reconcileIntervalMs'>): number => config.reconcileIntervalMs;

/**
 * When the reconciler takes over an unconfirmed start: once its request is older than the queue
 * may hold it plus the longest start already under way, and 5 s to spare, so the two never race.
 */
export const overdueStartMs = (config: Pick<Config, 'reconcileIntervalMs'>): number => queuedStartMaxAgeMs(config) + START_BOUND_MS + 5_000;

export type StartOutcome =
  /** Temporal has the run: this start made it, or found it (running or closed) and made none. */
  | { ok: true; created: boolean }
  /** `unreachable`: Temporal did not answer, so other starts would fail the same way. */
  | { ok: false; unreachable: boolean; error: unknown };

/** Whether an error from a Temporal call means the server is away (unavailable, too slow, no connection) rather than this call's own problem. */
export function isTemporalUnreachable(error: unknown): boolean {
  for (let err = error; err instanceof Error; err = err.cause) {
    if (isGrpcServiceError(err) && UNREACHABLE_CODES.has(err.code)) return true;
  }
  return false;
}

/** Starts one delivery's workflow under its trigger's id policies; never throws. */
export async function startDeliveryWorkflow(
  temporal: TemporalGateway,
  settings: DeliveryStartSettings,
  delivery: DeliveryToStart,
  request: { trigger: AttemptTrigger; requestedAt?: string },
): Promise<StartOutcome> {
  try {
    await temporal.client();
  } catch (error) {
    // No connection (refused, or no answer before the connect timeout) is unreachable, whatever its error says.
    return { ok: false, unreachable: true, error };
  }
  try {
    await temporal.call((client) => client.workflow.start('deliveryWorkflow', deliveryStartOptions(delivery, request, settings)), START_CALL_MS);
    return { ok: true, created: true };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { ok: true, created: false };
    return { ok: false, unreachable: isTemporalUnreachable(error), error };
  }
}
