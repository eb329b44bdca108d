import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { withTemporalAddress } from '../cli/runtime.ts';
import { acceptMessage } from '../db/messages.ts';
import { loadConfig } from '../lib/config.ts';
import { DeliveryStarts } from '../api/delivery-starts.ts';
import { reconcileStarts } from '../cli/reconciler.ts';
import type { DeliveryToStart } from '../db/delivery-starts.ts';
import { TemporalGateway } from '../lib/temporal.ts';
import { startDevServer, type DevServer } from '../cli/temporal-dev-server.ts';
import { deliveryWorkflowId } from '../workflows/delivery-run.ts';
import { freePort } from './support/ports.ts';
import { seed, startStack, type Stack, type Seeded } from './support/stack.ts';

// Accepting a message (acceptMessage) and the API's background starts (DeliveryStarts.enqueue), on
// real Postgres and real dev servers: the shared one, and one of this file's own that is paused to
// play a Temporal that does not answer.
let stack: Stack;
let seeded: Seeded;
let paused: DevServer;

beforeAll(async () => {
  stack = await startStack();
  seeded = await seed(stack.api, 'https://example.com/hook');
  // No worker, so no reconciler and no deliveries run: this file watches the starts alone.
  await stack.stopWorker();
  const dataDir = mkdtempSync(path.join(inject('tempDir'), 'paused-'));
  paused = await startDevServer({ dataDir, port: await freePort(), headless: true, logFile: path.join(dataDir, 'temporal.log') });
});
afterAll(async () => {
  paused?.process.kill('SIGCONT');
  await paused?.stop();
  await stack?.close();
});

/** Starts of its own, on a task queue no worker polls, so started workflows just wait. */
function starterFor(address: string, maxQueued?: number) {
  const config = withTemporalAddress(loadConfig({ ...stack.env, TEMPORAL_TASK_QUEUE: `starter-${Math.random().toString(36).slice(2)}`, RECONCILE_INTERVAL: '30s' }), address);
  const temporal = new TemporalGateway(config.temporal);
  const starter = new DeliveryStarts(stack.db, temporal, config, maxQueued);
  // What the API leaves to the reconciler, taken at once rather than once overdue.
  const reconcile = () => reconcileStarts({ db: stack.db, temporal, config }, { overdueMs: 0 });
  return { starter, temporal, reconcile };
}

async function pendingDeliveries(n: number): Promise<DeliveryToStart[]> {
  const pending: DeliveryToStart[] = [];
  for (let i = 0; i < n; i++) {
    const result = await acceptMessage(stack.db, {
      accountId: stack.accountId, appId: seeded.appId, eventType: 'user.created', version: '1.0', data: { i },
      eventId: null, overridePayload: false, idempotencyKey: null, requestHash: 'test',
    });
    if (result.kind !== 'created') throw new Error(`message not created: ${result.kind}`);
    pending.push(...result.pending);
  }
  return pending;
}

/** Which of these deliveries have a recorded workflow start, by id. */
const startedAt = async (ids: string[]) =>
  Object.fromEntries((await stack.db.selectFrom('deliveries').select(['id', 'workflow_started_at']).where('id', 'in', ids).execute()).map((r) => [r.id, r.workflow_started_at !== null]));
const all = (deliveries: DeliveryToStart[], started: boolean) => Object.fromEntries(deliveries.map((d) => [d.id, started]));

it('starts queued deliveries in the background and records every confirmed start', async () => {
  const deliveries = await pendingDeliveries(120);
  const { starter, temporal } = starterFor(inject('temporalAddress'));
  const before = performance.now();
  starter.enqueue(deliveries);
  expect(performance.now() - before).toBeLessThan(50); // enqueueing waits on nothing
  await starter.stop(60_000);

  expect(await startedAt(deliveries.map((d) => d.id))).toEqual(all(deliveries, true));
  const client = await temporal.client();
  for (const delivery of [deliveries[0]!, deliveries.at(-1)!]) {
    const description = await client.workflow.getHandle(deliveryWorkflowId(delivery.id)).describe();
    expect(description.status.name).toBe('RUNNING');
  }
  await temporal.close();
}, 90_000);

it('leaves what does not fit in the queue to the reconciler', async () => {
  const deliveries = await pendingDeliveries(30);
  const { starter, temporal, reconcile } = starterFor(inject('temporalAddress'), 10);
  starter.enqueue(deliveries);
  await starter.stop(60_000);
  const marked = await startedAt(deliveries.map((d) => d.id));
  expect(Object.values(marked).filter(Boolean)).toHaveLength(10);

  // The reconciler starts the other 20.
  expect(await reconcile()).toBeGreaterThanOrEqual(20);
  expect(await startedAt(deliveries.map((d) => d.id))).toEqual(all(deliveries, true));
  await temporal.close();
}, 90_000);

