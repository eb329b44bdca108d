import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { startWorker, type RunningWorker } from '../../cli/worker.ts';
import { createAccount } from '../../db/accounts.ts';
import { createApp } from '../../db/apps.ts';
import { createEventType } from '../../db/event-types.ts';
import { newId } from '../../lib/ids.ts';
import { PORTAL_LINK_DEFAULT_TTL_MS, PORTAL_LINK_KEY_PURPOSE, readPortalLink } from '../../lib/portal-links.ts';
import * as replayRoute from '../../portal/app/routes/apps.$app_id.replays.$replay_id.tsx';
import * as subscriberPage from '../../portal/app/routes/apps.$app_id.subscribers.$subscriber_id.tsx';
import * as subscribers from '../../portal/app/routes/apps.$app_id.subscribers._index.tsx';
import { createPortalContext, formRequest, outcome, pageRequest, signIn, type PortalTestContext, type SignedIn } from '../support/portal.ts';
import { waitFor } from '../support/ports.ts';
import { startReceiver } from '../support/receiver.ts';

// The provider portal's replay panel and portal links (issue 11): the subscriber page's actions and
// loader, and the replay resource route the panel polls, with a real worker on the Temporal dev server.

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

let portal: PortalTestContext;
let worker: RunningWorker;
let receiver: Receiver;
let owner: SignedIn;
let ownerId: string;
let member: SignedIn;
let stranger: SignedIn;
let strangerAppId: string;
let strangerSubscriberId: string;
let appId: string;
let subscriberId: string;
let path: string;
let params: Record<string, string>;

const load = (route: { loader: (args: any) => Promise<unknown> }, url: string, who: SignedIn | undefined, routeParams: Record<string, string>) =>
  outcome(() => route.loader({ request: pageRequest(url, who), context: portal.context, params: routeParams }));
const post = (fields: Record<string, string>, who: SignedIn = owner, at = { path, params }) =>
  outcome(() => subscriberPage.action({ request: formRequest(at.path, who, fields), context: portal.context, params: at.params }));

/** The replay resource route's answer: its status and, when JSON, the replay. */
async function polled(replayId: string, who: SignedIn, app = appId): Promise<{ status: number; body?: any }> {
  const run = () => replayRoute.loader({ request: pageRequest(`/apps/${app}/replays/${replayId}`, who), context: portal.context, params: { app_id: app, replay_id: replayId } });
  try {
    const response = await run();
    return { status: response.status, body: await response.json() };
  } catch (thrown) {
    if (thrown instanceof Response) return { status: thrown.status };
    throw thrown;
  }
}

const replayRows = (endpointId: string) => portal.context.db.selectFrom('replays').selectAll().where('endpoint_id', '=', endpointId).orderBy('created_at').execute();
const finished = (replayId: string) =>
  waitFor(`replay ${replayId} to finish`, async () => {
    const row = await portal.context.db.selectFrom('replays').selectAll().where('id', '=', replayId).executeTakeFirst();
    return row?.finished_at ? row : undefined;
  }, 60_000, 100);

/** An endpoint of the page's subscriber at `url` that missed `count` test messages while disabled, then was re-enabled (unless `leaveDisabled`). */
async function endpointThatMissed(url: string, count: number, options: { leaveDisabled?: boolean; at?: { path: string; params: Record<string, string> }; who?: SignedIn } = {}): Promise<string> {
  const at = options.at ?? { path, params };
  const who = options.who ?? owner;
  const created = await post({ intent: 'create-endpoint', url, description: '', version: '1.0', events_mode: 'all' }, who, at);
  expect(created.status).toBe(200);
  const endpointId = created.body.endpointId as string;
  expect((await post({ intent: 'status', endpoint_id: endpointId, status: 'inactive' }, who, at)).status).toBe(200);
  for (let n = 0; n < count; n++) {
    const sent = await post({ intent: 'test', endpoint_id: endpointId, event_type: '' }, who, at);
    expect(sent.body.message).toMatchObject({ sent: false });
  }
  if (!options.leaveDisabled) expect((await post({ intent: 'status', endpoint_id: endpointId, status: 'active' }, who, at)).status).toBe(200);
  return endpointId;
}

