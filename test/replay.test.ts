import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { Replay } from '../db/database.ts';
import { findReplay, requestReplay } from '../db/replays.ts';
import { loadConfig } from '../lib/config.ts';
import { TemporalGateway } from '../lib/temporal.ts';
import { reconcileReplays, settleOrphanedReplays } from '../cli/reconciler.ts';
import { withTemporalAddress } from '../cli/runtime.ts';
import { progressQuery, replayWorkflowId, type ReplayInput, type replayWorkflow } from '../workflows/replay.ts';
import { signalReplayAction, signalReplayWorkflow } from '../workflows/replay-start.ts';
import { waitFor } from './support/ports.ts';
import { startReceiver } from './support/receiver.ts';
import { seed, startStack, type Seeded, type Stack } from './support/stack.ts';

// The replay workflow against the real Temporal dev server, Postgres and loopback receivers: what it
// sends, what it never sends, merging, pause/resume/cancel, stopping, and continue-as-new (issue 11).

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

let stack: Stack;
let gateway: TemporalGateway;
let client: Client;
let connection: Connection;
let settings: ReturnType<typeof withTemporalAddress>;
const receivers: Receiver[] = [];

beforeAll(async () => {
  stack = await startStack({ REPLAY_CONCURRENCY: '3' });
  settings = withTemporalAddress(loadConfig(stack.env), stack.env.TEMPORAL_ADDRESS!);
  gateway = new TemporalGateway(settings.temporal);
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await gateway?.close();
  await connection?.close();
  await stack?.close();
});

async function receiver(respond?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const started = await startReceiver(respond);
  receivers.push(started);
  return started;
}

const message = (n: number) => ({ event_type: 'user.created', version: '1.0', data: { n } });

/** An endpoint at `url` made inactive, then `count` messages posted to its app: each recorded `skipped`. */
async function skippedDeliveries(url: string, count: number, seeded?: Seeded): Promise<Seeded & { messageIds: string[] }> {
  const s = seeded ?? (await seed(stack.api, url));
  await stack.api.patch(`/subscriptions/${s.subscriberId}/endpoints/${s.endpointId}`, { status: 'inactive' });
  const messageIds: string[] = [];
  for (let n = 0; n < count; n++) messageIds.push((await stack.api.post(`/apps/${s.appId}/messages`, message(n))).body.id as string);
  await waitFor(`${count} deliveries to be skipped`, async () => {
    const rows = await stack.db.selectFrom('deliveries').select('status').where('endpoint_id', '=', s.endpointId).where('message_id', 'in', messageIds).execute();
    return rows.length === count && rows.every((r) => r.status === 'skipped') ? true : undefined;
  }, 60_000);
  await stack.api.patch(`/subscriptions/${s.subscriberId}/endpoints/${s.endpointId}`, { status: 'active' });
  return { ...s, messageIds };
}

async function replay(endpointId: string, range: { since?: Date; until?: Date } = {}): Promise<Replay> {
  const endpoint = (await stack.db.selectFrom('endpoints').selectAll().where('id', '=', endpointId).executeTakeFirstOrThrow());
  const outcome = await stack.db.transaction().execute((trx) => requestReplay(trx, endpoint, { ...range, requestedBy: { kind: 'user', id: 'usr_test' } }, new Date()));
  if (outcome.kind !== 'accepted') throw new Error(`replay refused: ${JSON.stringify(outcome)}`);
  const sent = await signalReplayWorkflow(gateway, settings, outcome.replay);
  expect(sent.ok).toBe(true);
  return outcome.replay;
}

async function finished(replayId: string, timeoutMs = 60_000): Promise<Replay> {
  return waitFor(`replay ${replayId} to finish`, async () => {
    const row = await stack.db.selectFrom('replays').selectAll().where('id', '=', replayId).executeTakeFirst();
    return row?.finished_at ? row : undefined;
  }, timeoutMs, 100);
}

const idsReceived = (r: Receiver) => r.requests.map((request) => request.headers['webhook-id'] as string);

