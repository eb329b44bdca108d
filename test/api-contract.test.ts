import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_TRUST_MS } from '../api/auth.ts';
import { startServer } from '../cli/server.ts';
import { withTemporalAddress } from '../cli/runtime.ts';
import { createAccount } from '../db/accounts.ts';
import { createDb } from '../db/connection.ts';
import { loadConfig } from '../lib/config.ts';
import { SecretBox } from '../lib/secrets.ts';
import { deliveryWorkflowId } from '../workflows/delivery-run.ts';
import { freePort, waitFor } from './support/ports.ts';
import { startReceiver, type ReceivedRequest } from './support/receiver.ts';
import { apiClient, seed, startStack, testEnv, type Api, type Stack } from './support/stack.ts';
import { verifyHostedHooks, verifyStandardWebhooks } from './support/verify.ts';

// The routes and conventions beyond the first HostedHooks surface: event type edits, endpoint
// error rates and secret rotation, deliveries, resending one attempt's delivery, the per-endpoint attempts
// path, API keys, health/readiness, Idempotency-Key, rate limits and pagination headers.

type Receiver = Awaited<ReturnType<typeof startReceiver>>;
type Answer = Awaited<ReturnType<Api['raw']>>;

let stack: Stack;
const receivers: Receiver[] = [];
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await stack?.close();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

