/**
 * Records one real workflow history per delivery scenario into test/histories/<release>/, for
 * test/workflow-replay.test.ts to replay against every later version of the workflow code.
 *
 *   npm run record-histories -- [--release <name>] [scenario ...]
 *
 * The release defaults to today's date (UTC); with no scenario names every scenario is recorded.
 * Each scenario runs end to end: a Temporal dev server, a fresh Postgres database, the real worker
 * and API in this process, loopback receivers and an SMTP server.
 */
import { Client, Connection } from '@temporalio/client';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startServer } from '../cli/server.ts';
import { startWorker } from '../cli/worker.ts';
import { withTemporalAddress } from '../cli/runtime.ts';
import { createAccount } from '../db/accounts.ts';
import { createDb, migrateToLatest, type Db } from '../db/connection.ts';
import { loadConfig } from '../lib/config.ts';
import { newEncryptionKey, SecretBox } from '../lib/secrets.ts';
import { startDevServer } from '../cli/temporal-dev-server.ts';
import { historyToJson } from '../test/support/history-json.ts';
import type { retentionWorkflow } from '../workflows/retention.ts';
import { freePort, waitFor } from '../test/support/ports.ts';
import { startReceiver } from '../test/support/receiver.ts';
import { startSmtp } from '../test/support/smtp.ts';
import { apiClient, createTestDatabase, seed, type Api, type Seeded } from '../test/support/stack.ts';

const HISTORIES = fileURLToPath(new URL('../test/histories/', import.meta.url));

type Answer = { status: number; headers?: Record<string, string>; body?: string };

interface Scenario {
  /** How the receiver answers the n-th request (from 0). */
  answer(index: number): Answer;
  /** Runs before the receiver answers the first request: a change an operator makes mid-retry. */
  duringFirstAttempt?(db: Db, endpoint: Seeded): Promise<void>;
}

const ok: Answer = { status: 200, body: 'ok' };
const serverError: Answer = { status: 500, body: 'boom' };

const SCENARIOS: Record<string, Scenario> = {
  success: { answer: () => ok },
  'retries-then-success': { answer: (i) => (i < 2 ? serverError : ok) },
  'exhausted-endpoint-disabled': { answer: () => serverError },
  'skipped-endpoint-inactive': {
    answer: () => serverError,
    duringFirstAttempt: async (db, { endpointId }) => {
      await db.updateTable('endpoints').set({ status: 'inactive' }).where('id', '=', endpointId).execute();
    },
  },
  'gone-410': { answer: () => ({ status: 410 }) },
  'retry-after': { answer: (i) => (i < 2 ? { status: 429, headers: { 'retry-after': String(i + 1) } } : ok) },
  'skipped-endpoint-deleted': {
    answer: () => serverError,
    duringFirstAttempt: async (db, { endpointId }) => {
      await db.deleteFrom('endpoints').where('id', '=', endpointId).execute();
    },
  },
  'failed-secret-unreadable': {
    answer: () => serverError,
    // As after an ENCRYPTION_KEY rotation that lost the old key: the stored secret no longer decrypts.
    duringFirstAttempt: async (db, { endpointId }) => {
      await db.updateTable('endpoints').set({ secret: 'v1.lost-key.AAAA.AAAA.AAAA' }).where('id', '=', endpointId).execute();
    },
  },
};

/** Scenarios of the replay workflow: each records the replay's own closed run. */
const REPLAY_SCENARIOS = ['replay-completed'];
/** Scenarios of the retention workflow: its run purges the whole database's old rows, so it goes after the others. */
const RETENTION_SCENARIOS = ['retention-purged'];

