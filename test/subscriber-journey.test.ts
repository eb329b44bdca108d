import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitFor } from './support/ports.ts';
import { startReceiver } from './support/receiver.ts';
import { seed, startStack, type Stack } from './support/stack.ts';

// The promise to a subscriber, end to end through the real server, worker, Temporal dev server,
// Postgres, SMTP server and loopback receivers (issue 11): the endpoint breaks and is disabled,
// messages keep coming and are recorded `skipped`, the subscriber opens the link from the email,
// fixes the receiver, re-enables and replays, and gets every message it missed, none of another's.

let stack: Stack;
let broken = true;
const receiver = await startReceiver(() => (broken ? { status: 500, body: 'down for maintenance' } : { status: 200, body: 'ok' }));
const bystander = await startReceiver();

beforeAll(async () => {
  stack = await startStack({}, { portal: true });
});
afterAll(async () => {
  await stack?.close();
  await receiver.close();
  await bystander.close();
});

const message = (n: number) => ({ event_type: 'user.created', version: '1.0', data: { n } });

/** The first cookie a response sets, as a request's Cookie header. */
const cookieOf = (response: Response) => (response.headers.get('set-cookie') ?? '').split(';')[0]!;

it('a subscriber whose endpoint was disabled opens the emailed link, re-enables, replays, and receives all 21 messages it missed', async () => {
  const s = await seed(stack.api, receiver.url);
  // Another subscriber of the same app whose endpoint also missed messages: none of them may reach anyone.
  const other = await stack.api.post(`/apps/${s.appId}/subscriptions`, { name: 'Other', email: 'ops@other.test' });
  const otherEndpoint = await stack.api.post(`/subscriptions/${other.body.id}/endpoints`, { url: bystander.url, version: '1.0' });
  await stack.api.patch(`/subscriptions/${other.body.id}/endpoints/${otherEndpoint.body.id}`, { status: 'inactive' });

  // 1. The receiver fails every attempt of the first message until the endpoint is disabled.
  const first = await stack.api.post(`/apps/${s.appId}/messages`, message(0));
  expect(first.status).toBe(202);
  await waitFor('the endpoint to be disabled', async () => {
    const endpoint = await stack.db.selectFrom('endpoints').select('status').where('id', '=', s.endpointId).executeTakeFirstOrThrow();
    return endpoint.status === 'inactive' ? true : undefined;
  }, 60_000, 200);
  const attemptsBefore = receiver.requests.length;

  // 2. Twenty more arrive while it is inactive: recorded, not sent.
  const later: string[] = [];
  for (let n = 1; n <= 20; n++) later.push((await stack.api.post(`/apps/${s.appId}/messages`, message(n))).body.id as string);
  const missedIds = [first.body.id as string, ...later];
  await waitFor('the 20 deliveries to be skipped', async () => {
    const rows = await stack.db.selectFrom('deliveries').select('status').where('message_id', 'in', later).where('endpoint_id', '=', s.endpointId).execute();
    return rows.length === 20 && rows.every((r) => r.status === 'skipped') ? true : undefined;
  }, 60_000, 200);
  expect(receiver.requests.length, 'nothing is sent while it is inactive').toBe(attemptsBefore);

  // 3. The subscriber's email carries a portal link.
  const mail = await waitFor('the email to the subscriber', () => stack.smtp.mails.find((m) => m.to.includes('ops@acme.test')), 30_000);
  const link = /(http:\/\/\S+\/portal\/login\/[\w.-]+)/.exec(mail.text)?.[1];
  expect(link, mail.text).toBeDefined();
  expect(link!.startsWith(stack.env.PUBLIC_URL!)).toBe(true);

  // 4. The receiver is fixed; the link opens a subscriber session and leaves the address bar.
  broken = false;
  const opened = await fetch(link!, { redirect: 'manual' });
  expect(opened.status).toBe(302);
  expect(opened.headers.get('location')).toBe('/portal');
  const cookie = cookieOf(opened);
  const page = await fetch(`${stack.serverUrl}/portal`, { headers: { cookie } });
  expect(page.status).toBe(200);
  const html = await page.text();
  // React separates text parts with empty comments.
  expect(html.replaceAll('<!-- -->', '')).toContain('Re-enable and replay 21 missed messages');
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  expect(csrf).toBeDefined();

  // 5. Re-enable and replay, as the button posts it.
  const posted = await fetch(`${stack.serverUrl}/portal?index`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf: csrf!, intent: 'enable-replay', id: s.endpointId }),
  });
  expect(posted.status, await posted.clone().text()).toBeLessThan(400);
  const replay = await waitFor('the replay to complete', async () => {
    const row = await stack.db.selectFrom('replays').selectAll().where('endpoint_id', '=', s.endpointId).executeTakeFirst();
    return row?.finished_at ? row : undefined;
  }, 120_000, 200);
  expect(replay).toMatchObject({ status: 'completed', requested_by_kind: 'subscriber_link', requested_by: s.subscriberId, total: 21, sent: 21, succeeded: 21, failed: 0, remaining: 0 });

  // 6. The receiver now holds each of the 21 messages, each under its own message id, and nothing of the other subscriber.
  const delivered = receiver.requests.slice(attemptsBefore);
  expect(delivered.map((r) => r.headers['webhook-id']).sort()).toEqual([...missedIds].sort());
  for (const request of delivered) expect(JSON.parse(request.body).id).toBe(request.headers['webhook-id']);
  expect(bystander.requests).toHaveLength(0);
  const theirs = await stack.db.selectFrom('deliveries').select('status').where('endpoint_id', '=', otherEndpoint.body.id as string).execute();
  expect(theirs.every((d) => d.status === 'skipped')).toBe(true);
  const missed = await stack.api.get(`/apps/${s.appId}/endpoints/${s.endpointId}/missed`);
  expect(missed.body.count).toBe(0);
});
