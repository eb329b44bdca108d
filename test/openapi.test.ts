import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './support/ports.ts';
import { startReceiver } from './support/receiver.ts';
import { seed, startStack, type Seeded, type Stack } from './support/stack.ts';

// The OpenAPI document at /api/v1/openapi.json: a valid OpenAPI 3.1 document that lists every
// operation the routers define, and whose response schemas describe what the server really answers.

type Receiver = Awaited<ReturnType<typeof startReceiver>>;
type Method = 'get' | 'post' | 'patch' | 'delete';

let stack: Stack;
let receiver: Receiver;
let doc: any;
beforeAll(async () => {
  stack = await startStack();
  receiver = await startReceiver();
  const response = await fetch(`${stack.serverUrl}/api/v1/openapi.json`);
  expect(response.status).toBe(200);
  doc = await response.json();
});
afterAll(async () => {
  await receiver?.close();
  await stack?.close();
});

/** Every operation the routers in api/*.ts define, with its success status (read from the source). */
const OPERATIONS: [Method, string, number][] = [
  // health.ts
  ['get', '/health', 200],
  ['get', '/ready', 200],
  // apps.ts
  ['get', '/apps', 200],
  ['post', '/apps', 201],
  ['get', '/apps/{app_id}', 200],
  ['patch', '/apps/{app_id}', 200],
  // event-types.ts
  ['get', '/apps/{app_id}/webhook_events', 200],
  ['post', '/apps/{app_id}/webhook_events', 201],
  ['get', '/apps/{app_id}/webhook_events/{id}', 200],
  ['patch', '/apps/{app_id}/webhook_events/{id}', 200],
  ['delete', '/apps/{app_id}/webhook_events/{id}', 200],
  // subscribers.ts
  ['get', '/apps/{app_id}/subscriptions', 200],
  ['post', '/apps/{app_id}/subscriptions', 201],
  ['get', '/subscriptions/{id}', 200],
  ['patch', '/subscriptions/{id}', 200],
  ['post', '/subscriptions/{id}/portal_link', 201],
  ['delete', '/subscriptions/{id}/portal_links', 204],
  // endpoints.ts
  ['get', '/apps/{app_id}/endpoints', 200],
  ['get', '/subscriptions/{id}/endpoints', 200],
  ['get', '/apps/{app_id}/endpoints/{id}', 200],
  ['get', '/apps/{app_id}/endpoints/{id}/secret', 200],
  ['post', '/apps/{app_id}/endpoints/{id}/secret/rotate', 200],
  ['post', '/subscriptions/{id}/endpoints', 201],
  ['patch', '/subscriptions/{id}/endpoints/{endpoint_id}', 200],
  ['delete', '/subscriptions/{id}/endpoints/{endpoint_id}', 200],
  ['delete', '/apps/{app_id}/endpoints/{id}', 200],
  // messages.ts
  ['post', '/apps/{app_id}/messages', 202],
  ['post', '/subscriptions/{id}/messages', 202],
  ['post', '/subscriptions/{id}/endpoints/{endpoint_id}/messages', 202],
  ['get', '/apps/{app_id}/messages', 200],
  ['get', '/apps/{app_id}/messages/{id}', 200],
  ['get', '/apps/{app_id}/messages/{id}/deliveries', 200],
  ['get', '/apps/{app_id}/code_samples', 200],
  // attempts.ts
  ['get', '/apps/{app_id}/webhook_attempts', 200],
  ['get', '/apps/{app_id}/endpoints/{endpoint_id}/webhook_attempts', 200],
  ['get', '/apps/{app_id}/webhook_attempts/{id}', 200],
  ['post', '/apps/{app_id}/webhook_attempts/{id}/replay', 202],
  // replays.ts
  ['post', '/apps/{app_id}/endpoints/{endpoint_id}/replay', 202],
  ['get', '/apps/{app_id}/endpoints/{endpoint_id}/replays', 200],
  ['get', '/apps/{app_id}/endpoints/{endpoint_id}/missed', 200],
  ['get', '/apps/{app_id}/replays/{replay_id}', 200],
  ['post', '/apps/{app_id}/replays/{replay_id}/pause', 200],
  ['post', '/apps/{app_id}/replays/{replay_id}/resume', 200],
  ['post', '/apps/{app_id}/replays/{replay_id}/cancel', 200],
  // api-keys.ts
  ['get', '/api_keys', 200],
  ['post', '/api_keys', 201],
  ['delete', '/api_keys/{id}', 200],
];

