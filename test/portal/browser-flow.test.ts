import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { screenshot, screenshotAtWidths, signUp, unlabelledControls, usePortal } from '../support/browser.ts';
import { waitFor } from '../support/ports.ts';
import { startReceiver } from '../support/receiver.ts';
import { apiClient, type Api } from '../support/stack.ts';

const portal = usePortal();
const { browser } = portal;

/** Five attempts 1 s × 1.5 apart take about 8 s; the rest is room for a loaded machine. */
const DELIVERY_WAIT_MS = 30_000;
/** Pages reloaded while waiting on the worker: often enough to notice, rarely enough to spare the server. */
const RELOAD_EVERY_MS = 300;

let good: Awaited<ReturnType<typeof startReceiver>>;
let flaky: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  good = await startReceiver();
  // Broken until the story fixes it.
  flaky = await startReceiver(() => ({ status: 500, body: 'database is down' }));
});
afterAll(async () => {
  await good?.close();
  await flaky?.close();
});

/** Reloads `path` until `ready` finds what the worker was expected to do, within DELIVERY_WAIT_MS. */
async function reloadUntil(page: Page, path: string, what: string, ready: () => Promise<boolean>): Promise<void> {
  await waitFor(
    what,
    async () => {
      await page.goto(path);
      return (await ready()) ? true : undefined;
    },
    DELIVERY_WAIT_MS,
    RELOAD_EVERY_MS,
  );
}

/** The logs table's attempt rows (not its header), each as its cells' text. */
async function logRows(page: Page): Promise<string[]> {
  const rows = page.getByRole('table').getByRole('row').filter({ has: page.getByRole('cell') });
  return rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).innerText.replace(/\s+/g, ' ').trim()));
}

/**
 * Sets the logs filters by their labels (unset ones to Any), submits them, and returns the rows once
 * the page shows `count` rows that all pass `each`: the address changes a moment before the filtered
 * table renders, so the rows are awaited by what they must be, and a wrong filter times out.
 */
async function filterLogs(page: Page, filters: { Status?: string; Subscriber?: string }, count: number, each: (row: string) => boolean): Promise<string[]> {
  const form = page.getByRole('form', { name: 'Filter attempts' });
  const chosen: Record<string, string> = {};
  for (const [label, name] of [['Status', 'status'], ['Subscriber', 'subscriber']] as const) {
    const [value] = await form.getByLabel(label, { exact: true }).selectOption(filters[label] ? { label: filters[label] } : { value: '' });
    chosen[name] = value ?? '';
  }
  await form.getByRole('button', { name: 'Filter' }).click();
  // The filters live in the query string, so a link shares them.
  await page.waitForURL((url) => Object.entries(chosen).every(([name, value]) => (url.searchParams.get(name) ?? '') === value));
  return waitFor(
    `${count} log rows filtered by ${JSON.stringify(filters)}`,
    async () => {
      const rows = await logRows(page);
      return rows.length === count && rows.every(each) ? rows : undefined;
    },
    5_000,
    100,
  );
}

/** A delivery on the message page, by its section's name: "<subscriber>: <status>". */
const delivery = (page: Page, subscriber: string, status: string): Locator => page.getByRole('region', { name: `${subscriber}: ${status}`, exact: true });

/** A user.created message to every endpoint of the app, through the API; its id. */
async function sendMessage(api: Api, appId: string, data: Record<string, unknown>): Promise<string> {
  const sent = await api.post(`/apps/${appId}/messages`, { event_type: 'user.created', version: '1.0', data });
  expect(sent.status, JSON.stringify(sent.body)).toBe(202);
  return sent.body.id as string;
}

