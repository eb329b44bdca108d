import { randomBytes } from 'node:crypto';
import { createAccount } from '../db/accounts.ts';
import { createDb, migrateToLatest } from '../db/connection.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../db/embedded.ts';
import type { Config } from '../lib/config.ts';
import { log } from '../lib/log.ts';
import { SecretBox } from '../lib/secrets.ts';
import { startDevServer, type DevServer } from '../lib/temporal-dev-server.ts';
import { localEncryptionKey, onShutdown, withTemporalAddress } from './runtime.ts';
import { startServer } from './server.ts';
import { startWorker } from './worker.ts';

const DEV_TEMPORAL_PORT = 7233;
const DEV_TEMPORAL_UI_PORT = 8233;

/** `npm start`: the whole system on one machine, with embedded Temporal and Postgres unless configured. */
export async function startAllInOne(baseConfig: Config): Promise<void> {
  const began = performance.now();
  let config = { ...baseConfig };
  const stops: (() => Promise<void>)[] = [];
  onShutdown(async () => {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => log.warn('stop failed', { error: err }));
  });

  if (process.env.ALLOW_PRIVATE_NETWORK === undefined && process.env.ALLOW_HTTP === undefined) {
    config.allowPrivateNetwork = true;
    config.allowHttp = true;
    log.warn('ALLOW_PRIVATE_NETWORK and ALLOW_HTTP are on for this local run, so http://localhost receivers work; production servers leave them off');
  }
  const encryptionKey = config.encryptionKey ?? localEncryptionKey(config.dataDir);

  let temporalAddress = config.temporal.address;
  let devServer: DevServer | undefined;
  if (!temporalAddress) {
    log.info('starting the Temporal dev server', { dataDir: config.dataDir });
    const server = await startDevServer({ dataDir: config.dataDir, port: DEV_TEMPORAL_PORT, uiPort: DEV_TEMPORAL_UI_PORT, logFile: `${config.dataDir}/temporal.log` });
    stops.push(() => server.stop());
    devServer = server;
    temporalAddress = devServer.address;
    config.temporal = { ...config.temporal, uiUrl: devServer.uiUrl ?? config.temporal.uiUrl };
  }

  let embedded: EmbeddedPostgres | undefined;
  if (!config.databaseUrl) {
    const pglite = await startEmbeddedPostgres(config.dataDir);
    stops.push(() => pglite.stop());
    embedded = pglite;
    // One PGlite engine serves every connection in turn; a few connections are plenty.
    config = { ...config, databaseUrl: embedded.url, databasePoolSize: Math.min(config.databasePoolSize, 4) };
  }
  const db = createDb(config.databaseUrl!, config.databasePoolSize);
  stops.push(() => db.destroy());
  await migrateToLatest(db);

  let demo: { email: string; password: string; apiKey: string } | undefined;
  const anyAccount = await db.selectFrom('accounts').select('id').limit(1).executeTakeFirst();
  if (!anyAccount) {
    const password = randomBytes(9).toString('base64url');
    const account = await createAccount(db, { name: 'Demo', email: 'demo@openhooks.local', password });
    demo = { email: 'demo@openhooks.local', password, apiKey: account.apiKey };
  }

  const full = withTemporalAddress(config, temporalAddress);
  const secrets = new SecretBox(encryptionKey, config.previousEncryptionKeys);
  const worker = await startWorker({ config: full, db, secrets });
  stops.push(() => worker.stop());
  const server = await startServer({ config: full, db, secrets });
  stops.push(() => server.stop());

  const lines = [
    '',
    `openhooks is running (ready in ${((performance.now() - began) / 1000).toFixed(1)}s)`,
    `  Portal:       ${config.publicUrl}`,
    `  API:          ${config.publicUrl}/api/v1`,
    `  Temporal UI:  ${config.temporal.uiUrl}`,
    `  Postgres:     ${embedded ? `${embedded.url} (embedded PGlite, data in ${config.dataDir}/pglite)` : 'DATABASE_URL'}`,
    ...(demo
      ? ['', 'First start: a demo account was created. Keep these, they are shown once:', `  Login:        ${demo.email} / ${demo.password}`, `  API key:      ${demo.apiKey}`]
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
