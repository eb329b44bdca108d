import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { startServer } from '../../cli/server.ts';
import { startWorker } from '../../cli/worker.ts';
import { withTemporalAddress } from '../../cli/runtime.ts';
import { createAccount } from '../../db/accounts.ts';
import { createDb, migrateToLatest, type Db } from '../../db/connection.ts';
import { loadConfig } from '../../lib/config.ts';
import { newEncryptionKey, SecretBox } from '../../lib/secrets.ts';
import { portalBuildExists } from '../../portal/mount.ts';
import { freePort } from './ports.ts';
import { startSmtp } from './smtp.ts';

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh, migrated database of its own on the test Postgres; dropped by the returned function. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `openhooks_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** Environment a test stack runs with: short retry intervals, loopback receivers allowed. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `test-${randomBytes(6).toString('hex')}`,
    ENCRYPTION_KEY: newEncryptionKey(),
    // The Temporal server schedules activity retries no sooner than 1s apart, whatever the policy says.
    RETRY_INITIAL_INTERVAL: '1s',
    RETRY_BACKOFF_COEFFICIENT: '1.5',
    DELIVERY_TIMEOUT: '2s',
    ALLOW_PRIVATE_NETWORK: 'true',
    ALLOW_HTTP: 'true',
    RECONCILE_INTERVAL: '1s',
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_URL: 'http://openhooks.test',
    DATA_DIR: mkdtempSync(path.join(inject('tempDir'), 'data-')),
    LOG_LEVEL: 'error',
    // A worker's /metrics listener on a port of its own: never the fixed default, which parallel tests share.
    METRICS_PORT: '0',
    ...overrides,
  };
}

export type Api = ReturnType<typeof apiClient>;

export function apiClient(baseUrl: string, apiKey: string) {
  const call = async (method: string, route: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${baseUrl}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: response.status, headers: response.headers, body: json };
  };
  return {
    get: (route: string) => call('GET', route),
    post: (route: string, body?: unknown, headers?: Record<string, string>) => call('POST', route, body, headers),
    patch: (route: string, body?: unknown) => call('PATCH', route, body),
    raw: call,
  };
}

export interface Stack {
  db: Db;
  api: Api;
  apiKey: string;
  accountId: string;
  ownerEmail: string;
  smtp: Awaited<ReturnType<typeof startSmtp>>;
  serverUrl: string;
  env: Record<string, string>;
  stopWorker(): Promise<void>;
  startWorker(): Promise<void>;
  close(): Promise<void>;
}

/** What a stack serves besides the API. */
export interface StackOptions {
  /** The portal from portal/build (built by the global setup), on a port known before start so PUBLIC_URL and emailed links point at it. */
  portal?: boolean;
}

/** The real worker and API server in this process, against a database and SMTP server of their own. */
export async function startStack(overrides: Record<string, string> = {}, options: StackOptions = {}): Promise<Stack> {
  const portal = options.portal ?? false;
  if (portal) {
    const buildError = inject('portalBuildError');
    if (buildError) throw new Error(buildError);
    if (!portalBuildExists()) throw new Error('the portal is not built: run `npm run build`');
  }
  const portalUrl = portal ? await freePort().then((port) => ({ PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` })) : {};
  const database = await createTestDatabase();
  const smtp = await startSmtp();
  const env = testEnv({ DATABASE_URL: database.url, SMTP_URL: smtp.url, ...portalUrl, ...overrides });
  const config = withTemporalAddress(loadConfig(env), env.TEMPORAL_ADDRESS!);
  const db = createDb(database.url, 5);
  await migrateToLatest(db);
  const ownerEmail = 'owner@provider.test';
  const account = await createAccount(db, { name: 'Provider', email: ownerEmail, password: 'correct horse battery' });
  const secrets = new SecretBox(config.encryptionKey!);
  const workflowBundle = { codePath: inject('workflowBundlePath') };
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined = await startWorker({ config, db, secrets, workflowBundle });
  const server = await startServer({ config, db, secrets, portal });
  return {
    db,
    api: apiClient(server.url, account.apiKey),
    apiKey: account.apiKey,
    accountId: account.accountId,
    ownerEmail,
    smtp,
    serverUrl: server.url,
    env,
    async stopWorker() {
      await worker?.stop();
      worker = undefined;
    },
    async startWorker() {
      worker ??= await startWorker({ config, db, secrets, workflowBundle });
    },
    async close() {
      await server.stop();
      await worker?.stop();
      await db.destroy();
      await smtp.close();
      await database.drop();
    },
  };
}

export interface Seeded {
  appId: string;
  subscriberId: string;
  endpointId: string;
  secret: string;
}

/** An app with `user.created`, a subscriber with a contact email, and one endpoint at `url`. */
export async function seed(api: Api, url: string, endpoint: Record<string, unknown> = {}): Promise<Seeded> {
  const app = await api.post('/apps', { name: 'Shop' });
  const appId = app.body.id as string;
  await api.post(`/apps/${appId}/webhook_events`, { event_type: 'user.created' });
  await api.post(`/apps/${appId}/webhook_events`, { event_type: 'order.shipped' });
  const subscriber = await api.post(`/apps/${appId}/subscriptions`, { name: 'Acme', email: 'ops@acme.test' });
  const created = await api.post(`/subscriptions/${subscriber.body.id}/endpoints`, { url, version: '1.0', ...endpoint });
  if (created.status !== 201) throw new Error(`endpoint not created: ${JSON.stringify(created.body)}`);
  return { appId, subscriberId: subscriber.body.id as string, endpointId: created.body.id as string, secret: created.body.secret as string };
}
