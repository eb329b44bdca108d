// The attempt log on a big app: seeds BENCH_LOG_ATTEMPTS (100,000) attempts into one app of a fresh
// database, then times each page the portal's logs page can ask for (the first page, every filter,
// a search, a page deep in the log) as the server would run it. Prints the median of 5 runs each.
// Usage: npm run bench:logs
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { attemptLogPage, type AttemptCursor, type AttemptFilter } from '../db/attempts.ts';
import { createDb, migrateToLatest } from '../db/connection.ts';

const N = Number(process.env.BENCH_LOG_ATTEMPTS ?? 100_000);
const RUNS = 5;
const PAGE = 50;
const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const dbName = `openhooks_bench_logs_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const url = new URL(adminUrl);
url.pathname = `/${dbName}`;
const db = createDb(url.toString(), 4);
try {
  await migrateToLatest(db);
  // 20 subscribers with one endpoint each, 5 event types, 1 message per 2 attempts, 20 % failed,
  // spread over 7 days; a second app of the same size, so app scoping is part of the cost.
  const seed = `
    insert into accounts (id, name) values ('acc_bench', 'bench');
    insert into apps (id, account_id, name) values ('app_bench', 'acc_bench', 'bench'), ('app_other', 'acc_bench', 'other');
    insert into subscribers (id, app_id, name) select 'sub_' || a || '_' || i, a, 'subscriber ' || i from generate_series(1, 20) i, (values ('app_bench'), ('app_other')) v(a);
    insert into endpoints (id, app_id, subscriber_id, url, version, status, enabled_events, secret)
      select 'ep_' || a || '_' || i, a, 'sub_' || a || '_' || i, 'https://example.test/' || i, '1.0', 'active', '"*"', 'x'
      from generate_series(1, 20) i, (values ('app_bench'), ('app_other')) v(a);
    insert into messages (id, app_id, event_type, version, data, event_id, override_payload, request_hash, created_at)
      select 'msg_' || a || '_' || m, a, 'event.' || (m % 5), '1.0', '{}', 'evt_' || m, false, 'h', now() - (m * interval '12 seconds')
      from generate_series(1, ${N / 2}) m, (values ('app_bench'), ('app_other')) v(a);
    insert into deliveries (id, message_id, endpoint_id, app_id, subscriber_id, status, created_at)
      select 'dlv_' || a || '_' || m, 'msg_' || a || '_' || m, 'ep_' || a || '_' || (m % 20 + 1), a, 'sub_' || a || '_' || (m % 20 + 1), 'succeeded', now() - (m * interval '12 seconds')
      from generate_series(1, ${N / 2}) m, (values ('app_bench'), ('app_other')) v(a);
    insert into attempts (id, delivery_id, message_id, endpoint_id, subscriber_id, app_id, event_type, number, trigger, url, request_headers, request_body,
                          status_code, error_code, error, succeeded, will_retry, duration_ms, workflow_id, created_at)
      select 'att_' || a || '_' || n, 'dlv_' || a || '_' || (n / 2 + 1), 'msg_' || a || '_' || (n / 2 + 1), 'ep_' || a || '_' || ((n / 2 + 1) % 20 + 1),
             'sub_' || a || '_' || ((n / 2 + 1) % 20 + 1), a, 'event.' || ((n / 2 + 1) % 5), n % 2 + 1, 'automatic', 'https://example.test/', '{}', '{}',
             case when n % 5 = 0 then 500 else 200 end, case when n % 5 = 0 then 'http_status' end, case when n % 5 = 0 then 'HTTP 500' end,
             n % 5 <> 0, false, 20, 'delivery:x', now() - (n * interval '6 seconds')
      from generate_series(0, ${N - 1}) n, (values ('app_bench'), ('app_other')) v(a);
    analyze;`;
  const seeded = performance.now();
  const client = await connect(url.toString());
  await client.query(seed);
  await client.end();
  console.log(`seeded ${N} attempts per app (2 apps) in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);

  const deep = await cursorAt(db, 20); // 20 pages in
  const cases: [string, AttemptFilter, AttemptCursor?][] = [
    ['first page', {}],
    ['failed only', { succeeded: false }],
    ['succeeded only', { succeeded: true }],
    ['one subscriber', { subscriberId: 'sub_app_bench_7' }],
    ['one endpoint', { endpointId: 'ep_app_bench_7' }],
    ['one event type', { eventType: 'event.3' }],
    ['last 24 h', { since: new Date(Date.now() - 86_400_000) }],
    ['a day, 3 days ago', { since: new Date(Date.now() - 4 * 86_400_000), until: new Date(Date.now() - 3 * 86_400_000) }],
    ['failed, one subscriber, one event type', { succeeded: false, subscriberId: 'sub_app_bench_7', eventType: 'event.1' }],
    ['a filter nothing matches', { subscriberId: 'sub_app_bench_7', eventType: 'event.2' }],
    ['search by message id', { search: 'msg_app_bench_4242' }],
    ['search by event id', { search: 'evt_4242' }],
    ['page 21 (keyset)', {}, deep],
  ];
  console.log(`| page of ${PAGE} | median ms (of ${RUNS}) | rows |`);
  console.log('| --- | --- | --- |');
  for (const [name, filter, cursor] of cases) {
    const times: number[] = [];
    let rows = 0;
    for (let run = 0; run < RUNS; run++) {
      const began = performance.now();
      const page = await attemptLogPage(db, 'app_bench', filter, { limit: PAGE, ...(cursor ? { cursor } : {}) });
      times.push(performance.now() - began);
      rows = page.rows.length;
    }
    times.sort((a, b) => a - b);
    console.log(`| ${name} | ${times[Math.floor(RUNS / 2)]!.toFixed(1)} | ${rows} |`);
  }
} finally {
  await db.destroy();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}

async function connect(connectionString: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  return client;
}

async function cursorAt(database: typeof db, pages: number): Promise<AttemptCursor | undefined> {
  let cursor: AttemptCursor | undefined;
  for (let i = 0; i < pages; i++) cursor = (await attemptLogPage(database, 'app_bench', {}, { limit: PAGE, ...(cursor ? { cursor } : {}) })).next;
  return cursor;
}
