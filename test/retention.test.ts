import { Client, Connection } from '@temporalio/client';
import type { ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { CompiledQuery, sql, type Compilable } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withTemporalAddress } from '../cli/runtime.ts';
import { startWorker } from '../cli/worker.ts';
import { attemptBodyPurge, messagePayloadPurge } from '../db/retention.ts';
import { loadConfig } from '../lib/config.ts';
import { SecretBox } from '../lib/secrets.ts';
import { ensureRetentionSchedule, retentionScheduleId } from '../workflows/retention-schedule.ts';
import type { RetentionInput, RetentionResult, retentionWorkflow } from '../workflows/retention.ts';
import { waitFor } from './support/ports.ts';
import { startReceiver } from './support/receiver.ts';
import { seed, startStack, type Seeded, type Stack } from './support/stack.ts';

// Data retention against the real worker, API, Temporal and Postgres: the retention workflow purges
// old payloads and attempt bodies in bounded batches (run directly, with a retention of seconds),
// keeps rows, counts and statuses, refuses resends and replays of what it purged, forgets expired
// Idempotency-Keys; every worker start creates or updates the schedule that runs it hourly.

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

let stack: Stack;
let config: ReturnType<typeof withTemporalAddress>;
let client: Client;
let connection: Connection;
let shop: Seeded;
/** A second endpoint of the same subscriber, inactive when the old messages were sent (so its delivery is skipped). */
let spare: { endpointId: string; receiver: Receiver };
const receivers: Receiver[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
/** Long enough for a delivery that should not happen to reach the loopback receiver. */
const QUIET_MS = 500;

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

beforeAll(async () => {
  stack = await startStack();
  config = withTemporalAddress(loadConfig(stack.env), stack.env.TEMPORAL_ADDRESS!);
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
  shop = await seed(stack.api, (await receiver()).url);
  const spareReceiver = await receiver();
  const created = await stack.api.post(`/subscriptions/${shop.subscriberId}/endpoints`, { url: spareReceiver.url, version: '1.0' });
  spare = { endpointId: created.body.id as string, receiver: spareReceiver };
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await connection?.close();
  await stack?.close();
});

/** Runs the retention workflow once on the stack's worker, as the schedule would; its result and how many purge batches it ran. */
async function runRetention(input: RetentionInput): Promise<{ result: RetentionResult; batches: number }> {
  const handle = await client.workflow.start<typeof retentionWorkflow>('retentionWorkflow', { taskQueue: config.temporal.taskQueue, workflowId: unique('retention-test'), args: [input] });
  const result = await handle.result();
  const history = await handle.fetchHistory();
  return { result, batches: history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'purgeBatch').length };
}

async function sendToShop(n: number, headers: Record<string, string> = {}): Promise<string> {
  const sent = await stack.api.post(`/subscriptions/${shop.subscriberId}/endpoints/${shop.endpointId}/messages`, { event_type: 'user.created', version: '1.0', data: { n } }, headers);
  expect(sent.status, JSON.stringify(sent.body)).toBe(202);
  return sent.body.id as string;
}

async function deliveredAll(messageIds: string[]): Promise<void> {
  await waitFor('deliveries succeeded', async () => {
    const rows = await stack.db.selectFrom('deliveries').select('status').where('message_id', 'in', messageIds).execute();
    return rows.length === messageIds.length && rows.every((r) => r.status === 'succeeded') ? true : undefined;
  });
}

/** A retention that makes everything created up to `newestOld` old, and what was created seconds later recent. */
function retentionJustAfter(newestOld: Date | string): number {
  return Date.now() - new Date(newestOld).getTime() - 300;
}

