import {
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { ReplayStatus } from '../db/database.ts';
import type { ReplayRange } from '../db/replays.ts';
import { minus, unionOf, type Range } from '../lib/replay-ranges.ts';
import type { ReplayDelivery } from '../activities/replay.ts';
import type { deliveryWorkflow } from './delivery.ts';
import { deliveryInput, deliverySearchAttributes, deliveryTaskTimeoutMs, deliveryWorkflowId, START_POLICIES, startRequestMemo, type DeliverySettings } from './delivery-run.ts';

/** One replay request: the endpoint's failed and skipped deliveries created in [since, until) (ISO times). */
export interface ReplayRequest {
  replayId: string;
  since: string;
  until: string;
}

export interface ReplayProgress {
  status: ReplayStatus;
  reason: string | null;
  total: number;
  sent: number;
  succeeded: number;
  failed: number;
  remaining: number;
}

export const replaySignal = defineSignal<[ReplayRequest]>('replay');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const cancelSignal = defineSignal('cancel');
export const progressQuery = defineQuery<ReplayProgress>('progress');

export function replayWorkflowId(endpointId: string): string {
  return `replay:${endpointId}`;
}

/** Deliveries one run starts before it continues as new, so its history stays bounded. */
export const CONTINUE_AFTER = 500;

export interface ReplayInput {
  endpointId: string;
  /** The server's delivery settings, for the input of each delivery it runs again. */
  delivery: DeliverySettings;
  /** Deliveries in flight at once (REPLAY_CONCURRENCY). */
  concurrency: number;
  /** Deliveries a run starts before continuing as new; CONTINUE_AFTER unless a test asks for fewer. */
  continueAfter?: number;
  /** What the previous run handed over when it continued as new. */
  carried?: ReplayState;
}

/** Everything a run carries: the requests it serves and how far it got with them. */
interface ReplayState {
  replayIds: string[];
  /** Requests received and not merged yet (they wait while a cancelled or stopped replay winds down). */
  incoming: ReplayRequest[];
  /** The range being paged, with the point reached in it. */
  current?: ReplayRange;
  /** Ranges waiting their turn: disjoint from `swept` and `current`. */
  queued: Range[];
  /** Ranges paged to their end. */
  swept: Range[];
  paused: boolean;
  cancelled: boolean;
  counts: { sent: number; succeeded: number; failed: number; remaining: number };
  /** Runs started and not yet confirmed in Postgres. */
  started: string[];
  /** How the last replay this workflow served ended, for the progress query once it is idle. */
  lastEnding?: { status: ReplayStatus; reason: string | null };
}

const { replayStep } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // Postgres only: rides out an outage of about an hour, like the delivery's bookkeeping.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 70 },
});

const emptyCounts = () => ({ sent: 0, succeeded: 0, failed: 0, remaining: 0 });

/**
 * One endpoint's replays: pages through its failed and skipped deliveries of the requested ranges,
 * oldest first, and runs each again as its delivery workflow (trigger `replay`, the normal retry
 * policy) with at most `concurrency` in flight. Requests that arrive meanwhile are merged (the
 * union of the ranges; nothing already paged is sent twice). Pause holds new sends, cancel ends
 * them, and the replay stops by itself once the endpoint is disabled or deleted. The run ends when
 * nothing is requested any more.
 */
