import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../db/accounts.ts';
import { createApp } from '../../db/apps.ts';
import { newId } from '../../lib/ids.ts';
import { createEventType } from '../../db/event-types.ts';
import * as subscriberPage from '../../portal/app/routes/apps.$app_id.subscribers.$subscriber_id.tsx';
import * as subscribers from '../../portal/app/routes/apps.$app_id.subscribers._index.tsx';
import { createPortalContext, formRequest, outcome, pageRequest, signIn, type PortalTestContext, type SignedIn } from '../support/portal.ts';

let portal: PortalTestContext;
let owner: SignedIn;
let member: SignedIn;
let stranger: SignedIn;
let accountId: string;
let appId: string;

const load = (route: { loader: (args: any) => Promise<unknown> }, path: string, who: SignedIn | undefined, params: Record<string, string>) =>
  outcome(() => route.loader({ request: pageRequest(path, who), context: portal.context, params }));
const post = (route: { action: (args: any) => Promise<unknown> }, path: string, who: SignedIn | undefined, fields: Record<string, string>, params: Record<string, string>) =>
  outcome(() => route.action({ request: formRequest(path, who, fields), context: portal.context, params }));

const subscriberRows = (app: string) => portal.context.db.selectFrom('subscribers').select(['name', 'email']).where('app_id', '=', app).orderBy('name').execute();

beforeAll(async () => {
  portal = await createPortalContext();
  const { db } = portal.context;
  const mine = await createAccount(db, { name: 'Provider', email: 'owner@provider.test', password: 'correct horse battery' });
  accountId = mine.accountId;
  owner = await signIn(portal.context, mine.userId);
  const memberId = newId('user');
  await db.insertInto('users').values({ id: memberId, account_id: mine.accountId, email: 'member@provider.test', password_hash: 'unused', role: 'member' }).execute();
  member = await signIn(portal.context, memberId);
  const other = await createAccount(db, { name: 'Other', email: 'owner@other.test', password: 'correct horse battery' });
  stranger = await signIn(portal.context, other.userId);
  appId = (await createApp(db, accountId, { name: 'Shop' })).id;
});

afterAll(async () => {
  await portal?.close();
});

describe('/apps/:app_id/subscribers', () => {
  it('creates a subscriber and opens its page; the list shows it with its endpoint count', async () => {
    const params = { app_id: appId };
    const created = await post(subscribers, `/apps/${appId}/subscribers`, member, { name: ' Acme Corp ', email: 'ops@acme.test' }, params);
    expect(created.status).toBe(302);
    expect(created.location).toMatch(new RegExp(`^/apps/${appId}/subscribers/sub_[\\w-]+$`));
    const page = await load(subscribers, `/apps/${appId}/subscribers`, member, params);
    expect(page.status).toBe(200);
    expect(page.body.subscribers).toContainEqual({ id: created.location!.split('/')[4], name: 'Acme Corp', email: 'ops@acme.test', endpoints: 0 });
  });

  it('keeps what was typed beside the API’s error, and writes nothing', async () => {
    const params = { app_id: appId };
    const before = await subscriberRows(appId);
    const refused = await post(subscribers, `/apps/${appId}/subscribers`, owner, { name: 'Typo', email: 'not-an-email' }, params);
    expect(refused.status).toBe(400);
    expect(refused.body.values).toEqual({ name: 'Typo', email: 'not-an-email' });
    expect(refused.body.errors.email).toBe('must be an email address');
    const empty = await post(subscribers, `/apps/${appId}/subscribers`, owner, { name: '', email: '' }, params);
    expect(empty.status).toBe(400);
    expect(empty.body.errors.name).toBeTruthy();
    expect(await subscriberRows(appId)).toEqual(before);
  });

  it('searches names and emails, any case, with LIKE wildcards taken literally, and keeps the search in its page links', async () => {
    const app = (await createApp(portal.context.db, accountId, { name: 'Search' })).id;
    const params = { app_id: app };
    for (const [name, email] of [['Globex', 'hooks@globex.test'], ['Initech', 'it@initech.test'], ['100% Hooks', null], ['Umbrella', 'GLOBEX-fan@umbrella.test']] as const) {
      const created = await post(subscribers, `/apps/${app}/subscribers`, owner, { name, email: email ?? '' }, params);
      expect(created.status).toBe(302);
    }
    const names = async (q: string) => (await load(subscribers, `/apps/${app}/subscribers?q=${encodeURIComponent(q)}`, owner, params)).body.subscribers.map((s: { name: string }) => s.name).sort();
    expect(await names('globex')).toEqual(['Globex', 'Umbrella']);
    expect(await names('%')).toEqual(['100% Hooks']);
    expect(await names('_')).toEqual([]);
    expect(await names('')).toEqual(['100% Hooks', 'Globex', 'Initech', 'Umbrella']);
    const page = await load(subscribers, `/apps/${app}/subscribers?q=INITECH`, owner, params);
    expect(page.body).toMatchObject({ q: 'INITECH', total: 1, page: 1, pages: 1 });
  });

  it('refuses a form without the CSRF token', async () => {
    const before = await subscriberRows(appId);
    const refused = await post(subscribers, `/apps/${appId}/subscribers`, { ...owner, csrf: 'forged' }, { name: 'Forged', email: '' }, { app_id: appId });
    expect(refused.status).toBe(403);
    expect(await subscriberRows(appId)).toEqual(before);
  });

  it('answers 404 to another account, on the list and the create form, and creates nothing', async () => {
    const before = await subscriberRows(appId);
    const params = { app_id: appId };
    const answers = [await load(subscribers, `/apps/${appId}/subscribers`, stranger, params), await post(subscribers, `/apps/${appId}/subscribers`, stranger, { name: 'Planted', email: '' }, params)];
    expect(answers.map((answer) => answer.status)).toEqual([404, 404]);
    expect(answers.every((answer) => answer.body === undefined)).toBe(true);
    expect(await subscriberRows(appId)).toEqual(before);
  });
});

