import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../db/accounts.ts';
import { revokePortalLinks } from '../../db/subscribers.ts';
import { issuePortalLink, PORTAL_LINK_KEY_PURPOSE } from '../../lib/portal-links.ts';
import { signToken } from '../../lib/tokens.ts';
import * as providerLogs from '../../portal/app/routes/apps.$app_id.logs.tsx';
import * as home from '../../portal/app/routes/portal._index.tsx';
import * as endpointPage from '../../portal/app/routes/portal.endpoints.$endpoint_id.tsx';
import * as newEndpoint from '../../portal/app/routes/portal.endpoints.new.tsx';
import * as login from '../../portal/app/routes/portal.login.$token.tsx';
import * as logout from '../../portal/app/routes/portal.logout.tsx';
import * as logs from '../../portal/app/routes/portal.logs.tsx';
import * as messagePage from '../../portal/app/routes/portal.messages.$message_id.tsx';
import * as replayResource from '../../portal/app/routes/portal.replays.$replay_id.tsx';
import * as root from '../../portal/app/root.tsx';
import { createPortalContext, formRequest, outcome, pageRequest, signIn, signInSubscriber, type PortalTestContext, type SignedIn } from '../support/portal.ts';

// The subscriber portal, called as Remix calls it: a portal link opens a session of its own, every
// page is confined to that subscriber, and the provider's session and the subscriber's never open
// each other's pages.

let portal: PortalTestContext;
let owner: SignedIn;
let acme: SignedIn;
let globex: SignedIn;
const appId = 'app_portal';

type Route = { loader?: (args: any) => unknown; action?: (args: any) => unknown };
const load = (route: Route, path: string, who: SignedIn | undefined, params: Record<string, string> = {}) =>
  outcome(() => Promise.resolve(route.loader!({ request: pageRequest(path, who), context: portal.context, params })));
const post = (route: Route, path: string, who: SignedIn | undefined, fields: Record<string, string>, params: Record<string, string> = {}) =>
  outcome(() => Promise.resolve(route.action!({ request: formRequest(path, who, fields), context: portal.context, params })));

const linkKey = () => portal.context.secrets.deriveKey(PORTAL_LINK_KEY_PURPOSE);
const endpointRow = (id: string) => portal.context.db.selectFrom('endpoints').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

