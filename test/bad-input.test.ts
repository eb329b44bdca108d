import { isDeepStrictEqual } from 'node:util';
import { Socket } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../lib/ids.ts';
import { waitFor } from './support/ports.ts';
import { startReceiver } from './support/receiver.ts';
import { seed, startStack, type Seeded, type Stack } from './support/stack.ts';

// A bad-input matrix over every write route of /api/v1: malformed JSON, wrong types, oversized
// strings, deep nesting, unicode edge cases, SQL injection, header injection, unknown fields and
// wrong content types. Each bad request must get a clear 4xx `{error, code, details?}` answer and
// write nothing: the account's rows are snapshotted before and after, and the loopback receiver
// (the subscriber's endpoint) must hear nothing.

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

let stack: Stack;
let receiver: Receiver;
let fx: Seeded;
/** Ids of the fixture rows the routes act on. */
let ids: Ids;
/**
 * A second app whose endpoint no message ever targets: the endpoint routes work there, so that a
 * known-bug case that wrongly changes an endpoint cannot disturb deliveries to the receiver.
 */
let scratch: { app: string; sub: string; ep: string };
/** The tables at the start, to show that no injection dropped one. */
let initialTables: string[];

interface Ids {
  app: string;
  sub: string;
  ep: string;
  evt: string;
  att: string;
  key: string;
}

beforeAll(async () => {
  // No rate limit: the matrix sends a thousand requests in quick succession. A high endpoint limit:
  // known-bug cases may create endpoints, and the limit must not become the reason for a refusal.
  stack = await startStack({ RATE_LIMIT: '0', MAX_ENDPOINTS_PER_SUBSCRIBER: '10000' });
  receiver = await startReceiver();
  fx = await seed(stack.api, receiver.url);
  const eventTypes = await stack.api.get(`/apps/${fx.appId}/webhook_events`);
  const orderShipped = (eventTypes.body as { id: string; event_type: string }[]).find((e) => e.event_type === 'order.shipped')!;
  ids = { app: fx.appId, sub: fx.subscriberId, ep: fx.endpointId, evt: orderShipped.id, att: await insertFinishedAttempt(), key: 'set per case' };
  const app = await stack.api.post('/apps', { name: 'Scratch' });
  const sub = await stack.api.post(`/apps/${app.body.id}/subscriptions`, { name: 'Scratch subscriber' });
  const ep = await stack.api.post(`/subscriptions/${sub.body.id}/endpoints`, { url: 'https://example.com/scratch', version: '9.9' });
  expect(ep.status, JSON.stringify(ep.body)).toBe(201);
  scratch = { app: app.body.id, sub: sub.body.id, ep: ep.body.id };
  initialTables = (await snapshot()).tables;
  receiverBaseline = receiver.requests.length;
});

afterAll(async () => {
  await receiver?.close();
  await stack?.close();
});

/**
 * A failed delivery with one attempt, written straight to the database so the resend route has
 * something to act on without depending on a delivery workflow having run.
 */
async function insertFinishedAttempt(): Promise<string> {
  const db = stack.db;
  const now = new Date();
  const messageId = newId('message');
  const deliveryId = newId('delivery');
  const attemptId = newId('attempt');
  await db
    .insertInto('messages')
    .values({ id: messageId, app_id: fx.appId, event_type: 'user.created', version: '1.0', data: JSON.stringify({ id: 1 }), override_payload: false, request_hash: 'fixture' })
    .execute();
  await db
    .insertInto('deliveries')
    .values({ id: deliveryId, message_id: messageId, endpoint_id: fx.endpointId, app_id: fx.appId, subscriber_id: fx.subscriberId, status: 'failed', workflow_started_at: now, finished_at: now })
    .execute();
  await db
    .insertInto('attempts')
    .values({
      id: attemptId,
      delivery_id: deliveryId,
      message_id: messageId,
      endpoint_id: fx.endpointId,
      subscriber_id: fx.subscriberId,
      app_id: fx.appId,
      event_type: 'user.created',
      number: 1,
      trigger: 'automatic',
      url: receiver.url,
      request_headers: JSON.stringify({ 'content-type': 'application/json' }),
      request_body: '{}',
      status_code: 500,
      response_body: 'fixture',
      error_code: 'http_status',
      error: 'HTTP 500',
      succeeded: false,
      will_retry: false,
      duration_ms: 3,
      workflow_id: `delivery:${deliveryId}`,
    })
    .execute();
  return attemptId;
}

// ---------------------------------------------------------------------------------------------
// Helpers: sending, the error shape, and "nothing was written".

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: any;
  ms: number;
}

interface SendOptions {
  body?: unknown;
  /** Exact bytes of the body, for what JSON.stringify cannot produce. */
  raw?: string | Buffer;
  /** Defaults to application/json when there is a body; null sends none. */
  contentType?: string | null;
  headers?: Record<string, string>;
}