describe('the retention workflow', () => {
  let oldIds: string[];
  let recentIds: string[];
  let skippedMessageId: string;
  let keyedMessageId: string;

  it('purges old payloads and attempt bodies in bounded batches, keeps rows, counts and statuses, and leaves recent ones alone', async () => {
    // Old: five messages and one sent with an Idempotency-Key, delivered; one skipped (its endpoint inactive).
    oldIds = [];
    for (let n = 0; n < 5; n++) oldIds.push(await sendToShop(n));
    keyedMessageId = await sendToShop(5, { 'Idempotency-Key': unique('key') });
    oldIds.push(keyedMessageId);
    await stack.db.updateTable('endpoints').set({ status: 'inactive' }).where('id', '=', spare.endpointId).execute();
    const skipped = await stack.api.post(`/subscriptions/${shop.subscriberId}/endpoints/${spare.endpointId}/messages`, { event_type: 'user.created', version: '1.0', data: { skipped: true } });
    skippedMessageId = skipped.body.id as string;
    await stack.db.updateTable('endpoints').set({ status: 'active' }).where('id', '=', spare.endpointId).execute();
    await deliveredAll(oldIds);
    oldIds.push(skippedMessageId);

    // Recent: sent well after the old ones (the run's cutoff falls 300 ms after the last old attempt; a slow start of it has seconds to spare).
    await sleep(5_000);
    recentIds = [await sendToShop(10), await sendToShop(11)];
    await deliveredAll(recentIds);

    const before = {
      deliveries: await stack.db.selectFrom('deliveries').select(['id', 'status', 'reason', 'finished_at']).orderBy('id').execute(),
      attempts: await stack.db.selectFrom('attempts').select(['id', 'status_code', 'succeeded', 'request_headers']).orderBy('id').execute(),
      messages: await stack.db.selectFrom('messages').select(['id', 'event_type', 'created_at']).orderBy('id').execute(),
    };
    // The old attempts were made after their messages: the cutoff falls after the last of them.
    const newestOld = (await stack.db.selectFrom('attempts').select((eb) => eb.fn.max('created_at').as('at')).where('message_id', 'in', oldIds).executeTakeFirstOrThrow()).at;

    // Two batches of two per target: 4 of the 7 old payloads and 4 of the 6 old attempts; the run says it did not finish.
    const first = await runRetention({ retentionMs: retentionJustAfter(newestOld), batchSize: 2, maxBatches: 2 });
    expect(first.result).toEqual({ purged: { message_payloads: 4, attempt_bodies: 4, idempotency_keys: 0, message_idempotency_keys: 0 }, complete: false });
    expect(first.batches, 'two batches for each purged target, one for each empty one').toBe(6);

    // The next run carries on where it stopped.
    const second = await runRetention({ retentionMs: retentionJustAfter(newestOld), batchSize: 2, maxBatches: 10 });
    expect(second.result).toEqual({ purged: { message_payloads: 3, attempt_bodies: 2, idempotency_keys: 0, message_idempotency_keys: 0 }, complete: true });
    expect(second.batches).toBe(2 + 2 + 1 + 1);

    const messages = await stack.db.selectFrom('messages').select(['id', 'data', 'payload_purged_at']).where('id', 'in', [...oldIds, ...recentIds]).execute();
    for (const m of messages) {
      if (oldIds.includes(m.id)) expect(m, 'old').toMatchObject({ data: null, payload_purged_at: expect.any(Date) });
      else expect(m, 'recent').toMatchObject({ data: { n: expect.any(Number) }, payload_purged_at: null });
    }
    const attempts = await stack.db.selectFrom('attempts').select(['message_id', 'request_body', 'response_body', 'payload_purged_at']).execute();
    expect(attempts).toHaveLength(8);
    for (const a of attempts) {
      if (oldIds.includes(a.message_id)) expect(a, 'old').toMatchObject({ request_body: '', response_body: null, payload_purged_at: expect.any(Date) });
      else expect(a, 'recent').toMatchObject({ request_body: expect.stringContaining('"n":1'), response_body: 'ok', payload_purged_at: null });
    }
    // Rows, statuses and counts stay as they were.
    expect({
      deliveries: await stack.db.selectFrom('deliveries').select(['id', 'status', 'reason', 'finished_at']).orderBy('id').execute(),
      attempts: await stack.db.selectFrom('attempts').select(['id', 'status_code', 'succeeded', 'request_headers']).orderBy('id').execute(),
      messages: await stack.db.selectFrom('messages').select(['id', 'event_type', 'created_at']).orderBy('id').execute(),
    }).toEqual(before);
  });

  it('shows a purged message and its attempts with null bodies and when they were removed', async () => {
    const message = await stack.api.get(`/apps/${shop.appId}/messages/${oldIds[0]}`);
    expect(message.status).toBe(200);
    expect(message.body).toMatchObject({ id: oldIds[0], event_type: 'user.created', data: null, payload_purged_at: expect.any(String), deliveries: [{ status: 'succeeded' }] });
    const recent = await stack.api.get(`/apps/${shop.appId}/messages/${recentIds[0]}`);
    expect(recent.body).toMatchObject({ data: { n: 10 }, payload_purged_at: null });

    const attempts = await stack.api.get(`/apps/${shop.appId}/webhook_attempts?message_id=${oldIds[0]}`);
    expect(attempts.body).toEqual([expect.objectContaining({ status_code: '200', status_message: 'success', payload: null, response: null, payload_purged_at: expect.any(String) })]);
    const recentAttempts = await stack.api.get(`/apps/${shop.appId}/webhook_attempts?message_id=${recentIds[0]}`);
    expect(recentAttempts.body).toEqual([expect.objectContaining({ payload: expect.objectContaining({ data: { n: 10 } }), response: 'ok', payload_purged_at: null })]);
  });

  it('refuses to resend a purged message, and changes nothing', async () => {
    const receiverRequests = receivers[0]!.requests.length;
    const attempt = (await stack.api.get(`/apps/${shop.appId}/webhook_attempts?message_id=${oldIds[1]}`)).body[0];
    const delivery = () => stack.db.selectFrom('deliveries').selectAll().where('id', '=', attempt.delivery_id).executeTakeFirstOrThrow();
    const before = await delivery();
    const resend = await stack.api.post(`/apps/${shop.appId}/webhook_attempts/${attempt.id}/replay`);
    expect(resend.status, JSON.stringify(resend.body)).toBe(409);
    expect(resend.body).toMatchObject({ code: 'payload_purged', error: expect.stringContaining('retention') });
    await sleep(QUIET_MS);
    expect(await delivery()).toEqual(before);
    expect(receivers[0]!.requests).toHaveLength(receiverRequests);
  });

  it('leaves a purged message out of replays: nothing is counted, claimed or sent', async () => {
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const delivery = () => stack.db.selectFrom('deliveries').selectAll().where('message_id', '=', skippedMessageId).executeTakeFirstOrThrow();
    const before = await delivery();
    expect(before.status).toBe('skipped');
    const missed = await stack.api.get(`/apps/${shop.appId}/endpoints/${spare.endpointId}/missed`);
    expect(missed.body.count).toBe(0);
    const replay = await stack.api.post(`/apps/${shop.appId}/endpoints/${spare.endpointId}/replay`, { since });
    expect(replay.status, JSON.stringify(replay.body)).toBe(202);
    expect(replay.body).toMatchObject({ total: 0, remaining: 0 });
    await waitFor('replay ended', async () => {
      const now = await stack.api.get(`/apps/${shop.appId}/replays/${replay.body.id}`);
      return now.body.status === 'running' ? undefined : now.body;
    });
    await sleep(QUIET_MS);
    expect(spare.receiver.requests).toHaveLength(0);
    expect(await delivery()).toEqual(before);
  });

  it('forgets Idempotency-Keys older than 24 hours', async () => {
    const key = unique('app-key');
    const app = await stack.api.post('/apps', { name: unique('keyed') }, { 'Idempotency-Key': key });
    expect(app.status).toBe(201);
    const freshKey = unique('app-key');
    await stack.api.post('/apps', { name: unique('keyed') }, { 'Idempotency-Key': freshKey });
    await stack.db.updateTable('idempotency_keys').set({ created_at: sql<Date>`now() - interval '25 hours'` }).where('key', '=', key).execute();
    await sql`update messages set created_at = now() - interval '25 hours' where id = ${keyedMessageId}`.execute(stack.db);

    // A long retention: only the keys are due.
    const run = await runRetention({ retentionMs: 30 * 86_400_000 });
    expect(run.result.purged).toEqual({ message_payloads: 0, attempt_bodies: 0, idempotency_keys: 1, message_idempotency_keys: 1 });
    const keys = await stack.db.selectFrom('idempotency_keys').select('key').where('key', 'in', [key, freshKey]).execute();
    expect(keys.map((k) => k.key)).toEqual([freshKey]);
    const keyed = await stack.db.selectFrom('messages').select('idempotency_key').where('id', '=', keyedMessageId).executeTakeFirstOrThrow();
    expect(keyed.idempotency_key).toBeNull();
  });

  it('keeps the payload of a message whose delivery is still under way', async () => {
    const held: ServerResponse[] = [];
    const gated = await receiver((_request, _index, res) => {
      held.push(res);
      return 'handled';
    });
    const endpoint = await stack.api.post(`/subscriptions/${shop.subscriberId}/endpoints`, { url: gated.url, version: '1.0' });
    const sent = await stack.api.post(`/subscriptions/${shop.subscriberId}/endpoints/${endpoint.body.id}/messages`, { event_type: 'user.created', version: '1.0', data: { held: true } });
    await waitFor('request held', () => (held.length > 0 ? true : undefined));
    await sleep(1_100);

    const run = await runRetention({ retentionMs: 1_000 });
    expect(run.result.complete).toBe(true);
    const message = await stack.db.selectFrom('messages').select(['data', 'payload_purged_at']).where('id', '=', sent.body.id).executeTakeFirstOrThrow();
    expect(message).toEqual({ data: { held: true }, payload_purged_at: null });
    gated.respondWith(() => ({ status: 200, body: 'ok' }));
    for (const res of held) if (!res.writableEnded && !res.destroyed) res.writeHead(200).end('ok');
  });

  it('ends a delivery whose payload was purged under it as failed (payload_purged), sending no empty body', async () => {
    let requests = 0;
    let messageId = '';
    const failing = await receiver((_request, _index, res) => {
      requests++;
      // As if a purge slipped in while the first attempt was under way: the retry must not send.
      void stack.db
        .updateTable('messages')
        .set({ data: 'null', payload_purged_at: sql<Date>`now()` })
        .where('id', '=', messageId)
        .execute()
        .then(() => res.writeHead(500).end('boom'));
      return 'handled';
    });
    const endpoint = await stack.api.post(`/subscriptions/${shop.subscriberId}/endpoints`, { url: failing.url, version: '1.0' });
    const sent = await stack.api.post(`/subscriptions/${shop.subscriberId}/endpoints/${endpoint.body.id}/messages`, { event_type: 'user.created', version: '1.0', data: { doomed: true } });
    messageId = sent.body.id as string;
    const delivery = await waitFor('delivery ended', async () => {
      const row = await stack.db.selectFrom('deliveries').select(['status', 'reason', 'error']).where('message_id', '=', messageId).executeTakeFirst();
      return row && row.status !== 'pending' ? row : undefined;
    });
    expect(delivery).toMatchObject({ status: 'failed', reason: 'payload_purged', error: expect.stringContaining('retention') });
    expect(requests).toBe(1);
    // Not the endpoint's fault: it stays active.
    const status = await stack.db.selectFrom('endpoints').select('status').where('id', '=', endpoint.body.id).executeTakeFirstOrThrow();
    expect(status.status).toBe('active');
  });

  it('finds the rows to purge through the partial indexes, not by scanning the tables', async () => {
    await stack.db.transaction().execute(async (trx) => {
      // Tables this small would be scanned anyway; without seq scans the planner shows whether an index serves the query.
      await sql`set local enable_seqscan = off`.execute(trx);
      const plan = async (query: Compilable) => {
        const { sql: text, parameters } = query.compile();
        const { rows } = await trx.executeQuery<Record<string, string>>(CompiledQuery.raw(`explain ${text}`, [...parameters]));
        return rows.map((row) => Object.values(row).join('')).join('\n');
      };
      expect(await plan(messagePayloadPurge(trx, new Date(), 1_000))).toContain('messages_unpurged_created_at');
      expect(await plan(attemptBodyPurge(trx, new Date(), 1_000))).toContain('attempts_unpurged_created_at');
    });
  });
});