test('a provider signs up, sets up an app, sends through the API, watches an endpoint fail and recover, and brings in a member', { timeout: 120_000 }, async () => {
  const { page } = browser;
  const stack = portal.stack();

  // Sign up: the owner of a new account.
  await page.goto('/signup');
  await signUp(page, { accountName: 'Acme Webhooks', name: 'Ada Lovelace', email: 'ada@acme.test', password: 'an engine of analysis' });
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

  // An app, from the dashboard's first step.
  await page.getByRole('link', { name: 'Create an app' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Shop');
  await page.getByRole('button', { name: 'Create app' }).click();
  await page.waitForURL((url) => /^\/apps\/app_[^/]+\//.test(url.pathname));
  const appId = new URL(page.url()).pathname.split('/')[2]!;
  await page.goto(`/apps/${appId}`);
  await page.getByRole('heading', { name: 'Shop', level: 1 }).waitFor();

  // Its event type.
  await page.getByRole('navigation', { name: 'App' }).getByRole('link', { name: 'Event types' }).click();
  await page.getByLabel('Event type', { exact: true }).fill('user.created');
  await page.getByRole('button', { name: 'Add event type' }).click();
  await page.getByRole('status').getByText('Event type user.created created.').waitFor();

  // A subscriber with a contact email, and its endpoint at the loopback receiver.
  await page.goto(`/apps/${appId}/subscribers`);
  await page.getByLabel('Name', { exact: true }).fill('Acme');
  await page.getByLabel('Contact email', { exact: true }).fill('ops@acme.test');
  await page.getByRole('button', { name: 'Add subscriber' }).click();
  await page.getByRole('heading', { name: 'Acme', level: 1 }).waitFor();
  const subscriberPath = new URL(page.url()).pathname;
  expect(subscriberPath).toMatch(new RegExp(`^/apps/${appId}/subscribers/[^/]+$`));
  const addEndpoint = page.locator('form').filter({ has: page.getByRole('button', { name: 'Add endpoint' }) });
  await addEndpoint.getByLabel('URL', { exact: true }).fill(good.url);
  await addEndpoint.getByRole('button', { name: 'Add endpoint' }).click();
  await page.getByRole('status').getByText(`Endpoint ${good.url} added.`).waitFor();
  await page.getByRole('heading', { name: good.url, level: 3 }).waitFor();

  // An API key, shown once.
  await page.getByRole('banner').getByRole('link', { name: 'API keys' }).click();
  // The previous page has a Name field too: fill only once the navigation has landed.
  await page.getByRole('heading', { name: 'Create an API key' }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill('production backend');
  await page.getByRole('button', { name: 'Create API key' }).click();
  const apiKey = await page.getByLabel('New API key', { exact: true }).inputValue();
  expect(apiKey).toMatch(/^ohk_/);
  await screenshot(page, 'api-keys');

  // A second subscriber through the API with that key, so the subscriber filter has something to leave out.
  const api = apiClient(stack.serverUrl, apiKey);
  const globex = await api.post(`/apps/${appId}/subscriptions`, { name: 'Globex', email: 'hooks@globex.test' });
  expect(globex.status).toBe(201);
  const globexId = globex.body.id as string;
  expect((await api.post(`/subscriptions/${globexId}/endpoints`, { url: good.url, version: '1.0' })).status).toBe(201);

  // The first message, through the API, succeeds and shows in the logs.
  const first = await sendMessage(api, appId, { user: 'first' });
  const logsPath = `/apps/${appId}/logs`;
  await reloadUntil(page, logsPath, 'both deliveries of the first message in the logs', async () => (await logRows(page)).length === 2);
  const firstRows = await logRows(page);
  expect(firstRows.every((row) => row.includes('Succeeded 200') && row.includes(first))).toBe(true);
  expect(firstRows.some((row) => row.includes('Acme') && row.includes(good.url))).toBe(true);
  await page.getByRole('row').filter({ hasText: 'Acme' }).getByRole('link', { name: first }).click();
  await page.getByRole('heading', { name: `Message ${first}` }).waitFor();
  await delivery(page, 'Acme', 'Succeeded').waitFor();
  await delivery(page, 'Globex', 'Succeeded').waitFor();

  // Acme's endpoint is pointed at a receiver that answers 500.
  await page.goto(subscriberPath);
  await page.getByText('Edit this endpoint…').click();
  const editEndpoint = page.locator('form').filter({ has: page.getByRole('button', { name: 'Save endpoint' }) });
  await editEndpoint.getByLabel('URL', { exact: true }).fill(flaky.url);
  await editEndpoint.getByRole('button', { name: 'Save endpoint' }).click();
  await page.getByRole('status').getByText('Endpoint saved.').waitFor();
  await page.getByRole('heading', { name: flaky.url, level: 3 }).waitFor();
  const second = await sendMessage(api, appId, { user: 'second' });
  await reloadUntil(page, `/apps/${appId}/messages/${second}`, 'the delivery to Acme to fail', () => delivery(page, 'Acme', 'Failed').isVisible());
  const failedAttempts = delivery(page, 'Acme', 'Failed').getByRole('listitem');
  expect(await failedAttempts.count()).toBe(5);
  for (const text of await failedAttempts.allInnerTexts()) expect(text).toContain('Failed 500');
  await delivery(page, 'Globex', 'Succeeded').waitFor();

  // After five failed attempts the endpoint is disabled, on its page, on the dashboard, and by email.
  await reloadUntil(page, subscriberPath, 'the endpoint to be disabled', () => page.getByRole('button', { name: 'Enable endpoint' }).isVisible());
  await page.getByText('Disabled — 5 failed attempts; the last got HTTP 500').waitFor();
  await screenshot(page, 'subscriber');
  await page.goto('/');
  await page.getByRole('link', { name: flaky.url }).waitFor();
  await screenshot(page, 'dashboard');
  const mails = await waitFor(
    'the endpoint-disabled email to the owner and the subscriber',
    () => {
      const sent = stack.smtp.mails.filter((mail) => mail.text.includes(`The webhook endpoint ${flaky.url} (`));
      const to = sent.flatMap((mail) => mail.to);
      return to.includes('ada@acme.test') && to.includes('ops@acme.test') ? sent : undefined;
    },
    DELIVERY_WAIT_MS,
  );
  for (const mail of mails) expect(mail.text).toContain(`The failing message: ${second} (user.created)`);

  // The logs, filtered: the failures are Acme's five; Globex only succeeded.
  await page.goto(logsPath);
  await filterLogs(page, { Status: 'Failed' }, 5, (row) => row.includes('Failed 500') && row.includes('Acme') && row.includes(second));
  expect(new URL(page.url()).searchParams.get('status')).toBe('failed');
  await filterLogs(page, { Subscriber: 'Globex' }, 2, (row) => row.includes('Succeeded 200') && row.includes('Globex'));
  expect(new URL(page.url()).searchParams.get('subscriber')).toBe(globexId);
  await filterLogs(page, { Status: 'Failed', Subscriber: 'Globex' }, 0, () => true);
  await page.getByText('No attempts match.').waitFor();

  // The receiver is fixed and the endpoint enabled again; resending the failed delivery succeeds.
  flaky.respondWith(() => ({ status: 200, body: 'ok' }));
  await page.goto(subscriberPath);
  await page.getByRole('button', { name: 'Enable endpoint' }).click();
  await page.getByRole('status').getByText('Endpoint enabled.').waitFor();
  await page.goto(`/apps/${appId}/messages/${second}`);
  await delivery(page, 'Acme', 'Failed').getByRole('button', { name: 'Resend' }).click();
  await page.getByRole('status').getByText('Resent: a new run of this delivery has started.').waitFor();
  await reloadUntil(page, `/apps/${appId}/messages/${second}`, 'the resent delivery to succeed', () => delivery(page, 'Acme', 'Succeeded').isVisible());
  const resent = delivery(page, 'Acme', 'Succeeded').getByRole('listitem');
  expect(await resent.count()).toBe(6);
  expect(await resent.last().innerText()).toMatch(/attempt #\d+ \(resend\) · Succeeded 200/);
  expect(flaky.requests.at(-1)?.headers['webhook-id']).toBe(second);
  await screenshot(page, 'message');
  await page.goto(logsPath);
  expect((await logRows(page))[0]).toMatch(/Succeeded 200 .*Acme .*\(resend\)/);
  await screenshot(page, 'logs');
  await page.goto(`/apps/${appId}`);
  await screenshot(page, 'app-overview');

  // A teammate is invited by email.
  await page.getByRole('banner').getByRole('link', { name: 'Team' }).click();
  await page.getByLabel('Email', { exact: true }).fill('grace@acme.test');
  await page.getByLabel('Role', { exact: true }).selectOption('member');
  await page.getByRole('button', { name: 'Send invite' }).click();
  await page.getByRole('status').getByText('Invite sent to grace@acme.test.').waitFor();
  await screenshot(page, 'team');
  const invite = await waitFor('the invite email', () => stack.smtp.mails.find((mail) => mail.to.includes('grace@acme.test')), DELIVERY_WAIT_MS);
  const link = /https?:\/\/\S+\/invites\/[\w.-]+/.exec(invite.text)?.[0];
  expect(link, invite.text).toBeDefined();
  expect(new URL(link!).origin).toBe(stack.serverUrl);
  expect(browser.pageErrors).toEqual([]);

  // They accept in a browser of their own and land signed in, as a member.
  const teammate = await browser.anotherPerson();
  const member = teammate.page;
  await member.goto(link!);
  await member.getByRole('heading', { name: 'Join Acme Webhooks on openhooks' }).waitFor();
  await member.getByLabel('Name', { exact: true }).fill('Grace Hopper');
  await member.getByLabel('Password', { exact: true }).fill('a compiler of my own');
  await member.getByRole('button', { name: 'Accept invite and log in' }).click();
  await member.getByRole('heading', { name: 'Dashboard' }).waitFor();
  expect(new URL(member.url()).pathname).toBe('/');
  await member.getByRole('banner').getByText('grace@acme.test').waitFor();
  await member.getByRole('main').getByRole('link', { name: 'Shop', exact: true }).waitFor();
  await member.getByRole('banner').getByRole('link', { name: 'Team' }).click();
  await member.getByRole('heading', { name: 'Grace Hopper (you)' }).waitFor();
  await member.getByText('grace@acme.test · member').waitFor();

  // A member sees the keys but has no form to create or revoke one, and a forged post is refused.
  await member.getByRole('banner').getByRole('link', { name: 'API keys' }).click();
  await member.getByText('Only owners and admins of your account can create or revoke API keys.').waitFor();
  await member.getByRole('heading', { name: 'production backend' }).waitFor();
  expect(await member.getByRole('button', { name: 'Create API key' }).count()).toBe(0);
  expect(await member.getByText('Revoke production backend…').count()).toBe(0);
  const csrf = await member.locator('input[name="csrf"]').first().inputValue();
  const keyId = (await stack.db.selectFrom('api_keys').select('id').where('name', '=', 'production backend').executeTakeFirstOrThrow()).id;
  const forged: Record<string, string>[] = [{ intent: 'create', name: 'sneaky' }, { intent: 'revoke', id: keyId }];
  for (const form of forged) {
    const refused = await member.request.post('/settings/api-keys', { form: { csrf, ...form }, maxRedirects: 0 });
    expect(refused.status(), form.intent).toBe(403);
    // The role check refused it, not the CSRF check: the token was the member's own.
    expect(await refused.text()).toContain('your role is member');
  }
  await member.reload();
  expect(await member.getByRole('heading', { name: 'sneaky' }).count()).toBe(0);
  const key = await stack.db.selectFrom('api_keys').select('revoked_at').where('id', '=', keyId).executeTakeFirstOrThrow();
  expect(key.revoked_at).toBeNull();
  expect((await api.get(`/apps/${appId}`)).status).toBe(200);
  expect(teammate.pageErrors).toEqual([]);

  // Every main page, as the owner, on a phone and on a desktop: nothing scrolls sideways, every control has a label.
  const pages = ['/', `/apps/${appId}`, `/apps/${appId}/settings`, `/apps/${appId}/event-types`, `/apps/${appId}/subscribers`, subscriberPath, logsPath, `/apps/${appId}/messages/${second}`, `/apps/${appId}/getting-started`, '/settings/team', '/settings/api-keys'];
  for (const path of pages) {
    await page.goto(path);
    const overflow = await screenshotAtWidths(page, `page-${path.replace(/[^a-z0-9]+/gi, '-').slice(1, 60) || 'dashboard'}`);
    expect(overflow, path).toEqual({ 1280: 0, 360: 0 });
    expect(await unlabelledControls(page), path).toEqual([]);
  }

  // Keyboard alone: log out, then log in with Tab, typing and Enter.
  await page.getByRole('banner').getByRole('button', { name: 'Log out' }).click();
  // Logging out lands on /login with a new session (and CSRF token): type only once that page is there.
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await page.getByLabel('Email', { exact: true }).focus();
  await page.keyboard.type('ada@acme.test');
  await page.keyboard.press('Tab');
  await page.keyboard.type('an engine of analysis');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  expect(browser.pageErrors).toEqual([]);
});