beforeAll(async () => {
  portal = await createPortalContext();
  const { db } = portal.context;
  const provider = await createAccount(db, { name: 'Provider', email: 'owner@portal.test', password: 'correct horse battery' });
  owner = await signIn(portal.context, provider.userId);
  // Acme's endpoint ep_acme_down was disabled an hour ago after msg_1 failed; msg_2 was skipped since.
  // Globex (same app) has its own endpoint, message and replay; ep_other is another account's.
  await sql.raw(`
    insert into apps (id, account_id, name) values ('${appId}', '${provider.accountId}', 'Shop');
    insert into event_types (id, app_id, name) values ('et_1', '${appId}', 'user.created'), ('et_2', '${appId}', 'order.shipped');
    insert into subscribers (id, app_id, name, email) values ('sub_acme', '${appId}', 'Acme', 'ops@acme.test'), ('sub_globex', '${appId}', 'Globex', null), ('sub_revoked', '${appId}', 'Initech', null);
    insert into endpoints (id, app_id, subscriber_id, url, version, status, enabled_events, secret, disabled_reason, disabled_at, last_disabled_at)
      values ('ep_acme_up', '${appId}', 'sub_acme', 'https://acme.test/up', '1.0', 'active', '"*"', 'x', null, null, null),
             ('ep_acme_down', '${appId}', 'sub_acme', 'https://acme.test/down', '1.0', 'inactive', '"*"', 'x', '5 failed attempts; the last got HTTP 500', now() - interval '1 hour', now() - interval '1 hour'),
             ('ep_globex', '${appId}', 'sub_globex', 'https://globex.test/hook', '1.0', 'inactive', '"*"', 'x', 'gone', now() - interval '1 hour', now() - interval '1 hour');
    insert into messages (id, app_id, event_type, version, data, override_payload, request_hash, created_at)
      values ('msg_1', '${appId}', 'user.created', '1.0', '{"n": 1}', false, 'h', now() - interval '2 hours'),
             ('msg_2', '${appId}', 'user.created', '1.0', '{"n": 2}', false, 'h', now() - interval '30 minutes'),
             ('msg_globex', '${appId}', 'user.created', '1.0', '{"n": 3}', false, 'h', now() - interval '30 minutes');
    insert into deliveries (id, message_id, endpoint_id, app_id, subscriber_id, status, reason, error, created_at, finished_at)
      values ('dlv_1', 'msg_1', 'ep_acme_down', '${appId}', 'sub_acme', 'failed', 'attempts_exhausted', 'HTTP 500', now() - interval '2 hours', now() - interval '1 hour'),
             ('dlv_2', 'msg_2', 'ep_acme_down', '${appId}', 'sub_acme', 'skipped', 'endpoint_inactive', null, now() - interval '30 minutes', now() - interval '30 minutes'),
             ('dlv_1g', 'msg_1', 'ep_globex', '${appId}', 'sub_globex', 'failed', 'attempts_exhausted', 'HTTP 500', now() - interval '2 hours', now() - interval '1 hour'),
             ('dlv_g', 'msg_globex', 'ep_globex', '${appId}', 'sub_globex', 'skipped', 'endpoint_inactive', null, now() - interval '30 minutes', now() - interval '30 minutes');
    insert into attempts (id, delivery_id, message_id, endpoint_id, subscriber_id, app_id, event_type, number, trigger, url, request_headers, request_body,
                          status_code, error, succeeded, will_retry, duration_ms, workflow_id, created_at)
      values ('att_acme', 'dlv_1', 'msg_1', 'ep_acme_down', 'sub_acme', '${appId}', 'user.created', 1, 'automatic', 'https://acme.test/down', '{}', '{}', 500, 'HTTP 500', false, false, 9, 'delivery:dlv_1', now() - interval '70 minutes'),
             ('att_globex', 'dlv_1g', 'msg_1', 'ep_globex', 'sub_globex', '${appId}', 'user.created', 1, 'automatic', 'https://globex.test/hook', '{}', '{}', 500, 'HTTP 500', false, false, 9, 'delivery:dlv_1g', now() - interval '70 minutes');
    insert into replays (id, app_id, subscriber_id, endpoint_id, requested_by_kind, requested_by, since, until, status, total, remaining, finished_at)
      values ('rpl_globex', '${appId}', 'sub_globex', 'ep_globex', 'subscriber_link', 'sub_globex', now() - interval '3 hours', now(), 'completed', 1, 0, now());`).execute(db);
  const other = await createAccount(db, { name: 'Other', email: 'owner@other-portal.test', password: 'correct horse battery' });
  await sql.raw(`
    insert into apps (id, account_id, name) values ('app_other', '${other.accountId}', 'Elsewhere');
    insert into subscribers (id, app_id, name) values ('sub_other', 'app_other', 'Stranger');
    insert into endpoints (id, app_id, subscriber_id, url, version, status, enabled_events, secret)
      values ('ep_other', 'app_other', 'sub_other', 'https://other.test/hook', '1.0', 'active', '"*"', 'x');`).execute(db);
  acme = await signInSubscriber(portal.context, 'sub_acme');
  globex = await signInSubscriber(portal.context, 'sub_globex');
});

afterAll(async () => {
  await portal?.close();
});

/** Calls /portal/login/:token as the browser opens a link, and reads the raw answer. */
async function openLink(token: string) {
  try {
    return (await login.loader({ request: pageRequest(`/portal/login/${token}`), context: portal.context, params: { token } })) as unknown;
  } catch (thrown) {
    return thrown;
  }
}

