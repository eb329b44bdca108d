import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attemptLogPage, type AttemptCursor, type AttemptFilter } from '../db/attempts.ts';
import { createDb, migrateToLatest, type Db } from '../db/connection.ts';
import { createTestDatabase } from './support/stack.ts';

// The portal's attempt log reads keyset pages: every attempt exactly once, newest first, even when
// many share a millisecond (Postgres keeps microseconds) or a timestamp, and while new ones arrive.

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
    insert into subscribers (id, app_id, name) values ('sub_1', 'app_1', 's'), ('sub_2', 'app_2', 's');
    insert into endpoints (id, app_id, subscriber_id, url, version, status, enabled_events, secret)
      values ('ep_1', 'app_1', 'sub_1', 'https://x.test', '1.0', 'active', '"*"', 'x'), ('ep_2', 'app_2', 'sub_2', 'https://x.test', '1.0', 'active', '"*"', 'x');
    insert into messages (id, app_id, event_type, version, data, event_id, override_payload, request_hash)
      values ('msg_a', 'app_1', 'user.created', '1.0', '{}', 'evt_a', false, 'h'), ('msg_b', 'app_2', 'user.created', '1.0', '{}', 'evt_a', false, 'h');
    insert into deliveries (id, message_id, endpoint_id, app_id, subscriber_id, status)
      values ('dlv_a', 'msg_a', 'ep_1', 'app_1', 'sub_1', 'succeeded'), ('dlv_b', 'msg_b', 'ep_2', 'app_2', 'sub_2', 'succeeded');`.execute(db);
  // 130 attempts in 13 distinct microseconds of one millisecond, 10 sharing each timestamp; and one of another app.
  await sql`
    insert into attempts (id, delivery_id, message_id, endpoint_id, subscriber_id, app_id, event_type, number, trigger, url, request_headers, request_body,
                          status_code, succeeded, will_retry, duration_ms, workflow_id, created_at)
    select 'att_' || lpad(n::text, 3, '0'), 'dlv_a', 'msg_a', 'ep_1', 'sub_1', 'app_1', 'user.created', 1, 'automatic', 'https://x.test', '{}', '{}',
           200, n % 3 <> 0, false, 1, 'delivery:dlv_a', timestamptz '2026-12-01 10:00:00.123' + (n / 10) * interval '1 microsecond'
    from generate_series(1, 130) n;
    insert into attempts (id, delivery_id, message_id, endpoint_id, subscriber_id, app_id, event_type, number, trigger, url, request_headers, request_body,
                          status_code, succeeded, will_retry, duration_ms, workflow_id)
    values ('att_other', 'dlv_b', 'msg_b', 'ep_2', 'sub_2', 'app_2', 'user.created', 1, 'automatic', 'https://x.test', '{}', '{}', 200, true, false, 1, 'delivery:dlv_b');`.execute(db);
});
afterAll(async () => {
  await db?.destroy();
  await drop?.();
});

async function readAll(filter: AttemptFilter, limit: number, between?: () => Promise<void>): Promise<string[]> {
  const ids: string[] = [];
  let cursor: AttemptCursor | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const page = await attemptLogPage(db, 'app_1', filter, { limit, ...(cursor ? { cursor } : {}) });
    ids.push(...page.rows.map((r) => r.id));
    if (!page.next) return ids;
    cursor = page.next;
    await between?.();
  }
  throw new Error('more than 100 pages');
}

const expectedOrder = (n: number[]) => n.sort((a, b) => Math.floor(b / 10) - Math.floor(a / 10) || b - a).map((i) => `att_${String(i).padStart(3, '0')}`);
const all = Array.from({ length: 130 }, (_, i) => i + 1);

describe('attemptLogPage', () => {
  it('reads every attempt of the app once, newest first, ties broken by id, across microseconds of one millisecond', async () => {
    expect(await readAll({}, 50)).toEqual(expectedOrder([...all]));
  });

  it('stays stable while newer attempts arrive between pages', async () => {
    let added = 0;
    const ids = await readAll({}, 40, async () => {
      added++;
      await sql`
        insert into attempts (id, delivery_id, message_id, endpoint_id, subscriber_id, app_id, event_type, number, trigger, url, request_headers, request_body,
                              status_code, succeeded, will_retry, duration_ms, workflow_id)
        values (${`att_new_${added}`}, 'dlv_a', 'msg_a', 'ep_1', 'sub_1', 'app_1', 'user.created', 1, 'automatic', 'https://x.test', '{}', '{}', 200, true, false, 1, 'delivery:dlv_a')`.execute(db);
    });
    expect(added).toBe(3);
    expect(ids).toEqual(expectedOrder([...all]));
    await db.deleteFrom('attempts').where('id', 'like', 'att_new_%').execute();
  });

  it('filters, and finds a message by its id or by its event id within the app only', async () => {
    expect(await readAll({ succeeded: false }, 7)).toEqual(expectedOrder(all.filter((n) => n % 3 === 0)));
    expect(await readAll({ search: 'evt_a' }, 200)).toHaveLength(130);
    expect(await readAll({ search: 'msg_a' }, 200)).toHaveLength(130);
    expect(await readAll({ search: 'msg_b' }, 200)).toEqual([]);
    expect(await readAll({ search: 'nothing' }, 200)).toEqual([]);
  });
});
