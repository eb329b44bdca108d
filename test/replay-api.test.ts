import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../cli/server.ts';
import { withTemporalAddress } from '../cli/runtime.ts';
import { createAccount } from '../db/accounts.ts';
import { createDb } from '../db/connection.ts';
import { loadConfig } from '../lib/config.ts';
import { PORTAL_LINK_KEY_PURPOSE, portalLinkRevoked, readPortalLink } from '../lib/portal-links.ts';
import { SecretBox } from '../lib/secrets.ts';
import { freePort, waitFor } from './support/ports.ts';
import { startReceiver } from './support/receiver.ts';
import { apiClient, seed, startStack, testEnv, type Api, type Seeded, type Stack } from './support/stack.ts';

// The REST API of replays (request, follow, list, pause/resume/cancel, what an endpoint missed) and
// of subscriber portal links (create, revoke), against the real API, worker, Temporal and Postgres.

type Receiver = Awaited<ReturnType<typeof startReceiver>>;
type Answer = Awaited<ReturnType<Api['raw']>>;

let stack: Stack;
let apiKeyId: string;
let other: { api: Api; seeded: Seeded };
let doc: any;
const receivers: Receiver[] = [];
beforeAll(async () => {
  // One delivery in flight per replay, so a replay of a few deliveries is still running when paused or cancelled.
  stack = await startStack({ REPLAY_CONCURRENCY: '1' });
  apiKeyId = (await stack.db.selectFrom('api_keys').select('id').where('account_id', '=', stack.accountId).executeTakeFirstOrThrow()).id;
  const account = await createAccount(stack.db, { name: 'Other', email: 'owner@other.test', password: 'another horse battery' });
  const api = apiClient(stack.serverUrl, account.apiKey);
  other = { api, seeded: await seed(api, (await receiver()).url) };
  doc = await (await fetch(`${stack.serverUrl}/api/v1/openapi.json`)).json();
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

/** A receiver that holds every request until `open()`, then answers 200 to those and all later ones. */
async function gatedReceiver() {
  const held: ServerResponse[] = [];
  let opened = false;
  const r = await receiver((_request, _index, res) => {
    if (opened) return { status: 200 };
    held.push(res);
    return 'handled';
  });
  return {
    ...r,
    open() {
      opened = true;
      for (const res of held.splice(0)) if (!res.writableEnded) res.writeHead(200).end('ok');
    },
  };
}

const message = (n: number) => ({ event_type: 'user.created', version: '1.0', data: { n } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Long enough for a delivery that should not happen to reach the loopback receiver. */
const QUIET_MS = 500;
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

function expectApiError(answer: Answer, status: number, code: string, field?: string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toMatchObject({ error: expect.any(String), code });
  if (field !== undefined) expect(answer.body.details?.map((d: { field: string }) => d.field)).toContain(field);
}

/** Validates an answer against the schema the served OpenAPI document gives for it. */
function expectDocumented(method: string, path: string, status: number, body: unknown): void {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const id = 'https://openhooks.test/openapi.json';
  ajv.addSchema({ ...structuredClone(doc), $id: id });
  const pointer = ['paths', path, method, 'responses', String(status), 'content', 'application/json', 'schema'].map((p) => encodeURIComponent(p.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/');
  const validate = ajv.compile({ $ref: `${id}#/${pointer}` });
  validate(body);
  expect(validate.errors ?? [], `${method} ${path} ${status}`).toEqual([]);
}

const route = (s: Seeded) => ({
  endpoint: `/subscriptions/${s.subscriberId}/endpoints/${s.endpointId}`,
  replay: `/apps/${s.appId}/endpoints/${s.endpointId}/replay`,
  replays: `/apps/${s.appId}/endpoints/${s.endpointId}/replays`,
  missed: `/apps/${s.appId}/endpoints/${s.endpointId}/missed`,
});

async function setStatus(s: Seeded, status: 'active' | 'inactive'): Promise<Answer> {
  const answer = await stack.api.patch(route(s).endpoint, { status });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer;
}

/** Posts `count` messages while the endpoint is inactive: each leaves one skipped delivery. Answers the message ids. */
async function missWhileInactive(s: Seeded, count: number): Promise<string[]> {
  await setStatus(s, 'inactive');
  const ids: string[] = [];
  for (let n = 0; n < count; n++) {
    const posted = await stack.api.post(`/apps/${s.appId}/messages`, message(n));
    expect(posted.status).toBe(202);
    ids.push(posted.body.id as string);
  }
  const statuses = await stack.db.selectFrom('deliveries').select('status').where('message_id', 'in', ids).execute();
  expect(statuses.map((d) => d.status)).toEqual(Array(count).fill('skipped'));
  return ids;
}

const replayRows = (endpointId: string) => stack.db.selectFrom('replays').selectAll().where('endpoint_id', '=', endpointId).execute();
const deliveryStatuses = (endpointId: string) => stack.db.selectFrom('deliveries').select(['id', 'status']).where('endpoint_id', '=', endpointId).orderBy('id').execute();

async function waitForReplay(appId: string, replayId: string, status: string, timeoutMs = 40_000) {
  return waitFor(`replay ${replayId} to be ${status}`, async () => {
    const answer = await stack.api.get(`/apps/${appId}/replays/${replayId}`);
    expect(answer.status).toBe(200);
    return answer.body.status === status ? answer.body : undefined;
  }, timeoutMs, 100);
}

/** The message ids a receiver got, once each. */
const receivedIds = (r: Receiver) => new Set(r.requests.map((req) => req.headers['webhook-id'] as string));

describe('POST /apps/:app_id/endpoints/:endpoint_id/replay', () => {
  it('replays what a re-enabled endpoint missed: 202, then completed, and the receiver gets every message', async () => {
    const r = await receiver();
    const s = await seed(stack.api, r.url);
    const disabled = await stack.api.patch(route(s).endpoint, { status: 'inactive' });
    const ids = await missWhileInactive(s, 3);
    expect(r.requests).toHaveLength(0);

    const missed = await stack.api.get(route(s).missed);
    expect(missed.status).toBe(200);
    expect(missed.body).toEqual({ count: 3, since: disabled.body.disabled_at });
    expectDocumented('get', '/apps/{app_id}/endpoints/{endpoint_id}/missed', 200, missed.body);

    await setStatus(s, 'active');
    expect((await stack.api.get(route(s).missed)).body, 'still missed once re-enabled').toEqual({ count: 3, since: disabled.body.disabled_at });
    const before = Date.now();
    const accepted = await stack.api.post(route(s).replay, {});
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    expectDocumented('post', '/apps/{app_id}/endpoints/{endpoint_id}/replay', 202, accepted.body);
    expect(accepted.body).toMatchObject({
      id: expect.stringMatching(/^rpl_/),
      endpoint_id: s.endpointId,
      subscription_id: s.subscriberId,
      status: 'running',
      reason: null,
      since: disabled.body.disabled_at,
      total: 3,
      sent: 0,
      succeeded: 0,
      failed: 0,
      remaining: 3,
      requested_by: { kind: 'api_key', id: apiKeyId },
      finished_at: null,
    });
    // until defaults to now.
    expect(Date.parse(accepted.body.until)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(accepted.body.until)).toBeLessThanOrEqual(Date.now());

    const done = await waitForReplay(s.appId, accepted.body.id, 'completed');
    expect(done).toMatchObject({ id: accepted.body.id, total: 3, sent: 3, succeeded: 3, failed: 0, remaining: 0, finished_at: expect.any(String), created_at: accepted.body.created_at });
    expectDocumented('get', '/apps/{app_id}/replays/{replay_id}', 200, done);
    expect(receivedIds(r)).toEqual(new Set(ids));
    const attempts = await stack.api.get(`/apps/${s.appId}/webhook_attempts?endpoint_id=${s.endpointId}`);
    expect(attempts.body.map((a: { trigger: string }) => a.trigger)).toEqual(['replay', 'replay', 'replay']);
    expect((await stack.api.get(route(s).missed)).body.count, 'nothing missed any more').toBe(0);

    const list = await stack.api.get(route(s).replays);
    expect(list.status).toBe(200);
    expect(list.headers.get('x-total-count')).toBe('1');
    expect(list.body).toEqual([done]);
    expectDocumented('get', '/apps/{app_id}/endpoints/{endpoint_id}/replays', 200, list.body);
  });

  it('refuses an inactive endpoint with 409 endpoint_inactive and writes no replay', async () => {
    const r = await receiver();
    const s = await seed(stack.api, r.url);
    await missWhileInactive(s, 1);
    const before = await deliveryStatuses(s.endpointId);
    expectApiError(await stack.api.post(route(s).replay, {}), 409, 'endpoint_inactive');
    expect(await replayRows(s.endpointId)).toEqual([]);
    await sleep(QUIET_MS);
    expect(await deliveryStatuses(s.endpointId)).toEqual(before);
    expect(r.requests).toHaveLength(0);
  });

  it('refuses a bad body or range with 422 and changes nothing', async () => {
    const r = await receiver();
    const s = await seed(stack.api, r.url);
    await missWhileInactive(s, 1);
    await setStatus(s, 'active');
    const before = await deliveryStatuses(s.endpointId);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const cases: [unknown, string, string][] = [
      [{ since: 'yesterday' }, 'validation_failed', 'since'],
      [{ until: '2026-13-01T00:00:00Z' }, 'validation_failed', 'until'],
      [{ since: 1_700_000_000 }, 'validation_failed', 'since'],
      [{ since: '2026-01-01T00:00:00Z', until: '2025-01-01T00:00:00Z' }, 'validation_failed', 'since'],
      [{ since: '2026-01-01T00:00:00Z', until: '2026-01-01T00:00:00Z' }, 'validation_failed', 'since'],
      // A future since: the range would end (now) before it starts.
      [{ since: future }, 'validation_failed', 'since'],
      // Before the default since: the endpoint's last disable.
      [{ until: '2000-01-01T00:00:00Z' }, 'validation_failed', 'until'],
      [{ since: '2026-01-01T00:00:00Z', extra: true }, 'validation_failed', 'extra'],
    ];
    for (const [body, code, field] of cases) {
      const answer = await stack.api.post(route(s).replay, body);
      expectApiError(answer, 422, code, field);
      if (field === 'since' && typeof (body as { until?: string }).until === 'string') expect(answer.body.error).toMatch(/since .* must be before until/);
    }
    expectApiError(await stack.api.post(route(s).replay, '{"since":'), 400, 'malformed_json');
    expect(await replayRows(s.endpointId)).toEqual([]);
    await sleep(QUIET_MS);
    expect(await deliveryStatuses(s.endpointId)).toEqual(before);
    expect(r.requests).toHaveLength(0);
  });

  it('answers the same replay to a repeated Idempotency-Key, and refuses the key with another body', async () => {
    const r = await receiver();
    const s = await seed(stack.api, r.url);
    const ids = await missWhileInactive(s, 2);
    await setStatus(s, 'active');
    const headers = { 'idempotency-key': unique('replay') };
    const body = { since: new Date(Date.now() - 3_600_000).toISOString() };
    const first = await stack.api.post(route(s).replay, body, headers);
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    const again = await stack.api.post(route(s).replay, body, headers);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expectApiError(await stack.api.post(route(s).replay, { since: body.since, until: new Date().toISOString() }, headers), 422, 'idempotency_key_reused');
    expect((await replayRows(s.endpointId)).map((row) => row.id)).toEqual([first.body.id]);
    await waitForReplay(s.appId, first.body.id, 'completed');
    await sleep(QUIET_MS);
    expect(r.requests).toHaveLength(2);
    expect(receivedIds(r)).toEqual(new Set(ids));
  });

  it('replays only the range asked for', async () => {
    const r = await receiver();
    const s = await seed(stack.api, r.url);
    const [early] = await missWhileInactive(s, 1);
    await sleep(20);
    const since = new Date().toISOString();
    await sleep(20);
    const late = await stack.api.post(`/apps/${s.appId}/messages`, message(9));
    await setStatus(s, 'active');
    const accepted = await stack.api.post(route(s).replay, { since });
    expect(accepted.body).toMatchObject({ since, total: 1 });
    await waitForReplay(s.appId, accepted.body.id, 'completed');
    expect(receivedIds(r)).toEqual(new Set([late.body.id]));
    const statuses = await stack.db.selectFrom('deliveries').select(['message_id', 'status']).where('endpoint_id', '=', s.endpointId).execute();
    expect(statuses.find((d) => d.message_id === early)?.status, 'outside the range: still skipped').toBe('skipped');
  });
});

describe('pause, resume and cancel', () => {
  it('pauses a running replay (nothing more is sent), then resumes it to completion', async () => {
    const r = await gatedReceiver();
    const s = await seed(stack.api, r.url);
    const ids = await missWhileInactive(s, 5);
    await setStatus(s, 'active');
    const accepted = await stack.api.post(route(s).replay, {});
    expect(accepted.status).toBe(202);
    await waitFor('the first replayed delivery to arrive', () => (r.requests.length > 0 ? true : undefined));

    const paused = await stack.api.post(`/apps/${s.appId}/replays/${accepted.body.id}/pause`);
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body).toMatchObject({ id: accepted.body.id, status: 'paused', finished_at: null });
    expectDocumented('post', '/apps/{app_id}/replays/{replay_id}/pause', 200, paused.body);

    // The delivery under way finishes; no other starts while paused.
    r.open();
    await waitFor('the delivery under way to finish', async () => ((await deliveryStatuses(s.endpointId)).some((d) => d.status === 'pending') ? undefined : true));
    await sleep(QUIET_MS);
    const whilePaused = receivedIds(r).size;
    expect(whilePaused).toBeGreaterThan(0);
    expect(whilePaused).toBeLessThan(5);
    expect((await deliveryStatuses(s.endpointId)).filter((d) => d.status === 'succeeded')).toHaveLength(whilePaused);
    expect((await stack.api.get(`/apps/${s.appId}/replays/${accepted.body.id}`)).body.status).toBe('paused');

    const resumed = await stack.api.post(`/apps/${s.appId}/replays/${accepted.body.id}/resume`);
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body).toMatchObject({ id: accepted.body.id, status: 'running' });
    const done = await waitForReplay(s.appId, accepted.body.id, 'completed');
    expect(done).toMatchObject({ total: 5, sent: 5, succeeded: 5, failed: 0, remaining: 0 });
    expect(receivedIds(r)).toEqual(new Set(ids));

    expectApiError(await stack.api.post(`/apps/${s.appId}/replays/${accepted.body.id}/pause`), 409, 'replay_finished');
  });

  it('cancels a running replay: answered as cancelled, the rest is not sent, and it cannot be resumed', async () => {
    const r = await gatedReceiver();
    const s = await seed(stack.api, r.url);
    await missWhileInactive(s, 4);
    await setStatus(s, 'active');
    const accepted = await stack.api.post(route(s).replay, {});
    await waitFor('the first replayed delivery to arrive', () => (r.requests.length > 0 ? true : undefined));

    const cancelled = await stack.api.post(`/apps/${s.appId}/replays/${accepted.body.id}/cancel`);
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    expect(cancelled.body).toMatchObject({ id: accepted.body.id, status: 'cancelled', finished_at: expect.any(String) });
    expectDocumented('post', '/apps/{app_id}/replays/{replay_id}/cancel', 200, cancelled.body);

    r.open();
    await waitFor('the delivery under way to finish', async () => ((await deliveryStatuses(s.endpointId)).some((d) => d.status === 'pending') ? undefined : true));
    await sleep(QUIET_MS);
    expect(receivedIds(r).size).toBeLessThan(4);
    expect((await deliveryStatuses(s.endpointId)).filter((d) => d.status === 'skipped').length).toBeGreaterThan(0);
    expect((await stack.api.get(`/apps/${s.appId}/replays/${accepted.body.id}`)).body.status).toBe('cancelled');

    for (const action of ['resume', 'pause', 'cancel']) {
      expectApiError(await stack.api.post(`/apps/${s.appId}/replays/${accepted.body.id}/${action}`), 409, 'replay_finished');
    }
    // What was left is still missed, and a new replay sends it.
    expect((await stack.api.get(route(s).missed)).body.count).toBe(4 - receivedIds(r).size);
  });

  it('takes no body and answers 404 for an unknown replay', async () => {
    const s = await seed(stack.api, (await receiver()).url);
    expectApiError(await stack.api.post(`/apps/${s.appId}/replays/rpl_nope/pause`), 404, 'not_found');
    expectApiError(await stack.api.get(`/apps/${s.appId}/replays/rpl_nope`), 404, 'not_found');
    const accepted = await stack.api.post(route(s).replay, {});
    expectApiError(await stack.api.post(`/apps/${s.appId}/replays/${accepted.body.id}/pause`, { now: true }), 422, 'validation_failed');
    await waitForReplay(s.appId, accepted.body.id, 'completed');
  });
});

describe('while Temporal cannot be reached', () => {
  it('accepts a replay (the worker starts it once overdue), and answers 503 to pause; 409 replay_not_started before its workflow runs', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const config = loadConfig(testEnv({ DATABASE_URL: stack.env.DATABASE_URL!, ENCRYPTION_KEY: stack.env.ENCRYPTION_KEY!, TEMPORAL_ADDRESS: address }));
    const db = createDb(config.databaseUrl!, 2);
    const server = await startServer({ config: withTemporalAddress(config, address), db, secrets: new SecretBox(config.encryptionKey!), portal: false });
    try {
      const away = apiClient(server.url, stack.apiKey);
      const r = await receiver();
      const s = await seed(stack.api, r.url);
      const ids = await missWhileInactive(s, 2);
      await setStatus(s, 'active');

      const accepted = await away.post(route(s).replay, {});
      expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
      expect(accepted.body).toMatchObject({ status: 'running', total: 2 });
      expectApiError(await away.post(`/apps/${s.appId}/replays/${accepted.body.id}/pause`), 503, 'temporal_unavailable');
      // Temporal is there for this process, but the replay's workflow is not running yet.
      expectApiError(await stack.api.post(`/apps/${s.appId}/replays/${accepted.body.id}/pause`), 409, 'replay_not_started');
      expect((await replayRows(s.endpointId))[0]).toMatchObject({ status: 'running', workflow_signaled_at: null });

      // The worker's reconciler sends it once it is overdue (RECONCILE_INTERVAL 1s + the start bound).
      await waitForReplay(s.appId, accepted.body.id, 'completed', 60_000);
      expect(receivedIds(r)).toEqual(new Set(ids));
    } finally {
      await server.stop();
      await db.destroy();
    }
  }, 90_000);
});

describe('POST /subscriptions/:id/portal_link and DELETE /subscriptions/:id/portal_links', () => {
  const key = () => new SecretBox(stack.env.ENCRYPTION_KEY!).deriveKey(PORTAL_LINK_KEY_PURPOSE);
  const PREFIX = 'http://openhooks.test/portal/login/';
  const tokenOf = (url: string) => {
    expect(url.startsWith(PREFIX), url).toBe(true);
    return url.slice(PREFIX.length);
  };

  it('creates a link that opens the subscription’s portal for 24 hours by default', async () => {
    const s = await seed(stack.api, (await receiver()).url);
    const before = Date.now();
    const created = await stack.api.post(`/subscriptions/${s.subscriberId}/portal_link`, {});
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expectDocumented('post', '/subscriptions/{id}/portal_link', 201, created.body);
    expect(Object.keys(created.body).sort()).toEqual(['expires_at', 'url']);
    const expiresAt = Date.parse(created.body.expires_at);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 24 * 3_600_000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 24 * 3_600_000);
    const link = readPortalLink(key(), tokenOf(created.body.url));
    expect(link).toMatchObject({ subscriberId: s.subscriberId });
    expect(Math.abs(link!.expiresAt - expiresAt)).toBeLessThan(1000);
    expect(readPortalLink(key(), tokenOf(created.body.url), expiresAt + 1000), 'refused once expired').toBeUndefined();
  });

  it('takes expires_in from 60 seconds to 30 days, and refuses anything else with 422', async () => {
    const s = await seed(stack.api, (await receiver()).url);
    const path = `/subscriptions/${s.subscriberId}/portal_link`;
    for (const seconds of [60, 30 * 86_400]) {
      const before = Date.now();
      const created = await stack.api.post(path, { expires_in: seconds });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(Date.parse(created.body.expires_at)).toBeGreaterThanOrEqual(before + seconds * 1000 - 1000);
      expect(Date.parse(created.body.expires_at)).toBeLessThanOrEqual(Date.now() + seconds * 1000);
      expect(readPortalLink(key(), tokenOf(created.body.url))?.subscriberId).toBe(s.subscriberId);
    }
    for (const expires_in of [59, 0, -1, 30 * 86_400 + 1, 1.5, '3600', null]) {
      expectApiError(await stack.api.post(path, { expires_in }), 422, 'validation_failed', 'expires_in');
    }
    expectApiError(await stack.api.post(path, { expires_in: 3600, subscriber_id: 'x' }), 422, 'validation_failed', 'subscriber_id');
  });

  it('answers the same link to a repeated Idempotency-Key', async () => {
    const s = await seed(stack.api, (await receiver()).url);
    const headers = { 'idempotency-key': unique('link') };
    const first = await stack.api.post(`/subscriptions/${s.subscriberId}/portal_link`, { expires_in: 600 }, headers);
    expect(first.status).toBe(201);
    const again = await stack.api.post(`/subscriptions/${s.subscriberId}/portal_link`, { expires_in: 600 }, headers);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
  });

  it('revokes every link issued so far (204); links created afterwards work', async () => {
    const s = await seed(stack.api, (await receiver()).url);
    const path = `/subscriptions/${s.subscriberId}`;
    const issued = readPortalLink(key(), tokenOf((await stack.api.post(`${path}/portal_link`, {})).body.url))!;
    const subscriber = () => stack.db.selectFrom('subscribers').select('portal_links_revoked_at').where('id', '=', s.subscriberId).executeTakeFirstOrThrow();
    expect((await subscriber()).portal_links_revoked_at).toBeNull();

    const revoked = await stack.api.raw('DELETE', `${path}/portal_links`);
    expect(revoked.status).toBe(204);
    expect(revoked.body).toBeUndefined();
    const revokedAt = (await subscriber()).portal_links_revoked_at;
    expect(revokedAt).toBeInstanceOf(Date);
    expect(portalLinkRevoked(issued.issuedAt, revokedAt)).toBe(true);

    await sleep(5);
    const later = readPortalLink(key(), tokenOf((await stack.api.post(`${path}/portal_link`, {})).body.url))!;
    expect(portalLinkRevoked(later.issuedAt, revokedAt)).toBe(false);
  });
});

describe("another account's ids", () => {
  let mine: Seeded;
  let replayId: string;
  beforeAll(async () => {
    mine = await seed(stack.api, (await receiver()).url);
    replayId = (await stack.api.post(route(mine).replay, {})).body.id;
    await waitForReplay(mine.appId, replayId, 'completed');
  });

  const theirs = () => other.seeded;
  const cases: [string, string, () => string, unknown?][] = [
    ['POST', 'replay (my app)', () => route(mine).replay, {}],
    ['POST', 'replay (their app, my endpoint)', () => `/apps/${theirs().appId}/endpoints/${mine.endpointId}/replay`, {}],
    ['GET', 'replays', () => route(mine).replays],
    ['GET', 'replays (their app, my endpoint)', () => `/apps/${theirs().appId}/endpoints/${mine.endpointId}/replays`],
    ['GET', 'missed', () => route(mine).missed],
    ['GET', 'missed (their app, my endpoint)', () => `/apps/${theirs().appId}/endpoints/${mine.endpointId}/missed`],
    ['GET', 'replay', () => `/apps/${mine.appId}/replays/${replayId}`],
    ['GET', 'replay (their app)', () => `/apps/${theirs().appId}/replays/${replayId}`],
    ['POST', 'pause', () => `/apps/${mine.appId}/replays/${replayId}/pause`],
    ['POST', 'resume (their app)', () => `/apps/${theirs().appId}/replays/${replayId}/resume`],
    ['POST', 'cancel', () => `/apps/${mine.appId}/replays/${replayId}/cancel`],
    ['POST', 'portal_link', () => `/subscriptions/${mine.subscriberId}/portal_link`, {}],
    ['DELETE', 'portal_links', () => `/subscriptions/${mine.subscriberId}/portal_links`],
  ];

  it.each(cases)('%s %s answers 404 and writes nothing', async (method, _name, path, body) => {
    const replays = await stack.db.selectFrom('replays').selectAll().orderBy('id').execute();
    const subscribers = await stack.db.selectFrom('subscribers').selectAll().orderBy('id').execute();
    expectApiError(await other.api.raw(method, path(), body), 404, 'not_found');
    expect(await stack.db.selectFrom('replays').selectAll().orderBy('id').execute()).toEqual(replays);
    expect(await stack.db.selectFrom('subscribers').selectAll().orderBy('id').execute()).toEqual(subscribers);
  });
});
