import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../db/accounts.ts';
import * as messagePage from '../../portal/app/routes/apps.$app_id.messages.$message_id.tsx';
import * as subscriberMessagePage from '../../portal/app/routes/portal.messages.$message_id.tsx';
import { createPortalContext, formRequest, outcome, pageRequest, signIn, signInSubscriber, type PortalTestContext, type SignedIn } from '../support/portal.ts';

// Both portals' message pages once the retention policy removed a message's payload: they say so
// instead of showing an empty payload, and the provider's resend refuses and changes nothing.

let portal: PortalTestContext;
let owner: SignedIn;
let subscriber: SignedIn;
const appId = 'app_retention';

beforeAll(async () => {
  portal = await createPortalContext();
  const { db } = portal.context;
  const mine = await createAccount(db, { name: 'Provider', email: 'owner@retention.test', password: 'correct horse battery' });
  owner = await signIn(portal.context, mine.userId);
  // Ids made here, not input: one multi-statement script without parameters.
  await sql.raw(`
    insert into apps (id, account_id, name) values ('${appId}', '${mine.accountId}', 'Shop');
    insert into subscribers (id, app_id, name) values ('sub_r', '${appId}', 'Acme');
    insert into endpoints (id, app_id, subscriber_id, url, version, status, enabled_events, secret)
      values ('ep_r', '${appId}', 'sub_r', 'https://acme.test/hook', '1.0', 'active', '"*"', 'x');
    insert into messages (id, app_id, event_type, version, data, override_payload, request_hash, payload_purged_at, created_at)
      values ('msg_purged', '${appId}', 'user.created', '1.0', 'null', false, 'h', now(), now() - interval '31 days');
    insert into deliveries (id, message_id, endpoint_id, app_id, subscriber_id, status, reason, error, finished_at)
      values ('dlv_purged', 'msg_purged', 'ep_r', '${appId}', 'sub_r', 'failed', 'attempts_exhausted', 'endpoint answered HTTP 500', now() - interval '31 days');
    insert into attempts (id, delivery_id, message_id, endpoint_id, subscriber_id, app_id, event_type, number, trigger, url, request_headers, request_body,
                          status_code, error, succeeded, will_retry, duration_ms, workflow_id, payload_purged_at, created_at)
      values ('att_purged', 'dlv_purged', 'msg_purged', 'ep_r', 'sub_r', '${appId}', 'user.created', 1, 'automatic', 'https://acme.test/hook',
              '{"webhook-id": "msg_purged"}', '', 500, 'HTTP 500', false, false, 12, 'delivery:dlv_purged', now(), now() - interval '31 days');`).execute(db);
  subscriber = await signInSubscriber(portal.context, 'sub_r');
});
afterAll(async () => {
  await portal?.close();
});

describe('a message whose payload the retention policy removed', () => {
  it('shows when the payload and the attempt bodies were removed, with the deliveries and attempts still there', async () => {
    for (const [route, path, who] of [
      [messagePage, `/apps/${appId}/messages/msg_purged`, owner],
      [subscriberMessagePage, '/portal/messages/msg_purged', subscriber],
    ] as const) {
      const page = await outcome(() => route.loader({ request: pageRequest(path, who), context: portal.context, params: { app_id: appId, message_id: 'msg_purged' } }));
      expect(page.status, path).toBe(200);
      expect(page.body.message).toMatchObject({ payload: null, payloadPurgedAt: expect.any(String) });
      expect(page.body.deliveries).toEqual([
        expect.objectContaining({ id: 'dlv_purged', status: 'failed', attempts: [expect.objectContaining({ statusCode: 500, bodiesPurgedAt: expect.any(String) })] }),
      ]);
    }
  });

  it('cannot be resent from the provider portal, and nothing changes', async () => {
    const { db } = portal.context;
    const before = await db.selectFrom('deliveries').selectAll().where('id', '=', 'dlv_purged').executeTakeFirstOrThrow();
    const refused = await outcome(() =>
      messagePage.action({ request: formRequest(`/apps/${appId}/messages/msg_purged`, owner, { delivery_id: 'dlv_purged' }), context: portal.context, params: { app_id: appId, message_id: 'msg_purged' } }),
    );
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatch(/retention policy/);
    expect(await db.selectFrom('deliveries').selectAll().where('id', '=', 'dlv_purged').executeTakeFirstOrThrow()).toEqual(before);
  });
});
