import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../db/accounts.ts';
import { findApp } from '../../db/apps.ts';
import { createEndpoint } from '../../db/endpoints.ts';
import { createEventType, eventTypesOf } from '../../db/event-types.ts';
import { createSubscriber } from '../../db/subscribers.ts';
import { newId } from '../../lib/ids.ts';
import * as overview from '../../portal/app/routes/apps.$app_id._index.tsx';
import * as eventTypes from '../../portal/app/routes/apps.$app_id.event-types.tsx';
import * as settings from '../../portal/app/routes/apps.$app_id.settings.tsx';
import * as newApp from '../../portal/app/routes/apps.new.tsx';
import { createPortalContext, formRequest, outcome, pageRequest, signIn, type PortalTestContext, type SignedIn } from '../support/portal.ts';

let portal: PortalTestContext;
let owner: SignedIn;
let member: SignedIn;
let stranger: SignedIn;
let accountId: string;
let appId: string;

const load = (route: { loader: (args: any) => Promise<unknown> }, path: string, who: SignedIn | undefined, params: Record<string, string> = {}) =>
  outcome(() => route.loader({ request: pageRequest(path, who), context: portal.context, params }));
const post = (route: { action: (args: any) => Promise<unknown> }, path: string, who: SignedIn | undefined, fields: Record<string, string>, params: Record<string, string> = {}) =>
  outcome(() => route.action({ request: formRequest(path, who, fields), context: portal.context, params }));

beforeAll(async () => {
  portal = await createPortalContext();
  const { db } = portal.context;
  const mine = await createAccount(db, { name: 'Provider', email: 'owner@provider.test', password: 'correct horse battery' });
  accountId = mine.accountId;
  owner = await signIn(portal.context, mine.userId);
  const memberId = newId('user');
  await db.insertInto('users').values({ id: memberId, account_id: accountId, email: 'member@provider.test', password_hash: 'unused', role: 'member' }).execute();
  member = await signIn(portal.context, memberId);
  const other = await createAccount(db, { name: 'Other', email: 'owner@other.test', password: 'correct horse battery' });
  stranger = await signIn(portal.context, other.userId);

  const created = await post(newApp, '/apps/new', owner, { name: 'Shop' });
  appId = created.location!.split('/')[2]!;
});

afterAll(async () => {
  await portal?.close();
});

describe('/apps/new', () => {
  it('creates the app in the signed-in user’s account and opens its getting-started page', async () => {
    const created = await post(newApp, '/apps/new', owner, { name: '  Billing ' });
    expect(created.status).toBe(302);
    expect(created.location).toMatch(/^\/apps\/app_[\w-]+\/getting-started$/);
    const app = await findApp(portal.context.db, accountId, created.location!.split('/')[2]!);
    expect(app?.name).toBe('Billing');
  });

  it('keeps what was typed beside the error', async () => {
    const long = 'x'.repeat(201);
    const refused = await post(newApp, '/apps/new', owner, { name: long });
    expect(refused.status).toBe(400);
    expect(refused.body.values).toEqual({ name: long });
    expect(refused.body.errors.name).toMatch(/at most 200 characters/);
  });

  it('refuses a form without the CSRF token, and creates nothing', async () => {
    const before = await portal.context.db.selectFrom('apps').select('id').execute();
    const refused = await post(newApp, '/apps/new', { ...owner, csrf: '' }, { name: 'Forged' });
    expect(refused.status).toBe(403);
    const forged = await post(newApp, '/apps/new', { ...owner, csrf: 'not-the-token' }, { name: 'Forged' });
    expect(forged.status).toBe(403);
    expect(await portal.context.db.selectFrom('apps').select('id').execute()).toHaveLength(before.length);
  });

  it('sends a signed-out visitor to /login', async () => {
    const page = await load(newApp, '/apps/new', undefined);
    expect(page.status).toBe(302);
    expect(page.location).toBe('/login?redirectTo=%2Fapps%2Fnew');
  });
});