export async function replayWorkflow(input: ReplayInput): Promise<void> {
  const continueAfter = input.continueAfter ?? CONTINUE_AFTER;
  const state: ReplayState = input.carried ?? { replayIds: [], incoming: [], queued: [], swept: [], paused: false, cancelled: false, counts: emptyCounts(), started: [] };
  let inFlight = 0;
  let startedThisRun = 0;
  /** Counts the replays this run served, so late outcomes of an ended one are told apart. */
  let cycles = 0;
  let writtenStatus: ReplayStatus | undefined;

  setHandler(replaySignal, (request) => {
    if (!state.replayIds.includes(request.replayId) && !state.incoming.some((r) => r.replayId === request.replayId)) state.incoming.push(request);
  });
  // Pause and cancel apply to every request received before them (so those are merged first, unless
  // a cancel is already winding the replay down); while nothing is requested they change nothing.
  const received = () => {
    if (!state.cancelled) merge();
    return state.replayIds.length > 0;
  };
  setHandler(pauseSignal, () => void (state.paused = received()));
  setHandler(resumeSignal, () => void (state.paused = false));
  setHandler(cancelSignal, () => void (state.cancelled = received()));
  setHandler(progressQuery, () => progressOf(state, currentStatus()));

  function currentStatus(): ReplayStatus {
    if (state.replayIds.length === 0) return state.lastEnding?.status ?? 'completed';
    return state.cancelled ? 'cancelled' : state.paused ? 'paused' : 'running';
  }

  const hasWork = () => state.current !== undefined || state.queued.length > 0;
  const left = (): ReplayRange[] => [...(state.current ? [state.current] : []), ...state.queued];

  /** Takes the waiting requests into the replay: only what no range of it covers yet is added. */
  function merge(): void {
    for (const request of state.incoming) {
      const range = { since: Date.parse(request.since), until: Date.parse(request.until) };
      const taken = [...state.swept, ...(state.current ? [{ since: state.current.since, until: state.current.until }] : [])];
      state.queued = unionOf([...state.queued, ...minus(range, taken)]);
      state.replayIds.push(request.replayId);
    }
    state.incoming = [];
  }

  async function step(page: { range: ReplayRange; limit: number } | undefined, status: ReplayStatus, reason: string | null) {
    const { sent, succeeded, failed } = state.counts;
    const started = state.started;
    state.started = [];
    const changed = status !== writtenStatus ? { status, reason } : {};
    const result = await replayStep({ endpointId: input.endpointId, replayIds: state.replayIds, page, queued: page ? state.queued : left(), started, progress: { ...changed, sent, succeeded, failed } });
    state.counts.remaining = result.remaining;
    writtenStatus = status;
    return result;
  }

  function launch(replay: ReplayDelivery): void {
    // A cancelled or stopped replay ends without waiting for its sends under way (they finish as
    // deliveries of their own); their outcomes then belong to no replay, not to the next one.
    const cycle = cycles;
    const counts = state.counts;
    inFlight++;
    startedThisRun++;
    state.counts.sent++;
    void startChild<typeof deliveryWorkflow>('deliveryWorkflow', {
      workflowId: deliveryWorkflowId(replay.delivery.id),
      args: [deliveryInput(replay.delivery, 'replay', input.delivery)],
      workflowTaskTimeout: deliveryTaskTimeoutMs(input.delivery),
      workflowIdReusePolicy: START_POLICIES.replay.workflowIdReusePolicy,
      // A delivery under way finishes whatever becomes of its replay.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      memo: startRequestMemo(replay.requestedAt),
      typedSearchAttributes: deliverySearchAttributes(replay.delivery),
    })
      .then((child) => {
        state.started.push(replay.delivery.id);
        return child.result();
      })
      .then(
        (status) => void (status === 'succeeded' ? counts.succeeded++ : counts.failed++),
        (error: unknown) => {
          // Already running (a resend got there first), or the run itself failed: not a success of this replay.
          log.warn('replayed delivery did not succeed', { deliveryId: replay.delivery.id, error: error instanceof Error ? error.message : String(error) });
          counts.failed++;
        },
      )
      .finally(() => void (cycle === cycles && inFlight--));
  }

  /** Everything was sent: completed, unless the endpoint went inactive meanwhile (then its last sends only skipped or failed). */
  async function endingOfLastPage(): Promise<{ status: ReplayStatus; reason: string | null }> {
    const { endpoint } = await step(undefined, 'running', null);
    return endpoint === 'active' ? { status: 'completed', reason: null } : stoppedBy(endpoint);
  }

  /** Serves the requests merged so far until they are done, cancelled or stopped, then records how they ended. */
  async function serve(): Promise<void> {
    let ending: { status: ReplayStatus; reason: string | null } | undefined;
    while (!ending) {
      await condition(
        () => state.cancelled || state.incoming.length > 0 || (state.paused ? writtenStatus !== 'paused' : hasWork() ? inFlight < input.concurrency : inFlight === 0),
      );
      // A request made after a cancel waits for the next replay rather than being cancelled with this one.
      if (!state.cancelled) merge();
      if (state.cancelled) ending = { status: 'cancelled', reason: null };
      else if (state.paused) await step(undefined, 'paused', null);
      else if (!hasWork()) ending = inFlight === 0 ? await endingOfLastPage() : undefined;
      else if (inFlight < input.concurrency) {
        if (startedThisRun >= continueAfter || workflowInfo().continueAsNewSuggested) {
          await condition(() => inFlight === 0);
          await continueAsNew<typeof replayWorkflow>({ ...input, carried: state });
        }
        const range = (state.current ??= state.queued.shift()!);
        const limit = input.concurrency - inFlight;
        const result = await step({ range, limit }, 'running', null);
        if (result.endpoint !== 'active') {
          ending = stoppedBy(result.endpoint);
        } else {
          if (result.last) state.current = { ...range, after: result.last };
          if (result.deliveries.length < limit) {
            state.swept = unionOf([...state.swept, { since: range.since, until: range.until }]);
            state.current = undefined;
          }
          for (const delivery of result.deliveries) launch(delivery);
        }
      }
    }
    await step(undefined, ending.status, ending.reason);
    state.lastEnding = ending;
    Object.assign(state, { replayIds: [], current: undefined, queued: [], swept: [], paused: false, cancelled: false, counts: emptyCounts() });
    cycles++;
    inFlight = 0;
  }

  // A request that arrives while the last one is recorded is served too: the run ends only when none waits.
  while (state.replayIds.length > 0 || state.incoming.length > 0) {
    merge();
    await serve();
  }
}

function stoppedBy(endpoint: 'inactive' | 'deleted'): { status: ReplayStatus; reason: string } {
  return { status: 'stopped', reason: endpoint === 'deleted' ? 'the endpoint was deleted' : 'the endpoint was disabled again' };
}

function progressOf(state: ReplayState, status: ReplayStatus): ReplayProgress {
  const { sent, succeeded, failed, remaining } = state.counts;
  return { status, reason: state.replayIds.length === 0 ? (state.lastEnding?.reason ?? null) : null, total: sent + remaining, sent, succeeded, failed, remaining };
}
