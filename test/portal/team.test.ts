import type { AppLoadContext } from '@remix-run/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMailer } from '../../activities/mailer.ts';
import { createAccount } from '../../db/accounts.ts';
import { findUser, findUserByEmail } from '../../db/users.ts';
import { newId } from '../../lib/ids.ts';
import { requireUser } from '../../portal/app/auth.server.ts';
import { sendInvite } from '../../portal/app/invites.server.ts';
import * as acceptInvite from '../../portal/app/routes/invites.$token.tsx';
import * as team from '../../portal/app/routes/settings.team.tsx';
import { waitFor } from '../support/ports.ts';
import { createPortalContext, formRequest, outcome, pageRequest, signIn, type PortalTestContext, type SignedIn } from '../support/portal.ts';
import { startSmtp } from '../support/smtp.ts';

let portal: PortalTestContext;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
/** The portal's context with a mailer that sends to the test's SMTP server. */
let context: AppLoadContext;
let accountId: string;
let ownerId: string;
let owner: SignedIn;
let admin: SignedIn;
let member: SignedIn;
let stranger: SignedIn;
let strangerAccountId: string;

const load = (who: SignedIn | undefined) => outcome(() => team.loader({ request: pageRequest('/settings/team', who), context, params: {} }));
const post = (who: SignedIn | undefined, fields: Record<string, string>) => outcome(() => team.action({ request: formRequest('/settings/team', who, fields), context, params: {} }));
const openInvite = (token: string) => outcome(() => acceptInvite.loader({ request: pageRequest(`/invites/${token}`), context, params: { token } }));

/** Opens the invite page signed out, as the invitee's browser does, and sends its form with the CSRF token it got. */
async function accept(token: string, fields: Record<string, string>) {
  const page = await openInvite(token);
  const visitor = { cookie: page.headers!.get('set-cookie')!.split(';')[0]!, csrf: page.body.csrf as string };
  let session: SignedIn | undefined;
  const answer = await outcome(async () => {
    const result = await acceptInvite.action({ request: formRequest(`/invites/${token}`, visitor, fields), context, params: { token } });
    // The session a redirect sets is the signed-in browser from then on.
    if (result instanceof Response) session = { cookie: result.headers.get('set-cookie')?.split(';')[0] ?? '', csrf: '' };
    return result;
  });
  return { ...answer, session };
}

let emails = 0;
const uniqueEmail = (): string => `invitee${++emails}-${Date.now()}@provider.test`;

/** The token of the link in the invite mailed to `to`. */
async function mailedToken(to: string): Promise<string> {
  const mail = await waitFor(`the invite to ${to}`, () => smtp.mails.find((m) => m.to.includes(to)), 5_000);
  const link = /http:\/\/openhooks\.test\/invites\/([\w.-]+)/.exec(mail.text);
  expect(link, mail.text).not.toBeNull();
  return link![1]!;
}

async function addUser(role: 'owner' | 'admin' | 'member', account = accountId): Promise<{ id: string; who: SignedIn }> {
  const id = newId('user');
  await context.db.insertInto('users').values({ id, account_id: account, email: `${role}-${id}@provider.test`, name: `${role} ${id.slice(-4)}`, password_hash: 'unused', role }).execute();
  return { id, who: await signIn(context, id) };
}

const usersOf = (account: string) => context.db.selectFrom('users').selectAll().where('account_id', '=', account).orderBy('id').execute();
const invitesOf = (account: string) => context.db.selectFrom('invites').selectAll().where('account_id', '=', account).orderBy('id').execute();

beforeAll(async () => {
  portal = await createPortalContext();
  smtp = await startSmtp({ refuse: (address) => address.startsWith('bounce') });
  const { config } = portal.context;
  context = { ...portal.context, mailer: createMailer({ smtpUrl: smtp.url, from: config.mailFrom, dataDir: config.dataDir }) };
  const mine = await createAccount(context.db, { name: 'Provider Ltd', email: `owner-${Date.now()}@provider.test`, password: 'correct horse battery', ownerName: 'Olive Owner' });
  accountId = mine.accountId;
  ownerId = mine.userId;
  owner = await signIn(context, ownerId);
  admin = (await addUser('admin')).who;
  member = (await addUser('member')).who;
  const other = await createAccount(context.db, { name: 'Other', email: `owner-${Date.now()}@other.test`, password: 'correct horse battery' });
  strangerAccountId = other.accountId;
  stranger = await signIn(context, other.userId);
});

