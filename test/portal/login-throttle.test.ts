import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb, migrateToLatest, type Db } from '../../db/connection.ts';
import { LoginThrottle } from '../../portal/app/login-throttle.server.ts';
import { createTestDatabase } from '../support/stack.ts';

// Two pools on one database stand for two server processes: the throttle is whatever Postgres holds.
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let serverA: Db;
let serverB: Db;

beforeAll(async () => {
  database = await createTestDatabase();
  serverA = createDb(database.url, 2);
  serverB = createDb(database.url, 2);
  await migrateToLatest(serverA);
});

afterAll(async () => {
  await serverA?.destroy();
  await serverB?.destroy();
  await database?.drop();
});

it('failures counted by one server block the same email and address on another, until a success clears the email', async () => {
  const a = new LoginThrottle(serverA);
  const b = new LoginThrottle(serverB);
  const keys = ['email:victim@provider.test', 'ip:203.0.113.7'];
  for (let i = 0; i < 9; i++) await a.recordFailure(keys);
  expect(await b.blocked(keys)).toBe(false);
  await a.recordFailure(keys);
  expect(await b.blocked(['email:victim@provider.test'])).toBe(true);
  expect(await b.blocked(['email:bystander@provider.test', 'ip:203.0.113.7'])).toBe(true);
  expect(await b.blocked(['email:bystander@provider.test', 'ip:198.51.100.1'])).toBe(false);

  await b.clear('email:victim@provider.test');
  expect(await a.blocked(['email:victim@provider.test'])).toBe(false);
  expect(await a.blocked(['ip:203.0.113.7'])).toBe(true);
});

it('failures older than the window no longer count, and the next failure deletes them', async () => {
  const throttle = new LoginThrottle(serverA);
  const keys = ['email:old@provider.test'];
  for (let i = 0; i < 10; i++) await throttle.recordFailure(keys);
  expect(await throttle.blocked(keys)).toBe(true);
  await sql`update login_failures set failed_at = now() - interval '16 minutes' where key = ${keys[0]}`.execute(serverA);
  expect(await throttle.blocked(keys)).toBe(false);

  await throttle.recordFailure(['email:other@provider.test']);
  const left = await serverA.selectFrom('login_failures').select('key').where('failed_at', '<', sql<Date>`now() - interval '15 minutes'`).execute();
  expect(left).toEqual([]);
});
