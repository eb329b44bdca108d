import type { Db } from '../db/connection.ts';
import type { Replay } from '../db/database.ts';
import { markStarted, type DeliveryToStart, type RequestedStart } from '../db/delivery-starts.ts';
import { findReplay, markReplaysSignaled, setUnfinishedReplaysStatus, UNFINISHED } from '../db/replays.ts';
import type { Config } from '../lib/config.ts';
import { log } from '../lib/log.ts';
import type { TemporalGateway } from '../lib/temporal.ts';
import { queuedStartMaxAgeMs, startDeliveryWorkflow } from '../workflows/delivery-start.ts';
import { signalReplayAction, signalReplayWorkflow, type ReplayAction } from '../workflows/replay-start.ts';

const START_CONCURRENCY = 16;
/** Deliveries waiting for a background start; past this the reconciler starts them instead. */
const MAX_QUEUED = 20_000;
const MARK_BATCH = 1_000;
const LOG_EVERY_MS = 10_000;
/** How long (×100 ms) a cancel waits to answer with the replay as the workflow recorded it. */
const CANCEL_WAIT_POLLS = 30;

interface QueuedStart {
  delivery: DeliveryToStart;
  queuedAt: number;
}

/**
 * The API's delivery workflow starts, all after the answer so that no request waits on Temporal:
 * a background queue for just accepted deliveries (at most START_CONCURRENCY starts in flight per
 * process, confirmations written in batches), and a resend's start once its transaction committed.
 * What is not started here (queue full, queued too long, Temporal unreachable, a start refused,
 * process stopping) stays `pending` and unconfirmed, and the worker's reconciler starts it once it
 * is overdue, as what it was asked for.
 */
export class DeliveryStarts {
  /** A FIFO read from `head`, compacted when half of it is consumed. */
  private queue: QueuedStart[] = [];
  private head = 0;
  private lanes = 0;
  /** Resends and replay signals under way, one request each. */
  private oneOffs = 0;
  /** Confirmed starts whose `workflow_started_at` is not written yet. */
  private confirmed: string[] = [];
  private marking: Promise<void> | undefined;
  private idle: (() => void)[] = [];
  private unlogged = 0;
  private loggedAt = 0;
  private readonly maxAgeMs: number;

  constructor(
    private readonly db: Db,
    private readonly temporal: TemporalGateway,
    private readonly config: Pick<Config, 'retry' | 'deliveryTimeoutMs' | 'temporal' | 'reconcileIntervalMs' | 'replayConcurrency'>,
    private readonly maxQueued = MAX_QUEUED,
  ) {
    this.maxAgeMs = queuedStartMaxAgeMs(config);
  }

  /** Queues automatic starts of these deliveries; returns at once. */
  enqueue(deliveries: readonly DeliveryToStart[]): void {
    const room = Math.max(0, this.maxQueued - (this.queue.length - this.head));
    if (room < deliveries.length) this.leftToReconciler(deliveries.length - room, 'too many delivery starts queued');
    const queuedAt = Date.now();
    for (const delivery of deliveries.slice(0, room)) this.queue.push({ delivery, queuedAt });
    while (this.lanes < START_CONCURRENCY && this.head < this.queue.length) {
      this.lanes++;
      void this.lane();
    }
  }

  private async lane(): Promise<void> {
    try {
      while (this.head < this.queue.length) {
        const { delivery, queuedAt } = this.queue[this.head++]!;
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        // Past its age the reconciler may already be starting it: leave it to the reconciler alone.
        if (Date.now() - queuedAt > this.maxAgeMs) {
          this.leftToReconciler(1, 'delivery starts queued too long');
          continue;
        }
        const outcome = await startDeliveryWorkflow(this.temporal, this.config, delivery, { trigger: 'automatic' });
        if (outcome.ok) {
          this.confirmed.push(delivery.id);
          this.marking ??= this.markConfirmed();
        } else if (outcome.unreachable) {
          // The rest would fail the same way, one timeout each.
          this.leftToReconciler(this.clearQueue() + 1, 'Temporal is unreachable: delivery workflows not started', outcome.error);
        } else {
          this.leftToReconciler(1, 'a delivery workflow start was refused', outcome.error);
        }
      }
    } finally {
      this.lanes--;
      this.settleIfIdle();
    }
  }