describe('/portal/login/:token', () => {
  it('exchanges a link for a session cookie of its own and sends the browser to /portal, which then shows that subscriber', async () => {
    const link = issuePortalLink(linkKey(), portal.context.config.publicUrl, 'sub_acme', 60_000);
    const answer = await openLink(link.token);
    expect(answer).toBeInstanceOf(Response);
    const response = answer as Response;
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/portal');
    const setCookie = response.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^__subscriber_portal=/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    // PUBLIC_URL is http here; Secure is set only for https.
    expect(setCookie).not.toMatch(/Secure/i);
    expect(setCookie).not.toContain('__session');

    const who = { cookie: setCookie.split(';')[0]!, csrf: '' };
    const page = await load(home, '/portal', who);
    expect(page.status).toBe(200);
    expect(page.body.app).toEqual({ name: 'Shop' });
    expect(page.body.endpoints.map((e: { id: string }) => e.id).sort()).toEqual(['ep_acme_down', 'ep_acme_up']);
    // The header is the app's, not the provider's navigation.
    const header = await load(root, '/portal', who);
    expect(header.body).toMatchObject({ area: 'subscriber', user: null, subscriber: { name: 'Acme', appName: 'Shop' } });
  });

  it('refuses an expired, a revoked, a tampered or a foreign token, saying why, and opens no session', async () => {
    const key = linkKey();
    const url = portal.context.config.publicUrl;
    const expired = issuePortalLink(key, url, 'sub_acme', 1_000, Date.now() - 10_000).token;
    const revokedLink = issuePortalLink(key, url, 'sub_revoked', 60_000, Date.now() - 1_000).token;
    await revokePortalLinks(portal.context.db, 'sub_revoked', new Date());
    const good = issuePortalLink(key, url, 'sub_acme', 60_000).token;
    const [body, signature] = good.split('.');
    const forged = `${Buffer.from(JSON.stringify({ purpose: 'subscriber_portal', sub: 'sub_globex', iat: Date.now(), exp: 9_999_999_999 })).toString('base64url')}.${signature}`;
    const otherPurpose = signToken(key, { purpose: 'password_reset', sub: 'sub_acme', iat: Date.now() }, 60_000).token;
    const cases = [
      [expired, 410, 'expired', 'Shop'],
      [revokedLink, 403, 'revoked', 'Shop'],
      [`${body}.${signature!.slice(0, -2)}xy`, 401, 'invalid', null],
      [forged, 401, 'invalid', null],
      [otherPurpose, 401, 'invalid', null],
      ['not-a-token', 401, 'invalid', null],
    ] as const;
    for (const [token, status, why, appName] of cases) {
      const answer = await openLink(token);
      const refused = await outcome(() => Promise.resolve(answer));
      expect(refused.status, why).toBe(status);
      expect(refused.body).toEqual({ why, appName });
      expect(refused.headers?.get('set-cookie') ?? null).toBeNull();
      expect(refused.headers?.get('cache-control')).toBe('no-store');
    }
  });

  it('ends a session at once when its links are revoked, and when its link expires', async () => {
    const initech = await signInSubscriber(portal.context, 'sub_revoked');
    // Revoked above, before this session's link was issued: it opens.
    expect((await load(home, '/portal', initech)).status).toBe(200);
    await revokePortalLinks(portal.context.db, 'sub_revoked', new Date(Date.now() + 1));
    const revoked = await load(home, '/portal', initech);
    expect(revoked).toMatchObject({ status: 302, location: '/portal/login?ended=revoked' });

    const lapsed = await signInSubscriber(portal.context, 'sub_acme', { issuedAt: Date.now() - 60_000, expiresAt: Date.now() - 1 });
    expect(await load(home, '/portal', lapsed)).toMatchObject({ status: 302, location: '/portal/login?ended=expired' });
    expect(await load(logs, '/portal/logs', undefined)).toMatchObject({ status: 302, location: '/portal/login' });
  });

  it('logs out with the CSRF token only, ending the subscriber session', async () => {
    const session = await signInSubscriber(portal.context, 'sub_acme');
    expect((await post(logout, '/portal/logout', { ...session, csrf: 'forged' }, {})).status).toBe(403);
    const out = await outcome(async () => logout.action({ request: formRequest('/portal/logout', session, {}), context: portal.context, params: {} }));
    expect(out).toMatchObject({ status: 302, location: '/portal/login?ended=logged_out' });
  });
});

describe('the provider’s session and the subscriber’s are apart', () => {
  it('a provider user cannot open /portal pages, and a subscriber session opens no provider page', async () => {
    expect(await load(home, '/portal', owner)).toMatchObject({ status: 302, location: '/portal/login' });
    expect(await load(endpointPage, '/portal/endpoints/ep_acme_up', owner, { endpoint_id: 'ep_acme_up' })).toMatchObject({ status: 302, location: '/portal/login' });
    const provider = await load(providerLogs, `/apps/${appId}/logs`, acme, { app_id: appId });
    expect(provider.status).toBe(302);
    expect(provider.location).toMatch(/^\/login\?/);
    expect((await load(root, '/', acme)).body).toMatchObject({ area: 'provider', user: null });
  });

  it('refuses a form without the subscriber session’s CSRF token, or with the provider’s', async () => {
    const fields = { intent: 'enable', id: 'ep_acme_down' };
    expect((await post(home, '/portal', { ...acme, csrf: 'forged' }, fields)).status).toBe(403);
    expect((await post(home, '/portal', { cookie: `${acme.cookie}; ${owner.cookie}`, csrf: owner.csrf }, fields)).status).toBe(403);
    expect((await endpointRow('ep_acme_down')).status).toBe('inactive');
  });
});