beforeAll(async () => {
  portal = await createPortalContext();
  const { db, config, secrets } = portal.context;
  receiver = await startReceiver();
  worker = await startWorker({ config: config as Parameters<typeof startWorker>[0]['config'], db, secrets, workflowBundle: { codePath: inject('workflowBundlePath') } });
  const mine = await createAccount(db, { name: 'Provider', email: 'owner@provider.test', password: 'correct horse battery' });
  ownerId = mine.userId;
  owner = await signIn(portal.context, mine.userId);
  const memberId = newId('user');
  await db.insertInto('users').values({ id: memberId, account_id: mine.accountId, email: 'member@provider.test', password_hash: 'unused', role: 'member' }).execute();
  member = await signIn(portal.context, memberId);
  appId = (await createApp(db, mine.accountId, { name: 'Shop' })).id;
  await createEventType(db, appId, { name: 'user.created', description: null });
  const created = await outcome(() => subscribers.action({ request: formRequest(`/apps/${appId}/subscribers`, owner, { name: 'Hooli', email: '' }), context: portal.context, params: { app_id: appId } }));
  subscriberId = created.location!.split('/')[4]!;
  path = `/apps/${appId}/subscribers/${subscriberId}`;
  params = { app_id: appId, subscriber_id: subscriberId };

  const other = await createAccount(db, { name: 'Other', email: 'owner@other.test', password: 'correct horse battery' });
  stranger = await signIn(portal.context, other.userId);
  strangerAppId = (await createApp(db, other.accountId, { name: 'Theirs' })).id;
  await createEventType(db, strangerAppId, { name: 'user.created', description: null });
  const theirs = await outcome(() => subscribers.action({ request: formRequest(`/apps/${strangerAppId}/subscribers`, stranger, { name: 'Theirs', email: '' }), context: portal.context, params: { app_id: strangerAppId } }));
  strangerSubscriberId = theirs.location!.split('/')[4]!;
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await receiver?.close();
  await portal?.close();
});