describe('the retention schedule', () => {
  const scheduleId = () => retentionScheduleId(config.temporal.taskQueue);

  it('is created when a worker starts: hourly, never overlapping, with RETENTION in its input', async () => {
    const schedule = await client.schedule.getHandle(scheduleId()).describe();
    expect(schedule.action).toMatchObject({ type: 'startWorkflow', workflowType: 'retentionWorkflow', taskQueue: config.temporal.taskQueue, args: [{ retentionMs: 30 * 86_400_000 }] });
    expect(schedule.spec.intervals).toEqual([expect.objectContaining({ every: 3_600_000 })]);
    expect(schedule.policies.overlap).toBe('SKIP');
  });

  it('is updated, not refused, when workers start at once or RETENTION changed', async () => {
    const settings = { taskQueue: config.temporal.taskQueue, retentionMs: 7 * 86_400_000 };
    const outcomes = await Promise.all([ensureRetentionSchedule(client, settings), ensureRetentionSchedule(client, settings)]);
    expect(outcomes).toEqual(['updated', 'updated']);
    expect((await client.schedule.getHandle(scheduleId()).describe()).action.args).toEqual([{ retentionMs: 7 * 86_400_000 }]);

    // Two more real workers starting together, with RETENTION back at its default.
    const secrets = new SecretBox(config.encryptionKey!);
    const workers = await Promise.all([0, 1].map(() => startWorker({ config, db: stack.db, secrets, workflowBundle: { codePath: inject('workflowBundlePath') } })));
    await Promise.all(workers.map((w) => w.stop()));
    expect((await client.schedule.getHandle(scheduleId()).describe()).action.args).toEqual([{ retentionMs: 30 * 86_400_000 }]);
  });

  it('runs the retention workflow when triggered', async () => {
    const old = await sendToShop(20);
    await deliveredAll([old]);
    await sql`update messages set created_at = now() - interval '31 days' where id = ${old}`.execute(stack.db);
    const handle = client.schedule.getHandle(scheduleId());
    const taken = (await handle.describe()).info.numActionsTaken;
    await handle.trigger();
    const action = await waitFor('the triggered run', async () => {
      const info = (await handle.describe()).info;
      return info.numActionsTaken > taken ? info.recentActions.at(-1) : undefined;
    });
    expect(action.action.workflow.workflowId).toMatch(new RegExp(`^${scheduleId()}`));
    const result = (await client.workflow.getHandle(action.action.workflow.workflowId).result()) as RetentionResult;
    expect(result.purged.message_payloads).toBe(1);
    const message = await stack.db.selectFrom('messages').select('payload_purged_at').where('id', '=', old).executeTakeFirstOrThrow();
    expect(message.payload_purged_at).toBeInstanceOf(Date);
  });
});
