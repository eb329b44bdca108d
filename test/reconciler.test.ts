import { CompiledQuery, sql, type QueryId, type RootOperationNode } from 'kysely';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { reconcileStarts } from '../cli/reconciler.ts';
import { withTemporalAddress } from '../cli/runtime.ts';
import { createDb, type Db } from '../db/connection.ts';
import { claimOverdueStarts, deliveriesToStart, requestResend } from '../db/delivery-starts.ts';
import { acceptMessage } from '../db/messages.ts';
import { loadConfig } from '../lib/config.ts';
import { DELIVERY_STATUS } from '../lib/search-attributes.ts';
import { startDeliveryWorkflow } from '../workflows/delivery-start.ts';
import { TemporalGateway } from '../lib/temporal.ts';
import { deliveryWorkflowId } from '../workflows/delivery-run.ts';
import { waitFor } from './support/ports.ts';
import { startReceiver } from './support/receiver.ts';
import { seed, startStack, type Seeded, type Stack } from './support/stack.ts';

// The worker's reconciler (cli/reconciler.ts) and the start policies, on real Postgres and the
// shared Temporal dev server: several reconcilers at once, resends that lost their start or their
// confirmation, and a second automatic start of a finished delivery.
let stack: Stack;
let seeded: Seeded;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
const gateways: TemporalGateway[] = [];

beforeAll(async () => {
  stack = await startStack();
  receiver = await startReceiver();
  seeded = await seed(stack.api, receiver.url);
});
afterAll(async () => {
  await Promise.all(gateways.map((gateway) => gateway.close()));
  await stack?.close();
  await receiver?.close();
});

/** The stack's settings, or a task queue of their own that no worker polls (started runs just wait). */
function settings(ownTaskQueue: boolean) {
  const env = ownTaskQueue ? { ...stack.env, TEMPORAL_TASK_QUEUE: `reconciler-${Math.random().toString(36).slice(2)}` } : stack.env;
  const config = withTemporalAddress(loadConfig(env), inject('temporalAddress'));
  const temporal = new TemporalGateway(config.temporal);
  gateways.push(temporal);
  return { config, temporal };
}

/** Accepted deliveries whose start nobody asked Temporal for, as after a crash right after commit. */
async function unstarted(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const result = await acceptMessage(stack.db, {
      accountId: stack.accountId, appId: seeded.appId, eventType: 'user.created', version: '1.0', data: { i },
      eventId: null, overridePayload: false, idempotencyKey: null, requestHash: 'test',
    });
    if (result.kind !== 'created') throw new Error(`message not created: ${result.kind}`);
    ids.push(...result.pending.map((d) => d.id));
  }
  return ids;
}

const deliveryRow = (id: string) => stack.db.selectFrom('deliveries').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('two reconcilers at once start each overdue delivery exactly once, and leave a start requested just now alone', async () => {
  await stack.stopWorker();
  const overdue = await unstarted(60);
  await stack.db.updateTable('deliveries').set({ start_requested_at: sql<Date>`now() - interval '1 hour'` }).where('id', 'in', overdue).execute();
  // Created long ago, but its start (a resend's, say) was asked for just now: the API may be starting it.
  const [recent] = await unstarted(1);
  await sql`update deliveries set created_at = now() - interval '1 hour' where id = ${recent!}`.execute(stack.db);

  const { config, temporal } = settings(true);
  const otherDb: Db = createDb(stack.env.DATABASE_URL!, 5);
  const other = new TemporalGateway(config.temporal);
  gateways.push(other);
  try {
    const [a, b] = await Promise.all([reconcileStarts({ db: stack.db, temporal, config }), reconcileStarts({ db: otherDb, temporal: other, config })]);
    // Each counts the starts it confirmed, "already started" answers included: a row taken twice counts twice.
    expect(a + b).toBe(60);
  } finally {
    await otherDb.destroy();
  }
  const rows = await stack.db.selectFrom('deliveries').select(['id', 'workflow_started_at']).where('id', 'in', [...overdue, recent!]).execute();
  expect(rows.filter((r) => r.workflow_started_at !== null).map((r) => r.id).sort()).toEqual([...overdue].sort());
  const client = await temporal.client();
  expect((await client.workflow.getHandle(deliveryWorkflowId(overdue[0]!)).describe()).status.name).toBe('RUNNING');
  await expect(client.workflow.getHandle(deliveryWorkflowId(recent!)).describe()).rejects.toThrow();
  // Not the next test's to start.
  await stack.db.updateTable('deliveries').set({ status: 'skipped' }).where('id', '=', recent!).execute();
}, 90_000);

