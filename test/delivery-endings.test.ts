import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createDeliveryActivities } from '../activities/delivery.ts';
import { createHttpSender } from '../activities/http.ts';
import { createMailer } from '../activities/mailer.ts';
import { deliveryWorkflowId } from '../workflows/delivery-run.ts';
import { OWN_FAILURE_RETRIES } from '../lib/failures.ts';
import { PORTAL_LINK_KEY_PURPOSE, readPortalLink } from '../lib/portal-links.ts';
import { newEncryptionKey, SecretBox } from '../lib/secrets.ts';
import { waitFor } from './support/ports.ts';
import { startReceiver } from './support/receiver.ts';
import { startSmtp } from './support/smtp.ts';
import { seed, startStack, type Stack } from './support/stack.ts';

// Every delivery ends: each way it can fail before, during or after its request has a bound and a
// recorded outcome (issue 9, items 1 and 2).

const message = { event_type: 'user.created', version: '1.0', data: { id: 7 } };

let temporal: Client;
let connection: Connection;
beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  temporal = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
});

async function deliveryOf(stack: Stack, messageId: string) {
  return stack.db.selectFrom('deliveries').selectAll().where('message_id', '=', messageId).executeTakeFirst();
}

async function waitForEnd(stack: Stack, messageId: string, timeoutMs = 30_000) {
  return waitFor(`the delivery of ${messageId} to end`, async () => {
    const delivery = await deliveryOf(stack, messageId);
    return delivery && delivery.status !== 'pending' ? delivery : undefined;
  }, timeoutMs);
}

async function attemptsOf(stack: Stack, deliveryId: string) {
  return stack.db.selectFrom('attempts').selectAll().where('delivery_id', '=', deliveryId).orderBy('created_at').execute();
}