async function send(method: string, path: string, options: SendOptions = {}): Promise<Answer> {
  const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const headers: Record<string, string> = { authorization: `Bearer ${stack.apiKey}`, ...options.headers };
  const contentType = options.contentType === undefined ? (payload === undefined ? null : 'application/json') : options.contentType;
  if (contentType !== null) headers['content-type'] = contentType;
  const started = Date.now();
  const response = await fetch(`${stack.serverUrl}/api/v1${path}`, {
    method,
    headers,
    // A Blob without a type: fetch adds no content-type of its own.
    body: payload === undefined ? undefined : new Blob([new Uint8Array(typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload)]),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: response.status, headers: response.headers, text, body, ms: Date.now() - started };
}

interface Expect {
  /** Any of these statuses is right. */
  status: number[];
  /** Any of these codes is right; any non-empty code when absent. */
  codes?: string[];
  /** A detail must name this field (or one of its elements, such as `enabled_events.0`). */
  field?: string;
  /** The human message must mention this too. */
  mentions?: string;
}

/** Asserts a clear 4xx in the documented shape `{error, code, details?}`, served as JSON. */
function expectRefused(answer: Answer, want: Expect): void {
  const context = `${answer.status} ${answer.text.slice(0, 400)}`;
  expect(want.status, context).toContain(answer.status);
  expect(answer.status, context).toBeGreaterThanOrEqual(400);
  expect(answer.status, context).toBeLessThan(500);
  expect(answer.headers.get('content-type'), context).toMatch(/^application\/json/);
  expect(answer.body, context).toBeTypeOf('object');
  const { error, code, details, ...rest } = answer.body;
  expect(rest, 'no keys beyond error, code and details').toEqual({});
  expect(error, context).toBeTypeOf('string');
  expect(error.length).toBeGreaterThan(0);
  expect(code, context).toBeTypeOf('string');
  expect(code).toMatch(/^[a-z_]+$/);
  if (want.codes) expect(want.codes, context).toContain(code);
  if (details !== undefined) {
    expect(Array.isArray(details)).toBe(true);
    for (const detail of details) expect(detail).toEqual({ field: expect.any(String), message: expect.any(String) });
  }
  if (want.field !== undefined) {
    const named = ((details ?? []) as { field: string }[]).some(
      (d) => d.field === want.field || d.field.startsWith(`${want.field}.`) || d.field.split(',').includes(want.field!),
    );
    expect(named, `details naming ${want.field}: ${JSON.stringify(details)}`).toBe(true);
  }
  if (want.mentions !== undefined) expect(error).toContain(want.mentions);
}

/** Everything the account owns, plus the list of tables: equal snapshots mean nothing was written. */
async function snapshot() {
  const db = stack.db;
  const tables = (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public' order by 1`.execute(db)).rows.map((r) => r.name);
  const apps = await db.selectFrom('apps').selectAll().where('account_id', '=', stack.accountId).orderBy('id').execute();
  const appIds = apps.map((a) => a.id);
  const [eventTypes, subscribers, endpoints, messages, deliveries, attempts, apiKeys, idempotencyKeys] = await Promise.all([
    db.selectFrom('event_types').selectAll().where('app_id', 'in', appIds).orderBy('id').execute(),
    db.selectFrom('subscribers').selectAll().where('app_id', 'in', appIds).orderBy('id').execute(),
    // selectAll: url, status, enabled_events and the secret columns (secret, previous_secret, its expiry).
    db.selectFrom('endpoints').selectAll().where('app_id', 'in', appIds).orderBy('id').execute(),
    db.selectFrom('messages').selectAll().where('app_id', 'in', appIds).orderBy('id').execute(),
    db.selectFrom('deliveries').selectAll().where('app_id', 'in', appIds).orderBy('id').execute(),
    db.selectFrom('attempts').selectAll().where('app_id', 'in', appIds).orderBy('id').execute(),
    // last_used_at moves on its own (once a minute per key), so only what a write would change.
    db.selectFrom('api_keys').select(['id', 'name', 'revoked_at']).where('account_id', '=', stack.accountId).orderBy('id').execute(),
    db.selectFrom('idempotency_keys').selectAll().where('account_id', '=', stack.accountId).orderBy('key').execute(),
  ]);
  const stillKept = (k: { key: string }) => !leakedIdempotencyKeys.has(k.key);
  // What known-bug cases wrongly accepted may still be delivered meanwhile: left out, so that it
  // cannot make a later case fail.
  return {
    tables, apps, eventTypes, subscribers, endpoints, apiKeys,
    // A wrongly accepted request stores its answer under its key just after answering.
    idempotencyKeys: idempotencyKeys.filter(stillKept),
    messages: messages.filter((m) => !leakedMessageIds.has(m.id)),
    deliveries: deliveries.filter((d) => !leakedMessageIds.has(d.message_id)),
    attempts: attempts.filter((a) => !leakedMessageIds.has(a.message_id)),
  };
}
type Snapshot = Awaited<ReturnType<typeof snapshot>>;

let receiverBaseline = 0;
/**
 * Message ids a known-bug case wrongly accepted or re-sent, and those a control sent on purpose:
 * their deliveries may reach the receiver later.
 */
const leakedMessageIds = new Set<string>();
/** Idempotency-Keys of requests a known-bug case wrongly accepted. */
const leakedIdempotencyKeys = new Set<string>();
/** Requests the receiver got for anything but a leaked message. */
const heardUnexpected = () => receiver.requests.filter((r) => !leakedMessageIds.has(String(r.headers['webhook-id']))).length;

function noteLeak(before: Snapshot, after: Snapshot): void {
  const known = new Map(before.deliveries.map((d) => [d.id, d]));
  for (const m of after.messages) if (!before.messages.some((b) => b.id === m.id)) leakedMessageIds.add(m.id);
  for (const d of after.deliveries) if (!isDeepStrictEqual(known.get(d.id), d)) leakedMessageIds.add(d.message_id);
}

/** Runs `act` and asserts it wrote nothing and the subscriber's endpoint heard nothing. */
async function expectNothingWritten(act: () => Promise<void>, idempotencyKey?: string): Promise<void> {
  const before = await snapshot();
  const heard = heardUnexpected();
  let failure: unknown;
  try {
    await act();
  } catch (err) {
    failure = err;
  }
  const after = await snapshot();
  if (!isDeepStrictEqual(before, after)) {
    noteLeak(before, after);
    if (idempotencyKey !== undefined) leakedIdempotencyKeys.add(idempotencyKey);
  }
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error(JSON.stringify(failure));
  expect(after).toEqual(before);
  expect(heardUnexpected(), 'requests to the subscriber').toBe(heard);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function expectResponsive(): Promise<void> {
  const started = Date.now();
  const health = await fetch(`${stack.serverUrl}/api/v1/health`, { signal: AbortSignal.timeout(5_000) });
  expect(health.status).toBe(200);
  expect(Date.now() - started, 'health answered promptly').toBeLessThan(2_000);
}

// ---------------------------------------------------------------------------------------------
// The write routes and the fields of their schemas.

type Kind =
  | 'name' // singleLine(200): app, subscription and API key names
  | 'text' // free text, max 1000, nullable: descriptions
  | 'eventName' // webhook_events event_type: [\w.:-]{1,100}
  | 'email'
  | 'url'
  | 'version' // 1..50
  | 'status' // active | inactive
  | 'events' // "*" or a list of event type names
  | 'int' // retry_initial_interval_ms
  | 'number' // retry_backoff_coefficient
  | 'bool' // override_payload
  | 'data' // message data: object or array
  | 'secret' // whsec_…
  | 'eventId' // 1..255, nullable
  | 'msgEvent'; // message event_type: 1..100, must exist

interface Field {
  name: string;
  kind: Kind;
  nullable?: boolean;
}

interface Route {
  id: string;
  method: 'POST' | 'PATCH' | 'DELETE';
  /** With {app} {sub} {ep} {evt} {att} {key} for the fixture ids. */
  path: string;
  /** A valid body; absent for operations that take none. */
  body?: Record<string, unknown>;
  fields: Field[];
  /**
   * The ids to act on, when not the receiver's fixture: a fresh target per case for operations a
   * wrongly accepted request would use up, or the scratch app's.
   */
  target?: () => Promise<Partial<Ids>> | Partial<Ids>;
  /** Text in the valid body replaced by a unique value per case (a name that must not exist yet). */
  unique?: string;
}

const f = (name: string, kind: Kind, nullable = false): Field => ({ name, kind, nullable });
const appFields = [f('name', 'name'), f('retry_initial_interval_ms', 'int', true), f('retry_backoff_coefficient', 'number', true)];
const eventTypeFields = [f('event_type', 'eventName'), f('description', 'text', true)];
const subscriptionFields = [f('name', 'name'), f('email', 'email', true)];
const endpointFields = [f('url', 'url'), f('description', 'text', true), f('version', 'version'), f('status', 'status'), f('enabled_events', 'events')];
const messageFields = [f('event_type', 'msgEvent'), f('data', 'data'), f('version', 'version'), f('event_id', 'eventId', true), f('override_payload', 'bool')];
const message = { event_type: 'user.created', version: '1.0', data: { id: 42, email: 'ada@example.com' } };

let uniqueCount = 0;
const ROUTES: Route[] = [
  { id: 'POST /apps', method: 'POST', path: '/apps', body: { name: 'Valid app' }, fields: appFields },
  { id: 'PATCH /apps/:app_id', method: 'PATCH', path: '/apps/{app}', body: { name: 'Renamed app' }, fields: appFields },
  { id: 'POST /apps/:app_id/webhook_events', method: 'POST', path: '/apps/{app}/webhook_events', body: { event_type: 'valid.created' }, fields: eventTypeFields, unique: 'valid.created' },
  { id: 'PATCH /apps/:app_id/webhook_events/:id', method: 'PATCH', path: '/apps/{app}/webhook_events/{evt}', body: { description: 'Valid description' }, fields: eventTypeFields },
  {
    id: 'DELETE /apps/:app_id/webhook_events/:id', method: 'DELETE', path: '/apps/{app}/webhook_events/{evt}', fields: [],
    target: async () => ({ evt: (await stack.api.post(`/apps/${ids.app}/webhook_events`, { event_type: `doomed.n${++uniqueCount}` })).body.id }),
  },
  { id: 'POST /apps/:app_id/subscriptions', method: 'POST', path: '/apps/{app}/subscriptions', body: { name: 'Valid subscription', email: 'ok@example.com' }, fields: subscriptionFields },
  { id: 'PATCH /subscriptions/:id', method: 'PATCH', path: '/subscriptions/{sub}', body: { name: 'Renamed subscription' }, fields: subscriptionFields },
  {
    id: 'POST /subscriptions/:id/endpoints', method: 'POST', path: '/subscriptions/{sub}/endpoints', body: { url: 'https://example.com/hook', version: '1.0' }, fields: endpointFields,
    target: () => ({ app: scratch.app, sub: scratch.sub }),
  },
  {
    id: 'PATCH /subscriptions/:id/endpoints/:endpoint_id', method: 'PATCH', path: '/subscriptions/{sub}/endpoints/{ep}', body: { description: 'Valid description' }, fields: endpointFields,
    target: () => scratch,
  },
  { id: 'POST /apps/:app_id/endpoints/:id/secret/rotate', method: 'POST', path: '/apps/{app}/endpoints/{ep}/secret/rotate', body: {}, fields: [f('key', 'secret')], target: () => scratch },
  { id: 'POST /apps/:app_id/messages', method: 'POST', path: '/apps/{app}/messages', body: message, fields: messageFields },
  { id: 'POST /subscriptions/:id/messages', method: 'POST', path: '/subscriptions/{sub}/messages', body: message, fields: messageFields },
  { id: 'POST /subscriptions/:id/endpoints/:endpoint_id/messages', method: 'POST', path: '/subscriptions/{sub}/endpoints/{ep}/messages', body: message, fields: messageFields },
  {
    id: 'POST /apps/:app_id/webhook_attempts/:id/replay', method: 'POST', path: '/apps/{app}/webhook_attempts/{att}/replay', fields: [],
    target: async () => ({ att: await insertFinishedAttempt() }),
  },
  { id: 'POST /api_keys', method: 'POST', path: '/api_keys', body: { name: 'Valid key' }, fields: [f('name', 'name')] },
  {
    id: 'DELETE /api_keys/:id', method: 'DELETE', path: '/api_keys/{key}', fields: [],
    target: async () => ({ key: (await stack.api.post('/api_keys', { name: `doomed ${++uniqueCount}` })).body.id }),
  },
];
const BODY_ROUTES = ROUTES.filter((r) => r.body !== undefined);
const BODILESS_ROUTES = ROUTES.filter((r) => r.body === undefined);
const isMessageRoute = (route: Route) => route.id.endsWith('/messages');

// ---------------------------------------------------------------------------------------------
// Cases.

interface Case extends SendOptions {
  name: string;
  route: Route;
  expect: Expect;
  /** Replaces one path parameter with raw (already percent-encoded) text. */
  badParam?: { name: string; encoded: string };
  /** Also check that the server still answers promptly afterwards. */
  responsive?: boolean;
  /** What kind of bad input this is, and in which kind of field: for knownBug(). */
  probe?: Probe;
  fieldKind?: Kind;
  bug?: string;
}

type Probe = 'nul' | 'surrogate' | 'singleLine' | 'notUtf8' | 'bom' | 'bodySent' | 'deepData' | 'pathNul' | 'pathUndecodable' | 'nonJsonBody';

const MIB = 1024 * 1024;
const fieldError = (field: string, codes = ['validation_failed']): Expect => ({ status: [422], codes, field });
/** For text Postgres cannot store faithfully: refused as malformed (400) or invalid (422). */
const unstorable = (field: string): Expect => ({ status: [400, 422], field });

/** The route's valid body with one field set to raw JSON text (for what JSON.stringify cannot express). */
function withRaw(body: Record<string, unknown>, field: string, rawJson: string): string {
  const marker = '"__RAW_VALUE__"';
  return JSON.stringify({ ...body, [field]: '__RAW_VALUE__' }).replace(marker, rawJson);
}

const deepArrays = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const deepObjects = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;

function wrongTypes(kind: Kind, nullable: boolean): [string, unknown][] {
  const nullCase: [string, unknown][] = nullable ? [] : [['null', null]];
  switch (kind) {
    case 'int':
    case 'number':
      return [['a numeric string', '100'], ['a boolean', true], ['an array', [100]], ['an object', { value: 100 }], ...nullCase];
    case 'bool':
      return [['the string "true"', 'true'], ['the number 1', 1], ['an array', [true]], ['an object', {}], ...nullCase];
    case 'data':
      return [['a string', 'hello'], ['a number', 42], ['a boolean', true], ['null', null]];
    case 'events':
      return [['a number', 42], ['an object', { 'user.created': true }], ['a boolean', true], ['a string other than "*"', 'user.created'], ['an array of numbers', [42]], ['an array of objects', [{}]], ['null', null]];
    default:
      return [['a number', 42], ['an object', { value: 'x' }], ['an array', ['x']], ['a boolean', true], ...nullCase];
  }
}

/** Values just past the field's limit, as [label, raw JSON]. */
function overLimit(kind: Kind): [string, string][] {
  const s = (text: string) => JSON.stringify(text);
  switch (kind) {
    case 'name':
      return [['201 characters (max 200)', s('x'.repeat(201))]];
    case 'text':
      return [['1001 characters (max 1000)', s('x'.repeat(1001))]];
    case 'eventName':
    case 'msgEvent':
      return [['101 characters (max 100)', s('e'.repeat(101))]];
    case 'email':
      return [['255 characters (max 254)', s(`${'a'.repeat(64)}@${`${'b'.repeat(50)}.`.repeat(3)}${'c'.repeat(37)}`)]];
    case 'url':
      return [['2001 characters (max 2000)', s(`https://example.com/${'a'.repeat(1981)}`)]];
    case 'version':
      return [['51 characters (max 50)', s('1'.repeat(51))]];
    case 'eventId':
      return [['256 characters (max 255)', s('i'.repeat(256))]];
    case 'secret':
      return [['whsec_ and 89 base64 characters (max 88)', s(`whsec_${'A'.repeat(89)}`)], ['whsec_ and 31 base64 characters (min 32)', s(`whsec_${'A'.repeat(31)}`)]];
    case 'events':
      return [['501 event types (max 500)', JSON.stringify(Array.from({ length: 501 }, () => 'user.created'))], ['an event type of 101 characters', JSON.stringify(['e'.repeat(101)])]];
    case 'int':
      return [['86400001 (max 86400000)', '86400001'], ['9 (min 10)', '9'], ['a fraction', '10.5'], ['1e400 (Infinity once parsed)', '1e400']];
    case 'number':
      return [['100.5 (max 100)', '100.5'], ['0.5 (min 1)', '0.5'], ['1e400 (Infinity once parsed)', '1e400'], ['-1e400', '-1e400']];
    default:
      return [];
  }
}

/** Wraps a troublesome piece of text so that the rest of the value is valid for the field. */
function around(kind: Kind, text: string): unknown {
  switch (kind) {
    case 'url':
      return `https://example.com/${text}`;
    case 'email':
      return `ops${text}@acme.test`;
    case 'eventName':
    case 'msgEvent':
      return `user.created${text}`;
    case 'version':
      return `1.0${text}`;
    case 'data':
      return { note: text };
    default:
      return `Acme ${text} Inc`;
  }
}

const STRING_KINDS: Kind[] = ['name', 'text', 'eventName', 'email', 'url', 'version', 'eventId', 'msgEvent'];
/** Single-line identifiers a person reads: no control characters, no bidi overrides. */
const SINGLE_LINE_KINDS: Kind[] = ['name', 'url'];

type CaseSpec = Omit<Case, 'route' | 'name'> & { label: string };
const routeCases = (routes: Route[], make: (route: Route) => CaseSpec[]): Case[] =>
  routes.flatMap((route) => make(route).map(({ label, ...rest }) => ({ ...rest, route, name: `${route.id} · ${label}` })));

// Malformed JSON. Operations without a body still parse one when it is sent.
const MALFORMED: [string, string, Expect][] = [
  ['truncated JSON', '{"name": "x", "url": ', { status: [400], codes: ['malformed_json'] }],
  ['a trailing comma', '{"name": "x",}', { status: [400], codes: ['malformed_json'] }],
  ['single quotes', "{'name': 'x'}", { status: [400], codes: ['malformed_json'] }],
  ['a bare string', '"x"', { status: [400, 422], codes: ['malformed_json', 'validation_failed'] }],
  ['null', 'null', { status: [400, 422], codes: ['malformed_json', 'validation_failed'] }],
  ['a bare number', '42', { status: [400, 422], codes: ['malformed_json', 'validation_failed'] }],
  ['NaN as a value', '{"name": NaN}', { status: [400], codes: ['malformed_json'] }],
  ['a comment', '// hello\n{"name": "x"}', { status: [400], codes: ['malformed_json'] }],
  ['trailing garbage', '{"name": "x"} {"name": "y"}', { status: [400], codes: ['malformed_json'] }],
];

const malformedCases: Case[] = routeCases(ROUTES, (route) => [
  ...MALFORMED.map(([label, raw, want]) => ({ label, raw, expect: want })),
  // An array where an object is expected: valid JSON, wrong shape.
  { label: 'an array where an object is expected', raw: JSON.stringify([route.body ?? {}]), expect: { status: [400, 422], codes: ['malformed_json', 'validation_failed'] }, probe: 'bodySent' },
  // A BOM before otherwise valid JSON (RFC 8259 §8.1: senders must not add one).
  { label: 'a BOM-prefixed body', raw: `\uFEFF${JSON.stringify(route.body ?? {})}`, expect: { status: [400, 422], codes: ['malformed_json', 'validation_failed'] }, probe: 'bom' },
]);

const wrongTypeCases: Case[] = routeCases(BODY_ROUTES, (route) =>
  route.fields.flatMap((field) =>
    wrongTypes(field.kind, field.nullable ?? false).map(([label, value]) => ({
      label: `${field.name} as ${label}`,
      body: { ...route.body, [field.name]: value },
      expect: fieldError(field.name),
    })),
  ),
);

const sizeCases: Case[] = [
  ...routeCases(BODY_ROUTES, (route) => [
    { label: `a 1 MiB ${route.fields[0]!.name}`, body: { ...route.body, [route.fields[0]!.name]: 'x'.repeat(MIB) }, expect: { status: [413], codes: ['payload_too_large'] } },
    ...route.fields.flatMap((field) =>
      overLimit(field.kind).map(([label, raw]) => ({
        label: `${field.name} of ${label}`,
        raw: withRaw(route.body!, field.name, raw),
        // A message naming an event type that cannot exist is an unknown event type.
        expect: fieldError(field.name, field.kind === 'msgEvent' ? ['validation_failed', 'unknown_event_type'] : ['validation_failed']),
      })),
    ),
  ]),
  ...routeCases(BODILESS_ROUTES, () => [{ label: 'a 1 MiB body', body: { padding: 'x'.repeat(MIB) }, expect: { status: [413], codes: ['payload_too_large'] } }]),
];

const nestingCases: Case[] = [
  ...routeCases(BODY_ROUTES, (route) => {
    const first = route.fields[0]!.name;
    const cases = [
      { label: `${first} as 10,000 nested arrays`, raw: withRaw(route.body!, first, deepArrays(10_000)), expect: fieldError(first, ['validation_failed', 'unknown_event_type']), responsive: true },
      { label: `${first} as 10,000 nested objects`, raw: withRaw(route.body!, first, deepObjects(10_000)), expect: fieldError(first, ['validation_failed', 'unknown_event_type']), responsive: true },
      { label: 'an unknown field of 10,000 nested arrays', raw: withRaw(route.body!, 'nested', deepArrays(10_000)), expect: fieldError('nested'), responsive: true },
      { label: 'a body of 10,000 nested arrays', raw: deepArrays(10_000), expect: { status: [400, 422] }, responsive: true },
    ];
    if (!isMessageRoute(route)) return cases;
    return [
      ...cases,
      { label: 'data of 10,000 nested arrays', raw: withRaw(route.body!, 'data', `[${deepArrays(10_000)}]`), expect: { status: [400, 413, 422], field: 'data' }, responsive: true, probe: 'deepData' as const },
      { label: 'data of 10,000 nested objects', raw: withRaw(route.body!, 'data', deepObjects(10_000)), expect: { status: [400, 413, 422], field: 'data' }, responsive: true, probe: 'deepData' as const },
      { label: 'data of 100,000 nested arrays', raw: withRaw(route.body!, 'data', `[${deepArrays(100_000)}]`), expect: { status: [400, 413, 422], field: 'data' }, responsive: true, probe: 'deepData' as const },
    ];
  }),
  ...routeCases(BODILESS_ROUTES, () => [{ label: 'a body of 10,000 nested arrays in a field', raw: `{"nested": ${deepArrays(10_000)}}`, expect: { status: [400, 413, 422] }, responsive: true, probe: 'bodySent' }]),
];

const UNSTORABLE_TEXT: [string, string, Probe][] = [
  ['NUL', 'a\u0000b', 'nul'],
  ['a lone high surrogate', 'a\ud800b', 'surrogate'],
  ['a lone low surrogate', 'a\udc00b', 'surrogate'],
];
const SINGLE_LINE_ONLY: [string, string][] = [
  ['a right-to-left override', '\u202Egnp.exe'],
  ['CR LF and a header line', 'a\r\nX-Injected: 1'],
];

const unicodeCases: Case[] = routeCases(BODY_ROUTES, (route) =>
  route.fields.flatMap((field) => {
    const cases: CaseSpec[] = [];
    if (!STRING_KINDS.includes(field.kind) && field.kind !== 'data') return cases;
    for (const [label, text, probe] of UNSTORABLE_TEXT) {
      // JSON.stringify writes lone surrogates and NUL as \u escapes: the body itself is valid UTF-8.
      cases.push({ label: `${field.name} with ${label}`, body: { ...route.body, [field.name]: around(field.kind, text) }, expect: unstorable(field.name), probe, fieldKind: field.kind });
    }
    if (SINGLE_LINE_KINDS.includes(field.kind)) {
      for (const [label, text] of SINGLE_LINE_ONLY) {
        cases.push({ label: `${field.name} with ${label}`, body: { ...route.body, [field.name]: around(field.kind, text) }, expect: fieldError(field.name), probe: 'singleLine', fieldKind: field.kind });
      }
    }
    if (field.kind === 'name') {
      // Bytes that are not UTF-8 at all (0xC3 0x28): not to be silently replaced by U+FFFD.
      const json = JSON.stringify({ ...route.body, [field.name]: 'Acme __BAD_BYTES__' });
      const [head, tail] = json.split('__BAD_BYTES__') as [string, string];
      cases.push({ label: `${field.name} with bytes that are not UTF-8`, raw: Buffer.concat([Buffer.from(head), Buffer.from([0xc3, 0x28]), Buffer.from(tail)]), expect: { status: [400, 415, 422] }, probe: 'notUtf8' });
    }
    return cases;
  }),
);

const SQL = ["' OR 1=1 --", '"; DROP TABLE apps; --', "x' UNION SELECT key_hash FROM api_keys --"];
/** Fields whose format rules SQL out: 422. Free-text fields store it verbatim (see the round-trip tests). */
const sqlBodyCases: Case[] = routeCases(BODY_ROUTES, (route) =>
  route.fields.flatMap((field) => {
    const value = (payload: string): unknown => {
      switch (field.kind) {
        case 'eventName':
          return payload;
        case 'msgEvent':
          return `user.created${payload}`;
        case 'email':
          return `ops@acme.test${payload}`;
        case 'status':
          return `active${payload}`;
        case 'events':
          return [`user.created${payload}`];
        case 'secret':
          return `whsec_${payload}`;
        case 'int':
        case 'number':
        case 'bool':
        case 'data':
          return `1${payload}`;
        default:
          return undefined;
      }
    };
    return SQL.flatMap((payload) => {
      const bad = value(payload);
      if (bad === undefined) return [];
      const codes = field.kind === 'msgEvent' || field.kind === 'events' ? ['validation_failed', 'unknown_event_type'] : ['validation_failed'];
      return [{ label: `${field.name} = ${JSON.stringify(bad)}`, body: { ...route.body, [field.name]: bad }, expect: fieldError(field.name, codes) }];
    });
  }),
);

const PATH_IDS: [string, string, Expect, Probe?][] = [
  ["' OR 1=1 --", encodeURIComponent("' OR 1=1 --"), { status: [404], codes: ['not_found'] }],
  ['"; DROP TABLE apps; --', encodeURIComponent('"; DROP TABLE apps; --'), { status: [404], codes: ['not_found'] }],
  ["x' UNION SELECT … --", encodeURIComponent("x' UNION SELECT id, key_hash FROM api_keys --"), { status: [404], codes: ['not_found'] }],
  ['10,000 characters', 'x'.repeat(10_000), { status: [404, 414], codes: ['not_found', 'uri_too_long'] }],
  ['a NUL (%00)', 'app_%00', { status: [400, 404] }, 'pathNul'],
  ['malformed percent-encoding (%E0%A4%A)', '%E0%A4%A', { status: [400, 404] }, 'pathUndecodable'],
  ['a percent-encoded lone surrogate (%ED%A0%80)', '%ED%A0%80', { status: [400, 404] }, 'pathUndecodable'],
];

const pathCases: Case[] = routeCases(ROUTES, (route) =>
  [...route.path.matchAll(/\{(\w+)\}/g)].flatMap(([, param]) =>
    PATH_IDS.map(([label, encoded, want, probe]) => ({ label: `{${param}} = ${label}`, badParam: { name: param!, encoded }, body: route.body, expect: want, probe })),
  ),
);

const unknownFieldCases: Case[] = [
  ...routeCases(BODY_ROUTES, (route) => [
    { label: 'an unknown field', body: { ...route.body, priority: 'high' }, expect: { ...fieldError('priority'), mentions: 'priority' } },
    { label: 'two unknown fields', body: { ...route.body, priority: 'high', admin: true }, expect: { ...fieldError('admin'), mentions: 'priority' } },
    { label: 'a __proto__ key', raw: withRaw(route.body!, '__proto__', '{"polluted": "yes"}'), expect: fieldError('__proto__') },
    { label: 'a constructor.prototype key', raw: withRaw(route.body!, 'constructor', '{"prototype": {"polluted": "yes"}}'), expect: fieldError('constructor') },
    { label: 'a field in the wrong case', body: { ...route.body, [route.fields[0]!.name.toUpperCase()]: 'x' }, expect: fieldError(route.fields[0]!.name.toUpperCase()) },
  ]),
  // An operation that takes no body has no fields: anything sent is unknown.
  ...routeCases(BODILESS_ROUTES, () => [
    { label: 'an unknown field', body: { dry_run: true }, expect: fieldError('dry_run'), probe: 'bodySent' },
    { label: 'a __proto__ key', raw: '{"__proto__": {"polluted": "yes"}}', expect: fieldError('__proto__'), probe: 'bodySent' },
  ]),
];

const contentTypeCases: Case[] = routeCases(BODY_ROUTES, (route) => {
  const json = JSON.stringify(route.body);
  const unsupported: Expect = { status: [415], codes: ['unsupported_media_type', 'unsupported_encoding'] };
  return [
    { label: 'JSON sent as text/plain', raw: json, contentType: 'text/plain', expect: unsupported },
    { label: 'JSON sent without a content-type', raw: json, contentType: null, expect: unsupported },
    { label: 'JSON sent as application/merge-patch+json', raw: json, contentType: 'application/merge-patch+json', expect: unsupported },
    { label: 'JSON sent as application/json; charset=latin1', raw: json, contentType: 'application/json; charset=latin1', expect: unsupported },
    { label: 'a form (application/x-www-form-urlencoded)', raw: 'name=x&url=https%3A%2F%2Fexample.com', contentType: 'application/x-www-form-urlencoded', expect: unsupported, probe: 'nonJsonBody' },
    { label: 'multipart/form-data', raw: '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--b--\r\n', contentType: 'multipart/form-data; boundary=b', expect: unsupported, probe: 'nonJsonBody' },
    { label: 'XML', raw: '<app><name>x</name></app>', contentType: 'application/xml', expect: unsupported, probe: 'nonJsonBody' },
  ];
});

// ---------------------------------------------------------------------------------------------
// Known bugs: the cases below assert the right behaviour and are expected to fail until fixed.

// Every case here used to be a known bug; all are fixed, so none is classified as one any more.
function knownBug(_c: Case): string | undefined {
  return undefined;
}

for (const c of [...malformedCases, ...wrongTypeCases, ...sizeCases, ...nestingCases, ...unicodeCases, ...sqlBodyCases, ...pathCases, ...unknownFieldCases, ...contentTypeCases]) {
  c.bug = knownBug(c);
}

/** The route's path for its target, with one parameter replaced by raw text when asked. */
async function pathFor(route: Route, badParam?: Case['badParam']): Promise<string> {
  const values: Ids = { ...ids, ...(route.target ? await route.target() : {}) };
  return route.path.replace(/\{(\w+)\}/g, (_, name: string) => (name === badParam?.name ? badParam.encoded : encodeURIComponent(values[name as keyof Ids])));
}

/** The body as bytes, with the route's must-not-exist-yet name made unique. */
function bodyFor(route: Route, raw: string | Buffer | undefined): string | Buffer | undefined {
  if (!route.unique || raw === undefined) return raw;
  const fresh = `${route.unique}${++uniqueCount}`;
  return typeof raw === 'string' ? raw.replaceAll(route.unique, fresh) : Buffer.from(raw.toString('latin1').replaceAll(route.unique, fresh), 'latin1');
}

async function runCase(c: Case): Promise<void> {
  const path = await pathFor(c.route, c.badParam);
  const raw = bodyFor(c.route, c.raw ?? (c.body === undefined ? undefined : JSON.stringify(c.body)));
  // Creating requests carry an Idempotency-Key: a refused one must not leave it stored.
  const key = `bad-input-${++uniqueCount}`;
  await expectNothingWritten(async () => {
    const answer = await send(c.route.method, path, { raw, contentType: c.contentType, headers: { 'idempotency-key': key, ...c.headers } });
    expectRefused(answer, c.expect);
    expect(Object.prototype, 'the prototype of every object is untouched').not.toHaveProperty('polluted');
  }, key);
  if (c.responsive) await expectResponsive();
}

function matrix(title: string, cases: Case[]): void {
  const rows = (list: Case[]) => list.map((c) => [c.bug ? `${c.name} [KNOWN BUG: ${c.bug}]` : c.name, c] as const);
  describe(title, () => {
    const good = cases.filter((c) => !c.bug);
    const bad = cases.filter((c) => c.bug);
    if (good.length) it.each(rows(good))('%s', (_name, c) => runCase(c));
    // KNOWN BUG: every row here is classified by knownBug() above, which says what is wrong; the
    // test asserts the right behaviour and is expected to fail until the bug is fixed.
    if (bad.length) it.fails.each(rows(bad))('%s', (_name, c) => runCase(c));
  });
}

matrix('malformed JSON → 400 malformed_json (or 422 for valid JSON of the wrong shape)', malformedCases);
matrix('wrong types for each field → 422 naming the field', wrongTypeCases);
matrix('huge bodies → 413; just past a field limit → 422', sizeCases);
matrix('deep nesting → 4xx, and the server stays responsive', nestingCases);
matrix('unicode that cannot be stored faithfully, and control characters in single-line names → 4xx', unicodeCases);
matrix('SQL injection in constrained body fields → 422', sqlBodyCases);
matrix('SQL injection and junk in path ids → 404 (400 for undecodable ids)', pathCases);
matrix('unknown fields → 422 naming them', unknownFieldCases);
matrix('wrong content-type → 415', contentTypeCases);

describe('control: each route accepts its valid request, and the snapshot sees that write', () => {
  it.each(ROUTES.map((route) => [route.id, route] as const))('%s', async (_id, route) => {
    const path = await pathFor(route);
    const before = await snapshot();
    const answer = await send(route.method, path, { raw: bodyFor(route, route.body === undefined ? undefined : JSON.stringify(route.body)) });
    expect(answer.status, answer.text.slice(0, 300)).toBeGreaterThanOrEqual(200);
    expect(answer.status, answer.text.slice(0, 300)).toBeLessThan(300);
    expect(await snapshot()).not.toEqual(before);
    // Messages sent here, and the re-sent delivery, may reach the receiver: they are expected.
    if (isMessageRoute(route)) leakedMessageIds.add(answer.body.id);
    if (answer.body.delivery_id) {
      const delivery = await stack.db.selectFrom('deliveries').select('message_id').where('id', '=', answer.body.delivery_id).executeTakeFirstOrThrow();
      leakedMessageIds.add(delivery.message_id);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Query filters: SQL injection is plain data.

describe('SQL injection and junk in query filters (GET webhook_attempts)', () => {
  let messageId: string;
  beforeAll(async () => {
    const attempt = await stack.db.selectFrom('attempts').select('message_id').where('id', '=', ids.att).executeTakeFirstOrThrow();
    messageId = attempt.message_id;
  });

  it('finds the fixture attempt by its message id (control)', async () => {
    const answer = await send('GET', `/apps/${ids.app}/webhook_attempts?message_id=${messageId}`);
    expect(answer.status).toBe(200);
    expect(answer.body.map((a: { id: string }) => a.id)).toEqual([ids.att]);
  });

  const empty = 'an empty list' as const;
  const FILTERS: [label: string, query: string, want: typeof empty | Expect, bug?: string][] = [
    ["subscription_id=' OR 1=1 --", `subscription_id=${encodeURIComponent("' OR 1=1 --")}`, empty],
    ['endpoint_id="; DROP TABLE attempts; --', `endpoint_id=${encodeURIComponent('"; DROP TABLE attempts; --')}`, empty],
    ["message_id=x' UNION SELECT …", `message_id=${encodeURIComponent("x' UNION SELECT id, key_hash FROM api_keys --")}`, empty],
    ["event_type=' OR 'a'='a", `event_type=${encodeURIComponent("' OR 'a'='a")}`, empty],
    ['event_type=%ED%A0%80 (not UTF-8 once decoded)', 'event_type=%ED%A0%80', empty],
    // NUL can never match a stored value, and Postgres would refuse it: refused before the query.
    ['event_type=%00', 'event_type=%00', { status: [422], codes: ['invalid_query'], field: 'event_type' }],
    ["status=' OR 1=1 --", `status=${encodeURIComponent("' OR 1=1 --")}`, { status: [422], codes: ['invalid_query'], field: 'status' }],
    ['status[]=success (an array)', 'status[]=success', { status: [422], codes: ['invalid_query'], field: 'status' }],
    ['status[$ne]=x (an object)', 'status[$ne]=x', { status: [422], codes: ['invalid_query'], field: 'status' }],
    ["since=2020-01-01' OR 1=1 --", `since=${encodeURIComponent("2020-01-01' OR 1=1 --")}`, { status: [422], codes: ['invalid_query'], field: 'since' }],
    ['until=now()', 'until=now()', { status: [422], codes: ['invalid_query'], field: 'until' }],
    ['page=1 OR 1=1', `page=${encodeURIComponent('1 OR 1=1')}`, { status: [422], codes: ['invalid_query'], field: 'page' }],
    ['per_page=1; DROP TABLE apps', `per_page=${encodeURIComponent('1; DROP TABLE apps')}`, { status: [422], codes: ['invalid_query'], field: 'per_page' }],
  ];

  const check = async (query: string, want: typeof empty | Expect) => {
    await expectNothingWritten(async () => {
      const answer = await send('GET', `/apps/${ids.app}/webhook_attempts?${query}`);
      if (want === empty) {
        expect(answer.status, answer.text.slice(0, 300)).toBe(200);
        expect(answer.body).toEqual([]);
      } else {
        expectRefused(answer, want);
      }
    });
  };
  const rows = (bug: boolean) => FILTERS.filter((row) => Boolean(row[3]) === bug).map(([label, query, want, reason]) => [reason ? `${label} [KNOWN BUG: ${reason}]` : label, query, want] as const);
  it.each(rows(false))('%s → treated as data', (_label, query, want) => check(query, want));
  // KNOWN BUG: see the rows marked with a reason above.
  it.fails.each(rows(true))('%s → treated as data', (_label, query, want) => check(query, want));
});

// ---------------------------------------------------------------------------------------------
// Header injection. fetch refuses CR and LF in header values, so these go over a raw socket.

interface RawAnswer {
  status: number;
  head: string;
  headers: Map<string, string>;
  body: string;
}

/** Sends `head` (request line and header lines, without the blank line) and `body` as bytes, over HTTP/1.1. */
function rawRequest(head: string, body = ''): Promise<RawAnswer> {
  const { hostname, port } = new URL(stack.serverUrl);
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('the raw request timed out')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const headText = split < 0 ? text : text.slice(0, split);
      const [statusLine = '', ...lines] = headText.split('\r\n');
      const headers = new Map<string, string>();
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), head: headText, headers, body: split < 0 ? '' : Buffer.from(text.slice(split + 4), 'latin1').toString('utf8') });
    });
    socket.connect(Number(port), hostname, () => {
      const bytes = Buffer.concat([Buffer.from(`${head}\r\nConnection: close\r\n\r\n`, 'latin1'), Buffer.from(body, 'utf8')]);
      socket.write(bytes);
    });
  });
}

/** A POST /api/v1/apps over the raw socket, with extra header text spliced in as is. */
function rawCreateApp(extraHeaderText: string, name = 'Raw app'): Promise<RawAnswer> {
  const body = JSON.stringify({ name });
  const { host } = new URL(stack.serverUrl);
  return rawRequest(
    ['POST /api/v1/apps HTTP/1.1', `Host: ${host}`, `Authorization: Bearer ${stack.apiKey}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, extraHeaderText].join('\r\n'),
    body,
  );
}

/** The idempotency store writes the answer just after sending it: wait for it, so later snapshots are not disturbed. */
async function answerStored(key: string): Promise<void> {
  await waitFor(`the stored answer for ${key}`, async () => {
    const row = await stack.db.selectFrom('idempotency_keys').select('status_code').where('account_id', '=', stack.accountId).where('key', '=', key).executeTakeFirst();
    return row?.status_code ?? undefined;
  }, 5_000, 10);
}

function expectNoInjectedHeader(answer: RawAnswer): void {
  expect(answer.headers.has('x-injected'), answer.head).toBe(false);
  expect(answer.head).not.toMatch(/\r\nX-Injected/i);
}

describe('header injection', () => {
  it('sends a valid request over the raw socket (control)', async () => {
    const answer = await rawCreateApp('Idempotency-Key: raw-control', 'Raw control');
    expect(answer.status, answer.head).toBe(201);
    expect(JSON.parse(answer.body)).toMatchObject({ name: 'Raw control' });
    await answerStored('raw-control');
  });

  it('CR LF in Idempotency-Key ends that header on the wire: the key is only "a", and X-Injected never comes back', async () => {
    // The server cannot tell `Idempotency-Key: a\r\nX-Injected: 1` from two header lines, so it is
    // a request with the key "a". What matters: nothing injected reaches the response, and no key
    // with a CR or LF is stored.
    const first = await rawCreateApp('Idempotency-Key: a\r\nX-Injected: 1', 'Split key');
    expect(first.status, first.head).toBe(201);
    expectNoInjectedHeader(first);
    await answerStored('a');
    const keys = await stack.db.selectFrom('idempotency_keys').select('key').where('account_id', '=', stack.accountId).execute();
    expect(keys.map((k) => k.key)).toContain('a');
    expect(keys.filter((k) => /[\r\n]/.test(k.key))).toEqual([]);
    const again = await rawCreateApp('Idempotency-Key: a\r\nX-Injected: 1', 'Split key');
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(JSON.parse(again.body).id).toBe(JSON.parse(first.body).id);
    expectNoInjectedHeader(again);
  });

  const MALFORMED_HEADERS: [label: string, headerText: string][] = [
    ['a bare CR inside Idempotency-Key', 'Idempotency-Key: a\rX-Injected: 1'],
    ['a bare LF inside Idempotency-Key', 'Idempotency-Key: a\nX-Injected: 1'],
    ['an obs-fold continuation line after Idempotency-Key', 'Idempotency-Key: a\r\n X-Injected: 1'],
    ['NUL inside Idempotency-Key', 'Idempotency-Key: a\u0000X-Injected: 1'],
    ['a control character (0x01) inside Idempotency-Key', 'Idempotency-Key: a\u0001b'],
    ['a header name with a space', 'Idempotency Key: a'],
  ];

  const refusedByParser = async (headerText: string, requireJson: boolean) => {
    await expectNothingWritten(async () => {
      const answer = await rawCreateApp(headerText, 'Should not exist');
      expect(answer.status, answer.head).toBe(400);
      expectNoInjectedHeader(answer);
      if (requireJson) {
        expect(answer.headers.get('content-type'), answer.head).toMatch(/^application\/json/);
        expect(JSON.parse(answer.body)).toEqual({ error: expect.any(String), code: expect.any(String) });
      }
    });
    await expectResponsive();
  };

  it.each(MALFORMED_HEADERS)('refuses %s with 400 and writes nothing', (_label, headerText) => refusedByParser(headerText, false));
  // Node's HTTP parser refuses these before Express sees them; the server's 'clientError' handler answers JSON.
  it.each(MALFORMED_HEADERS)('answers %s with the JSON error shape', (_label, headerText) => refusedByParser(headerText, true));

  it('refuses CR LF in the request target with a 4xx and writes nothing', async () => {
    // Node reads `POST /api/v1/apps` as a request line without a version and the rest as a header
    // line; the request has no JSON body, so it is refused either way.
    await expectNothingWritten(async () => {
      const { host } = new URL(stack.serverUrl);
      const answer = await rawRequest(['POST /api/v1/apps\r\nX-Injected: 1 HTTP/1.1', `Host: ${host}`, `Authorization: Bearer ${stack.apiKey}`, 'Content-Length: 0'].join('\r\n'));
      expect(answer.status, answer.head).toBeGreaterThanOrEqual(400);
      expect(answer.status, answer.head).toBeLessThan(500);
      expectNoInjectedHeader(answer);
    });
  });

  it('refuses an Idempotency-Key over 255 characters with 422 and writes nothing', async () => {
    await expectNothingWritten(async () => {
      const answer = await send('POST', '/apps', { body: { name: 'Long key' }, headers: { 'idempotency-key': 'k'.repeat(256) } });
      expectRefused(answer, { status: [422], codes: ['validation_failed'], field: 'Idempotency-Key' });
    });
  });

  // Query strings do reach a response header: the Link header of every list.
  it.each([
    ['CR LF in a query parameter', 'x=%0D%0AX-Injected:%201'],
    ['CR LF in per_page', 'per_page=1%0D%0AX-Injected:%201'],
    ['a raw quote and angle bracket', 'x=%22%3E%3B%20rel%3D%22evil'],
  ])('keeps %s out of the Link header of a list', async (_label, query) => {
    const { host } = new URL(stack.serverUrl);
    const answer = await rawRequest([`GET /api/v1/apps?${query} HTTP/1.1`, `Host: ${host}`, `Authorization: Bearer ${stack.apiKey}`].join('\r\n'));
    expect(answer.status, answer.head).toBeLessThan(500);
    expectNoInjectedHeader(answer);
    const link = answer.headers.get('link');
    if (answer.status === 200) {
      expect(link).toBeDefined();
      for (const [, target] of link!.matchAll(/<([^>]*)>/g)) expect(target).not.toMatch(/[\s"<>]/);
    } else {
      expect(answer.status).toBe(422);
    }
  });

  // The Link header is built from PUBLIC_URL, never from the Host header.
  it('answers a list requested with a Host header that is not a host name without a 5xx', async () => {
    const answer = await rawRequest(['GET /api/v1/apps HTTP/1.1', 'Host: a b', `Authorization: Bearer ${stack.apiKey}`].join('\r\n'));
    expect(answer.status, answer.head).toBeLessThan(500);
  });
});

// ---------------------------------------------------------------------------------------------
// The other side: unusual but valid text is accepted where any text is allowed, and comes back
// exactly as sent — emoji, combining characters, and SQL that is only data.

const EMOJI = '🚀 Launch 👩🏽‍💻 🇫🇷 ❤️‍🔥';
const COMBINING = 'Cafe\u0301 Z\u0351\u0364a\u0313lgo n\u0303 \u0915\u094D\u0937';
const VALID_TEXTS: [label: string, text: string][] = [
  ['emoji (ZWJ sequences, skin tone, flag)', EMOJI],
  ['combining characters (decomposed, not normalised)', COMBINING],
  ...SQL.map((payload): [string, string] => [`SQL ${payload}`, payload]),
];

interface RoundTrip {
  /** Sends the text; answers the id of what it wrote, and the text as the answer shows it. */
  write(text: string): Promise<{ id: string; echoed: unknown }>;
  /** Reads it back through the API. */
  read(id: string): Promise<unknown>;
  /** Reads it back from the database. */
  stored(id: string): Promise<unknown>;
}

describe('valid unusual text round-trips exactly', () => {
  let quiet: { app: string; sub: string; evt: string; ep: string };
  beforeAll(async () => {
    // An app without endpoints to deliver to: messages sent here are stored and go nowhere.
    const app = await stack.api.post('/apps', { name: 'Round trips' });
    await stack.api.post(`/apps/${app.body.id}/webhook_events`, { event_type: 'user.created' });
    const sub = await stack.api.post(`/apps/${app.body.id}/subscriptions`, { name: 'Round-trip subscriber' });
    const evt = await stack.api.post(`/apps/${app.body.id}/webhook_events`, { event_type: 'text.changed' });
    quiet = { app: app.body.id, sub: sub.body.id, evt: evt.body.id, ep: '' };
    const ep = await stack.api.post(`/subscriptions/${sub.body.id}/endpoints`, { url: 'https://example.com/round-trip', version: '9.9', status: 'inactive' });
    expect(ep.status, JSON.stringify(ep.body)).toBe(201);
    quiet.ep = ep.body.id;
  });

  const ok = async (answer: Promise<Answer>, status: number) => {
    const a = await answer;
    expect(a.status, a.text.slice(0, 300)).toBe(status);
    return a.body;
  };
  const db = () => stack.db;
  let n = 0;

  const TARGETS: [label: string, () => RoundTrip][] = [
    ['POST /apps name', () => ({
      write: async (text) => { const b = await ok(send('POST', '/apps', { body: { name: text } }), 201); return { id: b.id, echoed: b.name }; },
      read: async (id) => (await ok(send('GET', `/apps/${id}`), 200)).name,
      stored: async (id) => (await db().selectFrom('apps').select('name').where('id', '=', id).executeTakeFirstOrThrow()).name,
    })],
    ['PATCH /apps/:app_id name', () => ({
      write: async (text) => { const b = await ok(send('PATCH', `/apps/${quiet.app}`, { body: { name: text } }), 200); return { id: b.id, echoed: b.name }; },
      read: async (id) => (await ok(send('GET', `/apps/${id}`), 200)).name,
      stored: async (id) => (await db().selectFrom('apps').select('name').where('id', '=', id).executeTakeFirstOrThrow()).name,
    })],
    ['POST /apps/:app_id/subscriptions name', () => ({
      write: async (text) => { const b = await ok(send('POST', `/apps/${quiet.app}/subscriptions`, { body: { name: text } }), 201); return { id: b.id, echoed: b.subscriber_name }; },
      read: async (id) => (await ok(send('GET', `/subscriptions/${id}`), 200)).subscriber_name,
      stored: async (id) => (await db().selectFrom('subscribers').select('name').where('id', '=', id).executeTakeFirstOrThrow()).name,
    })],
    ['PATCH /subscriptions/:id name', () => ({
      write: async (text) => { const b = await ok(send('PATCH', `/subscriptions/${quiet.sub}`, { body: { name: text } }), 200); return { id: b.id, echoed: b.subscriber_name }; },
      read: async (id) => (await ok(send('GET', `/subscriptions/${id}`), 200)).subscriber_name,
      stored: async (id) => (await db().selectFrom('subscribers').select('name').where('id', '=', id).executeTakeFirstOrThrow()).name,
    })],
    ['POST /api_keys name', () => ({
      write: async (text) => { const b = await ok(send('POST', '/api_keys', { body: { name: text } }), 201); return { id: b.id, echoed: b.name }; },
      read: async (id) => (await ok(send('GET', '/api_keys?per_page=100'), 200)).find((k: { id: string }) => k.id === id)?.name,
      stored: async (id) => (await db().selectFrom('api_keys').select('name').where('id', '=', id).executeTakeFirstOrThrow()).name,
    })],
    ['POST /apps/:app_id/webhook_events description', () => ({
      write: async (text) => { const b = await ok(send('POST', `/apps/${quiet.app}/webhook_events`, { body: { event_type: `text.n${++n}`, description: text } }), 201); return { id: b.id, echoed: b.description }; },
      read: async (id) => (await ok(send('GET', `/apps/${quiet.app}/webhook_events/${id}`), 200)).description,
      stored: async (id) => (await db().selectFrom('event_types').select('description').where('id', '=', id).executeTakeFirstOrThrow()).description,
    })],
    ['PATCH /apps/:app_id/webhook_events/:id description', () => ({
      write: async (text) => { const b = await ok(send('PATCH', `/apps/${quiet.app}/webhook_events/${quiet.evt}`, { body: { description: text } }), 200); return { id: b.id, echoed: b.description }; },
      read: async (id) => (await ok(send('GET', `/apps/${quiet.app}/webhook_events/${id}`), 200)).description,
      stored: async (id) => (await db().selectFrom('event_types').select('description').where('id', '=', id).executeTakeFirstOrThrow()).description,
    })],
    ['POST /subscriptions/:id/endpoints description', () => ({
      write: async (text) => {
        const b = await ok(send('POST', `/subscriptions/${quiet.sub}/endpoints`, { body: { url: 'https://example.com/text', version: '9.9', status: 'inactive', description: text } }), 201);
        return { id: b.id, echoed: b.description };
      },
      read: async (id) => (await ok(send('GET', `/apps/${quiet.app}/endpoints/${id}`), 200)).description,
      stored: async (id) => (await db().selectFrom('endpoints').select('description').where('id', '=', id).executeTakeFirstOrThrow()).description,
    })],
    ['PATCH /subscriptions/:id/endpoints/:endpoint_id description', () => ({
      write: async (text) => { const b = await ok(send('PATCH', `/subscriptions/${quiet.sub}/endpoints/${quiet.ep}`, { body: { description: text } }), 200); return { id: b.id, echoed: b.description }; },
      read: async (id) => (await ok(send('GET', `/apps/${quiet.app}/endpoints/${id}`), 200)).description,
      stored: async (id) => (await db().selectFrom('endpoints').select('description').where('id', '=', id).executeTakeFirstOrThrow()).description,
    })],
    ['POST /subscriptions/:id/endpoints url (in the query string)', () => ({
      write: async (text) => {
        const url = `https://example.com/hook?q=${text}`;
        const b = await ok(send('POST', `/subscriptions/${quiet.sub}/endpoints`, { body: { url, version: '9.9', status: 'inactive' } }), 201);
        return { id: b.id, echoed: b.url === url ? text : b.url };
      },
      read: async (id) => String((await ok(send('GET', `/apps/${quiet.app}/endpoints/${id}`), 200)).url).replace('https://example.com/hook?q=', ''),
      stored: async (id) => (await db().selectFrom('endpoints').select('url').where('id', '=', id).executeTakeFirstOrThrow()).url.replace('https://example.com/hook?q=', ''),
    })],
    ['POST /apps/:app_id/messages data and event_id', () => ({
      write: async (text) => {
        const b = await ok(send('POST', `/apps/${quiet.app}/messages`, { body: { event_type: 'user.created', version: '1.0', data: { text, [text]: [text] }, event_id: `${text} #${++n}` } }), 202);
        expect(b.data).toEqual({ text, [text]: [text] });
        expect(b.event_id).toBe(`${text} #${n}`);
        return { id: b.id, echoed: b.data.text };
      },
      read: async (id) => (await ok(send('GET', `/apps/${quiet.app}/messages/${id}`), 200)).data.text,
      stored: async (id) => ((await db().selectFrom('messages').select('data').where('id', '=', id).executeTakeFirstOrThrow()).data as { text: string }).text,
    })],
  ];

  const rows = TARGETS.flatMap(([target, make]) => VALID_TEXTS.map(([label, text]) => [`${target} with ${label}`, make, text] as const));
  it.each(rows)('accepts %s and returns it unchanged', async (_name, make, text) => {
    const trip = make();
    const { id, echoed } = await trip.write(text);
    // Byte for byte: no normalisation, no replacement characters, no escaping.
    expect(echoed).toBe(text);
    expect(await trip.read(id)).toBe(text);
    expect(await trip.stored(id)).toBe(text);
    expect(Buffer.from(String(await trip.stored(id)), 'utf8').equals(Buffer.from(text, 'utf8'))).toBe(true);
  });

  it('an UPDATE whose name is SQL changes that one app only, and every table is still there', async () => {
    const others = async () => (await db().selectFrom('apps').select(['id', 'name', 'updated_at']).where('id', '!=', quiet.app).orderBy('id').execute());
    const before = await others();
    for (const payload of SQL) {
      const patched = await send('PATCH', `/apps/${quiet.app}`, { body: { name: payload } });
      expect(patched.status).toBe(200);
      expect(patched.body.name).toBe(payload);
    }
    expect(await others()).toEqual(before);
    expect((await snapshot()).tables).toEqual(initialTables);
    expect(initialTables).toEqual(expect.arrayContaining(['apps', 'api_keys', 'attempts', 'deliveries', 'endpoints', 'event_types', 'idempotency_keys', 'messages', 'subscribers']));
  });
});

// ---------------------------------------------------------------------------------------------

describe('after the matrix', () => {
  it('the subscriber endpoint heard nothing but what known-bug cases wrongly accepted', async () => {
    await sleep(300);
    const unexpected = receiver.requests.slice(receiverBaseline).filter((r) => !leakedMessageIds.has(String(r.headers['webhook-id'])));
    expect(unexpected.map((r) => `${r.method} ${r.path} ${r.body.slice(0, 100)}`)).toEqual([]);
  });

  it('every table is still there', async () => {
    expect((await snapshot()).tables).toEqual(initialTables);
    await expectResponsive();
  });
});
