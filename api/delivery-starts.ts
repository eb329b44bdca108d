import type { Db } from '../db/connection.ts';
import type { Replay } from '../db/database.ts';
import { announceStarts, markStarted, type RequestedStart } from '../db/delivery-starts.ts';
import { findReplay, markReplaysSignaled, setUnfinishedReplaysStatus, UNFINISHED } from '../db/replays.ts';
import type { Config } from '../lib/config.ts';
import { coalesced } from '../lib/coalesce.ts';
import { log } from '../lib/log.ts';
import { countDeliveryStarts } from '../lib/metrics.ts';
import type { TemporalGateway } from '../lib/temporal.ts';
import { startDeliveryWorkflow } from '../workflows/delivery-start.ts';
import { signalReplayAction, signalReplayWorkflow, type ReplayAction } from '../workflows/replay-start.ts';

/** At most one announcement per this interval: a burst of messages costs a few NOTIFYs, not one each. */
const ANNOUNCE_EVERY_MS = 5;
/** How long (×100 ms) a cancel waits to answer with the replay as the workflow recorded it. */
const CANCEL_WAIT_POLLS = 30;

/**
 * What the API tells Temporal and the workers, all after the answer so that no request waits:
 * accepted deliveries are announced to the workers (NOTIFY), which start their workflows (see
 * cli/delivery-starter.ts); a resend's start and a replay's signal go to Temporal from here once
 * their transaction committed. What is not started here (Temporal unreachable, a start refused,
 * the process stopping) stays unconfirmed, and the worker's reconciler starts it once it is overdue.
 */
export class DeliveryStarts {
  /** Resends and replay signals under way. */
  private oneOffs = 0;
  private idle: (() => void)[] = [];
  /** Calls while one announcement is under way (or within ANNOUNCE_EVERY_MS of it) share the next one. */
  private readonly announcements = coalesced(
    async () => {
      await announceStarts(this.db);
      await new Promise((resolve) => setTimeout(resolve, ANNOUNCE_EVERY_MS));
    },
    (err) => log.warn('could not announce delivery starts; workers find them on their next poll', { error: err }),
  );

  constructor(
    private readonly db: Db,
    private readonly temporal: TemporalGateway,
    private readonly config: Pick<Config, 'retry' | 'deliveryTimeoutMs' | 'temporal' | 'reconcileIntervalMs' | 'replayConcurrency'>,
  ) {}

  /**
   * Tells the workers that committed deliveries wait for their start; returns at once. A lost
   * announcement costs a worker's poll interval, not the delivery.
   */
  announce(): void {
    this.announcements.run();
  }

  /** Starts a committed resend's new run now (replacing one still retrying) and confirms it. */
  startResend(start: RequestedStart): void {
    this.oneOffs++;
    void (async () => {
      const outcome = await startDeliveryWorkflow(this.temporal, this.config, start, start);
      countDeliveryStarts('resend', [outcome]);
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

  private isIdle(): boolean {
    return this.oneOffs === 0;
  }

  private settleIfIdle(): void {
    if (this.isIdle()) for (const resolve of this.idle.splice(0)) resolve();
  }

  /** For shutdown: waits up to `timeoutMs` for the starts, signals and announcement under way. */
  async stop(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const oneOffs = new Promise<void>((resolve) => {
      if (this.isIdle()) resolve();
      else this.idle.push(resolve);
    });
    const idle = Promise.all([oneOffs, this.announcements.idle()]);
    await Promise.race([idle, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }
}
