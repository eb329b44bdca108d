import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ReplayDelivery, ReplayStepInput, ReplayStepResult } from '../activities/replay.ts';
import { cancelSignal, pauseSignal, progressQuery, replaySignal, replayWorkflowId, resumeSignal, type replayWorkflow } from '../workflows/replay.ts';

// The real replay workflow (and real child delivery workflows) on the shared dev server, with fake
// activities standing in for Postgres and HTTP: its rules for pages, merging, endings and signals.

Runtime.install({ logger: new DefaultLogger('ERROR') });

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await env?.teardown();
});

/** A fake endpoint's failed and skipped deliveries, one per millisecond from t=1000, paged as Postgres would. */
function fakeEndpoint(count: number, options: { disableOnceClaimed?: boolean } = {}) {
  // Ids of their own per test, so no child run of another test shares a workflow id.
  const tag = randomBytes(4).toString('hex');
  const deliveries = Array.from({ length: count }, (_, i) => ({ id: `dlv_${tag}_${String(i).padStart(4, '0')}`, at: 1_000 + i, claimed: false }));
  const steps: ReplayStepInput[] = [];
  const sent: string[] = [];
  let status: ReplayStepResult['endpoint'] = 'active';
  const pending = (range: { since: number; until: number; after?: { id: string } }) =>
    deliveries.filter((d) => !d.claimed && d.at >= range.since && d.at < range.until && (!range.after || d.id > range.after.id));
  const activities = {
    replayStep(input: ReplayStepInput): Promise<ReplayStepResult> {
      steps.push(structuredClone(input));
      const page = status === 'active' && input.page ? pending(input.page.range).slice(0, input.page.limit) : [];
      for (const d of page) d.claimed = true;
      // As if the endpoint were disabled right after this page was claimed.
      const reported = status;
      if (page.length > 0 && options.disableOnceClaimed) status = 'inactive';
      const last = page[page.length - 1];
      const current = input.page ? [{ ...input.page.range, ...(last ? { after: { id: last.id } } : {}) }] : [];
      const remaining = [...current, ...input.queued].reduce((n, range) => n + pending(range).length, 0);
      return Promise.resolve({
        endpoint: reported,
        deliveries: page.map((d): ReplayDelivery => ({
          delivery: { id: d.id, app_id: 'app_fake', subscriber_id: 'sub_fake', endpoint_id: 'ep_fake', event_type: 'user.created', retry_initial_interval_ms: null, retry_backoff_coefficient: null },
          requestedAt: '1',
        })),
        ...(last ? { last: { createdAtMicros: String(last.at * 1000), id: last.id } } : {}),
        remaining,
      });
    },
    // The children: every send succeeds.
    sendAttempt({ deliveryId }: { deliveryId: string }) {
      sent.push(deliveryId);
      return Promise.resolve();
    },
    recordSkipped: () => Promise.resolve(),
    recordFailure: () => Promise.resolve({ endpointDisabled: false }),
    notifyEndpointDisabled: () => Promise.resolve({ sent: 0, failed: 0 }),
  };
  return { deliveries, steps, sent, activities };
}

