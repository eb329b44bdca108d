import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../db/accounts.ts';
import { waitFor } from './support/ports.ts';
import { startReceiver } from './support/receiver.ts';
import { apiClient, seed, startStack, type Api, type Seeded, type Stack } from './support/stack.ts';

// The REST API's refusals: each bad request gets a clear `{error, code, details?}` answer with the right
// status, and writes nothing — no message, no delivery, no request to a subscriber.

type Receiver = Awaited<ReturnType<typeof startReceiver>>;
type Answer = Awaited<ReturnType<Api['raw']>>;

let stack: Stack;
let receiver: Receiver;
beforeAll(async () => {
  stack = await startStack();
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await stack?.close();
});

const message = { event_type: 'user.created', version: '1.0', data: { id: 42, email: 'ada@example.com' } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Long enough for a wrongly accepted message to reach the loopback receiver. */
const QUIET_MS = 300;

/** Asserts the documented error shape, the status and the code; returns the details for further checks. */
function expectApiError(answer: Answer, status: number, code: string, field?: string): { field: string; message: string }[] {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  expect(answer.body).toBeTypeOf('object');
  const { error, code: actual, details, ...rest } = answer.body;
  expect(rest, 'no keys beyond error, code and details').toEqual({});
  expect(error).toBeTypeOf('string');
  expect(error.length).toBeGreaterThan(0);
  expect(actual).toBe(code);
  if (details !== undefined) {
    expect(Array.isArray(details)).toBe(true);
    for (const detail of details) expect(detail).toEqual({ field: expect.any(String), message: expect.any(String) });
  }
  if (field !== undefined) {
    expect(details, `details naming ${field}`).toBeDefined();
    expect(details.map((d: { field: string }) => d.field)).toContain(field);
  }
  return details ?? [];
}

/** Everything an app owns, as rows and counts: equal snapshots mean nothing was written. */
async function snapshot(appId: string) {
  const db = stack.db;
  const count = (table: 'messages' | 'deliveries' | 'attempts') =>
    db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('app_id', '=', appId)
      .executeTakeFirstOrThrow()
      .then((row) => Number(row.n));
  const app = await db.selectFrom('apps').selectAll().where('id', '=', appId).executeTakeFirstOrThrow();
  const [eventTypes, subscribers, endpoints, messages, deliveries, attempts, deliveryStatuses, apiKeys] = await Promise.all([
    db.selectFrom('event_types').selectAll().where('app_id', '=', appId).orderBy('id').execute(),
    db.selectFrom('subscribers').selectAll().where('app_id', '=', appId).orderBy('id').execute(),
    db.selectFrom('endpoints').selectAll().where('app_id', '=', appId).orderBy('id').execute(),
    count('messages'),
    count('deliveries'),
    count('attempts'),
    db.selectFrom('deliveries').select(['id', 'status', 'finished_at']).where('app_id', '=', appId).orderBy('id').execute(),
    // last_used_at moves with every request, so only what a write would change.
    db.selectFrom('api_keys').select(['id', 'revoked_at']).where('account_id', '=', app.account_id).orderBy('id').execute(),
  ]);
  return { app, eventTypes, subscribers, endpoints, messages, deliveries, attempts, deliveryStatuses, apiKeys };
}

async function deliveriesSucceeded(messageId: string) {
  return waitFor(`delivery of ${messageId}`, async () => {
    const rows = await stack.db.selectFrom('deliveries').select('status').where('message_id', '=', messageId).execute();
    return rows.length > 0 && rows.every((r) => r.status === 'succeeded') ? rows : undefined;
  });
}

/** Runs `act` and asserts it wrote nothing for `appId` and sent nothing to the receiver. */
async function expectNothingWritten(appIds: string[], act: () => Promise<void>): Promise<void> {
  const before = await Promise.all(appIds.map(snapshot));
  const requestsBefore = receiver.requests.length;
  await act();
  await sleep(QUIET_MS);
  expect(await Promise.all(appIds.map(snapshot))).toEqual(before);
  expect(receiver.requests.length, 'requests to the subscriber').toBe(requestsBefore);
}

describe('POST /apps/:app_id/messages with bad input', () => {
  let app: Seeded;
  beforeAll(async () => {
    app = await seed(stack.api, receiver.url);
  });

  interface BadMessage {
    name: string;
    body: unknown;
    headers?: Record<string, string>;
    status: number;
    code: string;
    field?: string;
  }
  const without = (field: keyof typeof message) => Object.fromEntries(Object.entries(message).filter(([key]) => key !== field));
  const cases: BadMessage[] = [
    { name: 'an unknown event type', body: { ...message, event_type: 'user.deleted' }, status: 422, code: 'unknown_event_type', field: 'event_type' },
    { name: 'a missing data', body: without('data'), status: 422, code: 'validation_failed', field: 'data' },
    { name: 'a missing version', body: without('version'), status: 422, code: 'validation_failed', field: 'version' },
    { name: 'a missing event_type', body: without('event_type'), status: 422, code: 'validation_failed', field: 'event_type' },
    { name: 'data as a string', body: { ...message, data: 'hello' }, status: 422, code: 'validation_failed', field: 'data' },
    { name: 'version as a number', body: { ...message, version: 1 }, status: 422, code: 'validation_failed', field: 'version' },
    { name: 'override_payload as "yes"', body: { ...message, override_payload: 'yes' }, status: 422, code: 'validation_failed', field: 'override_payload' },
    { name: 'an unknown top-level field', body: { ...message, priority: 'high' }, status: 422, code: 'validation_failed', field: 'priority' },
    { name: 'malformed JSON', body: '{"event_type": "user.created", "data": {', status: 400, code: 'malformed_json' },
    { name: 'a body over 256 KiB', body: { ...message, data: { blob: 'x'.repeat(257 * 1024) } }, status: 413, code: 'payload_too_large' },
    { name: 'a JSON body sent as text/plain', body: JSON.stringify(message), headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
    { name: 'an Idempotency-Key over 255 characters', body: message, headers: { 'idempotency-key': 'k'.repeat(256) }, status: 422, code: 'validation_failed' },
  ];

  it.each(cases)('rejects $name with $status $code and writes nothing', async ({ body, headers, status, code, field }) => {
    await expectNothingWritten([app.appId], async () => {
      const answer = await stack.api.raw('POST', `/apps/${app.appId}/messages`, body, headers);
      expectApiError(answer, status, code, field);
    });
  });

  it('names an unknown field in the error message too', async () => {
    const answer = await stack.api.post(`/apps/${app.appId}/messages`, { ...message, priority: 'high' });
    expectApiError(answer, 422, 'validation_failed', 'priority');
    expect(answer.body.error).toContain('priority');
  });

  // The control: the same checks see a write when there is one, and the limits are where documented.
  it('accepts a valid message just inside the limits, which is written and delivered', async () => {
    const before = await snapshot(app.appId);
    const big = { ...message, data: { blob: 'x'.repeat(250 * 1024) } };
    const posted = await stack.api.post(`/apps/${app.appId}/messages`, big, { 'idempotency-key': 'k'.repeat(255) });
    expect(posted.status, JSON.stringify(posted.body)).toBe(202);
    await deliveriesSucceeded(posted.body.id);
    const after = await snapshot(app.appId);
    expect(after.messages).toBe(before.messages + 1);
    expect(after.deliveries).toBe(before.deliveries + 1);
    await sleep(QUIET_MS);
    expect(receiver.requests.filter((r) => r.headers['webhook-id'] === posted.body.id)).toHaveLength(1);
  });
});

describe('authentication', () => {
  let app: Seeded;
  beforeAll(async () => {
    app = await seed(stack.api, receiver.url);
  });

  const unknownKey = 'ohk_0123456789ab_A1b2C3d4E5f6G7h8I9j0K1l2M3n4-_xY';
  const variants: { name: string; authorization?: string }[] = [
    { name: 'no Authorization header' },
    { name: 'a non-Bearer scheme', authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` },
    { name: 'a malformed key', authorization: 'Bearer not-an-api-key' },
    { name: 'a well-formed but unknown key', authorization: `Bearer ${unknownKey}` },
  ];

  it('builds a well-formed unknown key for the test', () => {
    expect(unknownKey).toMatch(/^ohk_[0-9a-f]{12}_[\w-]{32}$/);
    expect(unknownKey.slice(4, 16)).not.toBe(stack.apiKey.slice(4, 16));
  });

  it.each(variants)('answers 401 unauthorized to $name and writes nothing', async ({ authorization }) => {
    await expectNothingWritten([app.appId], async () => {
      const response = await fetch(`${stack.serverUrl}/api/v1/apps/${app.appId}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify(message),
      });
      const text = await response.text();
      expectApiError({ status: response.status, headers: response.headers, body: JSON.parse(text) }, 401, 'unauthorized');
    });
    const apps = await fetch(`${stack.serverUrl}/api/v1/apps`, { headers: authorization ? { authorization } : {} });
    expect(apps.status).toBe(401);
  });

  it('accepts the real key on the same request (control)', async () => {
    const posted = await stack.api.post(`/apps/${app.appId}/messages`, message);
    expect(posted.status).toBe(202);
    await deliveriesSucceeded(posted.body.id);
  });
});

