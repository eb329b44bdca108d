import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { sql } from 'kysely';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { API_KEY_TRUST_MS } from '../../api/auth.ts';
import { startTemporalServer, type TemporalServer } from '../../cli/temporal-server.ts';
import { createDb, type Db } from '../../db/connection.ts';
import { deliveryWorkflowId } from '../../workflows/delivery-run.ts';
import { waitFor } from '../support/ports.ts';
import { createAccountCli, OpenhooksProcess, printLogs, sleep, stopAll } from '../support/processes.ts';
import { apiClient, createTestDatabase, seed, testEnv, type Api } from '../support/stack.ts';
import { between, faultDir, finishedDeliveries, ledger, pool, postJson, startDelayedReceiver, type DelayedReceiver } from './support.ts';

// Two `openhooks server` and two `openhooks worker` processes against one Postgres database and the
// real Temporal server (on Postgres, scripts/temporal-server.sh): the production shape, scaled out.

// The binaries are built once (minutes); .ci/run builds them before the tests, so this is instant there.
const build = spawnSync('bash', [fileURLToPath(new URL('../../scripts/temporal-server.sh', import.meta.url)), 'build'], { encoding: 'utf8' });
const skip = build.status !== 0 ? `the Temporal server could not be built with Go: ${build.stderr.trim().split('\n').slice(-3).join(' ')}` : '';

const OWNER = { name: 'Scale', email: 'owner@scale.test', password: 'correct horse battery' };

let dir: string;
let temporalServer: TemporalServer | undefined;
let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let db: Db;
let connection: Connection | undefined;
let client: Client;
let apiKey: string;
const servers: OpenhooksProcess[] = [];
const workers: OpenhooksProcess[] = [];
const receivers: DelayedReceiver[] = [];

beforeAll(async () => {
  if (skip) return;
  dir = faultDir('scale-out');
  temporalServer = await startTemporalServer({ dataDir: path.join(dir, 'temporal'), logFile: path.join(dir, 'temporal.log'), shards: 4 });
  database = await createTestDatabase();
  // One environment for all four: the same database, Temporal, task queue and ENCRYPTION_KEY; each server on a port of its own.
  const env = testEnv({ DATABASE_URL: database.url, TEMPORAL_ADDRESS: temporalServer.address, DELIVERY_TIMEOUT: '5s', RATE_LIMIT: '0' });
  ({ apiKey } = await createAccountCli(env, OWNER));
  servers.push(new OpenhooksProcess('server', env, dir, { name: 'server-a' }), new OpenhooksProcess('server', env, dir, { name: 'server-b' }));
  workers.push(new OpenhooksProcess('worker', env, dir, { name: 'worker-a' }), new OpenhooksProcess('worker', env, dir, { name: 'worker-b' }));
  await Promise.all([...servers, ...workers].map((p) => p.start(120_000)));
  db = createDb(database.url, 3);
  connection = await Connection.connect({ address: temporalServer.address });
  client = new Client({ connection });
}, 300_000);

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await stopAll([...servers, ...workers]);
  await connection?.close();
  await db?.destroy();
  await database?.drop();
  await temporalServer?.stop();
});

const [serverA, serverB] = [() => servers[0]!, () => servers[1]!];
const api = (server: OpenhooksProcess, key = apiKey): Api => apiClient(server.url, key);

