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
/** Deliveries waiting for a background start; past this the reconciler starts them instead. */
const MAX_QUEUED = 20_000;
const MARK_BATCH = 1_000;
const LOG_EVERY_MS = 10_000;

/** Starts delivery workflows (after the API commits, and from the worker's reconciler). */
export class DeliveryStarter {
  /** Background starts: a FIFO read from `head`, compacted when half of it is consumed. */
  private queue: DeliveryToStart[] = [];
  private head = 0;
  private lanes = 0;
  /** Confirmed background starts whose `workflow_started_at` is not written yet. */
  private confirmed: string[] = [];
  private marking: Promise<void> | undefined;
  private idle: (() => void)[] = [];
  private unlogged = 0;
  private loggedAt = 0;

  constructor(
    private readonly db: Db,
    private readonly temporal: TemporalGateway,
    private readonly config: Pick<Config, 'retry' | 'deliveryTimeoutMs' | 'temporal' | 'reconcileIntervalMs'>,
    private readonly maxQueued = MAX_QUEUED,
  ) {}

  /**
   * Starts these deliveries' workflows in the background, so that accepting a message never waits
   * on Temporal: at most START_CONCURRENCY starts in flight per process, confirmations written in
   * batches. What cannot be started here (queue full, Temporal failing) stays `pending` without a
   * start time, and the worker's reconciler starts it.
   */
  enqueue(deliveries: readonly DeliveryToStart[]): void {
    const room = Math.max(0, this.maxQueued - (this.queue.length - this.head));
    if (room < deliveries.length) this.leftToReconciler(deliveries.length - room, 'too many delivery starts queued');
    for (const delivery of deliveries.slice(0, room)) this.queue.push(delivery);
    while (this.lanes < START_CONCURRENCY && this.head < this.queue.length) {
      this.lanes++;
      void this.lane();
    }
  }

  private async lane(): Promise<void> {
    try {
      while (this.head < this.queue.length) {
        const delivery = this.queue[this.head++]!;
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        try {
          await this.startOne(delivery, 'automatic', false);
        } catch (err) {
          // Temporal is failing: the rest would fail the same way, one timeout each.
          this.leftToReconciler(this.clearQueue() + 1, 'delivery workflows not started', err);
          continue;
        }
        this.confirmed.push(delivery.id);
        this.marking ??= this.markConfirmed();
      }
    } finally {
      this.lanes--;
      this.settleIfIdle();
    }
  }

  private clearQueue(): number {
    const dropped = this.queue.length - this.head;
    this.queue = [];
    this.head = 0;
    return dropped;
  }

  /** Logs at most one warning per LOG_EVERY_MS with the count since the last one: overload must not flood the log. */
  private leftToReconciler(count: number, why: string, error?: unknown): void {
    this.unlogged += count;
    if (Date.now() - this.loggedAt < LOG_EVERY_MS) return;
    log.warn(`${why}; the reconciler will start them`, { count: this.unlogged, ...(error === undefined ? {} : { error }) });
    this.unlogged = 0;
    this.loggedAt = Date.now();
  }

  private async markConfirmed(): Promise<void> {
    // Ids confirmed while one UPDATE runs wait for the next, so the writes batch themselves.
    while (this.confirmed.length > 0) {
      const ids = this.confirmed.splice(0, MARK_BATCH);
      // Unmarked rows are harmless: the reconciler's start finds the workflow already running.
      await this.markStarted(ids).catch((err: unknown) => log.warn('could not record started delivery workflows', { count: ids.length, error: err }));
    }
    this.marking = undefined;
    this.settleIfIdle();
  }

  private isIdle(): boolean {
    return this.lanes === 0 && !this.marking && this.head >= this.queue.length;
  }

  private settleIfIdle(): void {
    if (this.isIdle()) for (const resolve of this.idle.splice(0)) resolve();
  }

  /**
   * For shutdown: lets background starts finish for up to `timeoutMs`, leaves what is still queued
   * to the reconciler, and waits for the starts under way and their confirmations.
   */
  async stop(timeoutMs: number): Promise<void> {
    const idle = () => new Promise<void>((resolve) => {
      if (this.isIdle()) resolve();
      else this.idle.push(resolve);
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    const left = this.clearQueue();
    if (left > 0) log.warn('stopping with delivery starts queued; the reconciler will start them', { count: left });
    await idle();
  }

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
    const results = await settleAll(deliveries, START_CONCURRENCY, (delivery) => this.startOne(delivery, trigger, options.replaceRunning ?? false).then(() => delivery.id));
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      log.warn('delivery workflows not started; the reconciler will retry', {
        count: results.length - started.length,
        error: failed.reason as unknown,
      });
    }
    if (started.length > 0) await this.markStarted(started);
    return started.length;
  }

  private async markStarted(ids: readonly string[]): Promise<void> {
    await this.db.updateTable('deliveries').set({ workflow_started_at: sql<Date>`now()` }).where('id', 'in', ids).execute();
  }

  /** Starts one delivery's workflow; one already running counts as started. */
  private async startOne(delivery: DeliveryToStart, trigger: AttemptTrigger, replaceRunning: boolean): Promise<void> {
    try {
      await this.temporal.call((client) =>
        client.workflow.start<typeof deliveryWorkflow>('deliveryWorkflow', {
          taskQueue: this.config.temporal.taskQueue,
          workflowId: deliveryWorkflowId(delivery.id),
          args: [this.input(delivery, trigger)],
          // A re-send replaces a run still retrying, rather than racing it.
          ...(replaceRunning ? { workflowIdConflictPolicy: 'TERMINATE_EXISTING' as const } : {}),
          typedSearchAttributes: [
            { key: APP_ID, value: delivery.app_id },
            { key: SUBSCRIBER_ID, value: delivery.subscriber_id },
            { key: ENDPOINT_ID, value: delivery.endpoint_id },
            { key: EVENT_TYPE, value: delivery.event_type },
            { key: DELIVERY_STATUS, value: 'pending' },
          ],
        }),
      );
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
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