describe('isolation: another subscriber’s, app’s or account’s ids answer 404', () => {
  it('on endpoints, messages and replays, reading or changing', async () => {
    for (const id of ['ep_globex', 'ep_other', 'ep_nope']) {
      expect((await load(endpointPage, `/portal/endpoints/${id}`, acme, { endpoint_id: id })).status).toBe(404);
      expect((await post(endpointPage, `/portal/endpoints/${id}`, acme, { intent: 'status', status: 'active' }, { endpoint_id: id })).status).toBe(404);
      expect((await post(endpointPage, `/portal/endpoints/${id}`, acme, { intent: 'delete', id }, { endpoint_id: id })).status).toBe(404);
      expect((await post(home, '/portal', acme, { intent: 'enable-replay', id })).status).toBe(404);
    }
    expect((await endpointRow('ep_globex')).status).toBe('inactive');
    expect((await endpointRow('ep_other')).status).toBe('active');
    // Globex's message, and a message of Acme's app that reached Acme too, only as far as Acme's own delivery.
    expect((await load(messagePage, '/portal/messages/msg_globex', acme, { message_id: 'msg_globex' })).status).toBe(404);
    const shared = await load(messagePage, '/portal/messages/msg_1', acme, { message_id: 'msg_1' });
    expect(shared.status).toBe(200);
    expect(shared.body.deliveries.map((d: { id: string }) => d.id)).toEqual(['dlv_1']);
    expect(shared.body.deliveries[0].attempts.map((a: { id: string }) => a.id)).toEqual(['att_acme']);
    // Globex's replay: not readable, nor controllable from Acme's endpoint page.
    expect((await load(replayResource, '/portal/replays/rpl_globex', acme, { replay_id: 'rpl_globex' })).status).toBe(404);
    expect((await load(replayResource, '/portal/replays/rpl_globex', globex, { replay_id: 'rpl_globex' })).status).toBe(200);
    expect((await post(endpointPage, '/portal/endpoints/ep_acme_up', acme, { intent: 'replay-cancel', replay_id: 'rpl_globex' }, { endpoint_id: 'ep_acme_up' })).status).toBe(404);
  });

  it('shows only the subscriber’s own attempts in its logs, whatever the query string asks', async () => {
    const mine = await load(logs, '/portal/logs', acme);
    expect(mine.body.attempts.map((a: { id: string }) => a.id)).toEqual(['att_acme']);
    expect(mine.body.endpoints.map((e: { id: string }) => e.id).sort()).toEqual(['ep_acme_down', 'ep_acme_up']);
    expect((await load(logs, '/portal/logs?subscriber=sub_globex', acme)).body.attempts.map((a: { id: string }) => a.id)).toEqual(['att_acme']);
    expect((await load(logs, '/portal/logs?endpoint=ep_globex', acme)).body.attempts).toEqual([]);
    expect((await load(logs, '/portal/logs?q=msg_1&status=failed', acme)).body.attempts.map((a: { id: string }) => a.id)).toEqual(['att_acme']);
  });
});

describe('re-enable, and re-enable and replay', () => {
  it('shows a disabled endpoint with how many messages it missed, before the click', async () => {
    const page = await load(home, '/portal', acme);
    const down = page.body.endpoints.find((e: { id: string }) => e.id === 'ep_acme_down');
    expect(down).toMatchObject({ status: 'inactive', disabledReason: '5 failed attempts; the last got HTTP 500', missed: { count: 2 } });
    expect(down.disabledAt).toBeTruthy();
    expect(page.body.endpoints.find((e: { id: string }) => e.id === 'ep_acme_up').missed).toBeNull();
  });

  it('re-enables, keeping when it was last disabled', async () => {
    const before = await endpointRow('ep_acme_down');
    const enabled = await post(home, '/portal', acme, { intent: 'enable', id: 'ep_acme_down' });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ endpointId: 'ep_acme_down' });
    const row = await endpointRow('ep_acme_down');
    expect(row).toMatchObject({ status: 'active', disabled_reason: null, disabled_at: null });
    expect(row.last_disabled_at).toEqual(before.last_disabled_at);
    expect(await portal.context.db.selectFrom('replays').select('id').where('endpoint_id', '=', 'ep_acme_down').execute()).toEqual([]);
  });

  it('re-enables and replays: one replay row asked by the subscriber’s link, covering the missed messages, then the endpoint page', async () => {
    await portal.context.db.updateTable('endpoints').set({ status: 'inactive', disabled_reason: 'again', disabled_at: new Date() }).where('id', '=', 'ep_acme_down').execute();
    const replayed = await post(home, '/portal', acme, { intent: 'enable-replay', id: 'ep_acme_down' });
    expect(replayed).toMatchObject({ status: 302, location: '/portal/endpoints/ep_acme_down?replayed=1' });
    expect((await endpointRow('ep_acme_down')).status).toBe('active');
    const replays = await portal.context.db.selectFrom('replays').selectAll().where('endpoint_id', '=', 'ep_acme_down').execute();
    expect(replays).toHaveLength(1);
    expect(replays[0]).toMatchObject({ subscriber_id: 'sub_acme', app_id: appId, requested_by_kind: 'subscriber_link', requested_by: 'sub_acme', total: 2 });
    const page = await load(endpointPage, '/portal/endpoints/ep_acme_down', acme, { endpoint_id: 'ep_acme_down' });
    expect(page.status).toBe(200);
    expect(page.body.replays.latest).toMatchObject({ id: replays[0]!.id, total: 2 });
    const polled = await outcome(async () => (await replayResource.loader({ request: pageRequest(`/portal/replays/${replays[0]!.id}`, acme), context: portal.context, params: { replay_id: replays[0]!.id } })).json());
    expect(polled.body).toMatchObject({ id: replays[0]!.id, endpointId: 'ep_acme_down' });
  });
});