describe('/apps/:app_id/subscribers/:subscriber_id', () => {
  let subscriberId: string;
  let path: string;
  let params: Record<string, string>;
  const endpointRows = () => portal.context.db.selectFrom('endpoints').selectAll().where('subscriber_id', '=', subscriberId).orderBy('created_at').execute();
  const addEndpoint = async (fields: Record<string, string>, who = owner) => {
    const created = await post(subscriberPage, path, who, { intent: 'create-endpoint', description: '', version: '1.0', events_mode: 'all', ...fields }, params);
    expect(created.status).toBe(200);
    return created.body.endpointId as string;
  };

  beforeAll(async () => {
    await createEventType(portal.context.db, appId, { name: 'order.shipped', description: null });
    await createEventType(portal.context.db, appId, { name: 'user.created', description: null });
    const created = await post(subscribers, `/apps/${appId}/subscribers`, owner, { name: 'Hooli', email: '' }, { app_id: appId });
    subscriberId = created.location!.split('/')[4]!;
    path = `/apps/${appId}/subscribers/${subscriberId}`;
    params = { app_id: appId, subscriber_id: subscriberId };
  });

  it('edits the subscriber, keeping typed values beside an error', async () => {
    const refused = await post(subscriberPage, path, member, { intent: 'subscriber', name: 'Hooli XYZ', email: 'nope' }, params);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ errors: { email: 'must be an email address' }, values: { name: 'Hooli XYZ', email: 'nope' } });
    const saved = await post(subscriberPage, path, member, { intent: 'subscriber', name: 'Hooli XYZ', email: 'ops@hooli.test' }, params);
    expect(saved.status).toBe(200);
    const page = await load(subscriberPage, path, member, params);
    expect(page.body.subscriber).toEqual({ id: subscriberId, name: 'Hooli XYZ', email: 'ops@hooli.test' });
  });

  it('creates an endpoint with chosen event types; the page lists it with its status and error rate', async () => {
    const id = await addEndpoint({ url: 'https://hooks.hooli.test/a', description: 'orders', version: '2.0', events_mode: 'some', events: 'order.shipped' }, member);
    const [row] = (await endpointRows()).filter((e) => e.id === id);
    expect(row).toMatchObject({ url: 'https://hooks.hooli.test/a', description: 'orders', version: '2.0', status: 'active', enabled_events: ['order.shipped'] });
    expect(portal.context.secrets.decrypt(row!.secret)).toMatch(/^whsec_/);
    const page = await load(subscriberPage, path, member, params);
    expect(page.body.endpoints).toContainEqual(expect.objectContaining({ id, status: 'active', enabledEvents: ['order.shipped'], errorRate: null, disabledReason: null }));
  });

  it('refuses a URL the API refuses, with the API’s message beside the URL and the typed values kept, and writes nothing', async () => {
    const { config } = portal.context;
    const before = await endpointRows();
    const refuse = async (url: string) => {
      const refused = await post(subscriberPage, path, owner, { intent: 'create-endpoint', url, description: 'kept', version: '1.0', events_mode: 'all' }, params);
      expect(refused.status).toBeGreaterThanOrEqual(400);
      expect(refused.body.values).toMatchObject({ url, description: 'kept' });
      return refused.body.errors.url as string;
    };
    expect(await refuse('ftp://hooks.hooli.test')).toBe('must be an http(s) URL');
    portal.context.config = { ...config, allowHttp: false, allowPrivateNetwork: false, allowedNetworks: [] };
    try {
      expect(await refuse('http://hooks.hooli.test/')).toBe('the endpoint URL must use https:// (this server does not allow plain http)');
      expect(await refuse('https://10.1.2.3/')).toBe('10.1.2.3 is a private or reserved address; endpoints must be reachable on the public internet');
      // ALLOWED_NETWORKS opens a private range, as it does for the API.
      portal.context.config = { ...config, allowHttp: false, allowPrivateNetwork: false, allowedNetworks: ['10.0.0.0/8'] };
      expect(await addEndpoint({ url: 'https://10.1.2.3/' })).toMatch(/^ep_/);
    } finally {
      portal.context.config = config;
    }
    expect((await endpointRows()).length).toBe(before.length + 1);
    const unknown = await post(subscriberPage, path, owner, { intent: 'create-endpoint', url: 'https://x.test', version: '1.0', events_mode: 'some', events: 'nope.typo' }, params);
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors.enabled_events).toMatch(/nope\.typo/);
  });

  it('edits an endpoint and disables and enables it, recording who disabled it', async () => {
    const id = await addEndpoint({ url: 'https://hooks.hooli.test/edit' });
    const edited = await post(subscriberPage, path, member, { intent: 'edit-endpoint', endpoint_id: id, url: 'https://hooks.hooli.test/edited', description: '', version: '1.1', events_mode: 'some', events: 'user.created' }, params);
    expect(edited.status).toBe(200);
    const disabled = await post(subscriberPage, path, member, { intent: 'status', endpoint_id: id, status: 'inactive' }, params);
    expect(disabled.status).toBe(200);
    let row = (await endpointRows()).find((e) => e.id === id)!;
    expect(row).toMatchObject({ url: 'https://hooks.hooli.test/edited', version: '1.1', enabled_events: ['user.created'], status: 'inactive', disabled_reason: 'disabled in the portal by member@provider.test' });
    expect(row.disabled_at).toBeInstanceOf(Date);
    await post(subscriberPage, path, member, { intent: 'status', endpoint_id: id, status: 'active' }, params);
    row = (await endpointRows()).find((e) => e.id === id)!;
    expect(row).toMatchObject({ status: 'active', disabled_reason: null, disabled_at: null });
  });

  it('reveals the secret to a member, but only owners and admins rotate it; the previous secret signs until the overlap ends', async () => {
    const id = await addEndpoint({ url: 'https://hooks.hooli.test/rotate' });
    const revealed = await post(subscriberPage, path, member, { intent: 'reveal', endpoint_id: id }, params);
    expect(revealed.status).toBe(200);
    const first = revealed.body.secret.key as string;
    expect(first).toMatch(/^whsec_/);
    expect(revealed.body.secret.previousKeyExpiresAt).toBeNull();

    const refused = await post(subscriberPage, path, member, { intent: 'rotate', endpoint_id: id }, params);
    expect(refused.status).toBe(403);
    expect((await post(subscriberPage, path, member, { intent: 'reveal', endpoint_id: id }, params)).body.secret.key).toBe(first);

    const before = Date.now();
    const rotated = await post(subscriberPage, path, owner, { intent: 'rotate', endpoint_id: id }, params);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret.key).toMatch(/^whsec_/);
    expect(rotated.body.secret.key).not.toBe(first);
    const until = Date.parse(rotated.body.secret.previousKeyExpiresAt);
    expect(until).toBeGreaterThanOrEqual(before + portal.context.config.secretRotationOverlapMs);
    expect(until).toBeLessThanOrEqual(Date.now() + portal.context.config.secretRotationOverlapMs);
    const row = (await endpointRows()).find((e) => e.id === id)!;
    expect(portal.context.secrets.decrypt(row.previous_secret!)).toBe(first);
    expect(row.previous_secret_expires_at!.getTime()).toBe(until);
  });

  it('sends a test message with one delivery, to that endpoint only, and links to it', async () => {
    const id = await addEndpoint({ url: 'https://hooks.hooli.test/test', events_mode: 'some', events: 'user.created' });
    await addEndpoint({ url: 'https://hooks.hooli.test/sibling' });
    const sent = await post(subscriberPage, path, member, { intent: 'test', endpoint_id: id, event_type: '' }, params);
    expect(sent.status).toBe(200);
    expect(sent.body.message).toMatchObject({ deliveries: 1, sent: true });
    const { db } = portal.context;
    const message = await db.selectFrom('messages').selectAll().where('id', '=', sent.body.message.id).executeTakeFirstOrThrow();
    expect(message).toMatchObject({ app_id: appId, endpoint_id: id, event_type: 'user.created', version: '1.0', data: { test: true, sent_from: 'portal' } });
    const deliveries = await db.selectFrom('deliveries').select(['endpoint_id']).where('message_id', '=', message.id).execute();
    expect(deliveries).toEqual([{ endpoint_id: id }]);
    const refused = await post(subscriberPage, path, member, { intent: 'test', endpoint_id: id, event_type: 'order.shipped' }, params);
    expect(refused.status).toBe(400);
    expect(refused.body.errors.event_type).toBe('This endpoint does not receive order.shipped.');
  });

  it('answers 404 to another account on the loader and every action, and changes nothing', async () => {
    const id = await addEndpoint({ url: 'https://hooks.hooli.test/guarded' });
    const before = { endpoints: await endpointRows(), messages: await portal.context.db.selectFrom('messages').select('id').execute() };
    const forms: Record<string, string>[] = [
      { intent: 'subscriber', name: 'Taken', email: '' },
      { intent: 'create-endpoint', url: 'https://evil.test', version: '1.0', events_mode: 'all' },
      { intent: 'edit-endpoint', endpoint_id: id, url: 'https://evil.test', version: '1.0', events_mode: 'all' },
      { intent: 'status', endpoint_id: id, status: 'inactive' },
      { intent: 'reveal', endpoint_id: id },
      { intent: 'rotate', endpoint_id: id },
      { intent: 'test', endpoint_id: id, event_type: '' },
    ];
    const answers = [await load(subscriberPage, path, stranger, params), ...(await Promise.all(forms.map((fields) => post(subscriberPage, path, stranger, fields, params))))];
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 404));
    expect(answers.every((a) => a.body === undefined)).toBe(true);
    expect(await endpointRows()).toEqual(before.endpoints);
    expect(await portal.context.db.selectFrom('messages').select('id').execute()).toEqual(before.messages);
    expect((await load(subscriberPage, path, owner, params)).body.subscriber.name).not.toBe('Taken');
  });

  it('answers 404 for a subscriber or endpoint of another app of the same account under this app’s URL', async () => {
    const other = (await createApp(portal.context.db, accountId, { name: 'Other app' })).id;
    const theirs = await post(subscribers, `/apps/${other}/subscribers`, owner, { name: 'Elsewhere', email: '' }, { app_id: other });
    const theirId = theirs.location!.split('/')[4]!;
    const crossed = { app_id: appId, subscriber_id: theirId };
    expect((await load(subscriberPage, `/apps/${appId}/subscribers/${theirId}`, owner, crossed)).status).toBe(404);
    expect((await post(subscriberPage, `/apps/${appId}/subscribers/${theirId}`, owner, { intent: 'subscriber', name: 'Moved', email: '' }, crossed)).status).toBe(404);
    const theirEndpoint = (await post(subscriberPage, `/apps/${other}/subscribers/${theirId}`, owner, { intent: 'create-endpoint', url: 'https://elsewhere.test', version: '1.0', events_mode: 'all' }, { app_id: other, subscriber_id: theirId })).body.endpointId;
    expect((await post(subscriberPage, path, owner, { intent: 'reveal', endpoint_id: theirEndpoint }, params)).status).toBe(404);
  });

  it('refuses a form without the CSRF token', async () => {
    const refused = await post(subscriberPage, path, { ...owner, csrf: 'forged' }, { intent: 'subscriber', name: 'Forged', email: '' }, params);
    expect(refused.status).toBe(403);
  });
});