const message = { event_type: 'user.created', version: '1.0', data: { id: 42, email: 'ada@example.com' } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

function expectApiError(answer: Answer, status: number, code: string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toMatchObject({ error: expect.any(String), code });
}

async function waitForDelivery(messageId: string, status: string, timeoutMs = 30_000) {
  return waitFor(`delivery of ${messageId} to become ${status}`, async () => {
    const rows = await stack.db.selectFrom('deliveries').select(['id', 'status']).where('message_id', '=', messageId).execute();
    return rows.length > 0 && rows.every((r) => r.status === status) ? rows : undefined;
  }, timeoutMs);
}

/** Link header → { rel: URL }. */
function links(answer: Answer): Record<string, URL> {
  const header = answer.headers.get('link') ?? '';
  return Object.fromEntries([...header.matchAll(/<([^>]+)>;\s*rel="(\w+)"/g)].map((m) => [m[2]!, new URL(m[1]!)]));
}

describe('webhook_events: get, update, delete', () => {
  let appId: string;
  let subscriberId: string;
  beforeAll(async () => {
    const r = await receiver();
    ({ appId, subscriberId } = await seed(stack.api, r.url));
  });

  it('gets one, updates its description and renames it while no endpoint names it', async () => {
    const created = await stack.api.post(`/apps/${appId}/webhook_events`, { event_type: 'invoice.paid', description: 'An invoice was paid' });
    expect(created.status).toBe(201);
    const route = `/apps/${appId}/webhook_events/${created.body.id}`;

    const one = await stack.api.get(route);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(created.body);

    const described = await stack.api.patch(route, { description: 'Paid in full' });
    expect(described.status).toBe(200);
    expect(described.body).toEqual({ ...created.body, description: 'Paid in full' });
    expect((await stack.api.get(route)).body.description).toBe('Paid in full');

    // The seeded endpoint subscribes to "*", which names no event type: the rename goes through.
    const renamed = await stack.api.patch(route, { event_type: 'invoice.settled' });
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect(renamed.body).toMatchObject({ id: created.body.id, event_type: 'invoice.settled', description: 'Paid in full' });
    const names = (await stack.api.get(`/apps/${appId}/webhook_events`)).body.map((e: { event_type: string }) => e.event_type);
    expect(names).toContain('invoice.settled');
    expect(names).not.toContain('invoice.paid');
  });

  it('refuses to rename or delete one an endpoint lists in enabled_events (409 event_type_in_use), then deletes it once unlisted', async () => {
    const created = await stack.api.post(`/apps/${appId}/webhook_events`, { event_type: 'refund.issued' });
    const route = `/apps/${appId}/webhook_events/${created.body.id}`;
    const endpoint = await stack.api.post(`/subscriptions/${subscriberId}/endpoints`, { url: 'https://example.com/refunds', version: '1.0', enabled_events: ['refund.issued'] });
    expect(endpoint.status).toBe(201);

    expectApiError(await stack.api.patch(route, { event_type: 'refund.sent' }), 409, 'event_type_in_use');
    expectApiError(await stack.api.raw('DELETE', route), 409, 'event_type_in_use');
    expect((await stack.api.get(route)).body).toEqual(created.body);
    // A description change is no rename: allowed while in use.
    expect((await stack.api.patch(route, { description: 'still here' })).status).toBe(200);

    const moved = await stack.api.patch(`/subscriptions/${subscriberId}/endpoints/${endpoint.body.id}`, { enabled_events: ['user.created'] });
    expect(moved.status).toBe(200);
    const deleted = await stack.api.raw('DELETE', route);
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
    expect(deleted.body).toEqual({ ...created.body, description: 'still here' });
    const list = await stack.api.get(`/apps/${appId}/webhook_events`);
    expect(list.body.map((e: { id: string }) => e.id)).not.toContain(created.body.id);
    expectApiError(await stack.api.get(route), 404, 'not_found');
    expect(await stack.db.selectFrom('event_types').select('id').where('id', '=', created.body.id).execute()).toEqual([]);
  });
});

describe('endpoints: error_rate', () => {
  it('is 0 with no attempts and 50 after one failed and one successful attempt', async () => {
    const r = await receiver((_req, index) => (index === 0 ? { status: 500, body: 'boom' } : { status: 200 }));
    const { appId, endpointId } = await seed(stack.api, r.url);
    const route = `/apps/${appId}/endpoints/${endpointId}`;
    expect((await stack.api.get(route)).body.error_rate).toBe(0);

    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    await waitForDelivery(posted.body.id, 'succeeded');
    expect(r.requests).toHaveLength(2);
    expect((await stack.api.get(route)).body.error_rate).toBe(50);
    const listed = await stack.api.get(`/apps/${appId}/endpoints`);
    expect(listed.body.find((e: { id: string }) => e.id === endpointId).error_rate).toBe(50);
  });
});

describe('endpoints: secret rotation', () => {
  /** Which of the two secrets each space-separated v1 signature verifies with. */
  function signers(request: ReceivedRequest, secrets: Record<string, string>): string[] {
    const signatures = String(request.headers['webhook-signature']).split(' ');
    return signatures.map((signature) => {
      const names = Object.entries(secrets)
        .filter(([, secret]) => {
          const headers: IncomingHttpHeaders = { ...request.headers, 'webhook-signature': signature };
          try {
            verifyStandardWebhooks(secret, request.body, headers);
            return true;
          } catch {
            return false;
          }
        })
        .map(([name]) => name);
      return names.join('+') || 'none';
    });
  }

  it('returns a new key, keeps the old one signing for 24h next to it, and signs HostedHooks-Signature with the new one', async () => {
    const r = await receiver();
    const { appId, endpointId, secret: oldSecret } = await seed(stack.api, r.url);
    const before = Date.now();
    const rotated = await stack.api.post(`/apps/${appId}/endpoints/${endpointId}/secret/rotate`, {});
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const newSecret: string = rotated.body.key;
    expect(newSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(newSecret).not.toBe(oldSecret);
    const expiresIn = new Date(rotated.body.previous_key_expires_at).getTime() - before;
    expect(expiresIn).toBeGreaterThan(24 * 3600_000 - 60_000);
    expect(expiresIn).toBeLessThan(24 * 3600_000 + 60_000);
    expect((await stack.api.get(`/apps/${appId}/endpoints/${endpointId}/secret`)).body).toEqual(rotated.body);

    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    await waitForDelivery(posted.body.id, 'succeeded');
    const [request] = r.requests;
    expect(String(request!.headers['webhook-signature'])).toMatch(/^v1,\S+ v1,\S+$/);
    expect(signers(request!, { old: oldSecret, new: newSecret }).sort()).toEqual(['new', 'old']);
    // Standard Webhooks libraries accept the header as a whole with either secret.
    expect(verifyStandardWebhooks(newSecret, request!.body, request!.headers)).toMatchObject({ id: posted.body.id });
    expect(verifyStandardWebhooks(oldSecret, request!.body, request!.headers)).toMatchObject({ id: posted.body.id });
    const hostedHooks = request!.headers['hostedhooks-signature'] as string;
    expect(verifyHostedHooks(newSecret, request!.body, hostedHooks)).toBe(true);
    expect(verifyHostedHooks(oldSecret, request!.body, hostedHooks)).toBe(false);
  });

  it('sets an explicit key, and refuses a malformed one with 422', async () => {
    const r = await receiver();
    const { appId, endpointId } = await seed(stack.api, r.url);
    const route = `/apps/${appId}/endpoints/${endpointId}/secret`;
    const key = `whsec_${randomBytes(32).toString('base64')}`;
    const rotated = await stack.api.post(`${route}/rotate`, { key });
    expect(rotated.status).toBe(200);
    expect(rotated.body.key).toBe(key);
    expect((await stack.api.get(route)).body.key).toBe(key);

    for (const bad of ['not-a-secret', `whsec_${'!'.repeat(44)}`, 'whsec_c2hvcnQ=', randomBytes(32).toString('base64')]) {
      const answer = await stack.api.post(`${route}/rotate`, { key: bad });
      expectApiError(answer, 422, 'validation_failed');
      expect(answer.body.details.map((d: { field: string }) => d.field)).toContain('key');
    }
    expect((await stack.api.get(route)).body.key, 'a refused rotation changes nothing').toBe(key);
  });
});

describe('deliveries of a message', () => {
  it('lists each delivery with its status and attempt count, as GET message embeds them', async () => {
    const r = await receiver((_req, index) => (index === 0 ? { status: 503 } : { status: 204 }));
    const { appId, endpointId, subscriberId } = await seed(stack.api, r.url);
    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    const [delivery] = await waitForDelivery(posted.body.id, 'succeeded');

    const list = await stack.api.get(`/apps/${appId}/messages/${posted.body.id}/deliveries`);
    expect(list.status).toBe(200);
    expect(list.headers.get('x-total-count')).toBe('1');
    expect(list.body).toEqual([
      {
        id: delivery!.id,
        message_id: posted.body.id,
        endpoint_id: endpointId,
        subscription_id: subscriberId,
        status: 'succeeded',
        reason: null,
        error: null,
        attempts: 2,
        last_attempt_at: expect.any(String),
        created_at: expect.any(String),
        finished_at: expect.any(String),
      },
    ]);
    const one = await stack.api.get(`/apps/${appId}/messages/${posted.body.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ ...posted.body, deliveries: list.body });
  });
});

describe('POST /apps/:app_id/webhook_attempts/:id/replay', () => {
  it('refuses an inactive endpoint (409), then resends once it is re-enabled: same webhook-id, trigger manual, delivery succeeded', async () => {
    let failing = true;
    const r = await receiver(() => (failing ? { status: 500, body: 'down' } : { status: 200 }));
    const { appId, endpointId, subscriberId, secret } = await seed(stack.api, r.url);
    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    const [delivery] = await waitForDelivery(posted.body.id, 'failed', 40_000);
    await waitFor('the endpoint to be disabled', async () => ((await stack.api.get(`/apps/${appId}/endpoints/${endpointId}`)).body.status === 'inactive' ? true : undefined));
    expect(r.requests).toHaveLength(5);
    const attempts = await stack.api.get(`/apps/${appId}/webhook_attempts?message_id=${posted.body.id}`);
    const attemptId: string = attempts.body[0].id;

    const refused = await stack.api.post(`/apps/${appId}/webhook_attempts/${attemptId}/replay`);
    expectApiError(refused, 409, 'endpoint_inactive');
    await sleep(500);
    expect(r.requests, 'nothing sent while inactive').toHaveLength(5);
    expect((await stack.db.selectFrom('deliveries').select('status').where('id', '=', delivery!.id).executeTakeFirstOrThrow()).status).toBe('failed');

    failing = false;
    expect((await stack.api.patch(`/subscriptions/${subscriberId}/endpoints/${endpointId}`, { status: 'active' })).status).toBe(200);
    const resend = await stack.api.post(`/apps/${appId}/webhook_attempts/${attemptId}/replay`);
    expect(resend.status, JSON.stringify(resend.body)).toBe(202);
    expect(resend.body).toEqual({ delivery_id: delivery!.id, workflow_id: deliveryWorkflowId(delivery!.id) });

    await waitForDelivery(posted.body.id, 'succeeded');
    await sleep(300); // a duplicate would arrive by now
    expect(r.requests).toHaveLength(6);
    const resent = r.requests[5]!;
    expect(resent.headers['webhook-id']).toBe(posted.body.id);
    expect(resent.body).toBe(r.requests[0]!.body);
    expect(verifyStandardWebhooks(secret, resent.body, resent.headers)).toMatchObject({ id: posted.body.id });

    const after = await stack.api.get(`/apps/${appId}/webhook_attempts?message_id=${posted.body.id}`);
    expect(after.body).toHaveLength(6);
    expect(after.body[0]).toMatchObject({ trigger: 'manual', status_message: 'success', status_code: '200', delivery_id: delivery!.id });
    expect(after.body.slice(1).map((a: { trigger: string }) => a.trigger)).toEqual(Array(5).fill('automatic'));
    const deliveries = await stack.api.get(`/apps/${appId}/messages/${posted.body.id}/deliveries`);
    expect(deliveries.body[0]).toMatchObject({ id: delivery!.id, status: 'succeeded', attempts: 6 });
  });

  it('answers 404 to an unknown attempt', async () => {
    const app = await stack.api.post('/apps', { name: 'No attempts' });
    expectApiError(await stack.api.post(`/apps/${app.body.id}/webhook_attempts/att_nope/replay`), 404, 'not_found');
  });
});

describe('GET /apps/:app_id/endpoints/:endpoint_id/webhook_attempts', () => {
  it("lists only that endpoint's attempts, whatever endpoint_id the query names", async () => {
    const r = await receiver();
    const { appId, endpointId: a, subscriberId } = await seed(stack.api, r.url);
    const second = await stack.api.post(`/subscriptions/${subscriberId}/endpoints`, { url: `${r.url}?second`, version: '1.0' });
    const b: string = second.body.id;
    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    await waitForDelivery(posted.body.id, 'succeeded');

    const all = await stack.api.get(`/apps/${appId}/webhook_attempts`);
    expect(all.body.map((x: { endpoint_id: string }) => x.endpoint_id).sort()).toEqual([a, b].sort());
    for (const [endpoint, other] of [[a, b], [b, a]] as const) {
      const own = await stack.api.get(`/apps/${appId}/endpoints/${endpoint}/webhook_attempts`);
      expect(own.status).toBe(200);
      expect(own.headers.get('x-total-count')).toBe('1');
      expect(own.body).toEqual([all.body.find((x: { endpoint_id: string }) => x.endpoint_id === endpoint)]);
      const overridden = await stack.api.get(`/apps/${appId}/endpoints/${endpoint}/webhook_attempts?endpoint_id=${other}`);
      expect(overridden.body.map((x: { endpoint_id: string }) => x.endpoint_id)).toEqual([endpoint]);
    }
    expectApiError(await stack.api.get(`/apps/${appId}/endpoints/ep_nope/webhook_attempts`), 404, 'not_found');
  });
});

describe('API keys', () => {
  it('shows a new key once, lists keys without it, and a revoked key gets 401', async () => {
    const created = await stack.api.post('/api_keys', { name: 'CI' });
    expect(created.status).toBe(201);
    const key: string = created.body.key;
    expect(created.body).toEqual({ id: expect.stringMatching(/^key_/), name: 'CI', prefix: expect.any(String), key: expect.stringMatching(/^ohk_/), created_at: expect.any(String), last_used_at: null, revoked_at: null });
    expect(key.startsWith(created.body.prefix)).toBe(true);

    const other = apiClient(stack.serverUrl, key);
    const apps = await other.get('/apps?per_page=100');
    expect(apps.status).toBe(200);
    expect(apps.body).toEqual((await stack.api.get('/apps?per_page=100')).body);

    const list = await stack.api.get('/api_keys');
    expect(list.status).toBe(200);
    const listed = list.body.find((k: { id: string }) => k.id === created.body.id);
    const withoutKey = Object.fromEntries(Object.entries(created.body).filter(([field]) => field !== 'key' && field !== 'last_used_at'));
    expect(listed).toMatchObject(withoutKey);
    // Use is recorded (to the minute) in the background.
    await waitFor('last_used_at', async () => ((await stack.api.get('/api_keys')).body.find((k: { id: string }) => k.id === created.body.id).last_used_at ?? undefined) as string | undefined);
    for (const item of list.body) expect(item).not.toHaveProperty('key');
    expect(JSON.stringify(list.body)).not.toContain(key);

    const revoked = await stack.api.raw('DELETE', `/api_keys/${created.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: created.body.id, revoked_at: expect.any(String) });
    expect(revoked.body).not.toHaveProperty('key');
    expect(Math.abs(new Date(revoked.body.revoked_at).getTime() - Date.now())).toBeLessThan(60_000);
    expectApiError(await other.get('/apps'), 401, 'unauthorized');
    expect((await stack.api.get('/apps')).status, 'the other key still works').toBe(200);
    expect((await stack.api.get('/api_keys')).body.find((k: { id: string }) => k.id === created.body.id).revoked_at).toBe(revoked.body.revoked_at);
  });

  it('stops accepting a key revoked by another API process within API_KEY_TRUST_MS', async () => {
    const created = await stack.api.post('/api_keys', { name: 'elsewhere' });
    const other = apiClient(stack.serverUrl, created.body.key as string);
    expect((await other.get('/apps')).status).toBe(200); // now trusted by this process
    // Revoked as another API process would: in the database, without this process hearing of it.
    await stack.db.updateTable('api_keys').set({ revoked_at: new Date() }).where('id', '=', created.body.id as string).execute();
    await new Promise((r) => setTimeout(r, API_KEY_TRUST_MS + 100));
    expectApiError(await other.get('/apps'), 401, 'unauthorized');
  });
});

describe('health and readiness', () => {
  it('answers /health and /ready with 200 without an API key', async () => {
    const health = await fetch(`${stack.serverUrl}/api/v1/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${stack.serverUrl}/api/v1/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', postgres: 'ok', temporal: 'ok' });
  });

  it('stays ready (200) while Temporal cannot be reached, since messages are still accepted, and says so in the body', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const config = loadConfig(testEnv({ DATABASE_URL: stack.env.DATABASE_URL!, TEMPORAL_ADDRESS: address }));
    const db = createDb(config.databaseUrl!, 2);
    const server = await startServer({ config: withTemporalAddress(config, address), db, secrets: new SecretBox(config.encryptionKey!), portal: false });
    try {
      const ready = await fetch(`${server.url}/api/v1/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', postgres: 'ok', temporal: 'unavailable' });
      expect((await fetch(`${server.url}/api/v1/health`)).status, 'liveness does not depend on Temporal').toBe(200);
    } finally {
      await server.stop();
      await db.destroy();
    }
  });
});

describe('Idempotency-Key on POST /apps', () => {
  const appsNamed = async (name: string) => stack.db.selectFrom('apps').select('id').where('account_id', '=', stack.accountId).where('name', '=', name).execute();

  it('replays the first answer to the same key and body, and creates one app', async () => {
    const name = unique('Idempotent');
    const headers = { 'idempotency-key': unique('key') };
    const first = await stack.api.post('/apps', { name }, headers);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const second = await stack.api.post('/apps', { name }, headers);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await appsNamed(name)).toEqual([{ id: first.body.id }]);

    expectApiError(await stack.api.post('/apps', { name: `${name} 2` }, headers), 422, 'idempotency_key_reused');
    expect(await appsNamed(`${name} 2`)).toEqual([]);
    expect(await appsNamed(name)).toHaveLength(1);
    // Without the key, the same body creates another (control).
    expect((await stack.api.post('/apps', { name })).status).toBe(201);
    expect(await appsNamed(name)).toHaveLength(2);
  });

  it('creates one app when the same key and body arrive at once (the others replay or get 409 in progress)', async () => {
    const name = unique('Concurrent');
    const headers = { 'idempotency-key': unique('key') };
    const answers = await Promise.all(Array.from({ length: 5 }, () => stack.api.post('/apps', { name }, headers)));
    const rows = await appsNamed(name);
    expect(rows).toHaveLength(1);
    for (const answer of answers) {
      if (answer.status === 201) expect(answer.body.id).toBe(rows[0]!.id);
      else expectApiError(answer, 409, 'idempotency_key_in_progress');
    }
    expect(answers.filter((a) => a.status === 201 && a.headers.get('idempotent-replayed') === null)).toHaveLength(1);
  });

  it("scopes keys to the account: another account's same key and body create its own app", async () => {
    const name = unique('Scoped');
    const headers = { 'idempotency-key': unique('key') };
    const mine = await stack.api.post('/apps', { name }, headers);
    const other = await createAccount(stack.db, { name: 'Other', email: `${unique('owner')}@other.test`, password: 'another horse battery' });
    const theirs = await apiClient(stack.serverUrl, other.apiKey).post('/apps', { name }, headers);
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(theirs.body.id).not.toBe(mine.body.id);
    expect((await stack.db.selectFrom('apps').select('account_id').where('id', '=', theirs.body.id).executeTakeFirstOrThrow()).account_id).toBe(other.accountId);
  });

  it('does not store a refused request: a corrected retry with the same key succeeds', async () => {
    const name = unique('Corrected');
    const headers = { 'idempotency-key': unique('key') };
    expectApiError(await stack.api.post('/apps', { name: '' }, headers), 422, 'validation_failed');
    const retried = await stack.api.post('/apps', { name }, headers);
    expect(retried.status, JSON.stringify(retried.body)).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(await appsNamed(name)).toHaveLength(1);
  });

  it('does not store an answer refused inside the handler (409): a corrected retry with the same key succeeds', async () => {
    const app = await stack.api.post('/apps', { name: unique('Events') });
    const route = `/apps/${app.body.id}/webhook_events`;
    expect((await stack.api.post(route, { event_type: 'user.created' })).status).toBe(201);
    const headers = { 'idempotency-key': unique('key') };
    expectApiError(await stack.api.post(route, { event_type: 'user.created' }, headers), 409, 'conflict');
    const retried = await stack.api.post(route, { event_type: 'user.deleted' }, headers);
    expect(retried.status, JSON.stringify(retried.body)).toBe(201);
    expect(retried.body.event_type).toBe('user.deleted');
  });
});

describe('rate limiting (RATE_LIMIT=5)', () => {
  let limited: Stack;
  beforeAll(async () => {
    limited = await startStack({ RATE_LIMIT: '5' });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('answers 429 rate_limited with Retry-After beyond 5 requests a second, and announces the limit on 200s', async () => {
    // The limiter counts in fixed one-second windows; a burst that happens to straddle a window
    // boundary can pass whole, so up to three bursts are fired (the first nearly always suffices).
    let answers: Answer[] = [];
    for (let burst = 0; burst < 3 && !answers.some((a) => a.status === 429); burst++) {
      answers = await Promise.all(Array.from({ length: 8 }, () => limited.api.get('/apps')));
    }
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length, answers.map((a) => a.status).join(',')).toBeGreaterThan(0);
    expect(ok.length + refused.length).toBe(8);
    for (const answer of refused) {
      expectApiError(answer, 429, 'rate_limited');
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(0);
      expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    expect(ok.length).toBeGreaterThan(0);
    for (const answer of ok) {
      expect(answer.headers.get('ratelimit-limit')).toBe('5');
      expect(answer.headers.get('ratelimit-remaining')).toMatch(/^[0-4]$/);
      expect(answer.headers.get('ratelimit-reset')).toMatch(/^\d+$/);
    }

    await sleep(1_100);
    expect((await limited.api.get('/apps')).status, 'the next window is open again').toBe(200);
  });
});

describe('pagination', () => {
  let api: Api;
  beforeAll(async () => {
    // An account of its own, so the counts are exact.
    const account = await createAccount(stack.db, { name: 'Pager', email: 'owner@pager.test', password: 'paging horse battery' });
    api = apiClient(stack.serverUrl, account.apiKey);
  });

  it('GET /apps pages by 25 by default, with Link rels and X-Total-Count', async () => {
    for (let n = 0; n < 27; n++) expect((await api.post('/apps', { name: `App ${n}` })).status).toBe(201);

    const first = await api.get('/apps');
    expect(first.status).toBe(200);
    expect(first.body).toHaveLength(25);
    expect(first.headers.get('x-total-count')).toBe('27');
    const firstLinks = links(first);
    expect(Object.keys(firstLinks).sort()).toEqual(['first', 'last', 'next']);
    expect(firstLinks.next!.pathname).toBe('/api/v1/apps');
    expect(Object.fromEntries(firstLinks.next!.searchParams)).toEqual({ page: '2', per_page: '25' });
    expect(Object.fromEntries(firstLinks.last!.searchParams)).toEqual({ page: '2', per_page: '25' });
    expect(Object.fromEntries(firstLinks.first!.searchParams)).toEqual({ page: '1', per_page: '25' });

    const second = await api.get(`${firstLinks.next!.pathname.replace('/api/v1', '')}${firstLinks.next!.search}`);
    expect(second.body).toHaveLength(2);
    expect(second.headers.get('x-total-count')).toBe('27');
    const secondLinks = links(second);
    expect(Object.keys(secondLinks).sort()).toEqual(['first', 'last', 'prev']);
    expect(secondLinks.prev!.searchParams.get('page')).toBe('1');
    const ids = [...first.body, ...second.body].map((a: { id: string }) => a.id);
    expect(new Set(ids).size).toBe(27);
  });

  it('GET /apps/:app_id/webhook_events keeps other query parameters and has prev and next in the middle', async () => {
    const app = await api.post('/apps', { name: 'Events' });
    for (const name of ['a.one', 'b.two', 'c.three', 'd.four', 'e.five']) {
      expect((await api.post(`/apps/${app.body.id}/webhook_events`, { event_type: name })).status).toBe(201);
    }
    const route = `/apps/${app.body.id}/webhook_events`;
    const middle = await api.get(`${route}?per_page=2&page=2`);
    expect(middle.status).toBe(200);
    expect(middle.body.map((e: { event_type: string }) => e.event_type)).toEqual(['c.three', 'd.four']);
    expect(middle.headers.get('x-total-count')).toBe('5');
    const rels = links(middle);
    expect(Object.fromEntries(Object.entries(rels).map(([rel, url]) => [rel, url.searchParams.get('page')]))).toEqual({ first: '1', last: '3', prev: '1', next: '3' });
    for (const url of Object.values(rels)) {
      expect(url.pathname).toBe(`/api/v1${route}`);
      expect(url.searchParams.get('per_page')).toBe('2');
    }

    const beyond = await api.get(`${route}?per_page=2&page=9`);
    expect(beyond.status).toBe(200);
    expect(beyond.body).toEqual([]);
    expect(beyond.headers.get('x-total-count')).toBe('5');
    expect(links(beyond).prev!.searchParams.get('page'), 'prev of a page past the end is the last page').toBe('3');
    expect(links(beyond).next).toBeUndefined();

    const all = await api.get(route);
    expect(all.body).toHaveLength(5);
    expect(Object.keys(links(all)).sort()).toEqual(['first', 'last']);
  });
});