it('gives the queue up to the reconciler when Temporal does not answer, without delaying anyone', async () => {
  const deliveries = await pendingDeliveries(40);
  paused.process.kill('SIGSTOP');
  const { starter, temporal, reconcile } = starterFor(paused.address);
  try {
    const before = performance.now();
    starter.enqueue(deliveries);
    expect(performance.now() - before).toBeLessThan(50);
    // The starts under way time out (5 s), the queue is dropped, nothing is marked.
    await starter.stop(0);
    expect(performance.now() - before).toBeLessThan(12_000);
    expect(await startedAt(deliveries.map((d) => d.id))).toEqual(all(deliveries, false));
  } finally {
    paused.process.kill('SIGCONT');
  }
  // Temporal is back: the reconciler starts every one of them.
  expect(await reconcile()).toBeGreaterThanOrEqual(40);
  expect(await startedAt(deliveries.map((d) => d.id))).toEqual(all(deliveries, true));
  await temporal.close();
}, 90_000);

it('leaves only a refused start to the reconciler and starts the rest of the queue', async () => {
  const deliveries = await pendingDeliveries(40);
  // A real refusal by Temporal (INVALID_ARGUMENT: the workflow id is longer than the server allows), first in line.
  const refused: DeliveryToStart = { ...deliveries[0]!, id: `dlv_${'x'.repeat(1_100)}` };
  const { starter, temporal } = starterFor(inject('temporalAddress'));
  starter.enqueue([refused, ...deliveries]);
  await starter.stop(60_000);
  expect(await startedAt(deliveries.map((d) => d.id))).toEqual(all(deliveries, true));
  await temporal.close();
}, 90_000);

it('accepts a message for more endpoints than the first try has ids for, narrowed and with statuses', async () => {
  const { appId } = await seed(stack.api, 'https://example.com/first');
  const subscribers = [(await stack.api.post(`/apps/${appId}/subscriptions`, { name: 'A' })).body.id as string, (await stack.api.post(`/apps/${appId}/subscriptions`, { name: 'B' })).body.id as string];
  const endpoints: { id: string; subscriber: string; status: string }[] = [];
  for (let i = 0; i < 9; i++) {
    const subscriber = subscribers[i % 2]!;
    const status = i % 3 === 0 ? 'inactive' : 'active';
    const created = await stack.api.post(`/subscriptions/${subscriber}/endpoints`, { url: `https://example.com/e${i}`, version: '1.0', status, enabled_events: i === 8 ? ['order.shipped'] : ['user.created'] });
    endpoints.push({ id: created.body.id as string, subscriber, status });
  }
  const accept = (target: { subscriberId?: string; endpointId?: string }) =>
    acceptMessage(stack.db, { accountId: stack.accountId, appId, ...target, eventType: 'user.created', version: '1.0', data: { n: 1 }, eventId: null, overridePayload: false, idempotencyKey: null, requestHash: 'test' });
  const deliveriesOf = async (messageId: string) =>
    Object.fromEntries((await stack.db.selectFrom('deliveries').select(['endpoint_id', 'status', 'id']).where('message_id', '=', messageId).execute()).map((d) => [d.endpoint_id, d.status]));
  const expected = (list: typeof endpoints) => Object.fromEntries(list.filter((_, i) => i !== 8).map((e) => [e.id, e.status === 'active' ? 'pending' : 'skipped']));
  const matching = endpoints.filter((e) => e !== endpoints[8]);

  // The seeded endpoint (subscribed to user.created, version 1.0) plus eight of these nine.
  const everyone = await accept({});
  if (everyone.kind !== 'created') throw new Error(everyone.kind);
  const rows = await deliveriesOf(everyone.message.id);
  expect(Object.keys(rows)).toHaveLength(9);
  expect(rows).toMatchObject(expected(endpoints));
  expect(everyone.pending.map((d) => d.endpoint_id).sort()).toEqual(Object.entries(rows).filter(([, status]) => status === 'pending').map(([id]) => id).sort());
  expect(new Set(everyone.pending.map((d) => d.id)).size).toBe(everyone.pending.length);

  const toB = await accept({ subscriberId: subscribers[1] });
  if (toB.kind !== 'created') throw new Error(toB.kind);
  expect(await deliveriesOf(toB.message.id)).toEqual(expected(matching.filter((e) => e.subscriber === subscribers[1])));

  const toOne = await accept({ subscriberId: endpoints[4]!.subscriber, endpointId: endpoints[4]!.id });
  if (toOne.kind !== 'created') throw new Error(toOne.kind);
  expect(await deliveriesOf(toOne.message.id)).toEqual({ [endpoints[4]!.id]: 'pending' });

  expect(await acceptMessage(stack.db, { accountId: stack.accountId, appId, eventType: 'nope', version: '1.0', data: {}, eventId: null, overridePayload: false, idempotencyKey: null, requestHash: 'x' })).toEqual({ kind: 'unknown_event_type' });
  expect(await acceptMessage(stack.db, { accountId: 'acc_other', appId, eventType: 'user.created', version: '1.0', data: {}, eventId: null, overridePayload: false, idempotencyKey: null, requestHash: 'x' })).toEqual({ kind: 'app_not_found' });
});
