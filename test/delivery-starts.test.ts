import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { withTemporalAddress } from '../cli/runtime.ts';
import { acceptMessage } from '../db/messages.ts';
import { loadConfig } from '../lib/config.ts';
import { DeliveryStarts } from '../api/delivery-starts.ts';
import { startDeliveryStarter } from '../cli/delivery-starter.ts';
import type { DeliveryToStart } from '../db/delivery-starts.ts';
import { TemporalGateway } from '../lib/temporal.ts';
import { startDevServer, type DevServer } from '../cli/temporal-dev-server.ts';
import { deliveryWorkflowId } from '../workflows/delivery-run.ts';
import { freePort, waitFor } from './support/ports.ts';
import { seed, startStack, type Stack, type Seeded } from './support/stack.ts';

// Accepting a message (acceptMessage), the API's announcement and the workers' delivery starters
// (cli/delivery-starter.ts), on real Postgres and real dev servers: the shared one, and one of this
// file's own that is paused to play a Temporal that does not answer.
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

/** Settings of its own, on a task queue no worker polls unless the test runs one, so started workflows just wait. */
function configFor(address: string) {
  return withTemporalAddress(loadConfig({ ...stack.env, TEMPORAL_TASK_QUEUE: `starter-${Math.random().toString(36).slice(2)}`, RECONCILE_INTERVAL: '30s' }), address);
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
const allStarted = (deliveries: DeliveryToStart[]) => async () => (Object.values(await startedAt(deliveries.map((d) => d.id))).every(Boolean) ? true : undefined);

// Tests run one after another and every starter takes any fresh automatic start of the database:
// each test waits for its own deliveries, and counts across its own starters only.

it('two workers’ starters share announced deliveries: each is started once and confirmed', async () => {
  const config = configFor(inject('temporalAddress'));
  const temporal = new TemporalGateway(config.temporal);
  const starters = [await startDeliveryStarter({ db: stack.db, temporal, config }), await startDeliveryStarter({ db: stack.db, temporal, config })];
  try {
    const deliveries = await pendingDeliveries(150);
    // What the API does after its answer: one announcement for the lot.
    const api = new DeliveryStarts(stack.db, temporal, config);
    const before = performance.now();
    api.announce();
    expect(performance.now() - before).toBeLessThan(50); // announcing waits on nothing
    await waitFor('every delivery to be started', allStarted(deliveries), 60_000, 100);
    await api.stop(5_000);
    const counts = starters.map((starter) => starter.counts);
    // No delivery was started twice: every start made a run, none found one another starter made.
    expect(counts.reduce((sum, c) => sum + c.started, 0)).toBe(150);
    expect(counts.reduce((sum, c) => sum + c.existing + c.failed, 0)).toBe(0);
    const client = await temporal.client();
    for (const delivery of [deliveries[0]!, deliveries.at(-1)!]) {
      const description = await client.workflow.getHandle(deliveryWorkflowId(delivery.id)).describe();
      expect(description.status.name).toBe('RUNNING');
    }
  } finally {
    await Promise.all(starters.map((starter) => starter.stop()));
    await temporal.close();
  }
}, 90_000);

it('starts eagerly on the worker’s own connection: the first workflow task comes back with the answer', async () => {
  const config = configFor(inject('temporalAddress'));
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  // The real workflow code with a send that succeeds at once: the run ends in its first workflow task.
  const worker = await Worker.create({
    connection,
    taskQueue: config.temporal.taskQueue,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    activities: { sendAttempt: () => Promise.resolve(), recordSkipped: () => Promise.resolve(), recordFailure: () => Promise.resolve({ endpointDisabled: false }) },
  });
  const temporal = new TemporalGateway(config.temporal, connection);
  await worker.runUntil(async () => {
    const starter = await startDeliveryStarter({ db: stack.db, temporal, config });
    try {
      const deliveries = await pendingDeliveries(20);
      await waitFor('every delivery to be started', allStarted(deliveries), 60_000, 100);
      expect(starter.counts).toMatchObject({ started: 20, eager: 20, failed: 0 });
      const client = await temporal.client();
      await expect(client.workflow.getHandle(deliveryWorkflowId(deliveries[0]!.id)).result()).resolves.toBe('succeeded');
    } finally {
      await starter.stop();
    }
  });
  await temporal.close();
  await connection.close();
}, 90_000);

it('leaves deliveries unconfirmed while Temporal does not answer, and starts them once it is back', async () => {
  const config = configFor(paused.address);
  const temporal = new TemporalGateway(config.temporal);
  paused.process.kill('SIGSTOP');
  const starter = await startDeliveryStarter({ db: stack.db, temporal, config });
  try {
    const deliveries = await pendingDeliveries(40);
    new DeliveryStarts(stack.db, temporal, config).announce();
    // The starts under way time out (5 s) and nothing is marked.
    await waitFor('the starts to fail', () => (starter.counts.failed > 0 ? true : undefined), 30_000, 100);
    expect(await startedAt(deliveries.map((d) => d.id))).toEqual(all(deliveries, false));
    paused.process.kill('SIGCONT');
    // Temporal is back: the starter's poll starts every one of them, well before the reconciler would.
    await waitFor('every delivery to be started', allStarted(deliveries), 60_000, 100);
    expect(starter.counts.started).toBeGreaterThanOrEqual(40);
  } finally {
    paused.process.kill('SIGCONT');
    await starter.stop();
    await temporal.close();
  }
}, 90_000);

it('leaves a start that is refused to a later pass and starts the rest of the batch', async () => {
  const config = configFor(inject('temporalAddress'));
  const temporal = new TemporalGateway(config.temporal);
  const deliveries = await pendingDeliveries(20);
  // A real refusal by Temporal (INVALID_ARGUMENT: the workflow id is longer than the server allows), first in line.
  const [first] = await pendingDeliveries(1);
  const refusedId = `dlv_${'x'.repeat(1_100)}`;
  await stack.db.updateTable('deliveries').set({ id: refusedId, start_requested_at: sql<Date>`now() - interval '1 second'` }).where('id', '=', first!.id).execute();
  const starter = await startDeliveryStarter({ db: stack.db, temporal, config });
  try {
    await waitFor('the other deliveries to be started', allStarted(deliveries), 60_000, 100);
    expect(starter.counts.failed).toBeGreaterThanOrEqual(1);
    expect(await startedAt([refusedId])).toEqual({ [refusedId]: false });
  } finally {
    await starter.stop();
    await stack.db.deleteFrom('deliveries').where('id', '=', refusedId).execute();
    await temporal.close();
  }
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