  /** Starts a committed resend's new run now (replacing one still retrying) and confirms it. */
  startResend(start: RequestedStart): void {
    this.oneOffs++;
    void (async () => {
      const outcome = await startDeliveryWorkflow(this.temporal, this.config, start, start);
      if (outcome.ok) await markStarted(this.db, [start.id], start);
      else log.warn('resend not started; the reconciler will start it', { deliveryId: start.id, error: outcome.error });
    })()
      .catch((err: unknown) => log.warn('could not record a started resend', { deliveryId: start.id, error: err }))
      .finally(() => {
        this.oneOffs--;
        this.settleIfIdle();
      });
  }

  /** Hands a committed replay request to its endpoint's replay workflow (signal-with-start) and confirms it. */
  startReplay(replay: Replay): void {
    this.oneOffs++;
    void (async () => {
      const outcome = await signalReplayWorkflow(this.temporal, this.config, replay);
      if (outcome.ok) await markReplaysSignaled(this.db, [replay.id]);
      else log.warn('replay not started; the reconciler will start it', { replayId: replay.id, error: outcome.error });
    })()
      .catch((err: unknown) => log.warn('could not record a started replay', { replayId: replay.id, error: err }))
      .finally(() => {
        this.oneOffs--;
        this.settleIfIdle();
      });
  }

  /**
   * Pauses, resumes or cancels a replay: the signal goes to its endpoint's workflow, which serves
   * every unfinished replay of that endpoint, so all their rows change together. Answers the replay
   * as it now stands, or why nothing changed.
   */
  async controlReplay(replay: Replay, action: ReplayAction): Promise<{ ok: true; replay: Replay } | { ok: false; why: 'finished' | 'not_started' | 'unavailable' }> {
    if (!UNFINISHED.includes(replay.status)) return { ok: false, why: 'finished' };
    const sent = await signalReplayAction(this.temporal, replay.endpoint_id, action);
    if (!sent.ok && !sent.notRunning) return { ok: false, why: 'unavailable' };
    if (!sent.ok) {
      // No run open: it ended meanwhile, or its request still waits for its signal (the reconciler's).
      const current = await findReplay(this.db, { appId: replay.app_id }, replay.id);
      return { ok: false, why: current && UNFINISHED.includes(current.status) ? 'not_started' : 'finished' };
    }
    if (action !== 'cancel') await setUnfinishedReplaysStatus(this.db, replay.endpoint_id, action === 'pause' ? 'paused' : 'running');
    // A cancel is recorded by the workflow itself, at once (it does not wait for sends under way): give it a moment.
    let now = (await findReplay(this.db, { appId: replay.app_id }, replay.id))!;
    for (let i = 0; i < CANCEL_WAIT_POLLS && action === 'cancel' && UNFINISHED.includes(now.status); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      now = (await findReplay(this.db, { appId: replay.app_id }, replay.id))!;
    }
    return { ok: true, replay: now };
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
      // Unmarked rows are harmless: the reconciler's start finds the run and makes none.
      await markStarted(this.db, ids, { trigger: 'automatic' }).catch((err: unknown) => log.warn('could not record started delivery workflows', { count: ids.length, error: err }));
    }
    this.marking = undefined;
    this.settleIfIdle();
  }

  private isIdle(): boolean {
    return this.lanes === 0 && this.oneOffs === 0 && !this.marking && this.head >= this.queue.length;
  }

  private settleIfIdle(): void {
    if (this.isIdle()) for (const resolve of this.idle.splice(0)) resolve();
  }

  /**
   * For shutdown: lets queued starts run for up to `timeoutMs`, leaves what is still queued to the
   * reconciler, and waits for the starts under way and their confirmations.
   */
  async stop(timeoutMs: number): Promise<void> {
    const idle = () =>
      new Promise<void>((resolve) => {
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
}
