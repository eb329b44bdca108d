import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { screenshotAtWidths, unlabelledControls, usePortal } from '../support/browser.ts';

const portal = usePortal();
const { browser } = portal;
// The password of the account startStack creates.
const OWNER_PASSWORD = 'correct horse battery';

/** The path the page shows now, with its query string. */
const pathOf = (page: Page) => {
  const url = new URL(page.url());
  return url.pathname + url.search;
};

/** The page is usable as it stands: every control named, nothing wider than a 360 px phone. */
async function checkPage(page: Page, name: string): Promise<void> {
  expect(await unlabelledControls(page), `unlabelled controls on ${name}`).toEqual([]);
  const overflow = await screenshotAtWidths(page, name);
  expect(overflow, `pixels ${name} overflows sideways, per width`).toEqual({ 1280: 0, 360: 0 });
}

async function logIn(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('main').getByRole('button', { name: 'Log in' }).click();
}

test('a new provider signs up, lands on the dashboard, logs out and logs back in', async () => {
  const { page } = browser;
  await page.goto('/signup');
  await page.getByRole('heading', { name: 'Create your account' }).waitFor();
  await checkPage(page, 'signup');

  await page.getByLabel('Account name', { exact: true }).fill('Acme Webhooks');
  await page.getByLabel('Your name', { exact: true }).fill('Ada Lovelace');
  await page.getByLabel('Email', { exact: true }).fill('ada@acme.test');
  await page.getByLabel('Password', { exact: true }).fill('an engine of analysis');
  await page.getByRole('button', { name: 'Create account' }).click();

  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  expect(pathOf(page)).toBe('/');
  await page.getByRole('banner').getByText('ada@acme.test').waitFor();
  // A new account has no apps: the dashboard walks it to its first one.
  await page.getByRole('link', { name: 'Create an app' }).waitFor();
  await checkPage(page, 'dashboard-empty');

  await page.getByRole('banner').getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  expect(pathOf(page)).toBe('/login');
  await checkPage(page, 'login');
  // The session is gone: the dashboard sends a visitor to the login page.
  await page.goto('/');
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  expect(new URL(page.url()).pathname).toBe('/login');

  await logIn(page, 'ada@acme.test', 'an engine of analysis');
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  expect(pathOf(page)).toBe('/');
  await page.getByRole('banner').getByText('ada@acme.test').waitFor();
  expect(browser.pageErrors).toEqual([]);
});

test('a wrong password is refused next to the form, keeping the email typed', async () => {
  const { page } = browser;
  await page.goto('/login');
  await logIn(page, portal.stack().ownerEmail, 'not the password');

  const form = page.locator('form').filter({ has: page.getByLabel('Password', { exact: true }) });
  await form.getByRole('alert').getByText('That email and password do not match an account').waitFor();
  expect(new URL(page.url()).pathname).toBe('/login');
  expect(await page.getByLabel('Email', { exact: true }).inputValue()).toBe(portal.stack().ownerEmail);
  await checkPage(page, 'login-refused');

  // The refusal set no session: the dashboard still sends this visitor to log in.
  await page.goto('/');
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  expect(browser.pageErrors).toEqual([]);
});

test('an app created through /apps/new is listed on the dashboard', async () => {
  const { page } = browser;
  await page.goto('/login');
  await logIn(page, portal.stack().ownerEmail, OWNER_PASSWORD);
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

  await page.getByRole('link', { name: 'Create an app' }).click();
  await page.getByRole('heading', { name: 'New app' }).waitFor();
  expect(pathOf(page)).toBe('/apps/new');
  await checkPage(page, 'app-new');
  await page.getByLabel('Name', { exact: true }).fill('Shop');
  await page.getByRole('button', { name: 'Create app' }).click();
  // The new app's own pages take over; which one first is the portal's choice.
  await page.waitForURL((url) => /^\/apps\/app_[^/]+/.test(url.pathname));

  await page.getByRole('banner').getByRole('link', { name: 'Dashboard' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  await page.getByRole('main').getByRole('link', { name: 'Shop', exact: true }).waitFor();
  await checkPage(page, 'dashboard');
  expect(browser.pageErrors).toEqual([]);
});
