import { afterAll, beforeAll, expect, it } from 'vitest';
import { withTemporalAddress } from '../cli/runtime.ts';
import { startServer, type RunningServer } from '../cli/server.ts';
import { createDb, type Db } from '../db/connection.ts';
import { loadConfig } from '../lib/config.ts';
import { SecretBox } from '../lib/secrets.ts';
import { freePort } from './support/ports.ts';
import { apiClient, testEnv } from './support/stack.ts';

// An API server whose Postgres and Temporal are both unreachable: it must say so, not hang or 500.
let server: RunningServer;
let db: Db;
beforeAll(async () => {
  const env = testEnv({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/none`, TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` });
  const config = withTemporalAddress(loadConfig(env), env.TEMPORAL_ADDRESS!);
  db = createDb(config.databaseUrl!, 2);
  server = await startServer({ config, db, secrets: new SecretBox(config.encryptionKey!), portal: false });
});
afterAll(async () => {
  await server?.stop();
  await db?.destroy();
});

it('answers 503 with a clear code while Postgres is down, and reports it in /ready', async () => {
  const api = apiClient(server.url, `ohk_${'a'.repeat(12)}_${'b'.repeat(32)}`);
  const list = await api.get('/apps');
  expect(list.status).toBe(503);
  expect(list.body).toEqual({ error: 'the database is unavailable; try again shortly', code: 'database_unavailable' });

  expect((await api.get('/health')).status).toBe(200);
  const ready = await api.get('/ready');
  expect(ready.status).toBe(503);
  expect(ready.body).toEqual({ status: 'unavailable', postgres: 'unavailable', temporal: 'unavailable' });
});