describe('cross-account isolation', () => {
  let a: Seeded;
  let b: Seeded;
  let apiB: Api;
  let messageId: string;
  let attemptId: string;
  let eventTypeId: string;
  let keyIdA: string;

  beforeAll(async () => {
    a = await seed(stack.api, receiver.url);
    const posted = await stack.api.post(`/apps/${a.appId}/messages`, message);
    messageId = posted.body.id;
    await deliveriesSucceeded(messageId);
    attemptId = await waitFor('the attempt row', async () => {
      const row = await stack.db.selectFrom('attempts').select('id').where('message_id', '=', messageId).executeTakeFirst();
      return row?.id;
    });
    eventTypeId = (await stack.api.get(`/apps/${a.appId}/webhook_events`)).body[0].id;
    keyIdA = (await stack.api.get('/api_keys')).body[0].id;
    const other = await createAccount(stack.db, { name: 'Other provider', email: 'owner@other.test', password: 'another horse battery' });
    apiB = apiClient(stack.serverUrl, other.apiKey);
    b = await seed(apiB, receiver.url);
  });

  const fill = (route: string) =>
    route
      .replace('{app}', a.appId)
      .replace('{sub}', a.subscriberId)
      .replace('{ep}', a.endpointId)
      .replace('{msg}', messageId)
      .replace('{att}', attemptId)
      .replace('{evt}', eventTypeId)
      .replace('{key}', keyIdA)
      .replace('{bApp}', b.appId)
      .replace('{bSub}', b.subscriberId);

  const routes: [method: 'GET' | 'POST' | 'PATCH' | 'DELETE', route: string, body?: unknown][] = [
    ['GET', '/apps/{app}'],
    ['PATCH', '/apps/{app}', { name: 'Hijacked' }],
    ['GET', '/apps/{app}/webhook_events'],
    ['POST', '/apps/{app}/webhook_events', { event_type: 'evil.created' }],
    ['GET', '/apps/{app}/subscriptions'],
    ['POST', '/apps/{app}/subscriptions', { name: 'Evil', email: 'evil@other.test' }],
    ['GET', '/subscriptions/{sub}'],
    ['PATCH', '/subscriptions/{sub}', { name: 'Hijacked' }],
    ['GET', '/apps/{app}/endpoints'],
    ['GET', '/subscriptions/{sub}/endpoints'],
    ['GET', '/apps/{app}/endpoints/{ep}'],
    ['GET', '/apps/{app}/endpoints/{ep}/secret'],
    ['POST', '/subscriptions/{sub}/endpoints', { url: 'https://evil.test/hook', version: '1.0' }],
    ['PATCH', '/subscriptions/{sub}/endpoints/{ep}', { url: 'https://evil.test/hook', status: 'inactive' }],
    ['DELETE', '/subscriptions/{sub}/endpoints/{ep}'],
    ['DELETE', '/apps/{app}/endpoints/{ep}'],
    ['POST', '/apps/{app}/messages', message],
    ['POST', '/subscriptions/{sub}/messages', message],
    ['POST', '/subscriptions/{sub}/endpoints/{ep}/messages', message],
    ['GET', '/apps/{app}/messages'],
    ['GET', '/apps/{app}/messages/{msg}'],
    ['GET', '/apps/{app}/webhook_attempts'],
    ['GET', '/apps/{app}/webhook_attempts/{att}'],
    ['GET', '/apps/{app}/webhook_events/{evt}'],
    ['PATCH', '/apps/{app}/webhook_events/{evt}', { description: 'Hijacked' }],
    ['DELETE', '/apps/{app}/webhook_events/{evt}'],
    ['POST', '/apps/{app}/endpoints/{ep}/secret/rotate', {}],
    ['GET', '/apps/{app}/endpoints/{ep}/webhook_attempts'],
    ['GET', '/apps/{app}/messages/{msg}/deliveries'],
    ['POST', '/apps/{app}/webhook_attempts/{att}/replay'],
    ['GET', '/apps/{app}/code_samples'],
    ['DELETE', '/api_keys/{key}'],
    // Account B's own app or subscription with account A's ids inside.
    ['GET', '/apps/{bApp}/endpoints/{ep}'],
    ['GET', '/apps/{bApp}/endpoints/{ep}/secret'],
    ['GET', '/apps/{bApp}/code_samples?endpoint_id={ep}'],
    ['PATCH', '/subscriptions/{bSub}/endpoints/{ep}', { status: 'inactive' }],
    ['DELETE', '/subscriptions/{bSub}/endpoints/{ep}'],
    ['DELETE', '/apps/{bApp}/endpoints/{ep}'],
    ['POST', '/subscriptions/{bSub}/endpoints/{ep}/messages', message],
    ['GET', '/apps/{bApp}/messages/{msg}'],
    ['GET', '/apps/{bApp}/webhook_attempts/{att}'],
    ['POST', '/apps/{bApp}/endpoints/{ep}/secret/rotate', {}],
    ['GET', '/apps/{bApp}/endpoints/{ep}/webhook_attempts'],
    ['GET', '/apps/{bApp}/messages/{msg}/deliveries'],
    ['POST', '/apps/{bApp}/webhook_attempts/{att}/replay'],
  ];

  it.each(routes)("answers 404 to another account's %s %s and writes nothing", async (method, route, body) => {
    await expectNothingWritten([a.appId, b.appId], async () => {
      const answer = await apiB.raw(method, fill(route), body);
      // `not_found` (not `route_not_found`): the route exists, the resource is just not B's.
      expectApiError(answer, 404, 'not_found');
      expect(JSON.stringify(answer.body)).not.toContain(a.secret);
    });
    if (method === 'GET' && !route.includes('{b')) {
      const owner = await stack.api.get(fill(route));
      expect(owner.status, 'the owner can read it').toBe(200);
    }
  });

  it("does not let a filter reach into another account's attempts", async () => {
    const answer = await apiB.get(`/apps/${b.appId}/webhook_attempts?message_id=${messageId}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual([]);
    const owner = await stack.api.get(`/apps/${a.appId}/webhook_attempts?message_id=${messageId}`);
    expect(owner.body.map((x: { id: string }) => x.id)).toEqual([attemptId]);
  });
});

describe('endpoints', () => {
  let app: Seeded;
  beforeAll(async () => {
    app = await seed(stack.api, receiver.url);
  });
  const endpointsOf = (subscriberId: string) => stack.db.selectFrom('endpoints').select('id').where('subscriber_id', '=', subscriberId).execute();

  it.each([
    ['an ftp:// url', { url: 'ftp://example.com/hook', version: '1.0' }, 'url'],
    ['a url that is not a URL', { url: 'not a url', version: '1.0' }, 'url'],
    ['a bad status', { url: 'https://example.com/hook', version: '1.0', status: 'paused' }, 'status'],
    ['a missing version', { url: 'https://example.com/hook' }, 'version'],
  ])('refuses to create one with %s (422 naming the field)', async (_name, body, field) => {
    const before = await endpointsOf(app.subscriberId);
    const answer = await stack.api.post(`/subscriptions/${app.subscriberId}/endpoints`, body);
    expectApiError(answer, 422, 'validation_failed', field);
    expect(await endpointsOf(app.subscriberId)).toEqual(before);
  });

  it('refuses enabled_events naming an unknown event type, on create and on update', async () => {
    const before = await endpointsOf(app.subscriberId);
    const created = await stack.api.post(`/subscriptions/${app.subscriberId}/endpoints`, {
      url: 'https://example.com/hook',
      version: '1.0',
      enabled_events: ['user.created', 'user.deleted'],
    });
    const details = expectApiError(created, 422, 'unknown_event_type', 'enabled_events');
    expect(details[0]!.message).toContain('user.deleted');
    expect(details[0]!.message).not.toContain('user.created');
    expect(await endpointsOf(app.subscriberId)).toEqual(before);

    const patched = await stack.api.patch(`/subscriptions/${app.subscriberId}/endpoints/${app.endpointId}`, { enabled_events: ['nope.nope'] });
    expectApiError(patched, 422, 'unknown_event_type', 'enabled_events');
    const row = await stack.db.selectFrom('endpoints').select('enabled_events').where('id', '=', app.endpointId).executeTakeFirstOrThrow();
    expect(row.enabled_events).toBe('*');
  });

  it('refuses a bad status on update and leaves the endpoint as it was', async () => {
    const patched = await stack.api.patch(`/subscriptions/${app.subscriberId}/endpoints/${app.endpointId}`, { status: 'disabled' });
    expectApiError(patched, 422, 'validation_failed', 'status');
    expect((await stack.api.get(`/apps/${app.appId}/endpoints/${app.endpointId}`)).body.status).toBe('active');
  });

  it('sets disabled_reason and disabled_at when made inactive, and clears both when made active again', async () => {
    const route = `/subscriptions/${app.subscriberId}/endpoints/${app.endpointId}`;
    const off = await stack.api.patch(route, { status: 'inactive' });
    expect(off.status).toBe(200);
    expect(off.body.status).toBe('inactive');
    expect(off.body.disabled_reason).toEqual(expect.any(String));
    expect(new Date(off.body.disabled_at).toISOString()).toBe(off.body.disabled_at);

    const on = await stack.api.patch(route, { status: 'active' });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ status: 'active', disabled_reason: null, disabled_at: null });
    const row = await stack.db.selectFrom('endpoints').select(['status', 'disabled_reason', 'disabled_at']).where('id', '=', app.endpointId).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'active', disabled_reason: null, disabled_at: null });
  });

  it('answers 201 with a whsec_ secret once, and GET …/secret returns the same key', async () => {
    const created = await stack.api.post(`/subscriptions/${app.subscriberId}/endpoints`, { url: 'https://example.com/a', version: '1.0' });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.body.secret).not.toBe(app.secret);
    const secret = await stack.api.get(`/apps/${app.appId}/endpoints/${created.body.id}/secret`);
    expect(secret.status).toBe(200);
    expect(secret.body).toEqual({ key: created.body.secret, previous_key_expires_at: null });
    const read = await stack.api.get(`/apps/${app.appId}/endpoints/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).not.toHaveProperty('secret');
    expect(JSON.stringify(read.body)).not.toContain(created.body.secret);
  });

  it('lists as a bare array with X-Total-Count and a Link header that has rel="next" until the last page', async () => {
    const own = await stack.api.post(`/apps`, { name: 'Paging' });
    await stack.api.post(`/apps/${own.body.id}/webhook_events`, { event_type: 'user.created' });
    const subscriber = await stack.api.post(`/apps/${own.body.id}/subscriptions`, { name: 'Pager' });
    for (const n of [1, 2, 3]) {
      expect((await stack.api.post(`/subscriptions/${subscriber.body.id}/endpoints`, { url: `https://example.com/${n}`, version: '1.0' })).status).toBe(201);
    }
    for (const base of [`/apps/${own.body.id}/endpoints`, `/subscriptions/${subscriber.body.id}/endpoints`]) {
      const seen: string[] = [];
      let route = `${base}?per_page=1`;
      for (let page = 1; page <= 3; page++) {
        const answer = await stack.api.get(route);
        expect(answer.status).toBe(200);
        expect(Array.isArray(answer.body)).toBe(true);
        expect(answer.body).toHaveLength(1);
        expect(answer.headers.get('x-total-count')).toBe('3');
        seen.push(answer.body[0].id);
        const next = /<([^>]+)>;\s*rel="next"/.exec(answer.headers.get('link') ?? '');
        if (page < 3) {
          expect(next, `rel="next" on page ${page}`).not.toBeNull();
          const url = new URL(next![1]!);
          expect(url.pathname).toBe(`/api/v1${base}`);
          expect(url.searchParams.get('page')).toBe(String(page + 1));
          expect(url.searchParams.get('per_page')).toBe('1');
          route = `${url.pathname.replace(/^\/api\/v1/, '')}${url.search}`;
        } else {
          expect(next, 'no rel="next" on the last page').toBeNull();
          expect(answer.headers.get('link')).toContain('rel="last"');
        }
      }
      expect(new Set(seen).size).toBe(3);
    }
  });

  it('refuses per_page over 100 with 422 invalid_query', async () => {
    expectApiError(await stack.api.get(`/apps/${app.appId}/endpoints?per_page=101`), 422, 'invalid_query', 'per_page');
    expect((await stack.api.get(`/apps/${app.appId}/endpoints?per_page=100`)).status).toBe(200);
  });
});

