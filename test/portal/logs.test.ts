import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../db/accounts.ts';
import * as gettingStarted from '../../portal/app/routes/apps.$app_id.getting-started.tsx';
import * as logs from '../../portal/app/routes/apps.$app_id.logs.tsx';
import * as messagePage from '../../portal/app/routes/apps.$app_id.messages.$message_id.tsx';
import { createPortalContext, formRequest, outcome, pageRequest, signIn, type PortalTestContext, type SignedIn } from '../support/portal.ts';

// The logs, message and getting-started pages, called as Remix calls them: scoped to the signed-in
// account, filters read from the query string, resend through the same transaction as the API.

let portal: PortalTestContext;
let owner: SignedIn;
let stranger: SignedIn;
const appId = 'app_logs';

const load = (route: { loader: (args: any) => Promise<unknown> }, path: string, who: SignedIn | undefined, params: Record<string, string>) =>
  outcome(() => route.loader({ request: pageRequest(path, who), context: portal.context, params }));

beforeAll(async () => {
  portal = await createPortalContext();
  const { db } = portal.context;
  const mine = await createAccount(db, { name: 'Provider', email: 'owner@logs.test', password: 'correct horse battery' });
  owner = await signIn(portal.context, mine.userId);
  const other = await createAccount(db, { name: 'Other', email: 'owner@other-logs.test', password: 'correct horse battery' });
  stranger = await signIn(portal.context, other.userId);
  // Ids made here, not input: one multi-statement script without parameters.
  await sql.raw(`
    insert into apps (id, account_id, name) values ('${appId}', '${mine.accountId}', 'Shop');
    insert into event_types (id, app_id, name) values ('evt_type_1', '${appId}', 'user.created');
    insert into subscribers (id, app_id, name) values ('sub_a', '${appId}', 'Acme'), ('sub_b', '${appId}', 'Beta');
    insert into endpoints (id, app_id, subscriber_id, url, version, status, enabled_events, secret)
      values ('ep_a', '${appId}', 'sub_a', 'https://acme.test/hook', '1.0', 'active', '"*"', 'x'),
             ('ep_b', '${appId}', 'sub_b', 'https://beta.test/hook', '1.0', 'inactive', '"*"', 'x');
    insert into messages (id, app_id, event_type, version, data, event_id, override_payload, request_hash)
      values ('msg_1', '${appId}', 'user.created', '1.0', '{"id": 1}', 'order-77', false, 'h');
    insert into deliveries (id, message_id, endpoint_id, app_id, subscriber_id, status, reason, error, finished_at)
      values ('dlv_a', 'msg_1', 'ep_a', '${appId}', 'sub_a', 'failed', 'attempts_exhausted', 'endpoint answered HTTP 500', now()),
             ('dlv_b', 'msg_1', 'ep_b', '${appId}', 'sub_b', 'skipped', 'endpoint_inactive', null, now());
    insert into attempts (id, delivery_id, message_id, endpoint_id, subscriber_id, app_id, event_type, number, trigger, url, request_headers, request_body,
                          status_code, error, succeeded, will_retry, duration_ms, workflow_id, created_at)
    select 'att_' || n, 'dlv_a', 'msg_1', 'ep_a', 'sub_a', '${appId}', 'user.created', n, 'automatic', 'https://acme.test/hook',
           '{"webhook-id": "msg_1", "hostedhooks-signature": "t=1,s=ab"}', '{}', 500, 'HTTP 500', false, n < 3, 12, 'delivery:dlv_a', now() - (3 - n) * interval '1 minute'
    from generate_series(1, 3) n;`).execute(db);
});
afterAll(async () => {
  await portal?.close();
});