it('a claim skips the rows another reconciler holds, without waiting for them', async () => {
  const ids = await unstarted(4);
  await stack.db.updateTable('deliveries').set({ start_requested_at: sql<Date>`now() - interval '1 hour'` }).where('id', 'in', ids).execute();
  const held = ids.slice(0, 2);
  const otherDb: Db = createDb(stack.env.DATABASE_URL!, 1);
  try {
    const claimed = await otherDb.transaction().execute(async (trx) => {
      await trx.selectFrom('deliveries').select('id').where('id', 'in', held).forUpdate().execute();
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the claim waited for locked rows')), 5_000)));
      try {
        return await Promise.race([claimOverdueStarts(stack.db, { overdueMs: 0, limit: 100 }), waited]);
      } finally {
        clearTimeout(timer);
      }
    });
    expect(claimed.map((c) => c.id).filter((id) => ids.includes(id)).sort()).toEqual(ids.slice(2).sort());
  } finally {
    await otherDb.destroy();
  }
  await stack.db.updateTable('deliveries').set({ status: 'skipped' }).where('id', 'in', ids).execute();
});

it('claims through the deliveries_unstarted index, oldest request first, without a sort', async () => {
  const queries: { node: RootOperationNode; queryId: QueryId }[] = [];
  const spy = stack.db.withPlugin({
    transformQuery: (args) => {
      queries.push(args);
      return args.node;
    },
    transformResult: (args) => Promise.resolve(args.result),
  });
  // Nothing is a century overdue: the claim runs and changes nothing.
  expect(await claimOverdueStarts(spy, { overdueMs: 100 * 365 * 86_400_000, limit: 16 })).toEqual([]);
  expect(queries).toHaveLength(1);
  const claim = stack.db.getExecutor().compileQuery(queries[0]!.node, queries[0]!.queryId);
  const plan = await stack.db.transaction().execute(async (trx) => {
    // The table is tiny here; make the planner show whether the index can serve the scan at all.
    await sql`set local enable_seqscan = off`.execute(trx);
    const result = await trx.executeQuery(CompiledQuery.raw(`explain (format json) ${claim.sql}`, [...claim.parameters]));
    return JSON.stringify(result.rows);
  });
  expect(plan).toContain('"Index Name":"deliveries_unstarted"');
  expect(plan).toContain('start_requested_at <');
  expect(plan).not.toContain('"Node Type":"Sort"');
});

it('does not make a second run of a resend whose start succeeded but whose confirmation was lost', async () => {
  const [id] = await unstarted(1);
  await stack.db.updateTable('deliveries').set({ status: 'failed', workflow_started_at: sql<Date>`now()`, finished_at: sql<Date>`now()` }).where('id', '=', id!).execute();
  const resend = await stack.db.transaction().execute((trx) => requestResend(trx, id!));
  if (resend.kind !== 'requested') throw new Error(resend.kind);
  expect(resend.start.trigger).toBe('manual');

  const { config, temporal } = settings(true);
  expect(await startDeliveryWorkflow(temporal, config, resend.start, resend.start)).toEqual({ ok: true, created: true, eager: false });
  const handle = (await temporal.client()).workflow.getHandle(deliveryWorkflowId(id!));
  const first = await handle.describe();
  // The process dies here: no confirmation written.
  expect((await deliveryRow(id!)).workflow_started_at).toBeNull();

  await sleep(300);
  await reconcileStarts({ db: stack.db, temporal, config }, { overdueMs: 200 });
  const after = await handle.describe();
  expect(after.runId, 'the run the resend started, not a second one').toBe(first.runId);
  expect(after.status.name).toBe('RUNNING');
  expect((await deliveryRow(id!)).workflow_started_at).not.toBeNull();
  await handle.terminate('test done');
}, 60_000);

