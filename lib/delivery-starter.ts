import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { sql } from 'kysely';
import type { Db } from '../db/connection.ts';
import type { AttemptTrigger } from '../db/database.ts';
import type { DeliveryInput, deliveryWorkflow } from '../workflows/delivery.ts';
import { settleAll } from './concurrency.ts';
import type { Config } from './config.ts';
import { log } from './log.ts';
import { APP_ID, DELIVERY_STATUS, ENDPOINT_ID, EVENT_TYPE, SUBSCRIBER_ID } from './search-attributes.ts';
import type { TemporalGateway } from './temporal.ts';

/** What starting one delivery workflow needs to know, read with the delivery. */
export interface DeliveryToStart {
  id: string;
  app_id: string;
  subscriber_id: string;
  endpoint_id: string;
  event_type: string;
  retry_initial_interval_ms: number | null;
  retry_backoff_coefficient: number | null;
}

export function deliveryWorkflowId(deliveryId: string): string {
  return `delivery:${deliveryId}`;
}

const START_CONCURRENCY = 16;
const RECONCILE_BATCH = 500;
const RECONCILE_MAX_BATCHES = 20;

/** Starts delivery workflows (after the API commits, and from the worker's reconciler). */
export class DeliveryStarter {
  constructor(
    private readonly db: Db,
    private readonly temporal: TemporalGateway,
    private readonly config: Pick<Config, 'retry' | 'deliveryTimeoutMs' | 'temporal' | 'reconcileIntervalMs'>,
  ) {}

  input(delivery: DeliveryToStart, trigger: AttemptTrigger): DeliveryInput {
    return {
      deliveryId: delivery.id,
      trigger,
      retry: {
        initialIntervalMs: delivery.retry_initial_interval_ms ?? this.config.retry.initialIntervalMs,
        backoffCoefficient: delivery.retry_backoff_coefficient ?? this.config.retry.backoffCoefficient,
        maximumAttempts: this.config.retry.maximumAttempts,
      },
      timeoutMs: this.config.deliveryTimeoutMs,
    };
  }

  /**
   * Starts one workflow per delivery and records which starts Temporal confirmed. A start that
   * finds its workflow already running counts as started. Returns how many are confirmed.
   */
  async start(deliveries: readonly DeliveryToStart[], trigger: AttemptTrigger = 'automatic', options: { replaceRunning?: boolean } = {}): Promise<number> {
    if (deliveries.length === 0) return 0;
    const results = await settleAll(deliveries, START_CONCURRENCY, (delivery) =>
      this.temporal
        .call((client) =>
          client.workflow.start<typeof deliveryWorkflow>('deliveryWorkflow', {
            taskQueue: this.config.temporal.taskQueue,
            workflowId: deliveryWorkflowId(delivery.id),
            args: [this.input(delivery, trigger)],
            // A re-send replaces a run still retrying, rather than racing it.
            ...(options.replaceRunning ? { workflowIdConflictPolicy: 'TERMINATE_EXISTING' as const } : {}),
            typedSearchAttributes: [
              { key: APP_ID, value: delivery.app_id },
              { key: SUBSCRIBER_ID, value: delivery.subscriber_id },
              { key: ENDPOINT_ID, value: delivery.endpoint_id },
              { key: EVENT_TYPE, value: delivery.event_type },
              { key: DELIVERY_STATUS, value: 'pending' },
            ],
          }),
        )
        .then(
          () => delivery.id,
          (err: unknown) => {
            if (err instanceof WorkflowExecutionAlreadyStartedError) return delivery.id;
            throw err;
          },
        ),
    );
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      log.warn('delivery workflows not started; the reconciler will retry', {
        count: results.length - started.length,
        error: failed.reason as unknown,
      });
    }
    if (started.length > 0) {
      await this.db.updateTable('deliveries').set({ workflow_started_at: sql<Date>`now()` }).where('id', 'in', started).execute();
    }
    return started.length;
  }

  /** Deliveries joined with what starting their workflow needs. */
  private startable() {
    return this.db
      .selectFrom('deliveries')
      .innerJoin('messages', 'messages.id', 'deliveries.message_id')
      .innerJoin('apps', 'apps.id', 'deliveries.app_id')
      .select([
        'deliveries.id',
        'deliveries.app_id',
        'deliveries.subscriber_id',
        'deliveries.endpoint_id',
        'messages.event_type',
        'apps.retry_initial_interval_ms',
        'apps.retry_backoff_coefficient',
      ]);
  }

  /** What starting these deliveries needs, read from the database (for re-sends). */
  toStart(ids: readonly string[]): Promise<DeliveryToStart[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.startable().where('deliveries.id', 'in', ids).execute();
  }

  /**
   * Starts pending deliveries whose start was never confirmed (Temporal was down, or the API died
   * between commit and start). Only rows older than one interval, so it does not race the API.
   */
  async reconcile(): Promise<number> {
    let total = 0;
    for (let batch = 0; batch < RECONCILE_MAX_BATCHES; batch++) {
      const rows = await this.startable()
        .where('deliveries.workflow_started_at', 'is', null)
        .where('deliveries.status', '=', 'pending')
        .where('deliveries.created_at', '<', sql<Date>`now() - make_interval(secs => ${this.config.reconcileIntervalMs / 1000})`)
        .orderBy('deliveries.created_at')
        .limit(RECONCILE_BATCH)
        .execute();
      // In slices, so that a Temporal still away costs one slice of timeouts, not the whole batch.
      for (let i = 0; i < rows.length; i += START_CONCURRENCY) {
        const slice = rows.slice(i, i + START_CONCURRENCY);
        const started = await this.start(slice);
        total += started;
        if (started < slice.length) return total;
      }
      if (rows.length < RECONCILE_BATCH) break;
    }
    return total;
  }
}