/** [method, path] of every operation in the served document. */
function documented(): [Method, string][] {
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((key) => ['get', 'post', 'patch', 'delete', 'put', 'head', 'options', 'trace'].includes(key))
      .map((method) => [method as Method, path] as [Method, string]),
  );
}

describe('GET /api/v1/openapi.json', () => {
  it('is served as JSON without an API key', async () => {
    const response = await fetch(`${stack.serverUrl}/api/v1/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.servers).toEqual([{ url: 'http://openhooks.test/api/v1' }]);
  });

  it('validates as an OpenAPI 3.1 document (@seriousme/openapi-schema-validator)', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors, JSON.stringify(result.errors, null, 2)).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  // The control: the same validator refuses a broken document, so a pass above means something.
  it('is refused by the validator once broken (control)', async () => {
    const broken = structuredClone(doc);
    broken.paths['/apps/{app_id}'].get.parameters[0].in = 'body'; // OpenAPI 2 style, not allowed in 3.1
    expect((await new Validator().validate(broken)).valid).toBe(false);
    const noInfo = structuredClone(doc);
    delete noInfo.info;
    expect((await new Validator().validate(noInfo)).valid).toBe(false);
  });

  it.each(OPERATIONS)('documents %s %s with its %i answer as JSON (none for 204)', (method, path, status) => {
    const operation = doc.paths[path]?.[method];
    expect(operation, `${method.toUpperCase()} ${path} in the document`).toBeDefined();
    const successes = Object.keys(operation.responses).filter((code) => /^2\d\d$/.test(code));
    expect(successes).toEqual([String(status)]);
    if (status === 204) expect(operation.responses[status].content).toBeUndefined();
    else expect(operation.responses[status].content['application/json'].schema).toBeTypeOf('object');
    expect(operation.operationId).toMatch(/^\w+$/);
    expect(operation.summary).toEqual(expect.any(String));
    // Path parameters are all declared.
    const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    expect(operation.parameters.filter((p: { in: string }) => p.in === 'path').map((p: { name: string }) => p.name)).toEqual(names);
  });

  it('documents no operation beyond those, and every operationId is unique', () => {
    const listed = OPERATIONS.map(([method, path]) => `${method} ${path}`).sort();
    expect(documented().map(([method, path]) => `${method} ${path}`).sort()).toEqual(listed);
    const ids = documented().map(([method, path]) => doc.paths[path][method].operationId as string);
    expect(ids).toHaveLength(OPERATIONS.length);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('marks only health and readiness as public (no security)', () => {
    const open = documented().filter(([method, path]) => Array.isArray(doc.paths[path][method].security) && doc.paths[path][method].security.length === 0);
    expect(open.map(([method, path]) => `${method} ${path}`).sort()).toEqual(['get /health', 'get /ready']);
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('routes every documented operation on the server (none answers route_not_found)', async () => {
    for (const [method, path] of documented()) {
      // Unknown ids and empty bodies: each answer is a refusal (404/422) that writes nothing.
      const route = path.replace(/\{\w+\}/g, 'nope_0');
      const answer = await stack.api.raw(method.toUpperCase(), route, method === 'get' || method === 'delete' ? undefined : {});
      expect(answer.body?.code, `${method.toUpperCase()} ${route}`).not.toBe('route_not_found');
      expect(answer.status, `${method.toUpperCase()} ${route}`).toBeLessThan(500);
    }
  });
});

describe('answers match the documented response schemas (ajv, JSON Schema 2020-12)', () => {
  const DOC_ID = 'https://openhooks.test/openapi.json';
  let ajv: InstanceType<typeof Ajv2020>;
  let app: Seeded;
  let messageId: string;

  beforeAll(async () => {
    // The whole document is one schema resource, so the `#/components/schemas/…` refs inside each
    // response schema resolve against it; strict is off for the OpenAPI keywords around the schemas.
    ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ ...structuredClone(doc), $id: DOC_ID });
    app = await seed(stack.api, receiver.url);
    const posted = await stack.api.post(`/apps/${app.appId}/messages`, { event_type: 'user.created', version: '1.0', data: { id: 1 } });
    expect(posted.status).toBe(202);
    messageId = posted.body.id;
    await waitFor('the delivery to succeed', async () => {
      const rows = await stack.db.selectFrom('deliveries').select('status').where('message_id', '=', messageId).execute();
      return rows.length > 0 && rows.every((r) => r.status === 'succeeded') ? true : undefined;
    });
  });

  const pointer = (...parts: string[]) => parts.map((p) => encodeURIComponent(p.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/');

  /** Validates `body` against the documented schema of `method path` for `status`; fails with ajv's errors. */
  function expectDocumented(method: Method, path: string, status: number, body: unknown): void {
    const responses = doc.paths[path]?.[method]?.responses;
    expect(responses?.[status], `${method} ${path} documents ${status}`).toBeDefined();
    const validate = ajv.compile({ $ref: `${DOC_ID}#/${pointer('paths', path, method, 'responses', String(status), 'content', 'application/json', 'schema')}` });
    const valid = validate(body);
    expect(validate.errors ?? [], `${method.toUpperCase()} ${path} ${status}: ${JSON.stringify(body).slice(0, 2000)}`).toEqual([]);
    expect(valid).toBe(true);
  }

  it('rejects a wrong body (control: the schemas are strict)', () => {
    const validate = ajv.compile({ $ref: `${DOC_ID}#/${pointer('paths', '/apps/{app_id}', 'get', 'responses', '200', 'content', 'application/json', 'schema')}` });
    expect(validate({ id: app.appId })).toBe(false);
    expect(validate({ id: app.appId, name: 'x', created_at: 'yesterday', updated_at: new Date().toISOString(), retry_initial_interval_ms: null, retry_backoff_coefficient: null })).toBe(false);
  });

  it('apps: list, get, create', async () => {
    const list = await stack.api.get('/apps');
    expectDocumented('get', '/apps', 200, list.body);
    expectDocumented('get', '/apps/{app_id}', 200, (await stack.api.get(`/apps/${app.appId}`)).body);
    const created = await stack.api.post('/apps', { name: 'Documented', retry_initial_interval_ms: 500, retry_backoff_coefficient: 2 });
    expect(created.status).toBe(201);
    expectDocumented('post', '/apps', 201, created.body);
  });

  it('webhook events, subscriptions and endpoints', async () => {
    expectDocumented('get', '/apps/{app_id}/webhook_events', 200, (await stack.api.get(`/apps/${app.appId}/webhook_events`)).body);
    expectDocumented('get', '/subscriptions/{id}', 200, (await stack.api.get(`/subscriptions/${app.subscriberId}`)).body);
    expectDocumented('get', '/apps/{app_id}/endpoints', 200, (await stack.api.get(`/apps/${app.appId}/endpoints`)).body);
    expectDocumented('get', '/apps/{app_id}/endpoints/{id}', 200, (await stack.api.get(`/apps/${app.appId}/endpoints/${app.endpointId}`)).body);
    const created = await stack.api.post(`/subscriptions/${app.subscriberId}/endpoints`, { url: 'https://example.com/doc', version: '1.0', enabled_events: ['user.created'] });
    expect(created.status).toBe(201);
    expectDocumented('post', '/subscriptions/{id}/endpoints', 201, created.body);
    const rotated = await stack.api.post(`/apps/${app.appId}/endpoints/${created.body.id}/secret/rotate`, {});
    expect(rotated.status).toBe(200);
    expectDocumented('post', '/apps/{app_id}/endpoints/{id}/secret/rotate', 200, rotated.body);
    const deleted = await stack.api.raw('DELETE', `/subscriptions/${app.subscriberId}/endpoints/${created.body.id}`);
    expect(deleted.status).toBe(200);
    expectDocumented('delete', '/subscriptions/{id}/endpoints/{endpoint_id}', 200, deleted.body);
    const another = await stack.api.post(`/subscriptions/${app.subscriberId}/endpoints`, { url: 'https://example.com/doc-2', version: '1.0' });
    const deletedByApp = await stack.api.raw('DELETE', `/apps/${app.appId}/endpoints/${another.body.id}`);
    expect(deletedByApp.status).toBe(200);
    expectDocumented('delete', '/apps/{app_id}/endpoints/{id}', 200, deletedByApp.body);
  });

  it('messages, deliveries and webhook attempts', async () => {
    const posted = await stack.api.post(`/apps/${app.appId}/messages`, { event_type: 'order.shipped', version: '1.0', data: [1, 2] });
    expect(posted.status).toBe(202);
    expectDocumented('post', '/apps/{app_id}/messages', 202, posted.body);
    expectDocumented('get', '/apps/{app_id}/messages/{id}', 200, (await stack.api.get(`/apps/${app.appId}/messages/${messageId}`)).body);
    expectDocumented('get', '/apps/{app_id}/messages/{id}/deliveries', 200, (await stack.api.get(`/apps/${app.appId}/messages/${messageId}/deliveries`)).body);
    const attempts = await stack.api.get(`/apps/${app.appId}/webhook_attempts?message_id=${messageId}`);
    expect(attempts.body).toHaveLength(1);
    expectDocumented('get', '/apps/{app_id}/webhook_attempts', 200, attempts.body);
    expectDocumented('get', '/apps/{app_id}/webhook_attempts/{id}', 200, (await stack.api.get(`/apps/${app.appId}/webhook_attempts/${attempts.body[0].id}`)).body);
  });

  it('API keys, health, readiness and errors', async () => {
    const created = await stack.api.post('/api_keys', { name: 'documented' });
    expect(created.status).toBe(201);
    expectDocumented('post', '/api_keys', 201, created.body);
    expectDocumented('get', '/api_keys', 200, (await stack.api.get('/api_keys')).body);
    const health = await fetch(`${stack.serverUrl}/api/v1/health`);
    expectDocumented('get', '/health', 200, await health.json());
    const ready = await fetch(`${stack.serverUrl}/api/v1/ready`);
    expect(ready.status).toBe(200);
    expectDocumented('get', '/ready', 200, await ready.json());
    const missing = await stack.api.get(`/apps/${app.appId}/messages/msg_nope`);
    expect(missing.status).toBe(404);
    expectDocumented('get', '/apps/{app_id}/messages/{id}', 404, missing.body);
    const invalid = await stack.api.post('/apps', { name: '' });
    expect(invalid.status).toBe(422);
    expectDocumented('post', '/apps', 422, invalid.body);
  });
});

describe('GET /docs', () => {
  it('serves the Swagger UI without an API key, pointed at the document', async () => {
    const response = await fetch(`${stack.serverUrl}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('swagger-ui');
    const init = await fetch(`${stack.serverUrl}/docs/swagger-ui-init.js`);
    expect(init.status).toBe(200);
    expect(await init.text()).toContain('/api/v1/openapi.json');
  });
});
