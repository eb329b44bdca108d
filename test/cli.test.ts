import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../db/connection.ts';
import { migrations } from '../db/migrations/index.ts';
import { newEncryptionKey, SecretBox, verifyApiKey } from '../lib/secrets.ts';
import { createTestDatabase } from './support/stack.ts';

const run = promisify(execFile);
const bin = new URL('../bin/openhooks.js', import.meta.url).pathname;

function openhooks(args: string[], env: Record<string, string>) {
  return run(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH, NODE_ENV: 'production', ...env }, timeout: 60_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

describe('openhooks command', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('migrates, then creates an account and prints its API key as JSON', async () => {
    const env = { DATABASE_URL: database.url };
    const migrated = await openhooks(['migrate'], env);
    expect(migrated).toMatchObject({ code: 0, stdout: `applied: ${Object.keys(migrations).join(', ')}\n` });
    expect((await openhooks(['migrate'], env)).stdout).toBe('the schema is up to date\n');

    const created = await openhooks(['account', 'create', '--name', 'Acme', '--email', 'Owner@Acme.test', '--password', 'long enough'], env);
    expect(created.code).toBe(0);
    const printed = JSON.parse(created.stdout) as { account_id: string; api_key: string };
    expect(printed.account_id).toMatch(/^acc_/);
    expect(printed.api_key).toMatch(/^ohk_[0-9a-f]{12}_/);

    const db = createDb(database.url, 1);
    try {
      const user = await db.selectFrom('users').select(['email', 'role', 'password_hash']).where('account_id', '=', printed.account_id).executeTakeFirstOrThrow();
      expect(user).toMatchObject({ email: 'owner@acme.test', role: 'owner' });
      expect(user.password_hash).not.toContain('long enough');
      const key = await db.selectFrom('api_keys').select('key_hash').where('account_id', '=', printed.account_id).executeTakeFirstOrThrow();
      expect(key.key_hash).not.toContain(printed.api_key.slice(17));
      expect(verifyApiKey(printed.api_key, key.key_hash)).toBe(true);
      expect(verifyApiKey(`${printed.api_key.slice(0, -1)}x`, key.key_hash)).toBe(false);
    } finally {
      await db.destroy();
    }
  });

  it('refuses bad input with a clear message and writes nothing', async () => {
    const db = createDb(database.url, 1);
    const count = () => db.selectFrom('accounts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    try {
      const before = await count();
      const missing = await openhooks(['account', 'create', '--name', 'X'], { DATABASE_URL: database.url });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('openhooks account create --name N --email E --password P');
      const short = await openhooks(['account', 'create', '--name', 'X', '--email', 'x@x.test', '--password', 'short'], { DATABASE_URL: database.url });
      expect(short.code).toBe(1);
      expect(short.stderr).toContain('at least 8 characters');
      expect(await count()).toEqual(before);
    } finally {
      await db.destroy();
    }
  });

  it('re-encrypts stored secrets with a rotated ENCRYPTION_KEY, once', async () => {
    const oldKey = newEncryptionKey();
    const newKey = newEncryptionKey();
    const db = createDb(database.url, 1);
    try {
      const account = await db.selectFrom('accounts').select('id').executeTakeFirstOrThrow();
      await db.insertInto('apps').values({ id: 'app_reencrypt', account_id: account.id, name: 'A' }).execute();
      await db.insertInto('subscribers').values({ id: 'sub_reencrypt', app_id: 'app_reencrypt', name: 'S' }).execute();
      await db
        .insertInto('endpoints')
        .values({ id: 'ep_reencrypt', app_id: 'app_reencrypt', subscriber_id: 'sub_reencrypt', url: 'https://example.test/', version: '1', status: 'active', enabled_events: '"*"', secret: new SecretBox(oldKey).encrypt('whsec_current'), previous_secret: new SecretBox(oldKey).encrypt('whsec_before') })
        .execute();
      const env = { DATABASE_URL: database.url, ENCRYPTION_KEY: newKey, ENCRYPTION_KEYS_PREVIOUS: oldKey };
      expect(JSON.parse((await openhooks(['secrets', 'reencrypt'], env)).stdout)).toEqual({ reencrypted_endpoints: 1 });
      expect(JSON.parse((await openhooks(['secrets', 'reencrypt'], env)).stdout)).toEqual({ reencrypted_endpoints: 0 });
      const row = await db.selectFrom('endpoints').select(['secret', 'previous_secret']).where('id', '=', 'ep_reencrypt').executeTakeFirstOrThrow();
      const onlyNew = new SecretBox(newKey);
      expect(onlyNew.decrypt(row.secret)).toBe('whsec_current');
      expect(onlyNew.decrypt(row.previous_secret!)).toBe('whsec_before');
    } finally {
      await db.destroy();
    }
  });

  it('reports every bad setting at once', async () => {
    const result = await openhooks(['worker'], { DATABASE_URL: 'mysql://x', RETRY_BACKOFF_COEFFICIENT: 'fast', DELIVERY_TIMEOUT: 'soon' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('DATABASE_URL must be a URL starting with postgres:// or postgresql://');
    expect(result.stderr).toContain('RETRY_BACKOFF_COEFFICIENT=fast must be a number');
    expect(result.stderr).toContain('DELIVERY_TIMEOUT=soon must be a duration');
  });

  it('names a missing required setting', async () => {
    const result = await openhooks(['server'], { DATABASE_URL: database.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ENCRYPTION_KEY is required');
  });
});
