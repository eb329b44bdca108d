import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { createDb, type Db } from '../../db/connection.ts';
import { freePort, waitFor } from '../support/ports.ts';
import { apiClient, seed, testEnv } from '../support/stack.ts';
import { createAccountCli, OpenhooksProcess, openhooksCommandOk, printLogs, sleep, stopAll } from '../support/processes.ts';
import { between, faultDir, ledger, portIsFree, postJson, startDelayedReceiver, type DelayedReceiver, type PostResult } from './support.ts';

// A Postgres cluster of this test's own (the shared one on 5432 must never stop), stopped for 20 s
// while messages are posted and deliveries are in flight.
const CLUSTER = 'openhooks_faults';
const PG_PORT = 55439;
const LANES = 3;
const EVERY_MS = 250;
const BEFORE_MS = 6_000;
const OUTAGE_MS = 20_000;
const AFTER_MS = 6_000;

const exec = promisify(execFile);
const version = readdirSync('/etc/postgresql')
  .filter((v) => /^\d+$/.test(v))
  .sort((a, b) => Number(b) - Number(a))[0]!;
const ctl = (action: string, ...args: string[]) => exec('pg_ctlcluster', ['--skip-systemctl-redirect', version, CLUSTER, action, ...args], { timeout: 60_000 });
const adminUrl = `postgres://postgres@127.0.0.1:${PG_PORT}/postgres`;

let created = false;
let dbName: string;
let db: Db;
let apiKey: string;
let server: OpenhooksProcess;
let worker: OpenhooksProcess;
let receiver: DelayedReceiver | undefined;

async function admin(query: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  const dir = faultDir('postgres-outage');
  if (!existsSync(`/etc/postgresql/${version}/${CLUSTER}`)) {
    if (!(await portIsFree(PG_PORT))) throw new Error(`port ${PG_PORT} is taken; the Postgres outage test needs it for its own cluster`);
    await exec('pg_createcluster', [version, CLUSTER, '-p', String(PG_PORT), '--', '--auth-host=trust', '--auth-local=trust'], { timeout: 120_000 });
    created = true;
  }
  const { stdout } = await exec('pg_lsclusters', ['-h'], { timeout: 10_000 });
  const line = stdout.split('\n').find((l) => l.split(/\s+/)[1] === CLUSTER);
  if (line?.split(/\s+/)[2] !== String(PG_PORT)) throw new Error(`cluster ${CLUSTER} exists on another port than ${PG_PORT}: ${line}`);
  if (line.split(/\s+/)[3] !== 'online') await ctl('start');
  await waitFor('the cluster to accept connections', () => admin('select 1').then(() => true, () => undefined), 30_000, 200);

  dbName = `openhooks_faults_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${dbName}`);
  const env = testEnv({
    DATABASE_URL: `postgres://postgres@127.0.0.1:${PG_PORT}/${dbName}`,
    PORT: String(await freePort()),
    DELIVERY_TIMEOUT: '5s',
    RATE_LIMIT: '0',
  });
  await openhooksCommandOk(['migrate'], env);
  ({ apiKey } = await createAccountCli(env));
  server = new OpenhooksProcess('server', env, dir);
  worker = new OpenhooksProcess('worker', env, dir);
  await Promise.all([server.start(), worker.start()]);
  db = createDb(env.DATABASE_URL!, 2);
});

afterAll(async () => {
  await stopAll([server, worker]);
  await receiver?.close();
  await db?.destroy();
  // Running again on failure is fine: the cluster is ours, so it goes whatever happened.
  await exec('pg_dropcluster', ['--stop', version, CLUSTER], { timeout: 60_000 }).catch((err: unknown) => console.error('pg_dropcluster failed', err));
  if (!created) console.log(`postgres-outage: reused an existing cluster ${CLUSTER} (dropped now)`);
});

interface Post {
  seq: number;
  sentAt: number;
  answeredAt: number;
  res: PostResult;
}

