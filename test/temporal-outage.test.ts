import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { startDevServer, type DevServer } from '../cli/temporal-dev-server.ts';
import { freePort, waitFor } from './support/ports.ts';
import { startReceiver } from './support/receiver.ts';
import { seed, startStack, type Stack } from './support/stack.ts';

// This file owns its Temporal dev server: it stops and restarts it, which the shared one must not see.
let temporal: DevServer;
let stack: Stack;
let port: number;
let dataDir: string;

beforeAll(async () => {
  port = await freePort();
  dataDir = mkdtempSync(path.join(inject('tempDir'), 'outage-'));
  temporal = await startDevServer({ dataDir, port, headless: true, logFile: path.join(dataDir, 'temporal.log') });
  stack = await startStack({ TEMPORAL_ADDRESS: temporal.address });
});
afterAll(async () => {
  await stack?.close();
  await temporal?.stop();
});

it('delivers a message posted while Temporal is down once it is back', async () => {
  const receiver = await startReceiver();
  const { appId } = await seed(stack.api, receiver.url);
  const before = await stack.api.post(`/apps/${appId}/messages`, { event_type: 'user.created', version: '1.0', data: { n: 1 } });
  await waitFor('the first delivery', () => (receiver.requests.length === 1 ? true : undefined));

  // A crash, not a polite stop: the file database must keep what was committed.
  temporal.process.kill('SIGKILL');
  await new Promise((resolve) => temporal.process.once('exit', resolve));

  const started = Date.now();
  const during = await stack.api.post(`/apps/${appId}/messages`, { event_type: 'user.created', version: '1.0', data: { n: 2 } });
  expect(during.status).toBe(202);
  expect(Date.now() - started).toBeLessThan(2_000); // acceptance does not wait on Temporal
  const pending = await stack.db.selectFrom('deliveries').select(['status', 'workflow_started_at']).where('message_id', '=', during.body.id).execute();
  expect(pending).toEqual([{ status: 'pending', workflow_started_at: null }]);

  await new Promise((r) => setTimeout(r, 3_000));
  expect(receiver.requests).toHaveLength(1);
  temporal = await startDevServer({ dataDir, port, headless: true, logFile: path.join(dataDir, 'temporal.log') });

  await waitFor('the message posted during the outage', () => (receiver.requests.length >= 2 ? true : undefined), 90_000, 200);
  const bodies = receiver.requests.map((r) => JSON.parse(r.body) as { id: string });
  expect(bodies.map((b) => b.id)).toEqual([before.body.id, during.body.id]);
  await waitFor('the delivery to be recorded as succeeded', async () => {
    const row = await stack.db.selectFrom('deliveries').select('status').where('message_id', '=', during.body.id).executeTakeFirst();
    return row?.status === 'succeeded' ? true : undefined;
  });
  await receiver.close();
});
