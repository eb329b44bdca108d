import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { expect, inject, it } from 'vitest';
import { withTemporalAddress } from '../cli/runtime.ts';
import { startServer } from '../cli/server.ts';
import { startWorker } from '../cli/worker.ts';
import { createAccount } from '../db/accounts.ts';
import { createDb, migrateToLatest } from '../db/connection.ts';
import { startEmbeddedPostgres } from '../db/embedded.ts';
import { migrations } from '../db/migrations/index.ts';
import { loadConfig } from '../lib/config.ts';
import { SecretBox } from '../lib/secrets.ts';
import { waitFor } from './support/ports.ts';
import { startReceiver } from './support/receiver.ts';
import { apiClient, seed, testEnv } from './support/stack.ts';
import { verifyStandardWebhooks } from './support/verify.ts';

// The embedded default of `npm start`: PGlite over the wire protocol, driven by the same pg code.
it('migrates PGlite and runs one delivery through it', async () => {
  const dataDir = mkdtempSync(path.join(inject('tempDir'), 'pglite-'));
  const embedded = await startEmbeddedPostgres(dataDir);
  const env = testEnv({ DATABASE_URL: embedded.url, DATA_DIR: dataDir });
  const config = withTemporalAddress(loadConfig(env), env.TEMPORAL_ADDRESS!);
  const db = createDb(embedded.url, 4);
  const receiver = await startReceiver();
  try {
    expect(await migrateToLatest(db)).toEqual(Object.keys(migrations));
    expect(await migrateToLatest(db)).toEqual([]);
    const account = await createAccount(db, { name: 'Embedded', email: 'owner@embedded.test', password: 'password123' });
    const secrets = new SecretBox(config.encryptionKey!);
    const worker = await startWorker({ config, db, secrets, workflowBundle: { codePath: inject('workflowBundlePath') } });
    const server = await startServer({ config, db, secrets, portal: false });
    try {
      const api = apiClient(server.url, account.apiKey);
      const { appId, secret } = await seed(api, receiver.url);
      const posted = await api.post(`/apps/${appId}/messages`, { event_type: 'user.created', version: '1.0', data: { via: 'pglite' } });
      expect(posted.status).toBe(202);
      const request = await waitFor('the delivery', () => receiver.requests[0]);
      expect(verifyStandardWebhooks(secret, request.body, request.headers)).toMatchObject({ id: posted.body.id, data: { via: 'pglite' } });
      const attempts = await waitFor('the attempt record', async () => {
        const list = await api.get(`/apps/${appId}/webhook_attempts`);
        return list.body.length === 1 ? list.body : undefined;
      });
      expect(attempts[0]).toMatchObject({ status_code: '200', status_message: 'success', message_id: posted.body.id });
    } finally {
      await server.stop();
      await worker.stop();
    }
  } finally {
    await receiver.close();
    await db.destroy();
    await embedded.stop();
  }
});
