import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createAccount } from '../db/accounts.ts';
import { createApp } from '../db/apps.ts';
import { createDb, migrateToLatest, type Db } from '../db/connection.ts';
import { createEventType } from '../db/event-types.ts';
import type { Config } from '../lib/config.ts';
import { log } from '../lib/log.ts';
import { SecretBox } from '../lib/secrets.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.ts';
import { startDevServer, type DevServer } from './temporal-dev-server.ts';
import { localEncryptionKey, onShutdown, stopInOrder, withTemporalAddress, type StopStep } from './runtime.ts';
import { startServer, type RunningServer } from './server.ts';
import { startWorker, type RunningWorker } from './worker.ts';

/**
 * Bounds of each step of Ctrl-C, so that the whole stop stays well under 30 s even if a step hangs:
 * the API first (no new messages), then the worker (deliveries in flight finish and are recorded),
 * then the database pool, and the embedded services last (each gets SIGKILL after its grace time).
 */
const STOP_MS = { server: 5_000, worker: 10_000, pool: 2_000, service: 4_000, serviceGrace: 2_000 };

/** `npm start`: the whole system on one machine, with embedded Temporal and Postgres unless configured. */
export async function startAllInOne(baseConfig: Config): Promise<void> {
  const began = performance.now();
  let config = { ...baseConfig };
  const running: { server?: RunningServer; worker?: RunningWorker; db?: Db; temporal?: DevServer; postgres?: EmbeddedPostgres } = {};
  onShutdown(() => {
    const { server, worker, db, temporal, postgres } = running;
    const steps: (StopStep | false | undefined)[] = [
      server && { name: 'API server', stop: () => server.stop(), timeoutMs: STOP_MS.server },
      worker && { name: 'worker', stop: () => worker.stop(), timeoutMs: STOP_MS.worker },
      db && { name: 'database pool', stop: () => db.destroy(), timeoutMs: STOP_MS.pool },
      temporal && { name: 'Temporal dev server', stop: () => temporal.stop(STOP_MS.serviceGrace), timeoutMs: STOP_MS.service },
      postgres && { name: 'embedded Postgres', stop: () => postgres.stop(STOP_MS.serviceGrace), timeoutMs: STOP_MS.service },
    ];
    return stopInOrder(steps.filter((step): step is StopStep => Boolean(step)));
  });

  if (process.env.ALLOW_PRIVATE_NETWORK === undefined && process.env.ALLOW_HTTP === undefined) {
    config.allowPrivateNetwork = true;
    config.allowHttp = true;
    log.warn('ALLOW_PRIVATE_NETWORK and ALLOW_HTTP are on for this local run, so http://localhost receivers work; production servers leave them off');
  }
  const encryptionKey = config.encryptionKey ?? localEncryptionKey(config.dataDir);

  // The two embedded services start side by side; each is stopped on Ctrl-C even if the other failed.
  const [temporal, postgres] = await Promise.allSettled([
    config.temporal.address
      ? undefined
      : startDevServer({ dataDir: config.dataDir, port: config.embedded.temporalPort, uiPort: config.embedded.temporalUiPort, logFile: path.join(config.dataDir, 'temporal.log') }).then((server) => (running.temporal = server)),
    config.databaseUrl ? undefined : startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embedded.postgresPort }).then((pg) => (running.postgres = pg)),
  ]);
  if (temporal.status === 'rejected') throw temporal.reason;
  if (postgres.status === 'rejected') throw postgres.reason;
  const temporalAddress = running.temporal?.address ?? config.temporal.address!;
  if (running.temporal?.uiUrl) config.temporal = { ...config.temporal, uiUrl: running.temporal.uiUrl };
  if (running.postgres) config = { ...config, databaseUrl: running.postgres.url };

  const db = createDb(config.databaseUrl!, config.databasePoolSize);
  running.db = db;
  await migrateToLatest(db);

  let demo: { email: string; password: string; apiKey: string; appId: string } | undefined;
  const anyAccount = await db.selectFrom('accounts').select('id').limit(1).executeTakeFirst();
  if (!anyAccount) {
    const password = randomBytes(9).toString('base64url');
    const account = await createAccount(db, { name: 'Demo', email: 'demo@openhooks.local', password, ownerName: 'Demo' });
    // Something to look at on the first login: an app with one event type, ready for a subscriber.
    const app = await createApp(db, account.accountId, { name: 'Demo app' });
    await createEventType(db, app.id, { name: 'user.created', description: 'A user signed up' });
    demo = { email: 'demo@openhooks.local', password, apiKey: account.apiKey, appId: app.id };
  }

  const full = withTemporalAddress(config, temporalAddress);
  const secrets = new SecretBox(encryptionKey, config.previousEncryptionKeys);
  // One process: the server's /metrics serves the worker's metrics too; its own listener only if asked for.
  const worker = await startWorker({ config: full, db, secrets, serveMetrics: config.metrics.port !== undefined });
  running.worker = worker;
  running.server = await startServer({ config: full, db, secrets });

  const dataDir = path.resolve(config.dataDir);
  const lines = [
    '',
    `openhooks is running (ready in ${((performance.now() - began) / 1000).toFixed(1)}s)`,
    `  Portal:       ${config.publicUrl}`,
    `  API:          ${config.publicUrl}/api/v1`,
    `  Temporal UI:  ${config.temporal.uiUrl}`,
    `  Postgres:     ${running.postgres ? `${running.postgres.displayUrl} (embedded; data in ${dataDir}/postgres, password in ${dataDir}/postgres.password)` : 'DATABASE_URL'}`,
    ...(demo
      ? [
          '',
          'First start: a demo account was created. Keep these, they are shown once:',
          `  Login:        ${demo.email} / ${demo.password}`,
          `  API key:      ${demo.apiKey}`,
          `  Demo app:     ${config.publicUrl}/apps/${demo.appId} (event type user.created)`,
        ]
      : []),
    '',
    'Stop with Ctrl-C.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
  worker.done.catch((err: unknown) => {
    log.error('the worker stopped', { error: err });
    process.kill(process.pid, 'SIGTERM');
  });
}