describe('replays on the subscriber page', () => {
  it('shows what each endpoint missed; a replay request records the row, reaches the workflow and completes', async () => {
    const endpointId = await endpointThatMissed(receiver.url, 3);
    const page = await load(subscriberPage, path, member, params);
    expect(page.body.replays[endpointId]).toMatchObject({ missed: { count: 3 }, latest: null });

    const requested = await post({ intent: 'replay', endpoint_id: endpointId, since: '', until: '' });
    expect(requested.status).toBe(202);
    expect(requested.body).toMatchObject({ intent: 'replay', endpointId, errors: {}, done: 'Replay requested: 3 messages to send again.' });
    const [row] = await replayRows(endpointId);
    expect(row).toMatchObject({ app_id: appId, subscriber_id: subscriberId, requested_by_kind: 'user', requested_by: ownerId, total: 3 });

    const ended = await finished(row!.id);
    expect(ended).toMatchObject({ status: 'completed', sent: 3, succeeded: 3, failed: 0, remaining: 0 });
    const after = await load(subscriberPage, path, member, params);
    expect(after.body.replays[endpointId]).toMatchObject({
      missed: { count: 0 },
      latest: { id: row!.id, status: 'completed', finished: true, total: 3, succeeded: 3, requestedBy: { kind: 'user', name: 'owner@provider.test' } },
    });
  });

  it('takes a typed range as UTC, and refuses a bad range or a disabled endpoint with a readable message, writing nothing', async () => {
    const endpointId = await endpointThatMissed(receiver.url, 1);
    const typos = await post({ intent: 'replay', endpoint_id: endpointId, since: 'yesterday', until: '2026-02-31T10:00' });
    expect(typos.status).toBe(400);
    expect(typos.body.errors).toEqual({ since: expect.stringMatching(/like 2026-12-01 09:30 \(UTC\)/), until: expect.stringMatching(/like 2026-12-01 09:30/) });
    expect(typos.body.values).toEqual({ since: 'yesterday', until: '2026-02-31T10:00' });
    const backwards = await post({ intent: 'replay', endpoint_id: endpointId, since: '2026-12-02T10:00', until: '2026-12-02T09:00' });
    expect(backwards.status).toBe(400);
    expect(backwards.body.errors.until).toBe('Must be after “From”.');

    const disabled = await endpointThatMissed(receiver.url, 1, { leaveDisabled: true });
    const refused = await post({ intent: 'replay', endpoint_id: disabled, since: '', until: '' });
    expect(refused.status).toBe(409);
    expect(refused.body.errors.form).toMatch(/Re-enable the endpoint first/);
    expect(await replayRows(endpointId)).toEqual([]);
    expect(await replayRows(disabled)).toEqual([]);

    // A range before anything was sent: accepted, with nothing to send, read as UTC.
    const empty = await post({ intent: 'replay', endpoint_id: endpointId, since: '2020-01-01T00:00', until: '2020-01-02T00:00' });
    expect(empty.status).toBe(202);
    const [row] = await replayRows(endpointId);
    expect(row).toMatchObject({ total: 0, since: new Date('2020-01-01T00:00:00Z'), until: new Date('2020-01-02T00:00:00Z') });
  });

  it('pauses, resumes and cancels a replay through its workflow', async () => {
    // Each first attempt is answered 503 with an hour's Retry-After, so the replayed deliveries stay
    // in flight for the whole test: the replay is under way when paused, and no run of failures can
    // disable the endpoint and stop the replay before the cancel (a hanging receiver did, on a slow run).
    const slow = await startReceiver(() => ({ status: 503, headers: { 'retry-after': '3600' } }));
    try {
      const endpointId = await endpointThatMissed(slow.url, 2);
      expect((await post({ intent: 'replay', endpoint_id: endpointId })).status).toBe(202);
      const [row] = await replayRows(endpointId);
      // The request must reach its workflow before it can be paused.
      await waitFor('the replay workflow to have the request', async () => {
        const current = await portal.context.db.selectFrom('replays').select('workflow_signaled_at').where('id', '=', row!.id).executeTakeFirst();
        return current?.workflow_signaled_at ?? undefined;
      });
      const control = (intent: string) => post({ intent, replay_id: row!.id, endpoint_id: endpointId });

      const paused = await control('replay-pause');
      expect(paused).toMatchObject({ status: 200, body: { intent: 'replay-pause', endpointId, done: 'Replay paused.' } });
      // What the resource route answers once the workflow acted on it: a progress write of a step
      // already under way may still say running for a moment (the panel polls through it).
      const reads = (status: string) => waitFor(`the replay to read ${status}`, async () => ((await polled(row!.id, member)).body.status === status ? true : undefined), 20_000, 100);
      await reads('paused');
      expect((await polled(row!.id, member)).body).toMatchObject({ id: row!.id, status: 'paused', finished: false });
      const resumed = await control('replay-resume');
      expect(resumed.body.done).toBe('Replay resumed.');
      await reads('running');
      const cancelled = await control('replay-cancel');
      expect(cancelled.body.done).toBe('Replay cancelled.');
      expect(await finished(row!.id)).toMatchObject({ status: 'cancelled' });

      const again = await control('replay-pause');
      expect(again.status).toBe(409);
      expect(again.body.errors.form).toBe('This replay has already ended (cancelled); nothing changed.');
    } finally {
      await slow.close();
    }
  });

  it('lets members follow replays but not start, pause or cancel them, nor create or revoke portal links', async () => {
    const endpointId = await endpointThatMissed(receiver.url, 1);
    const before = { replays: await replayRows(endpointId), subscriber: await portal.context.db.selectFrom('subscribers').selectAll().where('id', '=', subscriberId).executeTakeFirstOrThrow() };
    const refusals = await Promise.all([
      post({ intent: 'replay', endpoint_id: endpointId }, member),
      post({ intent: 'replay-cancel', replay_id: 'rpl_none', endpoint_id: endpointId }, member),
      post({ intent: 'portal-link' }, member),
      post({ intent: 'revoke-portal-links', id: subscriberId }, member),
    ]);
    expect(refusals.map((r) => r.status)).toEqual([403, 403, 403, 403]);
    expect(await replayRows(endpointId)).toEqual(before.replays);
    expect(await portal.context.db.selectFrom('subscribers').selectAll().where('id', '=', subscriberId).executeTakeFirstOrThrow()).toEqual(before.subscriber);
    const page = await load(subscriberPage, path, member, params);
    expect(page.body.canManage).toBe(false);
  });
});

