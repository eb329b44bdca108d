import { expect, test } from 'vitest';
import { screenshotAtWidths, usePortal } from '../support/browser.ts';

const { browser } = usePortal();

test('an unknown address shows the portal page that says so, styled and hydrated without errors', async () => {
  const { page } = browser;
  const response = await page.goto('/no-such-page');
  expect(response?.status()).toBe(404);
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  expect(await page.title()).toBe('Page not found · openhooks portal');
  await page.getByRole('link', { name: 'portal home page' }).waitFor();
  // The stylesheet and the client scripts come from portal/build/client through the same server.
  await page.waitForLoadState('networkidle');
  expect(await page.evaluate(() => document.styleSheets.length)).toBeGreaterThan(0);
  await page.waitForFunction(() => '__remixContext' in window);
  expect(browser.pageErrors).toEqual([]);
  const overflow = await screenshotAtWidths(page, 'not-found');
  expect(overflow).toEqual({ 1280: 0, 360: 0 });
});