afterAll(async () => {
  context?.mailer.close();
  await smtp?.close();
  await portal?.close();
});

describe('invites', () => {
  it('mails a signed link that creates the user with the role, signs them in, and works once', async () => {
    const email = uniqueEmail();
    const sent = await post(admin, { intent: 'invite', email: email.toUpperCase(), role: 'admin' });
    expect(sent.status).toBe(200);
    expect(sent.body.done).toMatch(/Invite sent/);
    const token = await mailedToken(email);

    const stored = (await invitesOf(accountId)).find((invite) => invite.email === email)!;
    expect(stored).toMatchObject({ role: 'admin', accepted_at: null });
    expect(stored.token_hash).not.toContain(token);
    expect(JSON.stringify(stored)).not.toContain(token.split('.')[1]);
    expect(stored.expires_at.getTime() - Date.now()).toBeGreaterThan(6.9 * 24 * 3600_000);
    const listed = await load(member);
    expect(listed.body.invites).toContainEqual({ id: stored.id, email, role: 'admin', expiresAt: expect.stringMatching(/ UTC$/) });

    const page = await openInvite(token);
    expect(page.status).toBe(200);
    expect(page.body.invite).toEqual({ email, role: 'admin', account: 'Provider Ltd' });
    expect(page.body.problem).toBeNull();

    const short = await accept(token, { name: 'Ines', password: 'short' });
    expect(short.status).toBe(400);
    expect(short.body.errors.password).toMatch(/at least 8/);
    expect(short.body.values).toEqual({ name: 'Ines' });

    const accepted = await accept(token, { name: ' Ines Invitee ', password: 'a long password' });
    expect(accepted.status).toBe(302);
    expect(accepted.location).toBe('/');
    const user = await findUserByEmail(context.db, email);
    expect(user).toMatchObject({ account_id: accountId, name: 'Ines Invitee', role: 'admin' });
    expect(user!.password_hash).toMatch(/^scrypt\$/);
    expect((await invitesOf(accountId)).find((invite) => invite.id === stored.id)!.accepted_at).toBeInstanceOf(Date);
    // The session it set is the new user's.
    const session = await load(accepted.session);
    expect(session.status).toBe(200);
    expect(session.body.me).toEqual({ id: user!.id, role: 'admin' });
    expect(session.body.invites.map((invite: { id: string }) => invite.id)).not.toContain(stored.id);

    const again = await openInvite(token);
    expect(again.status).toBe(400);
    expect(again.body.invite).toBeNull();
    expect(again.body.problem).toMatch(/already accepted/);
    const reused = await accept(token, { name: 'Mallory', password: 'another long password' });
    expect(reused.status).toBe(400);
    expect(reused.body.errors.form).toMatch(/already accepted/);
    expect((await usersOf(accountId)).filter((u) => u.email === email)).toHaveLength(1);
    expect((await findUser(context.db, user!.id))!.name).toBe('Ines Invitee');
  });

  it('refuses a tampered link and creates nobody', async () => {
    const email = uniqueEmail();
    await post(owner, { intent: 'invite', email, role: 'member' });
    const token = await mailedToken(email);
    const [body, signature] = token.split('.') as [string, string];
    const otherClaims = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), email: 'mallory@evil.test' })).toString('base64url');
    for (const tampered of [`${body}.${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`, `${otherClaims}.${signature}`, 'not-a-token']) {
      const page = await openInvite(tampered);
      expect(page.status).toBe(400);
      expect(page.body.problem).toMatch(/not valid/);
      const refused = await accept(tampered, { name: 'Mallory', password: 'a long password' });
      expect(refused.status).toBe(400);
    }
    expect(await findUserByEmail(context.db, email)).toBeUndefined();
    expect(await findUserByEmail(context.db, 'mallory@evil.test')).toBeUndefined();
  });

  it('refuses an expired link', async () => {
    const email = uniqueEmail();
    const sender = await requireUser(pageRequest('/', owner), context);
    await sendInvite(context, sender, { email, role: 'member' }, Date.now() - 8 * 24 * 3600_000);
    const token = await mailedToken(email);
    const page = await openInvite(token);
    expect(page.status).toBe(400);
    expect(page.body.problem).toMatch(/expired/);
    expect((await load(owner)).body.invites.map((invite: { email: string }) => invite.email)).not.toContain(email);
    const refused = await accept(token, { name: 'Late', password: 'a long password' });
    expect(refused.status).toBe(400);
    expect(refused.body.errors.form).toMatch(/expired/);
    expect(await findUserByEmail(context.db, email)).toBeUndefined();
  });

  it('a revoked invite’s link, or one replaced by a newer invite, no longer works', async () => {
    const email = uniqueEmail();
    await post(owner, { intent: 'invite', email, role: 'member' });
    const first = await mailedToken(email);
    smtp.mails.splice(0, smtp.mails.length);
    await post(owner, { intent: 'invite', email, role: 'admin' });
    const second = await mailedToken(email);
    expect((await openInvite(first)).body.problem).toMatch(/not valid/);
    expect((await openInvite(second)).body.invite.role).toBe('admin');

    const pending = (await invitesOf(accountId)).find((invite) => invite.email === email && !invite.accepted_at)!;
    const revoked = await post(admin, { intent: 'revoke', id: pending.id });
    expect(revoked.status).toBe(200);
    expect((await openInvite(second)).body.problem).toMatch(/not valid/);
    expect((await accept(second, { name: 'Too late', password: 'a long password' })).status).toBe(400);
    expect(await findUserByEmail(context.db, email)).toBeUndefined();
  });

  it('an email that already has a user cannot be invited, nor accept an invite', async () => {
    const existing = await addUser('member', strangerAccountId);
    const taken = (await findUser(context.db, existing.id))!.email;
    const refused = await post(owner, { intent: 'invite', email: taken, role: 'member' });
    expect(refused.status).toBe(400);
    expect(refused.body.errors.email).toMatch(/already has a portal login/);
    expect(refused.body.values).toEqual({ email: taken, role: 'member' });

    // The user appeared after the invite was sent.
    const email = uniqueEmail();
    await post(owner, { intent: 'invite', email, role: 'member' });
    const token = await mailedToken(email);
    await context.db.insertInto('users').values({ id: newId('user'), account_id: strangerAccountId, email, password_hash: 'unused', role: 'member' }).execute();
    const page = await openInvite(token);
    expect(page.status).toBe(409);
    expect(page.body.problem).toMatch(/already has a portal login/);
    const answer = await accept(token, { name: 'Twice', password: 'a long password' });
    expect(answer.status).toBe(409);
    expect(answer.body.errors.form).toMatch(/already has a portal login/);
    // Refused as a whole: the invite was not used up.
    expect((await invitesOf(accountId)).find((invite) => invite.email === email)!.accepted_at).toBeNull();
    expect((await usersOf(accountId)).map((u) => u.email)).not.toContain(email);
  });

  it('when the mail cannot be delivered, says so and leaves no pending invite', async () => {
    const email = `bounce-${Date.now()}@provider.test`;
    const answer = await post(owner, { intent: 'invite', email, role: 'member' });
    expect(answer.status).toBe(502);
    expect(answer.body.errors.form).toMatch(/could not be sent/);
    expect(smtp.refused).toContain(email);
    expect((await invitesOf(accountId)).map((invite) => invite.email)).not.toContain(email);
  });

  it('refuses an invite form without the CSRF token', async () => {
    const email = uniqueEmail();
    expect((await post({ ...owner, csrf: 'forged' }, { intent: 'invite', email, role: 'member' })).status).toBe(403);
    expect((await invitesOf(accountId)).map((invite) => invite.email)).not.toContain(email);
  });
});