it('a 20 s Postgres outage: 503 while down, nothing partial, nothing lost, no endpoint disabled', async () => {
  onTestFailed(() => printLogs([server, worker]));
  // Slow answers, so that several requests are in flight when Postgres stops and their attempts must be recorded after.
  receiver = await startDelayedReceiver(between(500, 3_000));
  const r = receiver;
  const { appId, endpointId } = await seed(apiClient(server.url, apiKey), r.url);

  const posts: Post[] = [];
  let producing = true;
  let nextSeq = 0;
  // A few producers side by side, so that API connections are busy (checked out) when Postgres goes.
  const producer = Promise.all(
    Array.from({ length: LANES }, async () => {
      for (let n = 0; producing && n < 1_000; n++) {
        const seq = nextSeq++;
        const sentAt = Date.now();
        const res = await postJson(`${server.url}/api/v1/apps/${appId}/messages`, apiKey, { event_type: 'user.created', version: '1.0', data: { seq } }, {}, 15_000);
        posts.push({ seq, sentAt, answeredAt: Date.now(), res });
        await sleep(Math.max(0, EVERY_MS - (Date.now() - sentAt)));
      }
    }),
  );

  await sleep(BEFORE_MS);
  const inFlightAtStop = r.inFlight();
  const stopBegin = Date.now();
  await ctl('stop', '-m', 'fast');
  const stopped = Date.now();
  await sleep(OUTAGE_MS);
  const startBegin = Date.now();
  await ctl('start');
  const started = Date.now();
  await sleep(AFTER_MS);
  producing = false;
  await producer;
  console.log(
    `postgres-outage: stop took ${stopped - stopBegin} ms with ${inFlightAtStop} requests in flight at the receiver; down ${startBegin - stopped} ms; start took ${started - startBegin} ms`,
  );

  const accepted = posts.filter((p) => p.res.status === 202);
  const refused = posts.filter((p) => p.res.status !== 202);
  const insideOutage = posts.filter((p) => p.sentAt >= stopped && p.answeredAt <= startBegin);
  const byAnswer: Record<string, number> = {};
  for (const p of posts) {
    const answer = p.res.status === 202 ? '202' : `${p.res.status} ${p.res.body?.code ?? ''}`;
    byAnswer[answer] = (byAnswer[answer] ?? 0) + 1;
  }
  console.log(`postgres-outage: ${posts.length} POSTs: ${JSON.stringify(byAnswer)}; slowest answer during the outage ${Math.max(0, ...insideOutage.map((p) => p.res.ms))} ms`);

  // Recovery: every accepted message reaches the receiver, and every delivery is finished in the database.
  const sent = accepted.map((p) => p.res.body.id as string);
  const settledAt = await waitFor(
    'every delivery finished (succeeded, failed or skipped)',
    async () => {
      const pending = await db
        .selectFrom('deliveries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('app_id', '=', appId)
        .where('status', '=', 'pending')
        .executeTakeFirst()
        .catch(() => undefined);
      return pending?.n === 0 && r.inFlight() === 0 ? Date.now() : undefined;
    },
    150_000,
    500,
  );
  console.log(`postgres-outage: settled ${settledAt - started} ms after Postgres was back`);

  const messages = await db.selectFrom('messages').select(['id', sql<string>`data->>'seq'`.as('seq')]).where('app_id', '=', appId).execute();
  const deliveries = await db.selectFrom('deliveries').select(['id', 'message_id', 'status']).where('app_id', '=', appId).execute();
  const attempts = await db.selectFrom('attempts').select(['message_id', 'succeeded', 'error_code', 'number']).where('app_id', '=', appId).execute();
  const endpoint = await db.selectFrom('endpoints').select(['status', 'disabled_reason']).where('id', '=', endpointId).executeTakeFirstOrThrow();
  const result = ledger({ sent, received: r.requests, failedRecorded: deliveries.filter((d) => d.status === 'failed').map((d) => d.message_id) });

  const requestsPer = new Map<string, number>();
  for (const q of r.requests) requestsPer.set(q.webhookId, (requestsPer.get(q.webhookId) ?? 0) + 1);
  const attemptsPer = new Map<string, number>();
  for (const a of attempts) attemptsPer.set(a.message_id, (attemptsPer.get(a.message_id) ?? 0) + 1);
  const unrecorded = sent
    .filter((id) => (requestsPer.get(id) ?? 0) !== (attemptsPer.get(id) ?? 0))
    .map((id) => ({ id, requests: requestsPer.get(id) ?? 0, attempts: attemptsPer.get(id) ?? 0 }));
  const statusCounts: Record<string, number> = {};
  for (const d of deliveries) statusCounts[d.status] = (statusCounts[d.status] ?? 0) + 1;
  console.log(
    `postgres-outage: deliveries ${JSON.stringify(statusCounts)}; endpoint ${endpoint.status}${endpoint.disabled_reason ? ` (${endpoint.disabled_reason})` : ''}; ` +
      `receiver requests=${r.requests.length}, attempt rows=${attempts.length}, messages whose requests != attempt rows: ${unrecorded.length}` +
      (unrecorded.length ? ` ${JSON.stringify(unrecorded.slice(0, 10))}` : ''),
  );

  // Soft: one run reports every property that broke, not only the first.
  // The processes rode the outage out.
  expect.soft({ server: server.running, worker: worker.running }).toEqual({ server: true, worker: true });
  // While Postgres was down, POSTs were refused with 503 database_unavailable; around it, nothing else than 202 or that.
  expect.soft(insideOutage.length).toBeGreaterThan((LANES * OUTAGE_MS) / EVERY_MS / 2);
  expect.soft(insideOutage.filter((p) => p.res.status !== 503 || p.res.body?.code !== 'database_unavailable').map((p) => ({ seq: p.seq, status: p.res.status, body: p.res.body as unknown }))).toEqual([]);
  expect.soft(refused.filter((p) => p.res.status !== 503 || p.res.body?.code !== 'database_unavailable').map((p) => ({ seq: p.seq, status: p.res.status, body: p.res.body as unknown }))).toEqual([]);
  expect.soft(accepted.length).toBeGreaterThan(0);
  // Nothing partial: exactly the accepted messages exist, none for a refused POST, each with its delivery.
  expect.soft(messages.map((m) => m.id).sort()).toEqual([...sent].sort());
  expect.soft(messages.filter((m) => refused.some((p) => String(p.seq) === m.seq))).toEqual([]);
  expect.soft(messages.filter((m) => deliveries.filter((d) => d.message_id === m.id).length !== 1).map((m) => m.id)).toEqual([]);
  // Nothing lost: every accepted message delivered, and every request the receiver got has its attempt row.
  expect.soft(result.unexpectedIds).toEqual([]);
  expect.soft(result.missing).toBe(0);
  expect.soft(result.delivered + result.failedRecorded).toBe(sent.length);
  expect.soft(unrecorded).toEqual([]);
  // Our own outage is not the endpoint's fault.
  expect.soft(endpoint).toEqual({ status: 'active', disabled_reason: null });
  expect.soft(deliveries.filter((d) => d.status !== 'succeeded').map((d) => ({ message_id: d.message_id, status: d.status }))).toEqual([]);
});
