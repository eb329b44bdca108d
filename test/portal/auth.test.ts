import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AppLoadContext } from '@remix-run/node';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createMailer } from '../../activities/mailer.ts';
import { TrustedKeys } from '../../api/auth.ts';
import { DeliveryStarts } from '../../api/delivery-starts.ts';
import { createDb, migrateToLatest, type Db } from '../../db/connection.ts';
import { findUserByEmail } from '../../db/users.ts';
import { withTemporalAddress } from '../../cli/runtime.ts';
import { loadConfig } from '../../lib/config.ts';
import { SecretBox } from '../../lib/secrets.ts';
import { TemporalGateway } from '../../lib/temporal.ts';
import { requireRole, requireUser, safeRedirect, type PortalUser } from '../../portal/app/auth.server.ts';
import { Field } from '../../portal/app/components/field.tsx';
import { passwordResetUrl } from '../../portal/app/password-reset.server.ts';
import * as dashboard from '../../portal/app/routes/_index.tsx';
import * as forgotPassword from '../../portal/app/routes/forgot-password.tsx';
import * as login from '../../portal/app/routes/login.tsx';
import * as logout from '../../portal/app/routes/logout.tsx';
import * as resetPassword from '../../portal/app/routes/reset-password.$token.tsx';
import * as signup from '../../portal/app/routes/signup.tsx';
import { createTestDatabase, testEnv } from '../support/stack.ts';
import { startSmtp } from '../support/smtp.ts';

const PUBLIC_URL = 'http://portal.test';
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let db: Db;
let context: AppLoadContext;

beforeAll(async () => {
  database = await createTestDatabase();
  smtp = await startSmtp();
  const env = testEnv({ DATABASE_URL: database.url, SMTP_URL: smtp.url, PUBLIC_URL });
  const config = withTemporalAddress(loadConfig(env), env.TEMPORAL_ADDRESS!);
  db = createDb(database.url, 3);
  await migrateToLatest(db);
  const mailer = createMailer({ smtpUrl: smtp.url, from: 'portal@openhooks.test', dataDir: mkdtempSync(path.join(tmpdir(), 'portal-auth-')) });
  // The portal's delivery starts are not used by these routes; the gateway connects only when asked to.
  context = { db, secrets: new SecretBox(config.encryptionKey!), config, mailer, starts: new DeliveryStarts(db, new TemporalGateway(config.temporal), config), trustedKeys: new TrustedKeys() };
});

afterAll(async () => {
  context?.mailer.close();
  await db?.destroy();
  await smtp?.close();
  await database?.drop();
});

type Handler = (args: { request: Request; params: Record<string, string>; context: AppLoadContext }) => unknown;

interface Answer {
  status: number;
  headers: Headers;
  data: any;
}

/** A visitor: keeps the cookies the portal sets, like a browser, and calls loaders and actions directly. */
class Visitor {
  readonly cookies = new Map<string, string>();

  constructor(private readonly ctx: AppLoadContext = context) {}

  async get(handler: Handler, pathAndQuery: string, params: Record<string, string> = {}): Promise<Answer> {
    return this.call(handler, new Request(`${PUBLIC_URL}${pathAndQuery}`, { headers: this.headers() }), params);
  }

  async post(handler: Handler, pathAndQuery: string, fields: Record<string, string>, params: Record<string, string> = {}): Promise<Answer> {
    const headers = this.headers();
    headers.set('content-type', 'application/x-www-form-urlencoded');
    return this.call(handler, new Request(`${PUBLIC_URL}${pathAndQuery}`, { method: 'POST', headers, body: new URLSearchParams(fields).toString() }), params);
  }

