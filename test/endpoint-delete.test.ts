import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../db/accounts.ts';
import { waitFor } from './support/ports.ts';
import { startReceiver } from './support/receiver.ts';
import { apiClient, seed, startStack, type Api, type Seeded, type Stack } from './support/stack.ts';

// DELETE /subscriptions/:id/endpoints/:endpoint_id and DELETE /apps/:app_id/endpoints/:id: the
// endpoint goes, its deliveries and attempts stay as log, nothing else changes, and another
// account's (or another subscription's) ids answer 404.

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

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

const message = { event_type: 'user.created', version: '1.0', data: { id: 1 } };

/** Everything in the database, to show that a delete changed only the endpoint's own row. */
async function snapshot() {
  const [apps, subscribers, endpoints, messages, deliveries, attempts, eventTypes] = await Promise.all([
    stack.db.selectFrom('apps').selectAll().orderBy('id').execute(),
    stack.db.selectFrom('subscribers').selectAll().orderBy('id').execute(),
    stack.db.selectFrom('endpoints').selectAll().orderBy('id').execute(),
    stack.db.selectFrom('messages').selectAll().orderBy('id').execute(),
    stack.db.selectFrom('deliveries').selectAll().orderBy('id').execute(),
    stack.db.selectFrom('attempts').selectAll().orderBy('id').execute(),
    stack.db.selectFrom('event_types').selectAll().orderBy('id').execute(),
  ]);
  return { apps, subscribers, endpoints, messages, deliveries, attempts, eventTypes };
}

/**
 * A seeded app whose endpoint received one message sent to the whole app and one aimed at it alone,
 * plus a second endpoint of the same subscriber.
 */
async function deliveredTo(api: Api): Promise<Seeded & { otherEndpointId: string }> {
  const seeded = await seed(api, receiver.url);
  const other = await api.post(`/subscriptions/${seeded.subscriberId}/endpoints`, { url: `${receiver.url}/other`, version: '1.0' });
  const posted = await api.post(`/apps/${seeded.appId}/messages`, message);
  const aimed = await api.post(`/subscriptions/${seeded.subscriberId}/endpoints/${seeded.endpointId}/messages`, message);
  await waitFor('all three deliveries to succeed', async () => {
    const rows = await stack.db.selectFrom('deliveries').select('status').where('message_id', 'in', [posted.body.id, aimed.body.id]).execute();
    return rows.length === 3 && rows.every((r) => r.status === 'succeeded') ? true : undefined;
  });
  return { ...seeded, otherEndpointId: other.body.id as string };
}

describe.each([
  ['DELETE /subscriptions/:id/endpoints/:endpoint_id', (s: Seeded, id: string) => `/subscriptions/${s.subscriberId}/endpoints/${id}`],
  ['DELETE /apps/:app_id/endpoints/:id', (s: Seeded, id: string) => `/apps/${s.appId}/endpoints/${id}`],
])('%s', (_name, routeOf) => {
  it('answers 200 with the deleted endpoint, removes only it, and keeps its deliveries and attempts', async () => {
    const seeded = await deliveredTo(stack.api);
    const shown = await stack.api.get(`/apps/${seeded.appId}/endpoints/${seeded.endpointId}`);
    const before = await snapshot();

    const deleted = await stack.api.raw('DELETE', routeOf(seeded, seeded.endpointId));
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
    expect(deleted.body).toEqual(shown.body);
    expect(JSON.stringify(deleted.body)).not.toContain(seeded.secret);

    expect((await stack.api.get(`/apps/${seeded.appId}/endpoints/${seeded.endpointId}`)).status).toBe(404);
    const listed = await stack.api.get(`/subscriptions/${seeded.subscriberId}/endpoints`);
    expect(listed.body.map((e: { id: string }) => e.id)).toEqual([seeded.otherEndpointId]);
    const after = await snapshot();
    expect(after).toEqual({ ...before, endpoints: before.endpoints.filter((e) => e.id !== seeded.endpointId) });
    expect(after.attempts.filter((a) => a.endpoint_id === seeded.endpointId), 'its attempts stay as log').toHaveLength(2);
    expect(after.messages.filter((m) => m.endpoint_id === seeded.endpointId), 'the message aimed at it stays').toHaveLength(1);
    const log = await stack.api.get(`/apps/${seeded.appId}/webhook_attempts?endpoint_id=${seeded.endpointId}`);
    expect(log.body).toHaveLength(2);

    const again = await stack.api.raw('DELETE', routeOf(seeded, seeded.endpointId));
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ code: 'not_found' });
  });

  it("answers 404 to another account's ids and to an endpoint of another subscription, and deletes nothing", async () => {
    const mine = await deliveredTo(stack.api);
    const other = await createAccount(stack.db, { name: 'Other', email: `owner-${mine.appId}@other.test`, password: 'another horse battery' });
    const theirs = await seed(apiClient(stack.serverUrl, other.apiKey), receiver.url);
    const before = await snapshot();
    const attempts: [Api, string][] = [
      [apiClient(stack.serverUrl, other.apiKey), routeOf(mine, mine.endpointId)],
      [apiClient(stack.serverUrl, other.apiKey), routeOf(theirs, mine.endpointId)],
      [stack.api, routeOf(mine, theirs.endpointId)],
      [stack.api, routeOf(theirs, theirs.endpointId)],
    ];
    for (const [api, route] of attempts) {
      const answer = await api.raw('DELETE', route);
      expect(answer.status, `DELETE ${route}`).toBe(404);
      expect(answer.body).toMatchObject({ code: 'not_found' });
    }
    // An endpoint named through another subscription of the same app.
    const sibling = await stack.api.post(`/apps/${mine.appId}/subscriptions`, { name: 'Sibling' });
    const wrongParent = await stack.api.raw('DELETE', `/subscriptions/${sibling.body.id}/endpoints/${mine.endpointId}`);
    expect(wrongParent.status).toBe(404);
    const { subscribers, ...unchanged } = await snapshot();
    const { subscribers: subscribersBefore, ...unchangedBefore } = before;
    expect(unchanged).toEqual(unchangedBefore);
    expect(subscribers.filter((s) => s.id !== sibling.body.id)).toEqual(subscribersBefore);
  });
});