describe('/apps/:app_id/replays/:replay_id', () => {
  it('answers the replay as JSON to any role of the account, and 404 to another account or under another app', async () => {
    const endpointId = await endpointThatMissed(receiver.url, 1);
    expect((await post({ intent: 'replay', endpoint_id: endpointId })).status).toBe(202);
    const [row] = await replayRows(endpointId);
    await finished(row!.id);
    const answer = await polled(row!.id, member);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id: row!.id, endpointId, status: 'completed', total: 1, sent: 1, succeeded: 1, failed: 0, remaining: 0, finished: true, reason: null });
    expect(answer.body.requestedBy).toEqual({ kind: 'user', name: 'owner@provider.test' });

    expect((await polled(row!.id, stranger)).status).toBe(404);
    expect((await polled(row!.id, stranger, strangerAppId)).status).toBe(404);
    expect((await polled('rpl_unknown', owner)).status).toBe(404);
    const otherApp = (await createApp(portal.context.db, (await portal.context.db.selectFrom('apps').select('account_id').where('id', '=', appId).executeTakeFirstOrThrow()).account_id, { name: 'Other app' })).id;
    expect((await polled(row!.id, owner, otherApp)).status).toBe(404);
    expect((await load(replayRoute, `/apps/${appId}/replays/${row!.id}`, undefined, { app_id: appId, replay_id: row!.id })).status).toBe(302);
  });

  it('is not reachable from another account’s subscriber page either: controls of this replay there are 404', async () => {
    const endpointId = await endpointThatMissed(receiver.url, 1);
    expect((await post({ intent: 'replay', endpoint_id: endpointId })).status).toBe(202);
    const [row] = await replayRows(endpointId);
    const theirs = { path: `/apps/${strangerAppId}/subscribers/${strangerSubscriberId}`, params: { app_id: strangerAppId, subscriber_id: strangerSubscriberId } };
    const crossed = await post({ intent: 'replay-cancel', replay_id: row!.id, endpoint_id: endpointId }, stranger, theirs);
    expect(crossed.status).toBe(404);
    expect((await post({ intent: 'replay', endpoint_id: endpointId }, stranger, theirs)).status).toBe(404);
    expect((await replayRows(endpointId)).length).toBe(1);
    await finished(row!.id);
  });
});

describe('portal links on the subscriber page', () => {
  it('creates a link that opens this subscriber’s portal for 24 hours, and revokes every link', async () => {
    const key = portal.context.secrets.deriveKey(PORTAL_LINK_KEY_PURPOSE);
    const before = Date.now();
    const created = await post({ intent: 'portal-link' });
    expect(created.status).toBe(200);
    const { url, expiresAt } = created.body.portalLink as { url: string; expiresAt: string };
    expect(url.startsWith(`${portal.context.config.publicUrl}/portal/login/`)).toBe(true);
    const read = readPortalLink(key, url.split('/portal/login/')[1]!);
    expect(read?.subscriberId).toBe(subscriberId);
    // The token keeps its expiry in whole seconds (lib/tokens.ts), and the expiry shown is exactly that one.
    expect(Date.parse(expiresAt)).toBe(read!.expiresAt);
    expect(Date.parse(expiresAt)).toBeGreaterThan(before + PORTAL_LINK_DEFAULT_TTL_MS - 1000);
    expect(Date.parse(expiresAt)).toBeLessThanOrEqual(Date.now() + PORTAL_LINK_DEFAULT_TTL_MS);

    const revoked = await post({ intent: 'revoke-portal-links', id: subscriberId });
    expect(revoked.status).toBe(200);
    expect(revoked.body.done).toMatch(/revoked/);
    const row = await portal.context.db.selectFrom('subscribers').select('portal_links_revoked_at').where('id', '=', subscriberId).executeTakeFirstOrThrow();
    expect(row.portal_links_revoked_at!.getTime()).toBeGreaterThanOrEqual(read!.issuedAt);
  });

  it('answers 404 to another account, which creates and revokes nothing', async () => {
    const before = await portal.context.db.selectFrom('subscribers').select('portal_links_revoked_at').where('id', '=', subscriberId).executeTakeFirstOrThrow();
    expect((await post({ intent: 'portal-link' }, stranger)).status).toBe(404);
    expect((await post({ intent: 'revoke-portal-links', id: subscriberId }, stranger)).status).toBe(404);
    expect(await portal.context.db.selectFrom('subscribers').select('portal_links_revoked_at').where('id', '=', subscriberId).executeTakeFirstOrThrow()).toEqual(before);
  });
});
