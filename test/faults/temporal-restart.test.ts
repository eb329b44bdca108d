import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createDb, type Db } from '../../db/connection.ts';
import { startDevServer, stopProcess, type DevServer } from '../../cli/temporal-dev-server.ts';
import { freePort, waitFor } from '../support/ports.ts';
import { apiClient, createTestDatabase, seed, testEnv } from '../support/stack.ts';
import { createAccountCli, OpenhooksProcess, printLogs, sleep, stopAll } from '../support/processes.ts';
import { between, faultDir, ledger, postJson, startDelayedReceiver, type DelayedReceiver, type PostResult, finishedDeliveries } from './support.ts';

// This file owns its Temporal dev server (the shared one must never go away): it is stopped mid-run,
// kept down ~5 s while messages keep coming, and started again on the same port and SQLite file.
const MESSAGES = 100;
const EVERY_MS = 100;
const STOP_AT = 35;
const OUTAGE_MS = 5_000;

let dir: string;
let temporalPort: number;
let temporal: DevServer | undefined;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Db;
let apiKey: string;
let server: OpenhooksProcess;
let worker: OpenhooksProcess;
const receivers: DelayedReceiver[] = [];

const startTemporal = () => startDevServer({ dataDir: path.join(dir, 'temporal'), port: temporalPort, headless: true, logFile: path.join(dir, 'temporal.log') });

beforeAll(async () => {
  dir = faultDir('temporal-restart');
  temporalPort = await freePort();
  temporal = await startTemporal();
  database = await createTestDatabase();
  const env = testEnv({ DATABASE_URL: database.url, PORT: String(await freePort()), TEMPORAL_ADDRESS: temporal.address, DELIVERY_TIMEOUT: '5s', RATE_LIMIT: '0' });
  ({ apiKey } = await createAccountCli(env));
  server = new OpenhooksProcess('server', env, dir);
  worker = new OpenhooksProcess('worker', env, dir);
  await Promise.all([server.start(), worker.start()]);
  db = createDb(database.url, 2);
});

afterAll(async () => {
  await stopAll([server, worker]);
  if (temporal) await stopProcess(temporal.process, 'SIGTERM', 10_000);
  await Promise.allSettled(receivers.map((r) => r.close()));
  await db?.destroy();
  await database?.drop();
});

describe.each([['SIGTERM' as const], ['SIGKILL' as const]])('Temporal dev server stopped by %s for ~5 s', (signal) => {
  it('keeps answering 202 and delivers every message once it is back', async () => {
    onTestFailed(() => printLogs([server, worker]));
    const receiver = await startDelayedReceiver(between(20, 200));
    receivers.push(receiver);
    const { appId } = await seed(apiClient(server.url, apiKey), receiver.url);

    const results: { i: number; at: number; res: PostResult; duringOutage: boolean }[] = [];
    let down = false;
    let outage: Promise<void> | undefined;
    let downAt = 0;
    let upAt = 0;
    const started = Date.now();
    for (let i = 0; i < MESSAGES; i++) {
      if (i === STOP_AT) {
        // In the background, so that posting goes on while Temporal is away.
        outage = (async () => {
          await stopProcess(temporal!.process, signal, 10_000);
          down = true;
          downAt = Date.now();
          await sleep(OUTAGE_MS);
          temporal = await startTemporal();
          down = false;
          upAt = Date.now();
        })();
      }
      const wasDown = down;
      const res = await postJson(`${server.url}/api/v1/apps/${appId}/messages`, apiKey, { event_type: 'user.created', version: '1.0', data: { seq: i } });
      results.push({ i, at: Date.now(), res, duringOutage: wasDown && down });
      await sleep(EVERY_MS);
    }
    await outage;
    const postedFor = Date.now() - started;

    const refused = results.filter((r) => r.res.status !== 202);
    const during = results.filter((r) => r.duringOutage);
    const slowest = Math.max(...results.map((r) => r.res.ms));
    console.log(
      `temporal-restart (${signal}): posted ${MESSAGES} in ${postedFor} ms; Temporal down for ${upAt - downAt} ms (stop to ready), ` +
        `${during.length} POSTs answered while it was down, slowest POST ${slowest} ms`,
    );
    expect(refused.map((r) => ({ i: r.i, status: r.res.status, body: r.res.body as unknown }))).toEqual([]);
    expect(during.length).toBeGreaterThan(10);

    const ids = results.map((r) => r.res.body.id as string);
    const sent = new Set(ids);
    const deliveredAll = await waitFor(
      'every message at the receiver',
      () => (new Set(receiver.requests.map((q) => q.webhookId).filter((id) => sent.has(id))).size === MESSAGES ? Date.now() : undefined),
      120_000,
      250,
    ).catch((err: unknown) => {
      ledger({ sent: ids, received: receiver.requests, label: `${signal}, at timeout` });
      throw err;
    });
    const statuses = await finishedDeliveries(db, appId, MESSAGES);
    const failed = statuses.filter((s) => s.status === 'failed').map((s) => s.message_id);
    const result = ledger({ sent: ids, received: receiver.requests, failedRecorded: failed, label: signal });
    console.log(`temporal-restart (${signal}): all delivered ${deliveredAll - upAt} ms after Temporal was back`);

    expect(result.unexpectedIds).toEqual([]);
    expect(result.missing).toBe(0);
    expect(result.delivered + result.failedRecorded).toBe(MESSAGES);
    expect(statuses.filter((s) => s.status !== 'succeeded')).toEqual([]);
  });
});