describe('another account', () => {
  it('gets 404 from every loader and action of the app pages, and changes nothing', async () => {
    const eventType = await createEventType(portal.context.db, appId, { name: 'order.shipped', description: 'kept' });
    const params = { app_id: appId };
    const before = await findApp(portal.context.db, accountId, appId);
    const answers = [
      await load(overview, `/apps/${appId}`, stranger, params),
      await load(settings, `/apps/${appId}/settings`, stranger, params),
      await post(settings, `/apps/${appId}/settings`, stranger, { name: 'Taken', retry_initial_interval: '1s', retry_backoff_coefficient: '2' }, params),
      await load(eventTypes, `/apps/${appId}/event-types`, stranger, params),
      await post(eventTypes, `/apps/${appId}/event-types`, stranger, { intent: 'create', event_type: 'planted', description: '' }, params),
      await post(eventTypes, `/apps/${appId}/event-types`, stranger, { intent: 'describe', id: eventType!.id, description: 'changed' }, params),
      await post(eventTypes, `/apps/${appId}/event-types`, stranger, { intent: 'delete', id: eventType!.id }, params),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([404, 404, 404, 404, 404, 404, 404]);
    expect(answers.every((answer) => answer.body === undefined)).toBe(true);
    expect(await findApp(portal.context.db, accountId, appId)).toEqual(before);
    const names = await portal.context.db.selectFrom('event_types').select(['name', 'description']).where('app_id', '=', appId).execute();
    expect(names).toContainEqual({ name: 'order.shipped', description: 'kept' });
    expect(names.map((row) => row.name)).not.toContain('planted');
  });

  it('gets 404 for an event type of another app, even in its own', async () => {
    const theirs = await post(newApp, '/apps/new', stranger, { name: 'Theirs' });
    const theirAppId = theirs.location!.split('/')[2]!;
    const mine = await createEventType(portal.context.db, appId, { name: 'invoice.paid', description: null });
    const answer = await post(eventTypes, `/apps/${theirAppId}/event-types`, stranger, { intent: 'delete', id: mine!.id }, { app_id: theirAppId });
    expect(answer.status).toBe(404);
    expect((await eventTypesOf(portal.context.db, appId)).map((row) => row.name)).toContain('invoice.paid');
  });
});

describe('/apps/:app_id', () => {
  it('counts subscribers, endpoints by status, and the last day’s and week’s messages and attempts', async () => {
    const { db } = portal.context;
    const counted = await post(newApp, '/apps/new', owner, { name: 'Counted' });
    const id = counted.location!.split('/')[2]!;
    const subscriber = await createSubscriber(db, id, { name: 'Acme', email: null }, 10);
    const endpoint = (status: 'active' | 'inactive') =>
      createEndpoint(db, { app_id: id, subscriber_id: subscriber!.id, url: 'https://acme.test/hook', version: '1.0', status, enabled_events: '"*"', secret: 'unused', disabled_reason: status === 'inactive' ? '5 attempts failed' : null, disabled_at: status === 'inactive' ? new Date() : null }, 10);
    await endpoint('active');
    const disabled = await endpoint('inactive');

    const page = await load(overview, `/apps/${id}`, member, { app_id: id });
    expect(page.status).toBe(200);
    expect(page.body.app).toEqual({ id, name: 'Counted' });
    expect(page.body.subscribers).toBe(1);
    expect(page.body.endpoints).toEqual({ active: 1, inactive: 1 });
    expect(page.body.disabled).toEqual([expect.objectContaining({ id: disabled!.id, subscriber_id: subscriber!.id, subscriber_name: 'Acme', disabled_reason: '5 attempts failed' })]);
    expect(page.body.activity).toEqual([
      { label: 'Last 24 hours', messages: 0, attempts: 0, succeeded: 0 },
      { label: 'Last 7 days', messages: 0, attempts: 0, succeeded: 0 },
    ]);
  });
});

describe('/apps/:app_id/settings', () => {
  const path = () => `/apps/${appId}/settings`;

  it('renames the app and saves its retry schedule within the API’s bounds', async () => {
    const saved = await post(settings, path(), owner, { name: 'Shop EU', retry_initial_interval: '30s', retry_backoff_coefficient: '1.5' }, { app_id: appId });
    expect(saved.status).toBe(200);
    expect(saved.body.saved).toBe(true);
    const app = await findApp(portal.context.db, accountId, appId);
    expect(app).toMatchObject({ name: 'Shop EU', retry_initial_interval_ms: 30_000, retry_backoff_coefficient: 1.5 });

    const page = await load(settings, path(), member, { app_id: appId });
    expect(page.body.app).toMatchObject({ retry_initial_interval_ms: 30_000, retry_backoff_coefficient: 1.5 });
    expect(page.body.defaults.maximumAttempts).toBe(portal.context.config.retry.maximumAttempts);

    const cleared = await post(settings, path(), owner, { name: 'Shop', retry_initial_interval: '', retry_backoff_coefficient: '' }, { app_id: appId });
    expect(cleared.status).toBe(200);
    expect(await findApp(portal.context.db, accountId, appId)).toMatchObject({ name: 'Shop', retry_initial_interval_ms: null, retry_backoff_coefficient: null });
  });

  it('keeps what was typed beside each error and saves nothing', async () => {
    const before = await findApp(portal.context.db, accountId, appId);
    const typed = { name: '', retry_initial_interval: '5ms', retry_backoff_coefficient: '101' };
    const refused = await post(settings, path(), owner, typed, { app_id: appId });
    expect(refused.status).toBe(400);
    expect(refused.body.values).toEqual(typed);
    expect(refused.body.errors).toEqual({ name: 'must not be empty', retry_initial_interval: 'must be at least 10 ms', retry_backoff_coefficient: 'must be at most 100' });

    const garbled = await post(settings, path(), owner, { name: 'Shop', retry_initial_interval: 'soon', retry_backoff_coefficient: 'two' }, { app_id: appId });
    expect(garbled.status).toBe(400);
    expect(Object.keys(garbled.body.errors).sort()).toEqual(['retry_backoff_coefficient', 'retry_initial_interval']);
    expect(await findApp(portal.context.db, accountId, appId)).toEqual(before);
  });

  it('refuses a form without the CSRF token', async () => {
    const refused = await post(settings, path(), { ...owner, csrf: '' }, { name: 'Forged' }, { app_id: appId });
    expect(refused.status).toBe(403);
    expect((await findApp(portal.context.db, accountId, appId))?.name).not.toBe('Forged');
  });
});

describe('/apps/:app_id/event-types', () => {
  const path = () => `/apps/${appId}/event-types`;
  const params = () => ({ app_id: appId });
  const namesNow = async () => (await eventTypesOf(portal.context.db, appId)).map((row) => row.name);

  it('creates, lists and describes event types', async () => {
    const created = await post(eventTypes, path(), member, { intent: 'create', event_type: 'user.created', description: 'A user signed up' }, params());
    expect(created.status).toBe(200);
    const page = await load(eventTypes, path(), member, params());
    const listed = page.body.eventTypes.find((row: any) => row.name === 'user.created');
    expect(listed).toMatchObject({ description: 'A user signed up' });

    const described = await post(eventTypes, path(), member, { intent: 'describe', id: listed.id, description: 'Sent after sign-up' }, params());
    expect(described.status).toBe(200);
    const again = await load(eventTypes, path(), member, params());
    expect(again.body.eventTypes.find((row: any) => row.id === listed.id).description).toBe('Sent after sign-up');

    const duplicate = await post(eventTypes, path(), member, { intent: 'create', event_type: 'user.created', description: '' }, params());
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.errors.event_type).toBe('user.created already exists in this app');
  });

  it('keeps what was typed beside the error', async () => {
    const refused = await post(eventTypes, path(), owner, { intent: 'create', event_type: 'user created', description: 'with a space' }, params());
    expect(refused.status).toBe(400);
    expect(refused.body.values).toEqual({ event_type: 'user created', description: 'with a space' });
    expect(refused.body.errors.event_type).toMatch(/letters, digits, dots/);
    expect(await namesNow()).not.toContain('user created');
  });

  it('lets an owner delete, refuses a member with 403, and keeps one that endpoints name with a readable 409', async () => {
    const { db } = portal.context;
    const doomed = await createEventType(db, appId, { name: 'cart.abandoned', description: null });
    const forbidden = await post(eventTypes, path(), member, { intent: 'delete', id: doomed!.id }, params());
    expect(forbidden.status).toBe(403);
    expect(await namesNow()).toContain('cart.abandoned');
    expect((await load(eventTypes, path(), member, params())).body.canDelete).toBe(false);

    const named = await createEventType(db, appId, { name: 'order.paid', description: null });
    const subscriber = await createSubscriber(db, appId, { name: 'Acme', email: null }, 10);
    await createEndpoint(db, { app_id: appId, subscriber_id: subscriber!.id, url: 'https://acme.test/hook', version: '1.0', status: 'active', enabled_events: JSON.stringify(['order.paid']), secret: 'unused' }, 10);
    const conflict = await post(eventTypes, path(), owner, { intent: 'delete', id: named!.id }, params());
    expect(conflict.status).toBe(409);
    expect(conflict.body.errors.delete).toBe('order.paid cannot be deleted: 1 endpoint subscribes to it. Remove it from their enabled events on the subscribers’ pages first, then delete it.');
    expect(await namesNow()).toContain('order.paid');

    const deleted = await post(eventTypes, path(), owner, { intent: 'delete', id: doomed!.id }, params());
    expect(deleted.status).toBe(200);
    expect(await namesNow()).not.toContain('cart.abandoned');
  });

  it('refuses a form without the CSRF token', async () => {
    const refused = await post(eventTypes, path(), { ...owner, csrf: '' }, { intent: 'create', event_type: 'forged.event' }, params());
    expect(refused.status).toBe(403);
    expect(await namesNow()).not.toContain('forged.event');
  });
});
