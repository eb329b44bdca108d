import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../db/accounts.ts';
import { createApp } from '../../db/apps.ts';
import { newId } from '../../lib/ids.ts';
import * as subscribers from '../../portal/app/routes/apps.$app_id.subscribers._index.tsx';
import { createPortalContext, formRequest, outcome, pageRequest, signIn, type PortalTestContext, type SignedIn } from '../support/portal.ts';

let portal: PortalTestContext;
let owner: SignedIn;
let member: SignedIn;
let stranger: SignedIn;
let accountId: string;
let appId: string;

const load = (route: { loader: (args: any) => Promise<unknown> }, path: string, who: SignedIn | undefined, params: Record<string, string>) =>
  outcome(() => route.loader({ request: pageRequest(path, who), context: portal.context, params }));
const post = (route: { action: (args: any) => Promise<unknown> }, path: string, who: SignedIn | undefined, fields: Record<string, string>, params: Record<string, string>) =>
  outcome(() => route.action({ request: formRequest(path, who, fields), context: portal.context, params }));

const subscriberRows = (app: string) => portal.context.db.selectFrom('subscribers').select(['name', 'email']).where('app_id', '=', app).orderBy('name').execute();

beforeAll(async () => {
  portal = await createPortalContext();
  const { db } = portal.context;
  const mine = await createAccount(db, { name: 'Provider', email: 'owner@provider.test', password: 'correct horse battery' });
  accountId = mine.accountId;
  owner = await signIn(portal.context, mine.userId);
  const memberId = newId('user');
  await db.insertInto('users').values({ id: memberId, account_id: mine.accountId, email: 'member@provider.test', password_hash: 'unused', role: 'member' }).execute();
  member = await signIn(portal.context, memberId);
  const other = await createAccount(db, { name: 'Other', email: 'owner@other.test', password: 'correct horse battery' });
  stranger = await signIn(portal.context, other.userId);
  appId = (await createApp(db, accountId, { name: 'Shop' })).id;
});

afterAll(async () => {
  await portal?.close();
});

describe('/apps/:app_id/subscribers', () => {
  it('creates a subscriber and opens its page; the list shows it with its endpoint count', async () => {
    const params = { app_id: appId };
    const created = await post(subscribers, `/apps/${appId}/subscribers`, member, { name: ' Acme Corp ', email: 'ops@acme.test' }, params);
    expect(created.status).toBe(302);
    expect(created.location).toMatch(new RegExp(`^/apps/${appId}/subscribers/sub_[\\w-]+$`));
    const page = await load(subscribers, `/apps/${appId}/subscribers`, member, params);
    expect(page.status).toBe(200);
    expect(page.body.subscribers).toContainEqual({ id: created.location!.split('/')[4], name: 'Acme Corp', email: 'ops@acme.test', endpoints: 0 });
  });

  it('keeps what was typed beside the API’s error, and writes nothing', async () => {
    const params = { app_id: appId };
    const before = await subscriberRows(appId);
    const refused = await post(subscribers, `/apps/${appId}/subscribers`, owner, { name: 'Typo', email: 'not-an-email' }, params);
    expect(refused.status).toBe(400);
    expect(refused.body.values).toEqual({ name: 'Typo', email: 'not-an-email' });
    expect(refused.body.errors.email).toBe('must be an email address');
    const empty = await post(subscribers, `/apps/${appId}/subscribers`, owner, { name: '', email: '' }, params);
    expect(empty.status).toBe(400);
    expect(empty.body.errors.name).toBeTruthy();
    expect(await subscriberRows(appId)).toEqual(before);
  });

  it('searches names and emails, any case, with LIKE wildcards taken literally, and keeps the search in its page links', async () => {
    const app = (await createApp(portal.context.db, accountId, { name: 'Search' })).id;
    const params = { app_id: app };
    for (const [name, email] of [['Globex', 'hooks@globex.test'], ['Initech', 'it@initech.test'], ['100% Hooks', null], ['Umbrella', 'GLOBEX-fan@umbrella.test']] as const) {
      const created = await post(subscribers, `/apps/${app}/subscribers`, owner, { name, email: email ?? '' }, params);
      expect(created.status).toBe(302);
    }
    const names = async (q: string) => (await load(subscribers, `/apps/${app}/subscribers?q=${encodeURIComponent(q)}`, owner, params)).body.subscribers.map((s: { name: string }) => s.name).sort();
    expect(await names('globex')).toEqual(['Globex', 'Umbrella']);
    expect(await names('%')).toEqual(['100% Hooks']);
    expect(await names('_')).toEqual([]);
    expect(await names('')).toEqual(['100% Hooks', 'Globex', 'Initech', 'Umbrella']);
    const page = await load(subscribers, `/apps/${app}/subscribers?q=INITECH`, owner, params);
    expect(page.body).toMatchObject({ q: 'INITECH', total: 1, page: 1, pages: 1 });
  });

  it('refuses a form without the CSRF token', async () => {
    const before = await subscriberRows(appId);
    const refused = await post(subscribers, `/apps/${appId}/subscribers`, { ...owner, csrf: 'forged' }, { name: 'Forged', email: '' }, { app_id: appId });
    expect(refused.status).toBe(403);
    expect(await subscriberRows(appId)).toEqual(before);
  });

  it('answers 404 to another account, on the list and the create form, and creates nothing', async () => {
    const before = await subscriberRows(appId);
    const params = { app_id: appId };
    const answers = [await load(subscribers, `/apps/${appId}/subscribers`, stranger, params), await post(subscribers, `/apps/${appId}/subscribers`, stranger, { name: 'Planted', email: '' }, params)];
    expect(answers.map((answer) => answer.status)).toEqual([404, 404]);
    expect(answers.every((answer) => answer.body === undefined)).toBe(true);
    expect(await subscriberRows(appId)).toEqual(before);
  });
});
