import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { screenshotAtWidths, unlabelledControls, usePortal } from '../support/browser.ts';
import { waitFor } from '../support/ports.ts';
import { startReceiver } from '../support/receiver.ts';
import { seed } from '../support/stack.ts';

// In a real browser with the real worker: an owner replays what a disabled endpoint missed and
// watches it complete without reloading, then creates a subscriber portal link (issue 11).

const portal = usePortal();
const { browser } = portal;
// The password of the account startStack creates.
const OWNER_PASSWORD = 'correct horse battery';
/** Two replayed deliveries to a loopback receiver, with room for a loaded machine. */
const REPLAY_WAIT_MS = 30_000;

let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
});

/** The page is usable as it stands: every control named, nothing wider than a 360 px phone. */
async function checkPage(page: Page, name: string): Promise<void> {
  expect(await unlabelledControls(page), `unlabelled controls on ${name}`).toEqual([]);
  const overflow = await screenshotAtWidths(page, name);
  expect(overflow, `pixels ${name} overflows sideways, per width`).toEqual({ 1280: 0, 360: 0 });
}

test('an owner replays what a disabled endpoint missed, watches it complete, and creates a portal link', async () => {
  const stack = portal.stack();
  const { appId, subscriberId, endpointId } = await seed(stack.api, receiver.url);
  // The endpoint misses two messages while disabled, then is enabled again.
  await stack.api.patch(`/subscriptions/${subscriberId}/endpoints/${endpointId}`, { status: 'inactive' });
  for (const n of [1, 2]) expect((await stack.api.post(`/apps/${appId}/messages`, { event_type: 'user.created', version: '1.0', data: { n } })).status).toBe(202);
  await waitFor('two skipped deliveries', async () => {
    const rows = await stack.db.selectFrom('deliveries').select('status').where('endpoint_id', '=', endpointId).execute();
    return rows.length === 2 && rows.every((r) => r.status === 'skipped') ? true : undefined;
  });
  await stack.api.patch(`/subscriptions/${subscriberId}/endpoints/${endpointId}`, { status: 'active' });

  const { page } = browser;
  await page.goto(`/login?redirectTo=${encodeURIComponent(`/apps/${appId}/subscribers/${subscriberId}`)}`);
  await page.getByLabel('Email', { exact: true }).fill(stack.ownerEmail);
  await page.getByLabel('Password', { exact: true }).fill(OWNER_PASSWORD);
  await page.getByRole('main').getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Acme', level: 1 }).waitFor();
  await page.waitForFunction(() => '__remixContext' in window);

  await page.getByText('Replay — 2 missed').click();
  await page.getByText('2 missed messages since', { exact: false }).first().waitFor();
  await checkPage(page, 'replay-form');

  await page.getByRole('button', { name: 'Replay missed messages' }).click();
  await page.getByRole('status').filter({ hasText: 'Replay requested: 2 messages to send again.' }).waitFor();
  // No reload: the panel polls the replay until it ends.
  await page.getByText('Completed', { exact: true }).waitFor({ timeout: REPLAY_WAIT_MS });
  await page.getByText('2 of 2 messages sent (100%)').first().waitFor();
  expect(receiver.requests.length).toBe(2);
  await checkPage(page, 'replay-completed');

  await page.getByRole('button', { name: 'Create a portal link' }).click();
  const link = page.getByLabel(/^Portal link, valid until /);
  await link.waitFor();
  expect(await link.inputValue()).toMatch(new RegExp(`^${stack.serverUrl}/portal/login/[\\w.-]+$`));
  await page.getByRole('button', { name: 'Copy link' }).click();
  // Headless Chromium may refuse the clipboard: then the page says to select the text instead.
  await page.getByRole('status').filter({ hasText: /^(Copied\.|Could not copy: select the link and copy it\.)$/ }).waitFor();
  await checkPage(page, 'portal-link');
  expect(browser.pageErrors).toEqual([]);
});