/** Posts `count` messages to the app, alternating between the two servers; their ids in order. */
async function postMessages(appId: string, count: number, tag: string): Promise<string[]> {
  return pool(count, 8, async (i) => {
    const server = servers[i % 2]!;
    const res = await postJson(`${server.url}/api/v1/apps/${appId}/messages`, apiKey, { event_type: 'user.created', version: '1.0', data: { tag, seq: i } });
    if (res.status !== 202) throw new Error(`POST ${tag} ${i} to ${server.name} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  });
}

async function newReceiver(delay: () => number): Promise<DelayedReceiver> {
  const receiver = await startDelayedReceiver(delay);
  receivers.push(receiver);
  return receiver;
}

/** The Temporal identity a worker process runs under (the SDK's default, `<pid>@<host>`) for its current run. */
const identityOf = (worker: OpenhooksProcess): string => `${worker.pid}@${hostname()}`;

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Every delivery of the app, with the events of its workflow's history once the run has closed. */
async function histories(appId: string): Promise<{ deliveryId: string; messageId: string; events: HistoryEvent[] }[]> {
  const deliveries = await db.selectFrom('deliveries').select(['id', 'message_id']).where('app_id', '=', appId).execute();
  return pool(deliveries.length, 8, async (i) => {
    const { id, message_id } = deliveries[i]!;
    const handle = client.workflow.getHandle(deliveryWorkflowId(id));
    // The delivery is recorded succeeded before its workflow task completes: read whole histories.
    await handle.result();
    const history = await handle.fetchHistory();
    return { deliveryId: id, messageId: message_id, events: history.events ?? [] };
  });
}

/** Which worker completed the delivery's first workflow task, the one that runs its first attempt (a local activity). */
function firstTaskCompletedBy(events: HistoryEvent[]): string | undefined {
  return events.find((e) => e.workflowTaskCompletedEventAttributes)?.workflowTaskCompletedEventAttributes?.identity ?? undefined;
}

/** Whether `identity` held one of the run's workflow tasks and never completed it (the task timed out). */
function abandonedTaskOf(events: HistoryEvent[], identity: string): boolean {
  return events.some((e, i) => e.workflowTaskStartedEventAttributes?.identity === identity && events[i + 1]?.workflowTaskTimedOutEventAttributes != null);
}

/** Once all `count` deliveries of the app have finished: each one's id, message and status. */
async function finished(appId: string, count: number, timeoutMs: number): Promise<{ id: string; message_id: string; status: string }[]> {
  await finishedDeliveries(db, appId, count, timeoutMs);
  return db.selectFrom('deliveries').select(['id', 'message_id', 'status']).where('app_id', '=', appId).execute();
}

/** Per delivery of the app: its attempts, and how many of them succeeded. */
async function attemptsByDelivery(appId: string): Promise<Map<string, { attempts: number; succeeded: number; failed: number }>> {
  const rows = await db.selectFrom('attempts').select(['delivery_id', 'succeeded']).where('app_id', '=', appId).execute();
  const byDelivery = new Map<string, { attempts: number; succeeded: number; failed: number }>();
  for (const row of rows) {
    const entry = byDelivery.get(row.delivery_id) ?? { attempts: 0, succeeded: 0, failed: 0 };
    entry.attempts++;
    if (row.succeeded) entry.succeeded++;
    else entry.failed++;
    byDelivery.set(row.delivery_id, entry);
  }
  return byDelivery;
}

/** The runs Temporal's visibility lists for the app's delivery workflows, by workflow id, once it lists `expected` of them. */
async function runsByWorkflowId(appId: string, expected: number): Promise<Map<string, number>> {
  return waitFor(
    `visibility to list the ${expected} delivery workflows of ${appId}`,
    async () => {
      const runs = new Map<string, number>();
      for await (const execution of client.workflow.list({ query: `AppId = '${appId}'` })) runs.set(execution.workflowId, (runs.get(execution.workflowId) ?? 0) + 1);
      const total = [...runs.values()].reduce((sum, n) => sum + n, 0);
      return total >= expected ? runs : undefined;
    },
    60_000,
    500,
  );
}

/**
 * Whether the run shows that an attempt's holder was presumed gone or too slow, the one way a
 * recorded success can be sent again: a workflow task timed out or failed (its worker died or
 * stalled past the task timeout, and another worker ran the first attempt again), or a regular
 * activity was scheduled (the local first attempt failed or timed out).
 */
function timedOut(events: HistoryEvent[]): boolean {
  return events.some((e) => e.workflowTaskTimedOutEventAttributes || e.workflowTaskFailedEventAttributes || e.activityTaskScheduledEventAttributes);
}

/**
 * The ledger of one app's deliveries once all have finished: every posted message reached the
 * receiver, every delivery succeeded with at least one succeeded attempt, and a message was sent
 * more than once (at the receiver, or as a second succeeded attempt) only where an attempt was
 * recorded failed or its run shows a timeout. Returns the histories for further checks.
 */
async function checkLedger(appId: string, ids: string[], receiver: DelayedReceiver, label: string) {
  const count = ids.length;
  const sent = new Set(ids);
  await waitFor('every message at the receiver', () => (new Set(receiver.requests.map((q) => q.webhookId).filter((id) => sent.has(id))).size === count ? true : undefined), 180_000, 250);
  const statuses = await finished(appId, count, 60_000);
  const attempts = await attemptsByDelivery(appId);
  const runs = await histories(appId);
  const result = ledger({ sent: ids, received: receiver.requests, label });
  const timedOutMessages = new Set(runs.filter(({ events }) => timedOut(events)).map((run) => run.messageId));
  const explained = (messageId: string, deliveryId: string) => timedOutMessages.has(messageId) || (attempts.get(deliveryId)?.failed ?? 0) > 0;
  const byMessage = new Map(statuses.map((s) => [s.message_id, s.id]));
  const unexplained = [
    ...Object.keys(result.duplicateIds).filter((m) => !explained(m, byMessage.get(m)!)),
    ...statuses.filter((s) => (attempts.get(s.id)?.succeeded ?? 0) > 1 && !explained(s.message_id, s.id)).map((s) => s.message_id),
  ];
  const totalAttempts = [...attempts.values()].reduce((n, a) => n + a.attempts, 0);
  console.log(`${label}: attempts=${totalAttempts}, runs with a timed-out task or attempt=${timedOutMessages.size}, duplicates explained by them=${result.duplicates > 0 ? Object.keys(result.duplicateIds).length - unexplained.length : 0}`);
  const noSuccess = statuses.filter((s) => (attempts.get(s.id)?.succeeded ?? 0) === 0);
  await explain([...noSuccess.map((s) => s.id), ...unexplained.map((m) => byMessage.get(m)!)]);

  expect(result.missing).toBe(0);
  expect(result.unexpectedIds).toEqual([]);
  expect(statuses.filter((s) => s.status !== 'succeeded')).toEqual([]);
  expect(noSuccess).toEqual([]);
  expect(unexplained).toEqual([]);
  return { runs, result, attempts };
}

/** For a failure message: each delivery's attempts and the outline of its workflow history. */
async function explain(deliveryIds: string[]): Promise<void> {
  for (const id of deliveryIds.slice(0, 5)) {
    const rows = await db.selectFrom('attempts').select(['id', 'number', 'succeeded', 'error_code', 'workflow_run_id', 'created_at']).where('delivery_id', '=', id).orderBy('created_at').execute();
    const history = await client.workflow.getHandle(deliveryWorkflowId(id)).fetchHistory();
    const outline = (history.events ?? []).map((e) => {
      const identity = e.workflowTaskStartedEventAttributes?.identity ?? e.workflowTaskCompletedEventAttributes?.identity ?? e.activityTaskStartedEventAttributes?.identity;
      return `${String(e.eventId)}:${e.eventType}${identity ? `@${identity}` : ''}`;
    });
    console.log(`delivery ${id}: attempts ${JSON.stringify(rows)}\n  history ${outline.join(' ')}`);
  }
}

describe.skipIf(skip !== '')('two servers and two workers on one Postgres and one Temporal server', () => {
  it('an API key, a portal session and an Idempotency-Key work through either server; a revoked key and the login throttle hold on both', async () => {
    onTestFailed(() => printLogs(servers));
    const receiver = await newReceiver(() => 0);
    const { appId } = await seed(api(serverA()), receiver.url);

    // An API key created on A works on B; revoked on A, it is refused on A at once and on B once B's trust in it lapses.
    const created = await api(serverA()).post('/api_keys', { name: 'made on A' });
    expect(created.status).toBe(201);
    const key = created.body.key as string;
    // B checks it in Postgres and then trusts it for API_KEY_TRUST_MS.
    expect((await api(serverB(), key).get('/apps')).status).toBe(200);
    expect((await api(serverA(), apiKey).raw('DELETE', `/api_keys/${created.body.id}`)).status).toBe(200);
    expect((await api(serverA(), key).get('/apps')).status).toBe(401);
    await sleep(API_KEY_TRUST_MS + 250);
    expect((await api(serverB(), key).get('/apps')).status).toBe(401);

    // The same Idempotency-Key to A, then B: one message, the same answer.
    const message = { event_type: 'user.created', version: '1.0', data: { idempotent: true } };
    const first = await api(serverA()).post(`/apps/${appId}/messages`, message, { 'Idempotency-Key': 'scale-out-1' });
    const again = await api(serverB()).post(`/apps/${appId}/messages`, message, { 'Idempotency-Key': 'scale-out-1' });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    // Sent to both at once: each answers the one message, or 409 while the other still holds the key.
    const racing = await Promise.all(servers.map((s) => api(s).post(`/apps/${appId}/messages`, message, { 'Idempotency-Key': 'scale-out-2' })));
    expect(racing.map((r) => r.status).filter((status) => status !== 202 && status !== 409)).toEqual([]);
    const raced = await waitFor('the racing key to answer 202 on B', async () => {
      const retry = await api(serverB()).post(`/apps/${appId}/messages`, message, { 'Idempotency-Key': 'scale-out-2' });
      return retry.status === 202 ? retry : undefined;
    });
    for (const r of racing.filter((r) => r.status === 202)) expect(r.body.id).toBe(raced.body.id);
    const counts = await db
      .selectFrom('messages')
      .select(['idempotency_key', (eb) => eb.fn.countAll<number>().as('n')])
      .where('app_id', '=', appId)
      .where('idempotency_key', 'in', ['scale-out-1', 'scale-out-2'])
      .groupBy('idempotency_key')
      .execute();
    expect(Object.fromEntries(counts.map((c) => [c.idempotency_key, Number(c.n)]))).toEqual({ 'scale-out-1': 1, 'scale-out-2': 1 });

    // Log in through A's portal; the session works on B, including a form that needs its CSRF token.
    const loginPage = await fetch(`${serverA().url}/login`);
    const csrfCookie = loginPage.headers.get('set-cookie')!.split(';')[0]!;
    const loginCsrf = /name="csrf" value="([^"]+)"/.exec(await loginPage.text())![1]!;
    const login = await fetch(`${serverA().url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: csrfCookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: OWNER.email, password: OWNER.password, csrf: loginCsrf, redirectTo: '/settings/api-keys' }),
    });
    expect(login.status).toBe(302);
    const session = login.headers.get('set-cookie')!.split(';')[0]!;
    const keysPage = await fetch(`${serverB().url}/settings/api-keys`, { headers: { cookie: session }, redirect: 'manual' });
    expect(keysPage.status).toBe(200);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await keysPage.text())![1]!;
    const createdOnB = await fetch(`${serverB().url}/settings/api-keys`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: session, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, intent: 'create', name: 'made in B portal' }),
    });
    expect(createdOnB.status).toBe(200);
    const portalKey = /value="(ohk_[0-9a-f]{12}_[\w-]{32})"/.exec(await createdOnB.text())?.[1];
    expect(portalKey).toBeDefined();
    expect((await api(serverA(), portalKey).get('/apps')).status).toBe(200);

    // Ten failed logins through A lock that email (and that client address) out on B too.
    const attacker = { 'x-forwarded-for': '203.0.113.9' };
    const page = await fetch(`${serverA().url}/login`, { headers: attacker });
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    const token = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const tryLogin = (server: OpenhooksProcess, from: Record<string, string>, email: string, password: string) =>
      fetch(`${server.url}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { ...from, cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email, password, csrf: token, redirectTo: '/' }),
      });
    for (let i = 0; i < 10; i++) expect((await tryLogin(serverA(), attacker, OWNER.email, `guess ${i}`)).status).toBe(400);
    expect((await tryLogin(serverB(), { 'x-forwarded-for': '198.51.100.2' }, OWNER.email, OWNER.password)).status).toBe(429);
    expect((await tryLogin(serverB(), attacker, 'someone-else@scale.test', 'whatever it is')).status).toBe(429);
    expect((await tryLogin(serverB(), { 'x-forwarded-for': '198.51.100.3' }, 'someone-else@scale.test', 'whatever it is')).status).toBe(400);
  });

  it('spreads deliveries across both workers', async () => {
    onTestFailed(() => printLogs(workers));
    const receiver = await newReceiver(between(20, 100));
    const { appId } = await seed(api(serverA()), receiver.url);
    const count = 120;
    await postMessages(appId, count, 'spread');
    const statuses = await finished(appId, count, 120_000);
    expect(statuses.filter((s) => s.status !== 'succeeded')).toEqual([]);

    const ranBy = new Map<string, number>();
    for (const { events } of await histories(appId)) {
      const identity = firstTaskCompletedBy(events) ?? 'none';
      ranBy.set(identity, (ranBy.get(identity) ?? 0) + 1);
    }
    const shares = workers.map((w) => ranBy.get(identityOf(w)) ?? 0);
    console.log(`scale-out spread: ${workers.map((w, i) => `${w.name}=${shares[i]}`).join(' ')} of ${count} (by identity: ${JSON.stringify(Object.fromEntries(ranBy))})`);
    expect(shares[0]! + shares[1]!).toBe(count);
    // A meaningful share each: well away from one worker doing (nearly) everything.
    for (const share of shares) expect(share).toBeGreaterThanOrEqual(count * 0.2);
  });

  it("a SIGKILLed worker's deliveries are finished by the other: every one succeeds, sent again only where a timeout or failure is recorded", async () => {
    onTestFailed(() => printLogs(workers));
    // Slow answers (well within DELIVERY_TIMEOUT) keep many requests in flight on both workers at the kill.
    const receiver = await newReceiver(between(1_000, 2_500));
    const { appId } = await seed(api(serverA()), receiver.url);
    const count = 150;
    const [victim, survivor] = [workers[0]!, workers[1]!];
    const victimIdentity = identityOf(victim);

    const posting = postMessages(appId, count, 'kill');
    await waitFor('10 requests in flight at the receiver', () => (receiver.requests.length >= 30 && receiver.inFlight() >= 10 ? true : undefined), 90_000, 5);
    const inFlightAtKill = receiver.inFlight();
    await victim.stop('SIGKILL');
    const ids = await posting;

    const { runs, result } = await checkLedger(appId, ids, receiver, 'scale-out kill');
    const takenOver = runs.filter(({ events }) => abandonedTaskOf(events, victimIdentity));
    const finishedBySurvivor = takenOver.filter(({ events }) => events.filter((e) => e.workflowTaskCompletedEventAttributes).at(-1)?.workflowTaskCompletedEventAttributes?.identity === identityOf(survivor));
    console.log(
      `scale-out kill: in flight at kill=${inFlightAtKill}, duplicates=${result.duplicates}, deliveries whose task the killed worker held=${takenOver.length} ` +
        `(finished by ${survivor.name}: ${finishedBySurvivor.length})`,
    );
    expect(inFlightAtKill).toBeGreaterThan(0);
    expect(takenOver.length).toBeGreaterThan(0);
    expect(finishedBySurvivor.length).toBe(takenOver.length);

    // Back to two workers for what follows.
    await victim.start(120_000);
  });

  it('the reconcilers of two workers start deliveries accepted while no worker ran exactly once', async () => {
    onTestFailed(() => printLogs(workers));
    const receiver = await newReceiver(between(5, 30));
    await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    const { appId } = await seed(api(serverA()), receiver.url);
    const count = 240;
    const ids = await postMessages(appId, count, 'reconcile');
    // Accepted while no worker ran. Held locked (both starters and reconcilers skip locked rows) while
    // they are made overdue and both workers come up, then let go at once: from then on they are the
    // reconcilers' alone (the starters take only fresh requests), and both reconcilers are running.
    await db.transaction().execute(async (trx) => {
      const held = await trx.selectFrom('deliveries').select('id').where('app_id', '=', appId).where('workflow_started_at', 'is', null).forUpdate().execute();
      expect(held).toHaveLength(count);
      await sql`update deliveries set start_requested_at = now() - interval '1 hour' where app_id = ${appId}`.execute(trx);
      await Promise.all(workers.map((w) => w.start(120_000)));
    });
    const { result } = await checkLedger(appId, ids, receiver, 'scale-out reconcile');
    const reconciled = workers.map((w) =>
      w
        .lines()
        .filter((line) => line.msg === 'reconciler started delivery workflows')
        .reduce((n, line) => n + Number(line.started), 0),
    );
    const runs = await runsByWorkflowId(appId, count);
    console.log(`scale-out reconcile: started by ${workers.map((w, i) => `${w.name}=${reconciled[i]}`).join(' ')}; workflow runs=${[...runs.values()].reduce((n, r) => n + r, 0)} for ${runs.size} ids; duplicates=${result.duplicates}`);

    // Each overdue start leased and confirmed by exactly one reconciler …
    expect(reconciled[0]! + reconciled[1]!).toBe(count);
    // … and each delivery's workflow started once: one run per workflow id.
    expect([...runs.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(runs.size).toBe(count);
  });
});
