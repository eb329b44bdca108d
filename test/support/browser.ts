import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { startStack, type Stack } from './stack.ts';

// Debian's chromium, driven by playwright-core: no browser download, the same binary in CI and here.
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));
/** The widths every portal page must work at: a desktop and a small phone. */
export const WIDTHS = [1280, 360] as const;
const HEIGHT = 800;
// Below vitest's 60 s test timeout, so a missing element fails with Playwright's message, not a bare timeout.
const ACTION_TIMEOUT_MS = 15_000;

/** One person's browser: a page in a context (cookies, storage) of its own. */
export interface BrowserPerson {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Uncaught errors thrown by the page's scripts during this test (a failed hydration shows up here). */
  readonly pageErrors: string[];
}

export interface BrowserSession extends BrowserPerson {
  /** Another person's browser in this test (say, a teammate opening an emailed link), signed out; closed after the test. */
  anotherPerson(): Promise<BrowserPerson>;
}

/**
 * Launches Chromium once for the test file and gives each test a fresh context and page; everything
 * is closed after the test or the file, and a failed test leaves a screenshot `failed-<test name>`. `baseUrl` is read per test, once the file's stack is up.
 */
export function useBrowser(options: { baseUrl?: () => string } = {}): BrowserSession {
  let browser: Browser | undefined;
  let current: { person: BrowserPerson; others: BrowserPerson[] } | undefined;
  const session = (): NonNullable<typeof current> => {
    if (!current) throw new Error('the browser session exists only inside a test');
    return current;
  };
  const newPerson = async (): Promise<BrowserPerson> => {
    if (!browser) throw new Error('Chromium did not start');
    const context = await browser.newContext({ viewport: { width: WIDTHS[0], height: HEIGHT }, baseURL: options.baseUrl?.() });
    context.setDefaultTimeout(ACTION_TIMEOUT_MS);
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    return { page, context, pageErrors };
  };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`The browser tests need Debian's chromium at ${CHROMIUM}: run \`apt-get install -y chromium\` (.ci/run installs it when missing).`);
    }
    // Chromium's sandbox cannot start as root (containers, CI); an unprivileged user keeps it.
    const args = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
  });

  beforeEach(async () => {
    current = { person: await newPerson(), others: [] };
  });

  afterEach(async ({ task }) => {
    // What the page showed when the test failed, next to the other screenshots.
    if (task.result?.state === 'fail' && current) await screenshot(current.person.page, `failed-${task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 80)}`);
    for (const person of [...(current?.others ?? []), current?.person]) await person?.context.close();
    current = undefined;
  });

  afterAll(async () => {
    await browser?.close();
  });

  return {
    get page() {
      return session().person.page;
    },
    get context() {
      return session().person.context;
    },
    get pageErrors() {
      return session().person.pageErrors;
    },
    async anotherPerson() {
      const person = await newPerson();
      session().others.push(person);
      return person;
    },
  };
}

/** For the test file: a stack that serves the portal, and a browser whose pages open it (`page.goto('/login')`). */
export function usePortal(): { browser: BrowserSession; stack(): Stack } {
  let stack: Stack | undefined;
  const current = (): Stack => {
    if (!stack) throw new Error('the portal stack has not started');
    return stack;
  };
  beforeAll(async () => {
    stack = await startStack({}, { portal: true });
  });
  afterAll(async () => {
    await stack?.close();
  });
  return { browser: useBrowser({ baseUrl: () => current().serverUrl }), stack: current };
}

/** A full-page screenshot at test-artifacts/screenshots/<name>.png (gitignored); returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * The page at each of WIDTHS: a screenshot `<name>-<width>` and how many pixels it overflows
 * sideways (0 when nothing needs horizontal scrolling). Leaves the page at the desktop width.
 */
export async function screenshotAtWidths(page: Page, name: string): Promise<Record<number, number>> {
  const overflow: Record<number, number> = {};
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: HEIGHT });
    await screenshot(page, `${name}-${width}`);
    overflow[width] = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  }
  await page.setViewportSize({ width: WIDTHS[0], height: HEIGHT });
  return overflow;
}

/**
 * The page's form controls that a person (or a screen reader) cannot name: inputs, selects and
 * textareas without a visible <label>, buttons without text. Each is described by its tag and name.
 */
export async function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const shown = (el: Element) => el.getClientRects().length > 0;
    const describe = (el: Element) => `${el.tagName.toLowerCase()}[name=${el.getAttribute('name') ?? ''}]`;
    const missing: string[] = [];
    for (const control of document.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>('input, select, textarea')) {
      if (control.type === 'hidden' || !shown(control)) continue;
      if (control instanceof HTMLInputElement && ['submit', 'button', 'reset'].includes(control.type)) {
        if (!control.value.trim()) missing.push(describe(control));
        continue;
      }
      const labelled = [...(control.labels ?? [])].some((label) => shown(label) && label.textContent?.trim());
      if (!labelled) missing.push(describe(control));
    }
    for (const button of document.querySelectorAll('button')) {
      if (shown(button) && !button.textContent?.trim() && !button.getAttribute('aria-label')?.trim()) missing.push(describe(button));
    }
    return missing;
  });
}

/** Fills and sends the /signup form the page shows; the new owner is then signed in. */
export async function signUp(page: Page, owner: { accountName: string; name: string; email: string; password: string }): Promise<void> {
  await page.getByLabel('Account name', { exact: true }).fill(owner.accountName);
  await page.getByLabel('Your name', { exact: true }).fill(owner.name);
  await page.getByLabel('Email', { exact: true }).fill(owner.email);
  await page.getByLabel('Password', { exact: true }).fill(owner.password);
  await page.getByRole('button', { name: 'Create account' }).click();
}
