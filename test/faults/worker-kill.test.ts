import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import type { Db } from '../../db/connection.ts';
import { waitFor } from '../support/ports.ts';
import { apiClient, seed } from '../support/stack.ts';
import { OpenhooksProcess, printLogs } from '../support/processes.ts';
import { between, startSystem, ledger, pool, postJson, startDelayedReceiver, type DelayedReceiver, finishedDeliveries } from './support.ts';

// A worker process dies by SIGKILL while ~dozens of HTTP requests are in flight. The activities it held
// are retried by Temporal once their timeout passes; a new worker process picks them up.
const MESSAGES = 200;
const KILL_AFTER = 50;

let system: Awaited<ReturnType<typeof startSystem>>;
let db: Db;
let apiKey: string;
let server: OpenhooksProcess;
let worker: OpenhooksProcess;
let receiver: DelayedReceiver | undefined;

beforeAll(async () => {
  // 5 s per request leaves the 200-500 ms receiver far from its timeout even on a busy machine.
  system = await startSystem('worker-kill');
  ({ db, apiKey, server, worker } = system);
});

afterAll(async () => {
  await receiver?.close();
  await system?.stop();
});

it('a worker SIGKILLed mid-flight loses no message and sends again at most what was in flight', async () => {
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

  await waitFor(`${KILL_AFTER} requests at the receiver`, () => (r.requests.length >= KILL_AFTER ? true : undefined), 60_000, 5);
  const inFlightAtKill = r.inFlight();
  const killAt = Date.now();
  const receivedAtKill = r.requests.length;
  await worker.stop('SIGKILL');
  // Answered this shortly before the kill: the worker may have died before recording the success.
  const answeredJustBefore = r.requests.filter((q) => q.answeredAt !== undefined && q.answeredAt <= killAt && killAt - q.answeredAt <= 250).length;

  const ids = await posting;
  // Give the dead worker's last written requests time to be read, then count them before anything else can send.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const lateArrivals = r.requests.filter((q) => q.receivedAt > killAt).length;
  const restartAt = Date.now();
  await worker.start();
  console.log(
    `worker-kill: killed pid at ${killAt - started} ms with ${receivedAtKill} received, in flight at kill=${inFlightAtKill}, ` +
      `arrived after kill from the dead worker=${lateArrivals}, answered <=250 ms before kill=${answeredJustBefore}; new worker ready in ${Date.now() - restartAt} ms`,
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
  const duplicatedWhileInFlight = Object.keys(result.duplicateIds).filter((id) => {
    const first = r.requests.find((q) => q.webhookId === id)!;
    return first.receivedAt <= killAt + 500 && (first.answeredAt === undefined || first.answeredAt > killAt - 250);
  }).length;
  console.log(
    `worker-kill: duplicates=${result.duplicates} vs in_flight_at_kill=${inFlightAtKill} (+late=${lateArrivals}, +answered_just_before=${answeredJustBefore}); ` +
      `duplicated messages whose first request was in flight at the kill: ${duplicatedWhileInFlight}/${Object.keys(result.duplicateIds).length}; ` +
      `receiver requests=${r.requests.length}, attempt rows=${attempts.n}; all delivered ${allDeliveredAt - killAt} ms after the kill`,
  );

  expect(ids).toHaveLength(MESSAGES);
  expect(result.unexpectedIds).toEqual([]);
  expect(result.missing).toBe(0);
  expect(result.delivered + result.failedRecorded).toBe(MESSAGES);
  expect(statuses.every((s) => s.status === 'succeeded')).toBe(true);
  expect(inFlightAtKill).toBeGreaterThan(0);
  // Only a request the dead worker had sent and not yet recorded can be sent again.
  expect(result.duplicates).toBeLessThanOrEqual(inFlightAtKill + lateArrivals + answeredJustBefore);
  expect(duplicatedWhileInFlight).toBe(Object.keys(result.duplicateIds).length);
});