const { values, positionals } = parseArgs({ options: { release: { type: 'string' } }, allowPositionals: true });
const release = values.release ?? new Date().toISOString().slice(0, 10);
const known = [...Object.keys(SCENARIOS), ...REPLAY_SCENARIOS, ...RETENTION_SCENARIOS];
const names = positionals.length > 0 ? positionals : known;
const unknown = names.filter((name) => !known.includes(name));
if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${known.join(', ')}`);

const tempDir = mkdtempSync(path.join(tmpdir(), 'openhooks-histories-'));
const temporal = await startDevServer({ dataDir: path.join(tempDir, 'temporal'), port: await freePort(), headless: true, logFile: path.join(tempDir, 'temporal.log') });
const database = await createTestDatabase();
const smtp = await startSmtp();
const encryptionKey = newEncryptionKey();
const env: Record<string, string> = {
  DATABASE_URL: database.url,
  SMTP_URL: smtp.url,
  TEMPORAL_ADDRESS: temporal.address,
  TEMPORAL_TASK_QUEUE: 'record-histories',
  ENCRYPTION_KEY: encryptionKey,
  // Short and few retries keep the recording quick; the commands a run issues do not depend on them.
  RETRY_INITIAL_INTERVAL: '1s',
  RETRY_BACKOFF_COEFFICIENT: '1.5',
  RETRY_MAXIMUM_ATTEMPTS: '3',
  DELIVERY_TIMEOUT: '2s',
  ALLOW_PRIVATE_NETWORK: 'true',
  ALLOW_HTTP: 'true',
  RECONCILE_INTERVAL: '1s',
  PORT: '0',
  HOST: '127.0.0.1',
  PUBLIC_URL: 'http://openhooks.test',
  DATA_DIR: path.join(tempDir, 'data'),
  LOG_LEVEL: 'error',
};
const config = withTemporalAddress(loadConfig(env), temporal.address);
// The API, the worker and the scenarios share this pool; all scenarios run at once.
const db = createDb(database.url, 20);
const secrets = new SecretBox(encryptionKey);
const connection = await Connection.connect({ address: temporal.address });
const client = new Client({ connection });
const stops: (() => Promise<void>)[] = [];

try {
  await migrateToLatest(db);
  const account = await createAccount(db, { name: 'Provider', email: 'owner@provider.test', password: 'correct horse battery' });
  const worker = await startWorker({ config, db, secrets });
  stops.push(() => worker.stop());
  const server = await startServer({ config, db, secrets, portal: false });
  stops.push(() => server.stop());
  const api = apiClient(server.url, account.apiKey);

  const concurrent = names.filter((name) => !RETENTION_SCENARIOS.includes(name));
  const recorded = await Promise.all(concurrent.map((name) => (REPLAY_SCENARIOS.includes(name) ? recordReplay(api, name) : record(api, name, SCENARIOS[name]!))));
  for (const name of names.filter((name) => RETENTION_SCENARIOS.includes(name))) recorded.push(await recordRetention(api, name));
  const folder = path.join(HISTORIES, release);
  mkdirSync(folder, { recursive: true });
  for (const { name, json, secret } of recorded) {
    // Histories are committed: nothing in them may let a reader sign or read anything.
    for (const [what, value] of [['a signing secret', secret], ['the API key', account.apiKey], ['the encryption key', encryptionKey]] as const) {
      if (json.includes(value) || json.includes(value.replace(/^whsec_/, ''))) throw new Error(`the ${name} history contains ${what}`);
    }
    writeFileSync(path.join(folder, `${name}.json`), json);
    console.log(`recorded ${path.relative(process.cwd(), path.join(folder, `${name}.json`))}`);
  }
} finally {
  for (const stop of stops.reverse()) await stop();
  await connection.close();
  await db.destroy();
  await smtp.close();
  await database.drop();
  await temporal.stop();
  rmSync(tempDir, { recursive: true, force: true });
}

/** Posts one message to a fresh endpoint answered as the scenario says; returns its closed run's history. */
async function record(api: Api, name: string, scenario: Scenario): Promise<{ name: string; json: string; secret: string }> {
  let endpoint: Seeded | undefined;
  const receiver = await startReceiver((_request, index, res) => {
    const answer = scenario.answer(index);
    const change = index === 0 && scenario.duringFirstAttempt ? scenario.duringFirstAttempt(db, endpoint!) : Promise.resolve();
    change.then(
      () => res.writeHead(answer.status, answer.headers).end(answer.body ?? ''),
      (err: unknown) => {
        console.error(`${name}: changing the endpoint failed`, err);
        res.destroy();
      },
    );
    return 'handled';
  });
  try {
    endpoint = await seed(api, receiver.url);
    const posted = await api.post(`/apps/${endpoint.appId}/messages`, { event_type: 'user.created', version: '1.0', data: { id: 42 } });
    if (posted.status !== 202) throw new Error(`${name}: message not accepted: ${JSON.stringify(posted.body)}`);
    // Found by the endpoint's search attribute, so the script does not depend on how ids are made.
    const json = await closedRunHistory(`${name}: the delivery's run`, `WorkflowType = "deliveryWorkflow" AND EndpointId = "${endpoint.endpointId}"`);
    return { name, json, secret: endpoint.secret };
  } finally {
    await receiver.close();
  }
}

