import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, expect, inject, it, onTestFailed } from 'vitest';
import type { Db } from '../../db/connection.ts';
import { waitFor } from '../support/ports.ts';
import { apiClient, seed } from '../support/stack.ts';
import { deliveryWorkflowId } from '../../workflows/delivery-run.ts';
import { OpenhooksProcess, printLogs } from '../support/processes.ts';
import { between, startSystem, ledger, pool, postJson, startDelayedReceiver, type DelayedReceiver, finishedDeliveries } from './support.ts';

// A worker process dies by SIGKILL while ~dozens of HTTP requests are in flight. The activities it held
// are retried by Temporal once their timeout passes; a new worker process picks them up. A success
// ends its run in the workflow task that made the request, so what may be sent again is exactly the
// runs Temporal still holds open when the new worker starts: the test asks Temporal, not a clock.
const MESSAGES = 200;
const KILL_AFTER = 50;
const RECORDED_BEFORE_KILL = 10;

let system: Awaited<ReturnType<typeof startSystem>>;
let db: Db;
let apiKey: string;
let server: OpenhooksProcess;
let worker: OpenhooksProcess;
let receiver: DelayedReceiver | undefined;
let connection: Connection;

beforeAll(async () => {
  // 5 s per request leaves the 200-500 ms receiver far from its timeout even on a busy machine.
  system = await startSystem('worker-kill');
  ({ db, apiKey, server, worker } = system);
  connection = await Connection.connect({ address: inject('temporalAddress') });
});

afterAll(async () => {
  await receiver?.close();
  await connection?.close();
  await system?.stop();
});

it('a worker SIGKILLed mid-flight loses no message and sends again only runs Temporal had not closed', async () => {
  onTestFailed(() => printLogs([server, worker]));
  receiver = await startDelayedReceiver(between(200, 500));
  const r = receiver;
  const api = apiClient(server.url, apiKey);
  const { appId } = await seed(api, r.url);
  const started = Date.now();

  const posting = pool(MESSAGES, 8, async (i) => {
    const res = await postJson(`${server.url}/api/v1/apps/${appId}/messages`, apiKey, { event_type: 'user.created', version: '1.0', data: { seq: i } });
    if (res.status !== 202) throw new Error(`POST ${i} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  });

  // Kill once some deliveries are recorded too, so that both what was recorded and what was not are tested.
  await waitFor(
    `${KILL_AFTER} requests at the receiver and ${RECORDED_BEFORE_KILL} deliveries recorded`,
    async () => (r.requests.length >= KILL_AFTER && (await succeeded(db, appId)).size >= RECORDED_BEFORE_KILL ? true : undefined),
    60_000,
    10,
  );
  const inFlightAtKill = r.inFlight();
  const killAt = Date.now();
  const receivedAtKill = r.requests.length;
  await worker.stop('SIGKILL');

  const ids = await posting;
  // Give the dead worker's last written bytes time to reach Temporal and the receiver, then take stock
  // before anything else can send: which runs Temporal still holds open is what the new worker may redo.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const lateArrivals = r.requests.filter((q) => q.receivedAt > killAt).length;
  const receivedBeforeRestart = new Set(r.requests.map((q) => q.webhookId));
  const openAtRestart = await openRuns(db, appId);
  const recordedAtRestart = await succeeded(db, appId);
  // A run's first attempt found its delivery recorded as succeeded does not send again.
  const mayBeSentAgain = [...openAtRestart].filter((id) => receivedBeforeRestart.has(id) && !recordedAtRestart.has(id));
  const restartAt = Date.now();
  await worker.start();
  console.log(
    `worker-kill: killed pid at ${killAt - started} ms with ${receivedAtKill} received, in flight at kill=${inFlightAtKill}, ` +
      `arrived after kill from the dead worker=${lateArrivals}, recorded at restart=${recordedAtRestart.size}, runs open at restart=${openAtRestart.size} ` +
      `(of them received and not recorded=${mayBeSentAgain.length}); new worker ready in ${Date.now() - restartAt} ms`,
  );

  const sent = new Set(ids);
  await waitFor(
    'every message at the receiver',
    () => (new Set(r.requests.map((q) => q.webhookId).filter((id) => sent.has(id))).size === MESSAGES ? true : undefined),
    150_000,
    250,
  );
  const allDeliveredAt = Date.now();
  const statuses = await finishedDeliveries(db, appId, MESSAGES);
  const failed = statuses.filter((s) => s.status === 'failed').map((s) => s.message_id);
  const result = ledger({ sent: ids, received: r.requests, failedRecorded: failed });

  const attempts = await db.selectFrom('attempts').select((eb) => eb.fn.countAll<number>().as('n')).where('app_id', '=', appId).executeTakeFirstOrThrow();
  const duplicatedIds = Object.keys(result.duplicateIds);
  // Sent again although Temporal had closed the run, Postgres had recorded the success, or the dead worker never sent it: all bugs.
  const duplicatedOfClosedRuns = duplicatedIds.filter((id) => !openAtRestart.has(id));
  const duplicatedOfRecorded = duplicatedIds.filter((id) => recordedAtRestart.has(id));
  const duplicatedNeverSentBefore = duplicatedIds.filter((id) => !receivedBeforeRestart.has(id));
  console.log(
    `worker-kill: duplicates=${result.duplicates} vs received, open and not recorded at restart=${mayBeSentAgain.length} (in flight at kill=${inFlightAtKill}); ` +
      `receiver requests=${r.requests.length}, attempt rows=${attempts.n}; all delivered ${allDeliveredAt - killAt} ms after the kill`,
  );

  expect(ids).toHaveLength(MESSAGES);
  expect(result.unexpectedIds).toEqual([]);
  expect(result.missing).toBe(0);
  expect(result.delivered + result.failedRecorded).toBe(MESSAGES);
  expect(statuses.every((s) => s.status === 'succeeded')).toBe(true);
  expect(inFlightAtKill).toBeGreaterThan(0);
  expect(recordedAtRestart.size).toBeGreaterThanOrEqual(RECORDED_BEFORE_KILL);
  // Only a request the dead worker had sent for a run neither closed nor recorded can be sent again, and once.
  expect(duplicatedOfClosedRuns).toEqual([]);
  expect(duplicatedOfRecorded).toEqual([]);
  expect(duplicatedNeverSentBefore).toEqual([]);
  expect(Math.max(0, ...Object.values(result.duplicateIds))).toBeLessThanOrEqual(2);
  expect(result.duplicates).toBeLessThanOrEqual(mayBeSentAgain.length);
});

/** The message ids of the app's deliveries recorded as succeeded in Postgres. */
async function succeeded(database: Db, appId: string): Promise<Set<string>> {
  const rows = await database.selectFrom('deliveries').select('message_id').where('app_id', '=', appId).where('status', '=', 'succeeded').execute();
  return new Set(rows.map((row) => row.message_id));
}

/** The message ids of the app's deliveries whose run Temporal has not closed (or not yet started). */
async function openRuns(database: Db, appId: string): Promise<Set<string>> {
  const client = new Client({ connection });
  const deliveries = await database.selectFrom('deliveries').select(['id', 'message_id']).where('app_id', '=', appId).execute();
  const open = await pool(deliveries.length, 8, async (i) => {
    const { id, message_id } = deliveries[i]!;
    try {
      const { status } = await client.workflow.getHandle(deliveryWorkflowId(id)).describe();
      return status.name === 'RUNNING' ? message_id : undefined;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return message_id;
      throw err;
    }
  });
  return new Set(open.filter((id): id is string => id !== undefined));
}
