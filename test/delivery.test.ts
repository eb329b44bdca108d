import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { deliveryWorkflowId } from '../workflows/delivery-run.ts';
import { waitFor } from './support/ports.ts';
import { startReceiver } from './support/receiver.ts';
import { seed, startStack, type Stack } from './support/stack.ts';
import { verifyHostedHooks, verifyStandardWebhooks } from './support/verify.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

const message = { event_type: 'user.created', version: '1.0', data: { id: 42, email: 'ada@example.com' } };

async function deliveryStatus(messageId: string) {
  return stack.db.selectFrom('deliveries').select(['id', 'status', 'endpoint_id']).where('message_id', '=', messageId).execute();
}

async function waitForStatus(messageId: string, status: string, timeoutMs = 20_000) {
  return waitFor(`delivery of ${messageId} to become ${status}`, async () => {
    const rows = await deliveryStatus(messageId);
    return rows.length > 0 && rows.every((r) => r.status === status) ? rows : undefined;
  }, timeoutMs);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('delivery', () => {
  it('delivers a message once, signed with both headers, with the documented body', async () => {
    const receiver = await startReceiver();
    const { appId, secret } = await seed(stack.api, receiver.url);
    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    expect(posted.status).toBe(202);
    expect(posted.body).toMatchObject({ event_type: 'user.created', version: '1.0', data: message.data, event_id: null, override_payload: false });

    await waitForStatus(posted.body.id, 'succeeded');
    await sleep(300); // a duplicate would arrive by now
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request!.method).toBe('POST');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request!.body)).toEqual({ id: posted.body.id, type: 'user.created', version: '1.0', created: posted.body.created_at, data: message.data });
    expect(request!.headers['webhook-id']).toBe(posted.body.id);
    expect(verifyStandardWebhooks(secret, request!.body, request!.headers)).toEqual(JSON.parse(request!.body));
    expect(verifyHostedHooks(secret, request!.body, request!.headers['hostedhooks-signature'] as string)).toBe(true);
    expect(verifyHostedHooks(secret, `${request!.body} `, request!.headers['hostedhooks-signature'] as string)).toBe(false);

    const attempts = await stack.api.get(`/apps/${appId}/webhook_attempts?message_id=${posted.body.id}`);
    expect(attempts.status).toBe(200);
    expect(attempts.body).toHaveLength(1);
    expect(attempts.body[0]).toMatchObject({ status_code: '200', status_message: 'success', retry_status: null, attempt: 1, trigger: 'automatic', error_message: '' });
    expect(attempts.body[0].workflow_id).toMatch(/^delivery:dlv_/);
    const one = await stack.api.get(`/apps/${appId}/webhook_attempts/${attempts.body[0].id}`);
    expect(one.body).toEqual(attempts.body[0]);
    await receiver.close();
  });

  it('sends exactly `data` when override_payload is set', async () => {
    const receiver = await startReceiver();
    const { appId } = await seed(stack.api, receiver.url);
    const posted = await stack.api.post(`/apps/${appId}/messages`, { ...message, override_payload: true });
    await waitForStatus(posted.body.id, 'succeeded');
    expect(JSON.parse(receiver.requests[0]!.body)).toEqual(message.data);
    await receiver.close();
  });

  it('retries a failing endpoint 5 times with growing gaps, disables it and emails provider and subscriber once', async () => {
    const receiver = await startReceiver(() => ({ status: 500, body: 'boom' }));
    const { appId, endpointId, subscriberId, secret } = await seed(stack.api, receiver.url);
    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    await waitForStatus(posted.body.id, 'failed');

    expect(receiver.requests).toHaveLength(5);
    const gaps = receiver.requests.slice(1).map((r, i) => r.at - receiver.requests[i]!.at);
    // Configured (test env): 1s initial, coefficient 1.5 → 1000, 1500, 2250, 3375 ms.
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(1000 * 1.5 ** i * 0.95));
    // The first gap is a workflow timer after the local first attempt, plus a workflow task and the
    // regular activity's dispatch (a few hundred ms more on a busy machine); the rest are Temporal's retries.
    for (let i = 2; i < gaps.length; i++) {
      expect(gaps[i]! / gaps[i - 1]!).toBeGreaterThan(1.3);
      expect(gaps[i]! / gaps[i - 1]!).toBeLessThan(1.8);
    }
    // Every attempt carries the same webhook-id and its own valid signatures.
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([posted.body.id]));
    for (const request of receiver.requests) {
      expect(verifyStandardWebhooks(secret, request.body, request.headers)).toMatchObject({ id: posted.body.id });
      expect(verifyHostedHooks(secret, request.body, request.headers['hostedhooks-signature'] as string)).toBe(true);
    }

    const endpoint = await stack.api.get(`/apps/${appId}/endpoints/${endpointId}`);
    expect(endpoint.body.status).toBe('inactive');
    expect(endpoint.body.disabled_reason).toContain('HTTP 500');

    const attempts = await stack.api.get(`/apps/${appId}/webhook_attempts?endpoint_id=${endpointId}&status=failed`);
    expect(attempts.body.map((a: { attempt: number }) => a.attempt)).toEqual([5, 4, 3, 2, 1]);
    expect(attempts.body.map((a: { retry_status: string }) => a.retry_status)).toEqual(['failed', 'scheduled', 'scheduled', 'scheduled', 'scheduled']);
    expect(attempts.body[0]).toMatchObject({ status_code: '500', response: 'boom', error_message: 'HTTP 500', subscription_id: subscriberId });
    expect((await stack.api.get(`/apps/${appId}/webhook_attempts?endpoint_id=${endpointId}&status=success`)).body).toEqual([]);

    const mails = await waitFor('two emails', () => {
      const sent = stack.smtp.mails.filter((m) => m.text.includes(endpointId));
      return sent.length >= 2 ? sent : undefined;
    });
    await sleep(500);
    expect(stack.smtp.mails.filter((m) => m.text.includes(endpointId))).toHaveLength(2);
    expect(mails.flatMap((m) => m.to).sort()).toEqual(['ops@acme.test', stack.ownerEmail]);
    for (const mail of mails) {
      // The team's copy links to the provider portal's subscriber page, the subscriber's to its own portal.
      if (mail.to.includes(stack.ownerEmail)) expect(mail.text).toContain(`http://openhooks.test/apps/${appId}/subscribers/${subscriberId}`);
      else expect(mail.text).toMatch(/http:\/\/openhooks\.test\/portal\/login\/\S+/);
      expect(mail.text).toContain(posted.body.id);
      expect(mail.text).toContain('5 failed attempts; the last got HTTP 500');
    }
    const notifications = await stack.db.selectFrom('notifications').select(['recipient', 'status']).where('endpoint_id', '=', endpointId).execute();
    expect(notifications.map((n) => n.status)).toEqual(['sent', 'sent']);
    await receiver.close();
  });

  it('waits as long as Retry-After asks on 429', async () => {
    const receiver = await startReceiver((_req, index) => (index === 0 ? { status: 429, headers: { 'retry-after': '3' } } : { status: 204 }));
    const { appId } = await seed(stack.api, receiver.url);
    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    await waitForStatus(posted.body.id, 'succeeded');
    expect(receiver.requests).toHaveLength(2);
    // The policy alone would retry after 1s.
    expect(receiver.requests[1]!.at - receiver.requests[0]!.at).toBeGreaterThanOrEqual(2900);
    await receiver.close();
  });

  it('disables the endpoint at once on 410 Gone', async () => {
    const receiver = await startReceiver(() => ({ status: 410 }));
    const { appId, endpointId } = await seed(stack.api, receiver.url);
    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    await waitForStatus(posted.body.id, 'failed');
    expect(receiver.requests).toHaveLength(1);
    const endpoint = await stack.api.get(`/apps/${appId}/endpoints/${endpointId}`);
    expect(endpoint.body).toMatchObject({ status: 'inactive', disabled_reason: 'endpoint answered 410 Gone' });
    await waitFor('the disabled-endpoint emails', () => (stack.smtp.mails.filter((m) => m.text.includes(endpointId)).length === 2 ? true : undefined));
    await receiver.close();
  });

  it('does not follow redirects', async () => {
    const target = await startReceiver();
    const receiver = await startReceiver(() => ({ status: 307, headers: { location: target.url } }));
    const { appId } = await seed(stack.api, receiver.url);
    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    await waitForStatus(posted.body.id, 'failed');
    expect(receiver.requests).toHaveLength(5);
    expect(target.requests).toHaveLength(0);
    await Promise.all([receiver.close(), target.close()]);
  });

  it('records inactive endpoints as skipped and routes by event type and version', async () => {
    const receiver = await startReceiver();
    const { appId, subscriberId } = await seed(stack.api, receiver.url, { status: 'inactive' });
    const onlyOrders = await stack.api.post(`/subscriptions/${subscriberId}/endpoints`, { url: receiver.url, version: '1.0', enabled_events: ['order.shipped'] });
    const otherVersion = await stack.api.post(`/subscriptions/${subscriberId}/endpoints`, { url: receiver.url, version: '2.0' });
    expect(onlyOrders.status).toBe(201);
    expect(otherVersion.status).toBe(201);

    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    const rows = await deliveryStatus(posted.body.id);
    expect(rows.map((r) => r.status)).toEqual(['skipped']);

    const order = await stack.api.post(`/apps/${appId}/messages`, { ...message, event_type: 'order.shipped' });
    await waitFor('the order delivery', async () => ((await deliveryStatus(order.body.id)).some((d) => d.status === 'succeeded') ? true : undefined));
    const rows2 = await deliveryStatus(order.body.id);
    expect(rows2.map((d) => [d.endpoint_id, d.status]).sort()).toEqual([[onlyOrders.body.id, 'succeeded'], [rows[0]!.endpoint_id, 'skipped']].sort());
    await sleep(300);
    expect(receiver.requests).toHaveLength(1);
    await receiver.close();
  });

  it('targets one subscriber or one endpoint', async () => {
    const receiver = await startReceiver();
    const { appId, subscriberId, endpointId } = await seed(stack.api, receiver.url);
    const other = await stack.api.post(`/apps/${appId}/subscriptions`, { name: 'Other' });
    await stack.api.post(`/subscriptions/${other.body.id}/endpoints`, { url: receiver.url, version: '1.0' });
    const second = await stack.api.post(`/subscriptions/${subscriberId}/endpoints`, { url: receiver.url, version: '1.0' });

    const toSubscriber = await stack.api.post(`/subscriptions/${subscriberId}/messages`, message);
    expect(toSubscriber.status).toBe(202);
    expect((await deliveryStatus(toSubscriber.body.id)).map((d) => d.endpoint_id).sort()).toEqual([endpointId, second.body.id].sort());

    const toEndpoint = await stack.api.post(`/subscriptions/${subscriberId}/endpoints/${endpointId}/messages`, message);
    expect((await deliveryStatus(toEndpoint.body.id)).map((d) => d.endpoint_id)).toEqual([endpointId]);

    const toApp = await stack.api.post(`/apps/${appId}/messages`, message);
    expect(await deliveryStatus(toApp.body.id)).toHaveLength(3);
    await waitForStatus(toApp.body.id, 'succeeded');
    await receiver.close();
  });

  it('makes a repeated event_id or Idempotency-Key return the original message and create nothing', async () => {
    const receiver = await startReceiver();
    const { appId } = await seed(stack.api, receiver.url);
    const first = await stack.api.post(`/apps/${appId}/messages`, { ...message, event_id: 'evt-1' });
    const again = await stack.api.post(`/apps/${appId}/messages`, { ...message, event_id: 'evt-1', data: { other: true } });
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);

    const keyed = await stack.api.post(`/apps/${appId}/messages`, message, { 'idempotency-key': 'k-1' });
    const keyedAgain = await stack.api.post(`/apps/${appId}/messages`, message, { 'idempotency-key': 'k-1' });
    expect(keyedAgain.body.id).toBe(keyed.body.id);
    const reused = await stack.api.post(`/apps/${appId}/messages`, { ...message, data: { different: true } }, { 'idempotency-key': 'k-1' });
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('idempotency_key_reused');

    const messages = await stack.db.selectFrom('messages').select('id').where('app_id', '=', appId).execute();
    expect(messages).toHaveLength(2);
    await waitForStatus(first.body.id, 'succeeded');
    await waitForStatus(keyed.body.id, 'succeeded');
    await sleep(300);
    expect(receiver.requests).toHaveLength(2);
    await receiver.close();
  });

  it('lets an operator find delivery workflows by search attributes', async () => {
    const receiver = await startReceiver();
    const { appId, endpointId } = await seed(stack.api, receiver.url);
    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    const [delivery] = await waitForStatus(posted.body.id, 'succeeded');
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const client = new Client({ connection });
      const handle = client.workflow.getHandle(deliveryWorkflowId(delivery!.id));
      expect(await handle.result()).toBe('succeeded');
      const found = await waitFor('the workflow in visibility', async () => {
        const ids: string[] = [];
        for await (const wf of client.workflow.list({ query: `EndpointId = "${endpointId}" AND DeliveryStatus = "succeeded"` })) ids.push(wf.workflowId);
        return ids.length > 0 ? ids : undefined;
      });
      expect(found).toEqual([deliveryWorkflowId(delivery!.id)]);
      const description = await handle.describe();
      expect(description.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value])).toEqual(
        expect.arrayContaining([['AppId', appId], ['EndpointId', endpointId], ['EventType', 'user.created'], ['DeliveryStatus', 'succeeded']]),
      );
    } finally {
      await connection.close();
    }
    await receiver.close();
  });
});