describe('deliveries end, with a reason', () => {
  let stack: Stack;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  beforeAll(async () => {
    // The subscriber's contact address is refused for good by the mail server.
    smtp = await startSmtp({ refuse: (address) => address === 'ops@acme.test' });
    stack = await startStack({ SMTP_URL: smtp.url });
  });
  afterAll(async () => {
    await stack?.close();
    await smtp?.close();
  });

  it('fails at once with secret_unreadable, sends nothing and keeps the endpoint active, when no key opens the secret', async () => {
    const receiver = await startReceiver();
    const { appId, endpointId } = await seed(stack.api, receiver.url);
    // As after a bad ENCRYPTION_KEY rotation: the secret was sealed with a key the worker does not have.
    const foreign = new SecretBox(newEncryptionKey()).encrypt('whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=');
    await stack.db.updateTable('endpoints').set({ secret: foreign }).where('id', '=', endpointId).execute();

    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    expect(posted.status).toBe(202);
    const delivery = await waitForEnd(stack, posted.body.id, 15_000);
    expect(delivery).toMatchObject({ status: 'failed', reason: 'secret_unreadable' });
    expect(delivery.error).toMatch(/cannot be decrypted/);
    expect(delivery.error).not.toContain('whsec_');
    expect(await attemptsOf(stack, delivery.id)).toHaveLength(0);
    expect(receiver.requests).toHaveLength(0);
    const endpoint = await stack.db.selectFrom('endpoints').select(['status']).where('id', '=', endpointId).executeTakeFirstOrThrow();
    expect(endpoint.status).toBe('active');
    expect(await temporal.workflow.getHandle(deliveryWorkflowId(delivery.id)).result()).toBe('failed');
    // The API's log of the message says why.
    const shown = await stack.api.get(`/apps/${appId}/messages/${posted.body.id}`);
    expect(shown.body.deliveries).toEqual([expect.objectContaining({ id: delivery.id, status: 'failed', reason: 'secret_unreadable', error: delivery.error, attempts: 0 })]);
    await receiver.close();
  });

  it('skips with endpoint_deleted when the endpoint is deleted between attempts, keeping the attempts made', async () => {
    const receiver = await startReceiver(() => ({ status: 500, body: 'down' }));
    const { appId, endpointId } = await seed(stack.api, receiver.url);
    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    await waitFor('the first attempt', () => (receiver.requests.length >= 1 ? true : undefined));
    await stack.db.deleteFrom('endpoints').where('id', '=', endpointId).execute();

    const delivery = await waitForEnd(stack, posted.body.id);
    expect(delivery).toMatchObject({ status: 'skipped', reason: 'endpoint_deleted' });
    const attempts = await attemptsOf(stack, delivery.id);
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    expect(attempts.length).toBeLessThan(5);
    expect(await temporal.workflow.getHandle(deliveryWorkflowId(delivery.id)).result()).toBe('skipped');
    await receiver.close();
  });

  it('gives up on a recipient the mail server refuses for good, records it, and still ends the delivery', async () => {
    const receiver = await startReceiver(() => ({ status: 410 }));
    const { appId, endpointId } = await seed(stack.api, receiver.url);
    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    const delivery = await waitForEnd(stack, posted.body.id);
    expect(delivery).toMatchObject({ status: 'failed', reason: 'endpoint_gone' });

    // The run completes although one recipient can never be mailed.
    const handle = temporal.workflow.getHandle(deliveryWorkflowId(delivery.id));
    expect(await handle.result()).toBe('failed');
    const notifications = await stack.db.selectFrom('notifications').selectAll().where('endpoint_id', '=', endpointId).orderBy('recipient').execute();
    expect(notifications.map((n) => [n.recipient, n.status])).toEqual([
      ['ops@acme.test', 'failed'],
      [stack.ownerEmail, 'sent'],
    ]);
    expect(notifications[0]!.error).toMatch(/550|mailbox unavailable/);
    expect(smtp.refused).toEqual(['ops@acme.test']);
    expect(smtp.mails.filter((m) => m.to.includes(stack.ownerEmail) && m.text.includes(endpointId))).toHaveLength(1);
    await receiver.close();
  });

  it('mails the subscriber a fresh link into its own portal, and the team the provider portal’s page', async () => {
    const receiver = await startReceiver(() => ({ status: 410 }));
    const { appId } = await seed(stack.api, receiver.url);
    const subscriber = await stack.api.post(`/apps/${appId}/subscriptions`, { name: 'Globex', email: 'hooks@globex.test' });
    const endpoint = await stack.api.post(`/subscriptions/${subscriber.body.id}/endpoints`, { url: receiver.url, version: '1.0' });
    const posted = await stack.api.post(`/subscriptions/${subscriber.body.id}/endpoints/${endpoint.body.id}/messages`, message);
    expect(posted.status).toBe(202);
    const mails = await waitFor('both endpoint-disabled mails', () => {
      const about = smtp.mails.filter((m) => m.text.includes(endpoint.body.id));
      return about.length >= 2 ? about : undefined;
    });
    const toSubscriber = mails.find((m) => m.to.includes('hooks@globex.test'))!;
    const toOwner = mails.find((m) => m.to.includes(stack.ownerEmail))!;

    // The subscriber's link opens its portal: signed with the portal link key, for this subscriber, for 24 hours.
    const token = /http:\/\/openhooks\.test\/portal\/login\/([\w.-]+)/.exec(toSubscriber.text)?.[1];
    expect(token, toSubscriber.text).toBeDefined();
    const key = new SecretBox(stack.env.ENCRYPTION_KEY!).deriveKey(PORTAL_LINK_KEY_PURPOSE);
    const link = readPortalLink(key, token!);
    expect(link?.subscriberId).toBe(subscriber.body.id);
    // The expiry is kept in whole seconds.
    expect(Math.abs(link!.expiresAt - link!.issuedAt - 24 * 60 * 60 * 1000)).toBeLessThan(1000);
    expect(toSubscriber.text).toContain('re-enable the endpoint and replay the messages it missed');
    expect(toSubscriber.text).not.toContain('/apps/');

    // The team's copy keeps the provider portal's page of the subscriber, and no portal link.
    expect(toOwner.text).toContain(`http://openhooks.test/apps/${appId}/subscribers/${subscriber.body.id}`);
    expect(toOwner.text).not.toContain('/portal/login/');
    await receiver.close();
  });
});