describe('event types (webhook_events)', () => {
  let app: Seeded;
  beforeAll(async () => {
    app = await seed(stack.api, receiver.url);
  });
  const namesOf = async (appId: string) =>
    (await stack.db.selectFrom('event_types').select('name').where('app_id', '=', appId).orderBy('name').execute()).map((r) => r.name);

  it('answers 409 conflict to a duplicate event_type in the same app, even with surrounding spaces', async () => {
    const before = await namesOf(app.appId);
    expect(before).toContain('user.created');
    expectApiError(await stack.api.post(`/apps/${app.appId}/webhook_events`, { event_type: 'user.created' }), 409, 'conflict');
    expectApiError(await stack.api.post(`/apps/${app.appId}/webhook_events`, { event_type: ' user.created ' }), 409, 'conflict');
    expect(await namesOf(app.appId)).toEqual(before);
  });

  it('allows the same event_type in another app (control)', async () => {
    const other = await stack.api.post('/apps', { name: 'Other' });
    const created = await stack.api.post(`/apps/${other.body.id}/webhook_events`, { event_type: 'user.created' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ event_type: 'user.created', app: { id: other.body.id } });
  });

  it('answers 422 to a name with spaces', async () => {
    const before = await namesOf(app.appId);
    const answer = await stack.api.post(`/apps/${app.appId}/webhook_events`, { event_type: 'user signed up' });
    expectApiError(answer, 422, 'validation_failed', 'event_type');
    expect(await namesOf(app.appId)).toEqual(before);
  });
});