describe('/apps/:app_id/logs', () => {
  it('lists the attempts newest first, filtered by the query string', async () => {
    const all = await load(logs, `/apps/${appId}/logs`, owner, { app_id: appId });
    expect(all.status).toBe(200);
    expect(all.body.attempts.map((a: { id: string }) => a.id)).toEqual(['att_3', 'att_2', 'att_1']);
    expect(all.body.attempts[0]).toMatchObject({ subscriber: 'Acme', succeeded: false, statusCode: 500, messageId: 'msg_1' });

    const byEvent = await load(logs, `/apps/${appId}/logs?q=order-77&status=failed&subscriber=sub_a`, owner, { app_id: appId });
    expect(byEvent.body.attempts).toHaveLength(3);
    const none = await load(logs, `/apps/${appId}/logs?status=success`, owner, { app_id: appId });
    expect(none.body.attempts).toEqual([]);
    const otherSubscriber = await load(logs, `/apps/${appId}/logs?subscriber=sub_b`, owner, { app_id: appId });
    expect(otherSubscriber.body.attempts).toEqual([]);
  });

  it('pages with a link that keeps the filters', async () => {
    // Two per page: the loader's page size is 50, so ask through the cursor link of a 3-row log.
    const first = await load(logs, `/apps/${appId}/logs?status=failed`, owner, { app_id: appId });
    expect(first.body.next).toBeUndefined();
    const bad = await load(logs, `/apps/${appId}/logs?after=garbage`, owner, { app_id: appId });
    expect(bad.body.errors.after).toMatch(/cannot be read/);
    expect(bad.body.attempts).toHaveLength(3);
  });

  it('answers 404 to another account, for this page, the message page and getting started', async () => {
    for (const [route, path, params] of [
      [logs, `/apps/${appId}/logs`, { app_id: appId }],
      [messagePage, `/apps/${appId}/messages/msg_1`, { app_id: appId, message_id: 'msg_1' }],
      [gettingStarted, `/apps/${appId}/getting-started`, { app_id: appId }],
    ] as const) {
      expect((await load(route, path, stranger, params)).status, path).toBe(404);
      expect((await load(route, path, undefined, params)).status, `${path} signed out`).toBe(302);
    }
  });
});

describe('/apps/:app_id/messages/:message_id', () => {
  it('shows the payload, each delivery with why it ended and its attempts oldest first, and the Temporal link', async () => {
    const page = await load(messagePage, `/apps/${appId}/messages/msg_1`, owner, { app_id: appId, message_id: 'msg_1' });
    expect(page.status).toBe(200);
    expect(JSON.parse(page.body.message.payload)).toEqual({ id: 1 });
    const [a, b] = page.body.deliveries;
    expect(a).toMatchObject({ id: 'dlv_a', subscriber: 'Acme', status: 'failed', reason: 'attempts_exhausted' });
    expect(a.attempts.map((x: { number: number }) => x.number)).toEqual([1, 2, 3]);
    expect(a.attempts[0].requestHeaders).toEqual({ 'webhook-id': 'msg_1', 'hostedhooks-signature': 't=1,s=ab' });
    expect(a.workflowUrl).toBe(`${portal.context.config.temporal.uiUrl}/namespaces/default/workflows/delivery%3Adlv_a`);
    expect(b).toMatchObject({ id: 'dlv_b', status: 'skipped', reason: 'endpoint_inactive', attempts: [] });
    expect((await load(messagePage, `/apps/${appId}/messages/msg_nope`, owner, { app_id: appId, message_id: 'msg_nope' })).status).toBe(404);
  });

  it('resends a delivery as the API does, refuses an inactive endpoint, and needs the CSRF token', async () => {
    const post = (who: SignedIn, fields: Record<string, string>) =>
      outcome(() => messagePage.action({ request: formRequest(`/apps/${appId}/messages/msg_1`, who, fields), context: portal.context, params: { app_id: appId, message_id: 'msg_1' } }));

    const refused = await post(owner, { delivery_id: 'dlv_b' });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatch(/disabled/);

    expect((await post(owner, { delivery_id: 'dlv_a', csrf: 'forged' })).status).toBe(403);
    expect((await post(stranger, { delivery_id: 'dlv_a' })).status).toBe(404);
    const unchanged = await portal.context.db.selectFrom('deliveries').select(['status', 'start_trigger']).where('id', '=', 'dlv_a').executeTakeFirstOrThrow();
    expect(unchanged).toEqual({ status: 'failed', start_trigger: 'automatic' });

    const resent = await post(owner, { delivery_id: 'dlv_a' });
    expect(resent).toMatchObject({ status: 200, body: { deliveryId: 'dlv_a', error: null } });
    const row = await portal.context.db.selectFrom('deliveries').select(['status', 'reason', 'start_trigger']).where('id', '=', 'dlv_a').executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'pending', reason: null, start_trigger: 'manual' });
  });
});

describe('/apps/:app_id/getting-started', () => {
  it('shows the API code samples for this app, with the server URL and the app event type', async () => {
    const page = await load(gettingStarted, `/apps/${appId}/getting-started`, owner, { app_id: appId });
    expect(page.body.eventType).toBe('user.created');
    const curl = page.body.languages.find((l: { language: string }) => l.language === 'curl');
    expect(curl.send).toContain(`${portal.context.config.publicUrl}/api/v1/apps/${appId}/messages`);
    expect(curl.replay).toContain(`${portal.context.config.publicUrl}/api/v1/apps/${appId}/endpoints/ENDPOINT_ID/replay`);
    expect(page.body.languages.map((l: { language: string }) => l.language)).toEqual(['curl', 'node', 'python', 'ruby', 'go', 'php']);
  });
});
