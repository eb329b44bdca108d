// How the retention workflow is started: by a Temporal Schedule that every worker creates, or
// updates, when it starts. Not part of the bundle (workflows/index.ts does not export it).
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsStartWorkflowAction, type ScheduleSpec } from '@temporalio/client';
import type { retentionWorkflow } from './retention.ts';

/**
 * The schedule's id, and the prefix of its runs' workflow ids (Temporal appends the scheduled time):
 * `openhooks-retention` with the default task queue. One per task queue, so that installations
 * sharing a namespace (each with its own task queue and database) each purge their own.
 */
export function retentionScheduleId(taskQueue: string): string {
  return `${taskQueue}-retention`;
}

const SPEC: ScheduleSpec = { intervals: [{ every: '1 hour' }] };
/** A pass still running when the next is due is not doubled; after an outage one late pass runs, not one per missed hour. */
const POLICIES = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' } as const;

export interface RetentionScheduleSettings {
  taskQueue: string;
  retentionMs: number;
}

function action(settings: RetentionScheduleSettings): ScheduleOptionsStartWorkflowAction<typeof retentionWorkflow> {
  return {
    type: 'startWorkflow',
    workflowType: 'retentionWorkflow',
    workflowId: retentionScheduleId(settings.taskQueue),
    taskQueue: settings.taskQueue,
    args: [{ retentionMs: settings.retentionMs }],
    // A pass is bounded; one that hangs (Postgres gone) ends and leaves the work to the next.
    workflowRunTimeout: '1 hour',
  };
}

/**
 * Creates the retention schedule, or brings an existing one up to date (RETENTION or the task queue
 * changed), so every worker can call it at start, several at once: the one that loses the create
 * updates to the same settings. A schedule an operator paused stays paused.
 */
export async function ensureRetentionSchedule(client: Client, settings: RetentionScheduleSettings): Promise<'created' | 'updated'> {
  const scheduleId = retentionScheduleId(settings.taskQueue);
  try {
    await client.schedule.create({ scheduleId, spec: SPEC, action: action(settings), policies: POLICIES });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((current) => ({ ...current, spec: SPEC, action: action(settings), policies: { ...current.policies, ...POLICIES } }));
  return 'updated';
}
