import { afterAll, beforeAll, expect, test } from 'vitest';
import { screenshotAtWidths, unlabelledControls, usePortal } from '../support/browser.ts';
import { waitFor } from '../support/ports.ts';
import { startReceiver } from '../support/receiver.ts';
import { seed } from '../support/stack.ts';

const portal = usePortal();
const { browser } = portal;

/** An endpoint disabled, mailed about and replayed takes seconds; the rest is room for a loaded machine. */
const WAIT_MS = 30_000;

let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  // Gone until the subscriber fixes it: 410 disables the endpoint at once.
  receiver = await startReceiver(() => ({ status: 410, body: 'gone' }));
});
afterAll(async () => {
  await receiver?.close();
});

test('a subscriber opens the emailed portal link, sees its disabled endpoint with what it missed, re-enables and replays, and watches the replay complete', { timeout: 120_000 }, async () => {
  const { page } = browser;
  const stack = portal.stack();
  const { appId, subscriberId, endpointId } = await seed(stack.api, receiver.url);
  const send = async (n: number) => {
    const sent = await stack.api.post(`/apps/${appId}/messages`, { event_type: 'user.created', version: '1.0', data: { n } });
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    return sent.body.id as string;
  };

  // The first message fails with 410: the endpoint is disabled and its subscriber is mailed a portal link.
  const first = await send(1);
  await waitFor('the endpoint to be disabled', async () => {
    const row = await stack.db.selectFrom('endpoints').select('status').where('id', '=', endpointId).executeTakeFirstOrThrow();
    return row.status === 'inactive' ? true : undefined;
  }, WAIT_MS);
  const mail = await waitFor('the endpoint-disabled mail to the subscriber', () => stack.smtp.mails.find((m) => m.to.includes('ops@acme.test') && m.text.includes(endpointId)), WAIT_MS);
  const link = /https?:\/\/\S+\/portal\/login\/[\w.-]+/.exec(mail.text)?.[0];
  expect(link, mail.text).toBeDefined();
  expect(new URL(link!).origin).toBe(stack.serverUrl);

  // Two more while it is disabled: recorded as skipped, so the replay can send them.
  await send(2);
  await send(3);
  await waitFor('three missed deliveries', async () => {
    const rows = await stack.db.selectFrom('deliveries').select('status').where('endpoint_id', '=', endpointId).execute();
    return rows.length === 3 && rows.every((r) => r.status === 'failed' || r.status === 'skipped') ? true : undefined;
  }, WAIT_MS);
  receiver.respondWith(() => ({ status: 200, body: 'ok' }));

  // The link opens the portal, branded with the app, and leaves the address bar at /portal.
  await page.goto(link!);
  await page.getByRole('heading', { name: 'Your endpoints', level: 1 }).waitFor();
  expect(new URL(page.url()).pathname).toBe('/portal');
  const banner = page.getByRole('banner');
  await banner.getByRole('link', { name: 'Shop webhooks' }).waitFor();
  await banner.getByRole('link', { name: 'Endpoints' }).waitFor();
  await banner.getByRole('link', { name: 'Logs' }).waitFor();
  await banner.getByRole('button', { name: 'Log out' }).waitFor();
  expect(await banner.getByRole('link', { name: 'Dashboard' }).count()).toBe(0);
  await page.getByText('Disabled — endpoint answered 410 Gone', { exact: false }).waitFor();
  const replayButton = page.getByRole('button', { name: 'Re-enable and replay 3 missed messages' });
  await replayButton.waitFor();
  expect(await unlabelledControls(page)).toEqual([]);
  expect(await screenshotAtWidths(page, 'subscriber-portal')).toEqual({ 1280: 0, 360: 0 });

  // One click: re-enabled, the replay starts, and its page shows the progress until it completes.
  await replayButton.click();
  await page.waitForURL((url) => url.pathname === `/portal/endpoints/${endpointId}`);
  await page.getByRole('status').getByText('Endpoint re-enabled; its missed messages are being sent again.').waitFor();
  const progress = page.getByRole('region', { name: 'Latest replay' });
  await progress.getByText('Completed', { exact: true }).waitFor({ timeout: WAIT_MS });
  await progress.getByText('3 of 3 messages sent (100%)').first().waitFor();
  // The 410, then one replayed request per missed message; the first message keeps its webhook-id.
  expect(receiver.requests).toHaveLength(4);
  expect(receiver.requests.filter((r) => r.headers['webhook-id'] === first)).toHaveLength(2);
  const replay = await stack.db.selectFrom('replays').selectAll().where('endpoint_id', '=', endpointId).executeTakeFirstOrThrow();
  expect(replay).toMatchObject({ status: 'completed', total: 3, succeeded: 3, requested_by_kind: 'subscriber_link', requested_by: subscriberId });
  expect(await unlabelledControls(page)).toEqual([]);
  expect(await screenshotAtWidths(page, 'subscriber-endpoint')).toEqual({ 1280: 0, 360: 0 });

  // Its logs hold the attempts, and a message opens with its deliveries to this subscriber.
  await banner.getByRole('link', { name: 'Logs' }).click();
  await page.getByRole('heading', { name: 'Logs', level: 1 }).waitFor();
  await page.getByRole('row').filter({ hasText: first }).filter({ hasText: 'Succeeded 200' }).getByRole('link', { name: first }).click();
  await page.getByRole('heading', { name: `Message ${first}` }).waitFor();
  expect(await unlabelledControls(page)).toEqual([]);
  expect(await screenshotAtWidths(page, 'subscriber-message')).toEqual({ 1280: 0, 360: 0 });
  expect(browser.pageErrors).toEqual([]);
});