describe('/settings/team', () => {
  it('lists the account’s members only; a member reads it and cannot change anything (403)', async () => {
    const page = await load(member);
    expect(page.status).toBe(200);
    expect(page.body.canManage).toBe(false);
    const ids = (await usersOf(accountId)).map((u) => u.id).sort();
    expect(page.body.members.map((m: { id: string }) => m.id).sort()).toEqual(ids);
    expect(page.body.members.find((m: { id: string }) => m.id === ownerId)).toEqual({ id: ownerId, name: 'Olive Owner', email: expect.any(String), role: 'owner' });

    await post(owner, { intent: 'invite', email: uniqueEmail(), role: 'member' });
    const users = await usersOf(accountId);
    const invites = await invitesOf(accountId);
    const target = users.find((u) => u.role === 'admin')!;
    const pending = invites.find((invite) => !invite.accepted_at)!;
    const answers = [
      await post(member, { intent: 'invite', email: uniqueEmail(), role: 'admin' }),
      await post(member, { intent: 'role', id: target.id, role: 'member' }),
      await post(member, { intent: 'remove', id: target.id }),
      await post(member, { intent: 'revoke', id: pending.id }),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([403, 403, 403, 403]);
    expect(await usersOf(accountId)).toEqual(users);
    expect(await invitesOf(accountId)).toEqual(invites);
  });

  it('changes roles and removes members; the last owner can be neither demoted nor removed', async () => {
    const promoted = await addUser('member');
    const changed = await post(admin, { intent: 'role', id: promoted.id, role: 'admin' });
    expect(changed.status).toBe(200);
    expect((await findUser(context.db, promoted.id))!.role).toBe('admin');

    // Only owners touch the owner role.
    expect((await post(admin, { intent: 'role', id: promoted.id, role: 'owner' })).status).toBe(403);
    expect((await post(admin, { intent: 'role', id: ownerId, role: 'member' })).status).toBe(403);
    expect((await post(admin, { intent: 'remove', id: ownerId })).status).toBe(403);
    expect((await findUser(context.db, ownerId))!.role).toBe('owner');

    const demote = await post(owner, { intent: 'role', id: ownerId, role: 'admin' });
    expect(demote.status).toBe(409);
    expect(demote.body.errors.role).toMatch(/at least one owner/);
    const remove = await post(owner, { intent: 'remove', id: ownerId });
    expect(remove.status).toBe(409);
    expect(remove.body.errors.remove).toMatch(/at least one owner/);
    expect((await findUser(context.db, ownerId))!.role).toBe('owner');

    // With a second owner, the first may step down, and then the second is the last.
    expect((await post(owner, { intent: 'role', id: promoted.id, role: 'owner' })).status).toBe(200);
    expect((await post(owner, { intent: 'role', id: ownerId, role: 'admin' })).status).toBe(200);
    const nowOwner = await signIn(context, promoted.id);
    expect((await post(nowOwner, { intent: 'remove', id: promoted.id })).status).toBe(409);
    expect((await post(nowOwner, { intent: 'role', id: ownerId, role: 'owner' })).status).toBe(200);

    const leaving = await addUser('member');
    const removed = await post(owner, { intent: 'remove', id: leaving.id });
    expect(removed.status).toBe(200);
    expect(await findUser(context.db, leaving.id)).toBeUndefined();
    // A removed user is signed out.
    expect((await load(leaving.who)).status).toBe(302);
  });

  it('two owners each demoting the other at once leave one owner', async () => {
    const account = await createAccount(context.db, { name: 'Two owners', email: uniqueEmail(), password: 'correct horse battery' });
    const second = await addUser('owner', account.accountId);
    const first = await signIn(context, account.userId);
    const answers = await Promise.all([post(first, { intent: 'role', id: second.id, role: 'member' }), post(second.who, { intent: 'role', id: account.userId, role: 'member' })]);
    // The loser is refused either as the last owner (409, both checked under the lock) or, when the winner
    // committed before the loser's session was read, as no longer an owner (403).
    const [won, lost] = answers.map((answer) => answer.status).sort();
    expect(won).toBe(200);
    expect([403, 409]).toContain(lost);
    expect((await usersOf(account.accountId)).filter((u) => u.role === 'owner')).toHaveLength(1);
  });

  it('answers 404 for another account’s member or invite and changes nothing', async () => {
    await post(stranger, { intent: 'invite', email: uniqueEmail(), role: 'member' });
    const theirUsers = await usersOf(strangerAccountId);
    const theirInvites = await invitesOf(strangerAccountId);
    const theirOwner = theirUsers.find((u) => u.role === 'owner')!;
    const answers = [
      await post(owner, { intent: 'role', id: theirOwner.id, role: 'member' }),
      await post(owner, { intent: 'remove', id: theirOwner.id }),
      await post(owner, { intent: 'revoke', id: theirInvites[0]!.id }),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([404, 404, 404]);
    expect(answers.every((answer) => answer.body === undefined)).toBe(true);
    expect(await usersOf(strangerAccountId)).toEqual(theirUsers);
    expect(await invitesOf(strangerAccountId)).toEqual(theirInvites);
    const page = await load(owner);
    expect(page.body.members.map((m: { id: string }) => m.id)).not.toContain(theirOwner.id);
    expect(page.body.invites.map((i: { id: string }) => i.id)).not.toContain(theirInvites[0]!.id);
  });
});