describe('a failure of our own before the request', () => {
  let stack: Stack;
  beforeAll(async () => {
    // One endpoint attempt, so the bound on our own failures is reached in seconds (1 s apart).
    stack = await startStack({ RETRY_MAXIMUM_ATTEMPTS: '1' });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('is retried within its bound, never spends the endpoint attempt, and ends failed with internal_error', { timeout: 90_000 }, async () => {
    const receiver = await startReceiver();
    const { appId, endpointId } = await seed(stack.api, receiver.url);
    // A database error that is not an outage: the query that prepares the request fails every time.
    await sql`alter table endpoints rename column previous_secret to previous_secret_gone`.execute(stack.db);
    try {
      const posted = await stack.api.post(`/apps/${appId}/messages`, message);
      expect(posted.status).toBe(202);
      const delivery = await waitForEnd(stack, posted.body.id, 60_000);
      expect(delivery).toMatchObject({ status: 'failed', reason: 'internal_error' });
      expect(delivery.error).toMatch(/previous_secret/);
      expect(await attemptsOf(stack, delivery.id)).toHaveLength(0);
      expect(receiver.requests).toHaveLength(0);
      // Our fault, not the endpoint's: it stays active and nobody is told it was disabled.
      const endpoint = await stack.db.selectFrom('endpoints').select(['status']).where('id', '=', endpointId).executeTakeFirstOrThrow();
      expect(endpoint.status).toBe('active');
      const history = await temporal.workflow.getHandle(deliveryWorkflowId(delivery.id)).fetchHistory();
      const started = history.events?.filter((e) => e.activityTaskStartedEventAttributes) ?? [];
      const sendTries = started.at(0)?.activityTaskStartedEventAttributes?.attempt ?? 0;
      // The first try ran as a local activity (its marker), the rest as the regular activity.
      const localTries = (history.events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length;
      expect(localTries).toBe(1);
      // 1 endpoint attempt + OWN_FAILURE_RETRIES: the bound, not forever.
      expect(localTries + sendTries).toBe(1 + OWN_FAILURE_RETRIES);
    } finally {
      await sql`alter table endpoints rename column previous_secret_gone to previous_secret`.execute(stack.db);
    }
    await receiver.close();
  });
});

describe('a first attempt run twice (its workflow task timed out while the worker only stalled)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
    // No worker: the two executions below are the only ones.
    await stack.stopWorker();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('records each request as its own attempt, so a failure then a success leaves one succeeded attempt', async () => {
    const receiver = await startReceiver((_request, index) => (index === 0 ? { status: 500, body: 'down' } : { status: 200, body: 'ok' }));
    const { appId } = await seed(stack.api, receiver.url);
    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    expect(posted.status).toBe(202);
    const { id: deliveryId } = (await deliveryOf(stack, posted.body.id))!;

    const http = createHttpSender({ timeoutMs: 5_000, allowPrivateNetwork: true, allowedNetworks: [], allowHttp: true });
    const activities = createDeliveryActivities({ db: stack.db, http, secrets: new SecretBox(stack.env.ENCRYPTION_KEY!), mailer: createMailer({ smtpUrl: stack.smtp.url, from: 'x@test', dataDir: '.' }), publicUrl: 'http://127.0.0.1' });
    // What a replaying worker sees: the same run, local activity and attempt number as the first execution.
    const info = { isLocal: true, attempt: 1, activityId: '1', workflowExecution: { workflowId: deliveryWorkflowId(deliveryId), runId: 'run-stalled' } };
    const input = { deliveryId, trigger: 'automatic' as const, maximumAttempts: 5 };
    await expect(new MockActivityEnvironment(info).run((i: typeof input) => activities.sendAttempt(i), input)).rejects.toThrow(/HTTP 500/);
    await new MockActivityEnvironment(info).run((i: typeof input) => activities.sendAttempt(i), input);
    await http.close();

    expect(receiver.requests).toHaveLength(2);
    const attempts = await attemptsOf(stack, deliveryId);
    expect(attempts.map((a) => a.succeeded)).toEqual([false, true]);
    expect(new Set(attempts.map((a) => a.id)).size).toBe(2);
    expect(attempts.map((a) => a.number)).toEqual([1, 2]);
    expect(await deliveryOf(stack, posted.body.id)).toMatchObject({ status: 'succeeded' });
    await receiver.close();
  });
});
