import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStack, type Stack } from './support/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ MAX_SUBSCRIBERS_PER_APP: '2', MAX_ENDPOINTS_PER_SUBSCRIBER: '2' });
});
afterAll(async () => {
  await stack?.close();
});

it('caps subscriptions per app and endpoints per subscription with a clear 422, even when created at once', async () => {
  const app = await stack.api.post('/apps', { name: 'Capped' });
  const created = await Promise.all([1, 2, 3, 4].map((n) => stack.api.post(`/apps/${app.body.id}/subscriptions`, { name: `S${n}` })));
  expect(created.map((r) => r.status).sort()).toEqual([201, 201, 422, 422]);
  const refused = created.find((r) => r.status === 422)!;
  expect(refused.body).toEqual({ error: 'an app can have at most 2 subscriptions (MAX_SUBSCRIBERS_PER_APP)', code: 'limit_exceeded' });
  expect(Number((await stack.api.get(`/apps/${app.body.id}/subscriptions`)).headers.get('x-total-count'))).toBe(2);

  const subscriber = created.find((r) => r.status === 201)!.body.id as string;
  const endpoints = await Promise.all([1, 2, 3].map((n) => stack.api.post(`/subscriptions/${subscriber}/endpoints`, { url: `https://example.test/${n}`, version: '1' })));
  expect(endpoints.map((r) => r.status).sort()).toEqual([201, 201, 422]);
  expect(endpoints.find((r) => r.status === 422)!.body.code).toBe('limit_exceeded');
  expect(Number((await stack.api.get(`/subscriptions/${subscriber}/endpoints`)).headers.get('x-total-count'))).toBe(2);
});
