import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../db/connection.ts';
import { IDEMPOTENCY_LOCK_SECONDS } from '../db/idempotency-keys.ts';
import { purgeExpiredIdempotencyKeys } from './support/idempotency-purge.ts';
import { waitFor } from './support/ports.ts';
import { createAccountCli, OpenhooksProcess, printLogs, scratchDir } from './support/processes.ts';
import { apiClient, createTestDatabase, startStack, testEnv, type Api, type Stack } from './support/stack.ts';

// Idempotency-Key on creating requests: the handler's writes and the stored answer are one
// transaction, so no failure or crash between them can leave a resource whose answer a retry will
// not find (and so create again); expired keys are purged, after which a key may be used afresh.

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** Makes Postgres refuse every write of an answer into idempotency_keys, as a failing store would. */
async function failAnswerStores(db: Db): Promise<() => Promise<void>> {
  await sql`create or replace function refuse_answer() returns trigger language plpgsql as $$
    begin raise exception 'the answer store failed (test trigger)'; end $$`.execute(db);
  await sql`create trigger refuse_answer before update on idempotency_keys for each row
    when (new.status_code is not null) execute function refuse_answer()`.execute(db);
  return async () => {
    await sql`drop trigger refuse_answer on idempotency_keys`.execute(db);
  };
}

describe('a failure storing the answer', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const keyRow = (key: string) => stack.db.selectFrom('idempotency_keys').selectAll().where('account_id', '=', stack.accountId).where('key', '=', key).executeTakeFirst();

  /** A creating request with a fixed parent (created here, without a key), and a count of what it creates. */
  interface Case {
    name: string;
    prepare: (label: string) => Promise<(headers: Record<string, string>) => ReturnType<Api['post']>>;
    count: (label: string) => Promise<number>;
  }
  const cases: Case[] = [
    {
      name: 'POST /apps',
      prepare: (label) => Promise.resolve((headers) => stack.api.post('/apps', { name: label }, headers)),
      count: async (label) => (await stack.db.selectFrom('apps').select('id').where('name', '=', label).execute()).length,
    },
    {
      name: 'POST /apps/:app_id/subscriptions',
      prepare: async (label) => {
        const app = await stack.api.post('/apps', { name: `app of ${label}` });
        return (headers) => stack.api.post(`/apps/${app.body.id}/subscriptions`, { name: label }, headers);
      },
      count: async (label) => (await stack.db.selectFrom('subscribers').select('id').where('name', '=', label).execute()).length,
    },
    {
      name: 'POST /subscriptions/:id/endpoints',
      prepare: async (label) => {
        const app = await stack.api.post('/apps', { name: `app of ${label}` });
        const subscriber = await stack.api.post(`/apps/${app.body.id}/subscriptions`, { name: `subscriber of ${label}` });
        return (headers) => stack.api.post(`/subscriptions/${subscriber.body.id}/endpoints`, { url: `https://example.com/${label}`, version: '1.0' }, headers);
      },
      count: async (label) => (await stack.db.selectFrom('endpoints').select('id').where('url', '=', `https://example.com/${label}`).execute()).length,
    },
  ];

  it.each(cases)('$name: leaves nothing created and frees the key; the retry creates exactly one, and a repeat replays it', async ({ prepare, count }) => {
    const label = unique('store-fails');
    const headers = { 'idempotency-key': unique('key') };
    const create = await prepare(label);
    const restore = await failAnswerStores(stack.db);
    let failed;
    try {
      failed = await create(headers);
    } finally {
      await restore();
    }
    expect(failed.status, JSON.stringify(failed.body)).toBeGreaterThanOrEqual(500);
    expect(await count(label), 'the handler wrote nothing that outlives the failed store').toBe(0);
    expect(await keyRow(headers['idempotency-key']), 'the key is free for a retry').toBeUndefined();

    const retried = await create(headers);
    expect(retried.status, JSON.stringify(retried.body)).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    const repeated = await create(headers);
    expect(repeated.status).toBe(201);
    expect(repeated.headers.get('idempotent-replayed')).toBe('true');
    expect(repeated.body.id).toBe(retried.body.id);
    expect(await count(label)).toBe(1);
  });

  it('has stored the answer by the time it is sent', async () => {
    const key = unique('key');
    const created = await stack.api.post('/apps', { name: unique('stored') }, { 'idempotency-key': key });
    expect(created.status).toBe(201);
    expect(await keyRow(key)).toMatchObject({ status_code: 201, response: created.body });
  });
});