describe('replay workflow', () => {
  it('sends every skipped delivery of the endpoint once, and none of another endpoint', async () => {
    const target = await receiver();
    const other = await receiver();
    const mine = await skippedDeliveries(target.url, 6);
    const theirs = await skippedDeliveries(other.url, 3);

    const row = await replay(mine.endpointId);
    expect(row.total).toBe(6);
    const done = await finished(row.id);
    expect(done).toMatchObject({ status: 'completed', total: 6, sent: 6, succeeded: 6, failed: 0, remaining: 0 });
    expect(idsReceived(target).sort()).toEqual([...mine.messageIds].sort());
    expect(other.requests, 'another endpoint’s deliveries stay as they were').toHaveLength(0);
    const theirRows = await stack.db.selectFrom('deliveries').select('status').where('endpoint_id', '=', theirs.endpointId).execute();
    expect(theirRows.every((r) => r.status === 'skipped')).toBe(true);
    const attempts = await stack.db.selectFrom('attempts').select(['trigger']).where('endpoint_id', '=', mine.endpointId).execute();
    expect(attempts.map((a) => a.trigger)).toEqual(Array(6).fill('replay'));
  });

  it('never sends a delivery that succeeded meanwhile, and a replay of nothing completes at once', async () => {
    const target = await receiver();
    const s = await skippedDeliveries(target.url, 4);
    // One of them was resent and succeeded before the replay reached it.
    await stack.db.updateTable('deliveries').set({ status: 'succeeded' }).where('endpoint_id', '=', s.endpointId).where('message_id', '=', s.messageIds[1]!).execute();
    const done = await finished((await replay(s.endpointId)).id);
    expect(done).toMatchObject({ status: 'completed', sent: 3, succeeded: 3 });
    expect(idsReceived(target).sort()).toEqual([s.messageIds[0], s.messageIds[2], s.messageIds[3]].sort());

    const empty = await finished((await replay(s.endpointId)).id);
    expect(empty).toMatchObject({ status: 'completed', total: 0, sent: 0 });
    expect(target.requests).toHaveLength(3);
  });

  it('merges a second request into the running workflow: one run, the union of ranges, nothing twice', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const target = await receiver((_request, _i, res) => {
      void gate.then(() => res.writeHead(200).end('ok'));
      return 'handled';
    });
    const s = await skippedDeliveries(target.url, 8);
    const rows = await stack.db.selectFrom('deliveries').select(['created_at']).where('endpoint_id', '=', s.endpointId).orderBy('created_at').execute();
    const middle = new Date(rows[4]!.created_at.getTime());
    const first = await replay(s.endpointId, { until: middle });
    await waitFor('the first sends to be under way', () => (target.requests.length >= 3 ? true : undefined));
    const second = await replay(s.endpointId, { since: rows[2]!.created_at });
    const runs = [];
    for await (const run of client.workflow.list({ query: `WorkflowId = "${replayWorkflowId(s.endpointId)}"` })) runs.push(run);
    expect(runs, 'one workflow serves both requests').toHaveLength(1);
    release();
    const [a, b] = await Promise.all([finished(first.id), finished(second.id)]);
    expect(a.status).toBe('completed');
    expect(b.status).toBe('completed');
    expect(b.succeeded).toBe(8);
    expect(idsReceived(target).sort(), 'each message once').toEqual([...s.messageIds].sort());
  });

  it('pause holds new sends, resume finishes, cancel ends with what is left counted', async () => {
    const target = await receiver((_request, _i, res) => {
      setTimeout(() => res.writeHead(200).end('ok'), 150);
      return 'handled';
    });
    const s = await skippedDeliveries(target.url, 30);
    const row = await replay(s.endpointId);
    await waitFor('some sends', () => (target.requests.length >= 3 ? true : undefined));
    expect((await signalReplayAction(gateway, s.endpointId, 'pause')).ok).toBe(true);
    const paused = await waitFor('the replay to record the pause', async () => {
      const r = await findReplay(stack.db, { appId: s.appId }, row.id);
      return r?.status === 'paused' ? r : undefined;
    });
    expect(paused.remaining).toBeGreaterThan(0);
    const atPause = target.requests.length;
    // Sends under way finish (at most REPLAY_CONCURRENCY = 3), as the workflow's own count says; then nothing new starts.
    const handle = client.workflow.getHandle(replayWorkflowId(s.endpointId));
    await waitFor('the sends under way to end', async () => {
      const progress = await handle.query(progressQuery);
      return progress.status === 'paused' && progress.sent === progress.succeeded + progress.failed ? true : undefined;
    });
    const whilePaused = target.requests.length;
    expect(whilePaused - atPause).toBeLessThanOrEqual(3);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(target.requests.length, 'no new send while paused').toBe(whilePaused);
    expect(whilePaused).toBeLessThan(30);

    expect((await signalReplayAction(gateway, s.endpointId, 'resume')).ok).toBe(true);
    await waitFor('a send after resume', () => (target.requests.length > whilePaused ? true : undefined));
    expect((await signalReplayAction(gateway, s.endpointId, 'cancel')).ok).toBe(true);
    const cancelled = await finished(row.id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.remaining).toBeGreaterThan(0);
    expect(cancelled.sent + cancelled.remaining).toBe(cancelled.total);
    const afterCancel = target.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(target.requests.length - afterCancel, 'at most the sends under way finish').toBeLessThanOrEqual(3);
    expect(target.requests.length).toBeLessThan(30);
  });

  it('stops with a reason when the endpoint is disabled again during the replay', async () => {
    const target = await receiver(() => ({ status: 500, body: 'still broken' }));
    const s = await skippedDeliveries(target.url, 12);
    const row = await replay(s.endpointId);
    const stopped = await finished(row.id, 90_000);
    expect(stopped.status).toBe('stopped');
    expect(stopped.reason).toMatch(/disabled/);
    expect(stopped.remaining, 'it did not march through the rest').toBeGreaterThan(0);
    const endpoint = await stack.db.selectFrom('endpoints').select(['status', 'last_disabled_at']).where('id', '=', s.endpointId).executeTakeFirstOrThrow();
    expect(endpoint.status).toBe('inactive');
    expect(endpoint.last_disabled_at).not.toBeNull();
  });

  it('is sent by the reconciler when its signal never went out, once', async () => {
    const target = await receiver();
    const s = await skippedDeliveries(target.url, 3);
    const endpoint = await stack.db.selectFrom('endpoints').selectAll().where('id', '=', s.endpointId).executeTakeFirstOrThrow();
    // Committed, then the process died before its signal-with-start.
    const outcome = await stack.db.transaction().execute((trx) => requestReplay(trx, endpoint, { requestedBy: { kind: 'api_key', id: 'key_test' } }, new Date()));
    if (outcome.kind !== 'accepted') throw new Error('refused');
    const deps = { db: stack.db, temporal: gateway, config: settings };
    expect(await reconcileReplays(deps, { overdueMs: 60_000 }), 'not overdue yet').toBe(0);
    expect(await reconcileReplays(deps, { overdueMs: 0 })).toBe(1);
    expect(await reconcileReplays(deps, { overdueMs: 0 }), 'confirmed: not sent again').toBe(0);
    const done = await finished(outcome.replay.id);
    expect(done).toMatchObject({ status: 'completed', sent: 3, succeeded: 3 });
    expect(done.workflow_signaled_at).not.toBeNull();
    expect(idsReceived(target).sort()).toEqual([...s.messageIds].sort());
  });

  it('ends a replay whose workflow was terminated by hand as stopped, with the reason, and leaves a running one alone', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const target = await receiver((_request, _i, res) => {
      void gate.then(() => res.writeHead(200).end('ok'));
      return 'handled';
    });
    const s = await skippedDeliveries(target.url, 4);
    const row = await replay(s.endpointId);
    await waitFor('the replay to be under way', () => (target.requests.length > 0 ? true : undefined));
    await waitFor('the workflow to have the request', async () => (await findReplay(stack.db, { appId: s.appId }, row.id))?.workflow_signaled_at ?? undefined);
    const deps = { db: stack.db, temporal: gateway, config: settings };
    expect(await settleOrphanedReplays(deps, { staleMs: 0 })).toBeGreaterThanOrEqual(1);
    expect((await findReplay(stack.db, { appId: s.appId }, row.id))?.status, 'a running workflow serves it').toBe('running');

    await client.workflow.getHandle(replayWorkflowId(s.endpointId)).terminate('an operator ended it');
    release();
    await settleOrphanedReplays(deps, { staleMs: 0 });
    const ended = await findReplay(stack.db, { appId: s.appId }, row.id);
    expect(ended).toMatchObject({ status: 'stopped', reason: 'its workflow ended without finishing it (terminated)' });
    expect(ended?.finished_at).not.toBeNull();
  });

  it('continues as new after a bounded number of deliveries, carrying its progress', async () => {
    const target = await receiver();
    const s = await skippedDeliveries(target.url, 12);
    const endpoint = await stack.db.selectFrom('endpoints').selectAll().where('id', '=', s.endpointId).executeTakeFirstOrThrow();
    const outcome = await stack.db.transaction().execute((trx) => requestReplay(trx, endpoint, { requestedBy: { kind: 'user', id: 'usr_test' } }, new Date()));
    if (outcome.kind !== 'accepted') throw new Error('refused');
    const input: ReplayInput = { endpointId: s.endpointId, concurrency: 2, continueAfter: 4, delivery: { retry: settings.retry, deliveryTimeoutMs: settings.deliveryTimeoutMs } };
    await client.workflow.signalWithStart<typeof replayWorkflow, [unknown]>('replayWorkflow', {
      taskQueue: settings.temporal.taskQueue,
      workflowId: replayWorkflowId(s.endpointId),
      args: [input],
      signal: 'replay',
      signalArgs: [{ replayId: outcome.replay.id, since: outcome.replay.since.toISOString(), until: outcome.replay.until.toISOString() }],
    });
    const done = await finished(outcome.replay.id);
    expect(done).toMatchObject({ status: 'completed', total: 12, sent: 12, succeeded: 12, remaining: 0 });
    expect(idsReceived(target).sort()).toEqual([...s.messageIds].sort());
    const runs = [];
    for await (const run of client.workflow.list({ query: `WorkflowId = "${replayWorkflowId(s.endpointId)}"` })) runs.push(run);
    expect(runs.filter((run) => run.status.name === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(2);
  });
});