describe('subscriptions', () => {
  let appId: string;
  beforeAll(async () => {
    appId = (await stack.api.post('/apps', { name: 'Subscribed' })).body.id;
  });

  it('creates one with the HostedHooks shape', async () => {
    const app = await stack.api.get(`/apps/${appId}`);
    const created = await stack.api.post(`/apps/${appId}/subscriptions`, { name: 'Acme', email: 'ops@acme.test' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^sub_/),
      subscriber_name: 'Acme',
      email: 'ops@acme.test',
      created_at: expect.any(String),
      app: { id: appId, name: 'Subscribed', created_at: app.body.created_at },
    });
    expect(new Date(created.body.created_at).toISOString()).toBe(created.body.created_at);
    expect((await stack.api.get(`/subscriptions/${created.body.id}`)).body).toEqual(created.body);
  });

  it('answers 422 naming email to an invalid email, and creates nothing', async () => {
    const count = async () => (await stack.db.selectFrom('subscribers').select('id').where('app_id', '=', appId).execute()).length;
    const before = await count();
    expectApiError(await stack.api.post(`/apps/${appId}/subscriptions`, { name: 'Acme', email: 'not-an-email' }), 422, 'validation_failed', 'email');
    expect(await count()).toBe(before);
  });
});

describe('webhook_attempts filters', () => {
  let appId: string;
  beforeAll(async () => {
    appId = (await stack.api.post('/apps', { name: 'Filtered' })).body.id;
  });

  it('answers 422 invalid_query to status=bogus', async () => {
    expectApiError(await stack.api.get(`/apps/${appId}/webhook_attempts?status=bogus`), 422, 'invalid_query', 'status');
    expect((await stack.api.get(`/apps/${appId}/webhook_attempts?status=failed`)).status).toBe(200);
  });

  it('answers 422 invalid_query to since=not-a-date', async () => {
    expectApiError(await stack.api.get(`/apps/${appId}/webhook_attempts?since=not-a-date`), 422, 'invalid_query', 'since');
    expect((await stack.api.get(`/apps/${appId}/webhook_attempts?since=${encodeURIComponent(new Date().toISOString())}`)).status).toBe(200);
  });
});

describe('routing', () => {
  it('answers 404 route_not_found to an unknown route under /api/v1', async () => {
    const answer = await stack.api.get('/no/such/route');
    expectApiError(answer, 404, 'route_not_found');
    expect(answer.body.error).toContain('/api/v1/no/such/route');
  });

  it('answers GET /api/v1/health with 200 without auth', async () => {
    const response = await fetch(`${stack.serverUrl}/api/v1/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });
});