describe('endpoints', () => {
  it('adds an endpoint with the API’s URL rules, keeping what was typed beside the error', async () => {
    const { config } = portal.context;
    const add = (fields: Record<string, string>) => post(newEndpoint, '/portal/endpoints/new', acme, { description: 'kept', version: '1.0', events_mode: 'all', ...fields });
    const count = async () => (await portal.context.db.selectFrom('endpoints').select('id').where('subscriber_id', '=', 'sub_acme').execute()).length;
    const before = await count();
    const bad = await add({ url: 'ftp://acme.test/hook' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ errors: { url: 'must be an http(s) URL' }, values: { url: 'ftp://acme.test/hook', description: 'kept' } });
    portal.context.config = { ...config, allowHttp: false, allowPrivateNetwork: false, allowedNetworks: [] };
    try {
      expect((await add({ url: 'http://acme.test/hook' })).body.errors.url).toBe('the endpoint URL must use https:// (this server does not allow plain http)');
      expect((await add({ url: 'https://10.1.2.3/' })).body.errors.url).toBe('10.1.2.3 is a private or reserved address; endpoints must be reachable on the public internet');
    } finally {
      portal.context.config = config;
    }
    expect((await add({ url: 'https://acme.test/new', events_mode: 'some', events: 'nope.typo' })).body.errors.enabled_events).toMatch(/nope\.typo/);
    expect(await count()).toBe(before);

    const created = await add({ url: 'https://acme.test/new', events_mode: 'some', events: 'order.shipped' });
    expect(created.status).toBe(302);
    const id = /^\/portal\/endpoints\/(ep_[\w-]+)\?created=1$/.exec(created.location!)?.[1];
    expect(id).toBeDefined();
    expect(await endpointRow(id!)).toMatchObject({ subscriber_id: 'sub_acme', app_id: appId, url: 'https://acme.test/new', enabled_events: ['order.shipped'], status: 'active' });
  });

  it('edits, reveals and rotates the secret, and deletes its own endpoint', async () => {
    const path = '/portal/endpoints/ep_acme_up';
    const params = { endpoint_id: 'ep_acme_up' };
    const edited = await post(endpointPage, path, acme, { intent: 'edit-endpoint', url: 'https://acme.test/up2', description: '', version: '1.0', events_mode: 'some', events: 'user.created' }, params);
    expect(edited.status).toBe(200);
    expect(await endpointRow('ep_acme_up')).toMatchObject({ url: 'https://acme.test/up2', enabled_events: ['user.created'] });
    await portal.context.db.updateTable('endpoints').set({ secret: portal.context.secrets.encrypt('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw') }).where('id', '=', 'ep_acme_up').execute();
    const revealed = await post(endpointPage, path, acme, { intent: 'reveal' }, params);
    expect(revealed.body.secret).toEqual({ key: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', previousKeyExpiresAt: null });
    const rotated = await post(endpointPage, path, acme, { intent: 'rotate' }, params);
    expect(rotated.body.secret.key).not.toBe('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(new Date(rotated.body.secret.previousKeyExpiresAt).getTime()).toBeGreaterThan(Date.now());
    const deleted = await post(endpointPage, path, acme, { intent: 'delete', id: 'ep_acme_up' }, params);
    expect(deleted).toMatchObject({ status: 302, location: '/portal?deleted=1' });
    expect(await portal.context.db.selectFrom('endpoints').select('id').where('id', '=', 'ep_acme_up').executeTakeFirst()).toBeUndefined();
  });
});