describe('a server killed after the handler wrote, while the answer is being stored', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Db;
  let server: OpenhooksProcess;
  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDb(database.url, 2);
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await db?.destroy();
    await database?.drop();
  });

  it('leaves no app behind, and once the lock expires a retry with the same key creates exactly one', async () => {
    const env = testEnv({ DATABASE_URL: database.url });
    const { accountId, apiKey } = await createAccountCli(env);
    server = new OpenhooksProcess('server', env, scratchDir('idempotency'));
    try {
      await server.start();
      // The answer store stalls, so the process can be killed right there.
      await sql`create function stall_answer() returns trigger language plpgsql as $$ begin perform pg_sleep(120); return new; end $$`.execute(db);
      await sql`create trigger stall_answer before update on idempotency_keys for each row when (new.status_code is not null) execute function stall_answer()`.execute(db);

      const name = unique('crash');
      const key = unique('key');
      const pending = apiClient(server.url, apiKey).post('/apps', { name }, { 'idempotency-key': key }).catch((err: unknown) => err);
      const stalled = await waitFor('the answer store to stall', async () => {
        const { rows } = await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database() and wait_event = 'PgSleep'`.execute(db);
        return rows[0]?.pid;
      });
      await server.stop('SIGKILL');
      // Postgres notices a dead client only when it next talks to it: end the stalled session now, as it would.
      await sql`select pg_terminate_backend(${stalled})`.execute(db);
      expect(await pending).toBeInstanceOf(Error);
      await sql`drop trigger stall_answer on idempotency_keys`.execute(db);

      const apps = () => db.selectFrom('apps').select('id').where('name', '=', name).execute();
      expect(await apps(), 'nothing the killed request wrote survives').toEqual([]);
      const row = await db.selectFrom('idempotency_keys').selectAll().where('account_id', '=', accountId).where('key', '=', key).executeTakeFirstOrThrow();
      expect(row.status_code, 'the key is still held by the dead request').toBeNull();

      // Within the lock a retry is told to wait; once it has expired, a retry takes the key over.
      await server.start();
      const api = apiClient(server.url, apiKey);
      expect((await api.post('/apps', { name }, { 'idempotency-key': key })).status).toBe(409);
      await db.updateTable('idempotency_keys').set({ locked_at: sql<Date>`locked_at - make_interval(secs => ${IDEMPOTENCY_LOCK_SECONDS + 1})` }).where('key', '=', key).execute();
      const retried = await api.post('/apps', { name }, { 'idempotency-key': key });
      expect(retried.status, JSON.stringify(retried.body)).toBe(201);
      const repeated = await api.post('/apps', { name }, { 'idempotency-key': key });
      expect(repeated.headers.get('idempotent-replayed')).toBe('true');
      expect(repeated.body.id).toBe(retried.body.id);
      expect(await apps()).toEqual([{ id: retried.body.id }]);
    } catch (err) {
      printLogs([server]);
      throw err;
    }
  });
});

describe('purgeExpiredIdempotencyKeys', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const backdate = (hours: number) => sql<Date>`now() - make_interval(hours => ${hours})`;

  it('forgets keys older than 24 h in batches and keeps newer ones; an expired key then creates anew', async () => {
    const app = await stack.api.post('/apps', { name: unique('purge') });
    const appId = app.body.id as string;
    await stack.api.post(`/apps/${appId}/webhook_events`, { event_type: 'user.created' });
    const message = { event_type: 'user.created', version: '1.0', data: { id: 1 } };

    const oldMessage = await stack.api.post(`/apps/${appId}/messages`, message, { 'idempotency-key': 'message-old' });
    const newMessage = await stack.api.post(`/apps/${appId}/messages`, message, { 'idempotency-key': 'message-new' });
    const oldApp = await stack.api.post('/apps', { name: 'Old keyed app' }, { 'idempotency-key': 'app-old' });
    const newApp = await stack.api.post('/apps', { name: 'New keyed app' }, { 'idempotency-key': 'app-new' });
    for (const answer of [oldMessage, newMessage]) expect(answer.status).toBe(202);
    for (const answer of [oldApp, newApp]) expect(answer.status).toBe(201);
    await sql`update messages set created_at = ${backdate(25)} where id = ${oldMessage.body.id}`.execute(stack.db);
    await sql`update messages set created_at = ${backdate(23)} where id = ${newMessage.body.id}`.execute(stack.db);
    await stack.db.updateTable('idempotency_keys').set({ created_at: backdate(25) }).where('key', '=', 'app-old').execute();
    await stack.db.updateTable('idempotency_keys').set({ created_at: backdate(23) }).where('key', '=', 'app-new').execute();
    // More expired keys than one batch holds.
    await sql`insert into idempotency_keys (account_id, key, request_hash, status_code, response, created_at)
      select ${stack.accountId}, 'bulk-' || n, 'hash', 201, '{}', now() - interval '30 hours' from generate_series(1, 2500) n`.execute(stack.db);

    expect(await purgeExpiredIdempotencyKeys(stack.db)).toEqual({ keys: 2501, messages: 1 });
    const keys = await stack.db.selectFrom('idempotency_keys').select('key').where('account_id', '=', stack.accountId).where('key', 'like', 'app-%').execute();
    expect(keys.map((k) => k.key)).toEqual(['app-new']);
    const messageKeys = await stack.db.selectFrom('messages').select(['id', 'idempotency_key']).where('app_id', '=', appId).orderBy('created_at').execute();
    expect(messageKeys).toEqual([
      { id: oldMessage.body.id, idempotency_key: null },
      { id: newMessage.body.id, idempotency_key: 'message-new' },
    ]);
    expect(await purgeExpiredIdempotencyKeys(stack.db), 'nothing left to purge').toEqual({ keys: 0, messages: 0 });

    // Within 24 h the original answer; after the purge the same key creates a new message and app.
    const repeatNew = await stack.api.post(`/apps/${appId}/messages`, message, { 'idempotency-key': 'message-new' });
    expect(repeatNew.body.id).toBe(newMessage.body.id);
    const reusedMessage = await stack.api.post(`/apps/${appId}/messages`, message, { 'idempotency-key': 'message-old' });
    expect(reusedMessage.status).toBe(202);
    expect(reusedMessage.body.id).not.toBe(oldMessage.body.id);
    const reusedApp = await stack.api.post('/apps', { name: 'Old keyed app' }, { 'idempotency-key': 'app-old' });
    expect(reusedApp.status).toBe(201);
    expect(reusedApp.headers.get('idempotent-replayed')).toBeNull();
    expect(reusedApp.body.id).not.toBe(oldApp.body.id);
    const repeatApp = await stack.api.post('/apps', { name: 'New keyed app' }, { 'idempotency-key': 'app-new' });
    expect(repeatApp.headers.get('idempotent-replayed')).toBe('true');
    expect(repeatApp.body.id).toBe(newApp.body.id);
  });

  it('takes its retention as an argument', async () => {
    await stack.api.post('/apps', { name: unique('retention') }, { 'idempotency-key': 'retention-2h' });
    await stack.db.updateTable('idempotency_keys').set({ created_at: backdate(2) }).where('key', '=', 'retention-2h').execute();
    const kept = () => stack.db.selectFrom('idempotency_keys').select('key').where('key', '=', 'retention-2h').execute();
    await purgeExpiredIdempotencyKeys(stack.db, 3);
    expect(await kept()).toHaveLength(1);
    await purgeExpiredIdempotencyKeys(stack.db, 1);
    expect(await kept()).toHaveLength(0);
  });
});
