import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../api/index.ts';
import { createAccount } from '../../db/accounts.ts';
import { newId } from '../../lib/ids.ts';
import { TemporalGateway } from '../../lib/temporal.ts';
import * as apiKeys from '../../portal/app/routes/settings.api-keys.tsx';
import { createPortalContext, formRequest, outcome, pageRequest, signIn, type PortalTestContext, type SignedIn } from '../support/portal.ts';

let portal: PortalTestContext;
let owner: SignedIn;
let admin: SignedIn;
let member: SignedIn;
let stranger: SignedIn;
let accountId: string;
let strangerAccountId: string;

const load = (who: SignedIn | undefined) => outcome(() => apiKeys.loader({ request: pageRequest('/settings/api-keys', who), context: portal.context, params: {} }));
const post = (who: SignedIn | undefined, fields: Record<string, string>) =>
  outcome(() => apiKeys.action({ request: formRequest('/settings/api-keys', who, fields), context: portal.context, params: {} }));
const keysOf = (account: string) => portal.context.db.selectFrom('api_keys').selectAll().where('account_id', '=', account).orderBy('created_at').execute();

async function addUser(role: 'admin' | 'member'): Promise<SignedIn> {
  const id = newId('user');
  await portal.context.db.insertInto('users').values({ id, account_id: accountId, email: `${role}-${id}@provider.test`, password_hash: 'unused', role }).execute();
  return signIn(portal.context, id);
}

/** The real API in its own Express server on loopback, sharing the portal's trusted-key cache as in one server process. */
async function withApi<T>(use: (baseUrl: string) => Promise<T>): Promise<T> {
  const { db, starts, secrets, config, trustedKeys } = portal.context;
  // createPortalContext set the test server's address; only the API's health check would use it.
  const temporal = new TemporalGateway({ ...config.temporal, address: config.temporal.address! });
  const app = express().use('/api/v1', createApi({ db, starts, temporal, secrets, config, trustedKeys }).router);
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  try {
    return await use(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await temporal.close();
  }
}

beforeAll(async () => {
  portal = await createPortalContext();
  const { db } = portal.context;
  const mine = await createAccount(db, { name: 'Provider', email: 'owner@keys.test', password: 'correct horse battery' });
  accountId = mine.accountId;
  owner = await signIn(portal.context, mine.userId);
  admin = await addUser('admin');
  member = await addUser('member');
  const other = await createAccount(db, { name: 'Other', email: 'owner@other-keys.test', password: 'correct horse battery' });
  strangerAccountId = other.accountId;
  stranger = await signIn(portal.context, other.userId);
});

afterAll(async () => {
  await portal?.close();
});

describe('/settings/api-keys', () => {
  it('creates a key shown once, which the API accepts until it is revoked', async () => {
    const created = await post(admin, { intent: 'create', name: '  Production backend ' });
    expect(created.status).toBe(200);
    expect(created.headers?.get('cache-control')).toBe('no-store');
    const key: string = created.body.created.key;
    expect(created.body.created.name).toBe('Production backend');
    expect(key).toMatch(/^ohk_[0-9a-f]{12}_[\w-]{32}$/);

    const stored = (await keysOf(accountId)).find((row) => row.name === 'Production backend')!;
    expect(key.startsWith(`ohk_${stored.prefix}_`)).toBe(true);
    // The secret part is everything after `ohk_<prefix>_` (it may itself hold `_`).
    expect(JSON.stringify(stored)).not.toContain(key.slice(`ohk_${stored.prefix}_`.length));

    const page = await load(member);
    expect(page.status).toBe(200);
    expect(page.body.canManage).toBe(false);
    const listed = page.body.apiKeys.find((row: any) => row.id === stored.id);
    expect(listed).toEqual({ id: stored.id, name: 'Production backend', prefix: `ohk_${stored.prefix}`, createdAt: expect.stringMatching(/ UTC$/), lastUsedAt: null, revokedAt: null });
    expect(JSON.stringify(page.body)).not.toContain(key);

    await withApi(async (baseUrl) => {
      const answer = await fetch(`${baseUrl}/api_keys`, { headers: { authorization: `Bearer ${key}` } });
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { id: string }[]).map((row) => row.id)).toContain(stored.id);

      // The API of this process now trusts the key for 2 s; revoking it in the portal ends that at once.
      const revoked = await post(owner, { intent: 'revoke', id: stored.id });
      expect(revoked.status).toBe(200);
      expect(revoked.body.done).toMatch(/revoked/);
      const refused = await fetch(`${baseUrl}/apps`, { headers: { authorization: `Bearer ${key}` } });
      expect(refused.status).toBe(401);
    });
    const after = await load(owner);
    expect(after.body.apiKeys.find((row: any) => row.id === stored.id).revokedAt).toMatch(/ UTC$/);
  });

  it('keeps what was typed beside the error', async () => {
    const before = await keysOf(accountId);
    const refused = await post(owner, { intent: 'create', name: '' });
    expect(refused.status).toBe(400);
    expect(refused.body.errors.name).toBeTruthy();
    const long = 'x'.repeat(201);
    const tooLong = await post(owner, { intent: 'create', name: long });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.values).toEqual({ name: long });
    expect(await keysOf(accountId)).toHaveLength(before.length);
  });

  it('refuses a member’s create and revoke with 403 and changes nothing', async () => {
    const before = await keysOf(accountId);
    const live = before.find((row) => !row.revoked_at)!;
    const create = await post(member, { intent: 'create', name: 'Sneaky' });
    const revoke = await post(member, { intent: 'revoke', id: live.id });
    expect([create.status, revoke.status]).toEqual([403, 403]);
    expect(await keysOf(accountId)).toEqual(before);
  });

  it('refuses a form without the CSRF token', async () => {
    const before = await keysOf(accountId);
    expect((await post({ ...owner, csrf: 'not-the-token' }, { intent: 'create', name: 'Forged' })).status).toBe(403);
    expect(await keysOf(accountId)).toEqual(before);
  });

  it('answers 404 for another account’s key and leaves it live; lists only the account’s own keys', async () => {
    const theirs = await keysOf(strangerAccountId);
    expect(theirs).toHaveLength(1);
    const answer = await post(owner, { intent: 'revoke', id: theirs[0]!.id });
    expect(answer.status).toBe(404);
    expect(answer.body).toBeUndefined();
    expect(await keysOf(strangerAccountId)).toEqual(theirs);

    const page = await load(stranger);
    expect(page.body.apiKeys.map((row: any) => row.id)).toEqual([theirs[0]!.id]);
  });

  it('sends a signed-out visitor to /login', async () => {
    const page = await load(undefined);
    expect(page.status).toBe(302);
    expect(page.location).toBe('/login?redirectTo=%2Fsettings%2Fapi-keys');
  });
});