/**
 * Two messages skipped while an endpoint was inactive, then, once it is active again, two replay
 * requests (the second merged into the first's run, or served after it): the replay's closed run.
 */
async function recordReplay(api: Api, name: string): Promise<{ name: string; json: string; secret: string }> {
  const receiver = await startReceiver();
  try {
    const endpoint = await seed(api, receiver.url);
    const path = `/subscriptions/${endpoint.subscriberId}/endpoints/${endpoint.endpointId}`;
    await api.patch(path, { status: 'inactive' });
    for (const id of [1, 2]) await api.post(`/apps/${endpoint.appId}/messages`, { event_type: 'user.created', version: '1.0', data: { id } });
    await waitFor(`${name}: both deliveries to be skipped`, async () => {
      const rows = await db.selectFrom('deliveries').select('status').where('endpoint_id', '=', endpoint.endpointId).execute();
      return rows.length === 2 && rows.every((row) => row.status === 'skipped') ? true : undefined;
    }, 60_000, 250);
    await api.patch(path, { status: 'active' });
    for (let i = 0; i < 2; i++) {
      const asked = await api.post(`/apps/${endpoint.appId}/endpoints/${endpoint.endpointId}/replay`, {});
      if (asked.status !== 202) throw new Error(`${name}: replay not accepted: ${JSON.stringify(asked.body)}`);
    }
    const json = await closedRunHistory(`${name}: the replay's run`, `WorkflowType = "replayWorkflow" AND EndpointId = "${endpoint.endpointId}"`);
    return { name, json, secret: endpoint.secret };
  } finally {
    await receiver.close();
  }
}

/**
 * Three delivered messages, then a retention pass that treats them as old, in batches of two with
 * one batch per target, so the run takes both ways out of a target's loop: its closed run.
 */
async function recordRetention(api: Api, name: string): Promise<{ name: string; json: string; secret: string }> {
  const receiver = await startReceiver();
  try {
    const endpoint = await seed(api, receiver.url);
    for (const id of [1, 2, 3]) await api.post(`/apps/${endpoint.appId}/messages`, { event_type: 'user.created', version: '1.0', data: { id } });
    await waitFor(`${name}: the deliveries to succeed`, async () => {
      const rows = await db.selectFrom('deliveries').select('status').where('endpoint_id', '=', endpoint.endpointId).execute();
      return rows.length === 3 && rows.every((row) => row.status === 'succeeded') ? true : undefined;
    }, 60_000, 250);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const handle = await client.workflow.start<typeof retentionWorkflow>('retentionWorkflow', {
      taskQueue: config.temporal.taskQueue,
      workflowId: `${name}-${Date.now()}`,
      args: [{ retentionMs: 1_000, batchSize: 2, maxBatches: 1 }],
    });
    await handle.result();
    return { name, json: historyToJson(await handle.fetchHistory()), secret: endpoint.secret };
  } finally {
    await receiver.close();
  }
}

/** The history of the first run `query` finds closed, once there is one. */
async function closedRunHistory(what: string, query: string): Promise<string> {
  const run = await waitFor(`${what} to close`, async () => {
    for await (const execution of client.workflow.list({ query: `${query} AND ExecutionStatus != "Running"` })) return execution;
    return undefined;
  }, 60_000, 250);
  return historyToJson(await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory());
}