async function withWorker<T>(activities: object, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `replay-workflow-${randomBytes(6).toString('hex')}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: { codePath: inject('workflowBundlePath') }, activities });
  return worker.runUntil(fn(taskQueue));
}

const iso = (ms: number) => new Date(ms).toISOString();

function start(taskQueue: string, endpointId: string, request: { replayId: string; since: number; until: number }, concurrency = 3) {
  return env.client.workflow.signalWithStart<typeof replayWorkflow, [{ replayId: string; since: string; until: string }]>('replayWorkflow', {
    taskQueue,
    workflowId: replayWorkflowId(endpointId),
    args: [{ endpointId, concurrency, delivery: { retry: { initialIntervalMs: 1_000, backoffCoefficient: 2, maximumAttempts: 1 }, deliveryTimeoutMs: 1_000 } }],
    signal: replaySignal,
    signalArgs: [{ replayId: request.replayId, since: iso(request.since), until: iso(request.until) }],
  });
}

describe('replay workflow rules', () => {
  it('sends each delivery of the union of two overlapping requests once, and writes the final counts to both', async () => {
    const fake = fakeEndpoint(20);
    await withWorker(fake.activities, async (taskQueue) => {
      const endpointId = `ep_${randomBytes(4).toString('hex')}`;
      const handle = await start(taskQueue, endpointId, { replayId: 'rpl_a', since: 1_000, until: 1_012 });
      await handle.signal(replaySignal, { replayId: 'rpl_b', since: iso(1_008), until: iso(1_020) });
      // The same request again (a reconciler's late signal) changes nothing.
      await handle.signal(replaySignal, { replayId: 'rpl_a', since: iso(1_000), until: iso(1_012) });
      await handle.result();
      expect([...fake.sent].sort()).toEqual(fake.deliveries.map((d) => d.id));
      const last = fake.steps[fake.steps.length - 1]!;
      expect(last.progress).toMatchObject({ status: 'completed', sent: 20, succeeded: 20, failed: 0 });
      expect([...last.replayIds].sort()).toEqual(['rpl_a', 'rpl_b']);
      expect(Math.max(...fake.steps.map((s) => s.page?.limit ?? 0)), 'never more than the concurrency at once').toBeLessThanOrEqual(3);
    });
  });

  it('ends stopped, not completed, when the endpoint went inactive as its last sends went out', async () => {
    // The whole range fits one page; the endpoint is disabled right after it is claimed.
    const fake = fakeEndpoint(3, { disableOnceClaimed: true });
    await withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, `ep_${randomBytes(4).toString('hex')}`, { replayId: 'rpl_c', since: 1_000, until: 2_000 }, 5);
      await handle.result();
      const last = fake.steps[fake.steps.length - 1]!;
      expect(last.progress).toMatchObject({ status: 'stopped', reason: 'the endpoint was disabled again' });
    });
  });

  it('a cancel sent with the first request cancels it; a request after the cancel is served on its own', async () => {
    const fake = fakeEndpoint(10);
    await withWorker(fake.activities, async (taskQueue) => {
      const endpointId = `ep_${randomBytes(4).toString('hex')}`;
      const handle = await start(taskQueue, endpointId, { replayId: 'rpl_d', since: 1_000, until: 1_005 }, 1);
      await handle.signal(pauseSignal);
      await handle.signal(cancelSignal);
      await handle.signal(replaySignal, { replayId: 'rpl_e', since: iso(1_005), until: iso(1_010) });
      await handle.result();
      const endings = fake.steps.filter((s) => s.progress.status && s.progress.status !== 'running' && s.progress.status !== 'paused');
      expect(endings.map((s) => [s.replayIds, s.progress.status])).toEqual([
        [['rpl_d'], 'cancelled'],
        [['rpl_e'], 'completed'],
      ]);
      const cancelledIds = fake.deliveries.slice(0, 5).map((d) => d.id);
      expect(fake.sent.filter((id) => cancelledIds.includes(id)).length, 'at most the one send under way of the cancelled request').toBeLessThanOrEqual(1);
      expect(fake.sent.filter((id) => !cancelledIds.includes(id))).toHaveLength(5);
    });
  });

  it('pause holds new pages and answers the progress query; resume finishes', async () => {
    const fake = fakeEndpoint(6);
    await withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, `ep_${randomBytes(4).toString('hex')}`, { replayId: 'rpl_f', since: 1_000, until: 2_000 }, 1);
      await handle.signal(pauseSignal);
      const paused = await handle.query(progressQuery);
      expect(paused.status).toBe('paused');
      const sentWhilePaused = fake.sent.length;
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(fake.sent.length - sentWhilePaused).toBeLessThanOrEqual(1);
      expect(fake.steps.some((s) => s.progress.status === 'paused'), 'the pause is written to the rows').toBe(true);
      await handle.signal(resumeSignal);
      await handle.result();
      expect(fake.sent).toHaveLength(6);
    });
  });
});