  private headers(): Headers {
    return new Headers(this.cookies.size ? { cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ') } : {});
  }

  private async call(handler: Handler, request: Request, params: Record<string, string>): Promise<Answer> {
    let result: unknown;
    try {
      result = await handler({ request, params, context: this.ctx });
    } catch (thrown) {
      if (!(thrown instanceof Response)) throw thrown;
      result = thrown;
    }
    const answer = toAnswer(result);
    for (const cookie of answer.headers.getSetCookie()) {
      const [pair, ...attributes] = cookie.split(';');
      const [name, value] = pair!.split('=') as [string, string];
      const expired = attributes.some((a) => /^\s*max-age=0$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now()));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return answer;
  }
}

function toAnswer(result: unknown): Answer {
  if (result instanceof Response) return { status: result.status, headers: result.headers, data: undefined };
  const wrapped = result as { type?: string; data?: unknown; init?: ResponseInit | null };
  if (wrapped?.type === 'DataWithResponseInit') {
    return { status: wrapped.init?.status ?? 200, headers: new Headers(wrapped.init?.headers), data: wrapped.data };
  }
  return { status: 200, headers: new Headers(), data: result };
}

/** Loads a page's form (which gives the visitor a CSRF token) and posts it with that token. */
async function submit(visitor: Visitor, route: { loader: Handler; action: Handler }, pathAndQuery: string, fields: Record<string, string>, params: Record<string, string> = {}) {
  const page = await visitor.get(route.loader, pathAndQuery, params);
  expect(page.status).toBe(200);
  return visitor.post(route.action, pathAndQuery, { csrf: page.data.csrf, ...fields }, params);
}

let emails = 0;
const uniqueEmail = (): string => `person${++emails}-${Date.now()}@provider.test`;

async function signUp(visitor: Visitor, email = uniqueEmail(), password = 'a long password') {
  const answer = await submit(visitor, signup, '/signup', { account_name: 'Acme', name: 'Ada Lovelace', email, password });
  expect(answer.status).toBe(302);
  return { email, password };
}

async function waitForMail(to: string) {
  for (let i = 0; i < 100; i++) {
    const mail = smtp.mails.find((m) => m.to.includes(to));
    if (mail) return mail;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no mail to ${to} within 5 s`);
}

describe('sign-up', () => {
  test('creates the account and its owner, signs in and lands on the empty dashboard', async () => {
    const visitor = new Visitor();
    const email = uniqueEmail();
    const answer = await submit(visitor, signup, '/signup', { account_name: 'Acme', name: 'Ada Lovelace', email: email.toUpperCase(), password: 'a long password' });
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('/');
    const cookie = answer.headers.getSetCookie().find((c) => c.startsWith('__session='));
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Max-Age=604800/);
    expect(cookie).not.toMatch(/Secure/i);

    const user = await findUserByEmail(db, email);
    expect(user).toMatchObject({ email, name: 'Ada Lovelace', role: 'owner' });
    const account = await db.selectFrom('accounts').selectAll().where('id', '=', user!.account_id).executeTakeFirstOrThrow();
    expect(account.name).toBe('Acme');

    const home = await visitor.get(dashboard.loader, '/');
    expect(home.status).toBe(200);
    expect(home.data).toMatchObject({ apps: [], total: 0, disabled: [] });
    expect((home.data as { hourly: { succeeded: number; failed: number }[] }).hourly.every((b) => b.succeeded + b.failed === 0)).toBe(true);
  });

  test('a form with errors answers 400 with each message and what was typed; nothing is created', async () => {
    const visitor = new Visitor();
    const email = uniqueEmail();
    const answer = await submit(visitor, signup, '/signup', { account_name: '', name: 'Ada', email, password: 'short' });
    expect(answer.status).toBe(400);
    expect(answer.data.errors).toEqual({ account_name: expect.any(String), password: 'Use at least 8 characters.' });
    expect(answer.data.values).toEqual({ account_name: '', name: 'Ada', email });
    expect(await findUserByEmail(db, email)).toBeUndefined();

    const taken = await signUp(new Visitor());
    const again = await submit(new Visitor(), signup, '/signup', { account_name: 'B', name: 'B', email: taken.email, password: 'a long password' });
    expect(again.status).toBe(400);
    expect(again.data.errors.email).toMatch(/already uses this email/);
  });
});

describe('login', () => {
  test('the right password signs in and follows a relative redirectTo; a wrong one and an unknown email get the same message', async () => {
    const { email, password } = await signUp(new Visitor());

    const wrong = await submit(new Visitor(), login, '/login', { email, password: 'not the password' });
    const unknown = await submit(new Visitor(), login, '/login', { email: uniqueEmail(), password });
    expect(wrong.status).toBe(400);
    expect(unknown.status).toBe(400);
    expect(wrong.data.errors.form).toBeTruthy();
    expect(unknown.data.errors).toEqual(wrong.data.errors);
    expect(wrong.data.values).toEqual({ email });

    const visitor = new Visitor();
    const page = await visitor.get(login.loader, '/login?redirectTo=%2Fapps%2Fapp_1%3Ftab%3Dlogs');
    expect(page.data.redirectTo).toBe('/apps/app_1?tab=logs');
    const ok = await visitor.post(login.action, '/login', { csrf: page.data.csrf, email: email.toUpperCase(), password, redirectTo: page.data.redirectTo });
    expect(ok.status).toBe(302);
    expect(ok.headers.get('location')).toBe('/apps/app_1?tab=logs');
    expect((await visitor.get(dashboard.loader, '/')).status).toBe(200);

    const offsite = await submit(new Visitor(), login, '/login', { email, password, redirectTo: '//evil.test/steal' });
    expect(offsite.headers.get('location')).toBe('/');
  });

  test('ten failures in a row lock out that account and that client address; others still log in', async () => {
    const victim = await signUp(new Visitor());
    const bystander = await signUp(new Visitor());
    const fromAttacker = new Visitor({ ...context, clientAddress: '203.0.113.7' });
    for (let i = 0; i < 10; i++) {
      expect((await submit(fromAttacker, login, '/login', { email: victim.email, password: `guess ${i}` })).status).toBe(400);
    }
    const locked = await submit(fromAttacker, login, '/login', { email: victim.email, password: victim.password });
    expect(locked.status).toBe(429);
    expect(locked.data.errors.form).toMatch(/Too many failed logins\. Wait 15 minutes/);
    // Per account: the right password from another address is refused too.
    const otherAddress = new Visitor({ ...context, clientAddress: '198.51.100.1' });
    expect((await submit(otherAddress, login, '/login', { email: victim.email, password: victim.password })).status).toBe(429);
    // Per address: another account from the attacker's address is refused.
    expect((await submit(fromAttacker, login, '/login', { email: bystander.email, password: bystander.password })).status).toBe(429);
    // Another account from another address is not affected.
    expect((await submit(otherAddress, login, '/login', { email: bystander.email, password: bystander.password })).status).toBe(302);
  });
});

describe('sessions', () => {
  test('requireUser sends a visitor without a session to /login with the page to come back to', async () => {
    const thrown = await requireUser(new Request(`${PUBLIC_URL}/apps/app_1/logs?status=failed`), context).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(thrown).toBeInstanceOf(Response);
    expect((thrown as Response).status).toBe(302);
    expect((thrown as Response).headers.get('location')).toBe('/login?redirectTo=%2Fapps%2Fapp_1%2Flogs%3Fstatus%3Dfailed');
  });

  test('a removed user is signed out on their next request', async () => {
    const visitor = new Visitor();
    const { email } = await signUp(visitor);
    expect((await visitor.get(dashboard.loader, '/')).status).toBe(200);
    const user = await findUserByEmail(db, email);
    await db.deleteFrom('users').where('id', '=', user!.id).execute();
    const answer = await visitor.get(dashboard.loader, '/');
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('/login?redirectTo=%2F');
  });

  test('logout needs the CSRF token, then ends the session', async () => {
    const visitor = new Visitor();
    await signUp(visitor);
    expect((await visitor.post(logout.action, '/logout', {})).status).toBe(403);
    expect((await visitor.get(dashboard.loader, '/')).status).toBe(200);

    const out = await submit(visitor, logout, '/logout', {});
    expect(out.status).toBe(302);
    expect(out.headers.get('location')).toBe('/login');
    expect(visitor.cookies.has('__session')).toBe(false);
    expect((await visitor.get(dashboard.loader, '/')).headers.get('location')).toBe('/login?redirectTo=%2F');
  });

  test('safeRedirect follows only paths on this site', () => {
    expect(safeRedirect('/apps/app_1?tab=logs')).toBe('/apps/app_1?tab=logs');
    for (const target of ['//evil.test', '/\\evil.test', 'https://evil.test/', 'javascript:alert(1)', 'apps', '', null, undefined]) {
      expect(safeRedirect(target)).toBe('/');
    }
    expect(safeRedirect('https://evil.test/', '/settings/team')).toBe('/settings/team');
  });

  test('requireRole refuses other roles with a readable 403', async () => {
    const member: PortalUser = { id: 'usr_1', accountId: 'acc_1', email: 'm@provider.test', name: null, role: 'member' };
    expect(() => requireRole({ ...member, role: 'admin' }, ['owner', 'admin'])).not.toThrow();
    let thrown: unknown;
    try {
      requireRole(member, ['owner', 'admin']);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(Response);
    expect((thrown as Response).status).toBe(403);
    expect(await (thrown as Response).text()).toBe('Only owners and admins can do this; your role is member. Ask an owner of your account.');
  });
});

describe('CSRF', () => {
  test('a form without the token, or with another session’s, is refused with 403 and changes nothing', async () => {
    const visitor = new Visitor();
    await visitor.get(signup.loader, '/signup');
    const other = new Visitor();
    const othersToken = (await other.get(signup.loader, '/signup')).data.csrf;
    const wrongTokens: Record<string, string>[] = [{}, { csrf: othersToken }, { csrf: '' }];
    for (const fields of wrongTokens) {
      const email = uniqueEmail();
      const answer = await visitor.post(signup.action, '/signup', { ...fields, account_name: 'Acme', name: 'Ada', email, password: 'a long password' });
      expect(answer.status).toBe(403);
      expect(await findUserByEmail(db, email)).toBeUndefined();
    }
    // No session cookie at all: refused too.
    const email = uniqueEmail();
    const bare = await new Visitor().post(signup.action, '/signup', { csrf: othersToken, account_name: 'Acme', name: 'Ada', email, password: 'a long password' });
    expect(bare.status).toBe(403);
    expect(await findUserByEmail(db, email)).toBeUndefined();
  });

  test('signing in gives a new token: the one from before no longer works', async () => {
    const visitor = new Visitor();
    const before = (await visitor.get(login.loader, '/login')).data.csrf;
    const { email, password } = await signUp(new Visitor());
    expect((await visitor.post(login.action, '/login', { csrf: before, email, password })).status).toBe(302);
    expect((await visitor.post(logout.action, '/logout', { csrf: before })).status).toBe(403);
  });
});

describe('password reset', () => {
  test('the emailed link sets a new password once, signs in, and then no longer works', async () => {
    const { email, password } = await signUp(new Visitor());
    const asked = await submit(new Visitor(), forgotPassword, '/forgot-password', { email });
    expect(asked.status).toBe(200);
    const mail = await waitForMail(email);
    const link = new RegExp(`${PUBLIC_URL}/reset-password/([\\w-]+\\.[\\w-]+)`).exec(mail.text);
    expect(link).not.toBeNull();
    const token = link![1]!;

    const visitor = new Visitor();
    const page = await visitor.get(resetPassword.loader, `/reset-password/${token}`, { token });
    expect(page.data).toMatchObject({ valid: true, email });
    const tooShort = await visitor.post(resetPassword.action, `/reset-password/${token}`, { csrf: page.data.csrf, password: 'short' }, { token });
    expect(tooShort.status).toBe(400);
    const set = await visitor.post(resetPassword.action, `/reset-password/${token}`, { csrf: page.data.csrf, password: 'a brand new password' }, { token });
    expect(set.status).toBe(302);
    expect(set.headers.get('location')).toBe('/');
    expect((await visitor.get(dashboard.loader, '/')).status).toBe(200);

    expect((await submit(new Visitor(), login, '/login', { email, password })).status).toBe(400);
    expect((await submit(new Visitor(), login, '/login', { email, password: 'a brand new password' })).status).toBe(302);

    // Used once: the same link is refused, by the page and by the form.
    const reused = new Visitor();
    const again = await reused.get(resetPassword.loader, `/reset-password/${token}`, { token });
    expect(again.data.valid).toBe(false);
    const post = await reused.post(resetPassword.action, `/reset-password/${token}`, { csrf: again.data.csrf, password: 'a third password' }, { token });
    expect(post.status).toBe(400);
    expect((await submit(new Visitor(), login, '/login', { email, password: 'a third password' })).status).toBe(400);
  });

  test('an unknown email gets the same answer and no mail', async () => {
    const known = await signUp(new Visitor());
    const unknownEmail = uniqueEmail();
    const forKnown = await submit(new Visitor(), forgotPassword, '/forgot-password', { email: known.email });
    const forUnknown = await submit(new Visitor(), forgotPassword, '/forgot-password', { email: unknownEmail });
    expect(forUnknown.status).toBe(forKnown.status);
    expect({ ...forUnknown.data, email: undefined }).toEqual({ ...forKnown.data, email: undefined });
    await waitForMail(known.email);
    expect(smtp.mails.some((m) => m.to.includes(unknownEmail))).toBe(false);
  });

  test('an expired or tampered token is refused and changes nothing', async () => {
    const { email, password } = await signUp(new Visitor());
    const user = (await findUserByEmail(db, email))!;
    const expired = passwordResetUrl(context, user, Date.now() - 61 * 60_000).split('/').pop()!;
    const fresh = passwordResetUrl(context, user).split('/').pop()!;
    const [body, signature] = fresh.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    const tampered = `${Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 3600 })).toString('base64url')}.${signature}`;
    for (const token of [expired, tampered, `${fresh}x`, 'nonsense']) {
      const visitor = new Visitor();
      const page = await visitor.get(resetPassword.loader, `/reset-password/${token}`, { token });
      expect(page.status).toBe(400);
      expect(page.data.valid).toBe(false);
      const post = await visitor.post(resetPassword.action, `/reset-password/${token}`, { csrf: page.data.csrf, password: 'taken over!' }, { token });
      expect(post.status).toBe(400);
    }
    expect((await submit(new Visitor(), login, '/login', { email, password })).status).toBe(302);
  });

  test('the reset form needs the CSRF token too', async () => {
    const { email, password } = await signUp(new Visitor());
    const token = passwordResetUrl(context, (await findUserByEmail(db, email))!).split('/').pop()!;
    const visitor = new Visitor();
    await visitor.get(resetPassword.loader, `/reset-password/${token}`, { token });
    expect((await visitor.post(resetPassword.action, `/reset-password/${token}`, { password: 'taken over!' }, { token })).status).toBe(403);
    expect((await submit(new Visitor(), login, '/login', { email, password })).status).toBe(302);
  });
});

test('Field ties its visible label, hint and error to the input', () => {
  const html = renderToStaticMarkup(createElement(Field, { label: 'Email', name: 'email', type: 'email', defaultValue: 'a@b.test', error: 'Enter an email address.', hint: 'The one you log in with.' }));
  const id = /<input id="([^"]+)"/.exec(html)?.[1];
  expect(id).toBeTruthy();
  expect(html).toContain(`<label for="${id}">Email</label>`);
  expect(html).toContain(`aria-describedby="${id}-hint ${id}-error"`);
  expect(html).toContain('aria-invalid="true"');
  expect(html).toContain(`<p id="${id}-error" class="field-error">Enter an email address.</p>`);
  expect(html).toContain('value="a@b.test"');
});
