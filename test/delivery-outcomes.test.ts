import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb, migrateToLatest, type Db } from '../db/connection.ts';
import { deliveryOutcomes } from '../db/deliveries.ts';
import { createTestDatabase } from './support/stack.ts';

// The portal's charts: deliveries that ended, per hour or day, succeeded vs failed, without gaps.

let db: Db;
let drop: () => Promise<void>;
beforeAll(async () => {
  const database = await createTestDatabase();
  drop = () => database.drop();
  db = createDb(database.url, 2);
  await migrateToLatest(db);
  await sql`
    insert into accounts (id, name) values ('acc_1', 'a');
    insert into apps (id, account_id, name) values ('app_1', 'acc_1', 'a'), ('app_2', 'acc_1', 'b');
    insert into subscribers (id, app_id, name) values ('sub_1', 'app_1', 's');
    insert into messages (id, app_id, event_type, version, data, override_payload, request_hash) values ('msg_1', 'app_1', 'e', '1.0', '{}', false, 'h');
    insert into deliveries (id, message_id, endpoint_id, app_id, subscriber_id, status, finished_at)
    select 'dlv_' || n, 'msg_1', 'ep_' || n, case when n <= 9 then 'app_1' else 'app_2' end, 'sub_1',
           case when n % 3 = 0 then 'failed' when n = 8 then 'pending' else 'succeeded' end,
           case when n = 8 then null else date_trunc('hour', now()) - ((n % 2) * interval '1 hour') + interval '1 minute' end
    from generate_series(1, 12) n;
    insert into deliveries (id, message_id, endpoint_id, app_id, subscriber_id, status, finished_at)
    values ('dlv_old', 'msg_1', 'ep_old', 'app_1', 'sub_1', 'succeeded', now() - interval '3 days');`.execute(db);
});
afterAll(async () => {
  await db?.destroy();
  await drop?.();
});

it('counts per hour over 24 h, every hour present, oldest first, for the apps asked for', async () => {
  const buckets = await deliveryOutcomes(db, ['app_1'], new Date(Date.now() - 24 * 3_600_000), 'hour');
  expect(buckets.length).toBeGreaterThanOrEqual(24);
  expect(buckets.map((b) => b.start.getTime())).toEqual([...buckets.map((b) => b.start.getTime())].sort((a, b) => a - b));
  const [previous, current] = buckets.slice(-2);
  // app_1: n = 1..9 without 8 (pending); even n end this hour, odd n the hour before; n % 3 = 0 failed.
  expect(current).toMatchObject({ succeeded: 2, failed: 1 }); // 2, 4 | 6
  expect(previous).toMatchObject({ succeeded: 3, failed: 2 }); // 1, 5, 7 | 3, 9
  expect(buckets.slice(0, -2).every((b) => b.succeeded === 0 && b.failed === 0)).toBe(true);
});

it('counts per day over 7 days, and several apps together', async () => {
  const days = await deliveryOutcomes(db, ['app_1', 'app_2'], new Date(Date.now() - 7 * 86_400_000), 'day');
  expect(days.reduce((sum, d) => sum + d.succeeded + d.failed, 0)).toBe(12);
  expect(await deliveryOutcomes(db, [], new Date(Date.now() - 86_400_000), 'hour')).toSatisfy((b: { succeeded: number; failed: number }[]) => b.every((x) => x.succeeded + x.failed === 0));
});