it('finishes a resend whose start was lost, as a resend: its attempt is recorded with trigger manual', async () => {
  await stack.startWorker();
  const posted = await stack.api.post(`/apps/${seeded.appId}/messages`, { event_type: 'user.created', version: '1.0', data: { lost: true } });
  expect(posted.status).toBe(202);
  const sent = () => receiver.requests.filter((r) => r.headers['webhook-id'] === posted.body.id);
  const delivery = await waitFor('the first run to succeed', async () => {
    const row = await stack.db.selectFrom('deliveries').selectAll().where('message_id', '=', posted.body.id).executeTakeFirst();
    return row?.status === 'succeeded' ? row : undefined;
  }, 30_000);
  expect(sent()).toHaveLength(1);

  // The resend commits and the process dies before it starts the run.
  const resend = await stack.db.transaction().execute((trx) => requestResend(trx, delivery.id));
  expect(resend.kind).toBe('requested');
  expect(await deliveryRow(delivery.id)).toMatchObject({ status: 'pending', finished_at: null, reason: null, workflow_started_at: null, start_trigger: 'manual' });

  const { config, temporal } = settings(false);
  await sleep(50);
  expect(await reconcileStarts({ db: stack.db, temporal, config }, { overdueMs: 0 })).toBeGreaterThanOrEqual(1);
  await waitFor('the resend to succeed', async () => ((await deliveryRow(delivery.id)).status === 'succeeded' && sent().length === 2 ? true : undefined), 30_000);
  const attempts = await stack.db.selectFrom('attempts').select(['trigger', 'succeeded']).where('delivery_id', '=', delivery.id).orderBy('created_at').execute();
  expect(attempts).toEqual([{ trigger: 'automatic', succeeded: true }, { trigger: 'manual', succeeded: true }]);
}, 90_000);

it('never makes a second run of a finished delivery on an automatic start: Postgres and DeliveryStatus agree', async () => {
  await stack.startWorker();
  const posted = await stack.api.post(`/apps/${seeded.appId}/messages`, { event_type: 'user.created', version: '1.0', data: { once: true } });
  const delivery = await waitFor('the delivery to succeed', async () => {
    const row = await stack.db.selectFrom('deliveries').selectAll().where('message_id', '=', posted.body.id).executeTakeFirst();
    return row?.status === 'succeeded' ? row : undefined;
  }, 30_000);
  const { config, temporal } = settings(false);
  const handle = (await temporal.client()).workflow.getHandle(deliveryWorkflowId(delivery.id));
  // The row says succeeded as soon as the attempt is recorded; the run closes a moment later.
  expect(await handle.result()).toBe('succeeded');
  const finished = await handle.describe();
  expect(finished.status.name).toBe('COMPLETED');

  const [toStart] = await deliveriesToStart(stack.db, [delivery.id]);
  expect(await startDeliveryWorkflow(temporal, config, toStart!, { trigger: 'automatic' })).toEqual({ ok: true, created: false });
  const after = await handle.describe();
  expect(after.runId, 'no second run').toBe(finished.runId);
  expect(after.status.name).toBe('COMPLETED');
  expect(after.typedSearchAttributes.get(DELIVERY_STATUS)).toBe('succeeded');
  expect((await deliveryRow(delivery.id)).status).toBe('succeeded');
  await sleep(500); // a second delivery would arrive by now
  expect(receiver.requests.filter((r) => r.headers['webhook-id'] === posted.body.id)).toHaveLength(1);
}, 60_000);
