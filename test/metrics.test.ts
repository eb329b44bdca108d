import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, waitFor } from './support/ports.ts';
import { openhooksCommandOk, OpenhooksProcess, scratchDir, stopAll } from './support/processes.ts';
import { startReceiver } from './support/receiver.ts';
import { apiClient, createTestDatabase, startStack, testEnv, type Api, type Stack } from './support/stack.ts';

// The real server and worker processes (each with a registry of its own), a real Temporal dev
// server and Postgres, loopback receivers: every number read from /metrics is what they did.

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format: `# HELP`, `# TYPE`, and `name{label="value",…} number` lines. */
function parseMetrics(text: string): { samples: Sample[]; help: Map<string, string>; types: Map<string, string> } {
  const samples: Sample[] = [];
  const help = new Map<string, string>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# HELP ')) {
      const [name, ...rest] = line.slice(7).split(' ');
      help.set(name!, rest.join(' '));
    } else if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      types.set(name!, type!);
    } else if (line.trim() !== '' && !line.startsWith('#')) {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
      samples.push({ name: match[1]!, labels, value: Number(match[3]) });
    }
  }
  return { samples, help, types };
}

type Scrape = ReturnType<typeof parseMetrics> & { text: string };

/** The sum of the samples of `name` whose labels include `labels`. */
function sum(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  return scrape.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((total, s) => total + s.value, 0);
}

async function scrape(url: string, token?: string): Promise<Scrape> {
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) });
  expect(response.status, url).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  return { ...parseMetrics(text), text };
}

describe('metrics of the server and worker processes', () => {
  const token = randomBytes(24).toString('hex');
  const scratch = scratchDir('metrics');
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: OpenhooksProcess | undefined;
  let worker: OpenhooksProcess | undefined;
  let temporalMetricsPort: number;
  let api: Api;
  let workerUrl: string;
  const receivers: Awaited<ReturnType<typeof startReceiver>>[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    temporalMetricsPort = await freePort();
    // Two attempts: the failing endpoint runs out after one retry.
    const env = testEnv({
      DATABASE_URL: database.url,
      METRICS_TOKEN: token,
      TEMPORAL_METRICS_PORT: String(temporalMetricsPort),
      RETRY_MAXIMUM_ATTEMPTS: '2',
      // The bundle the global setup built: the worker starts without bundling.
      WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    });
    const out = await openhooksCommandOk(['account', 'create', '--name', 'Metrics', '--email', 'owner@metrics.test', '--password', 'correct horse battery'], env);
    const { api_key: apiKey } = JSON.parse(out.trim().split('\n').at(-1)!) as { api_key: string };
    // The server logs at debug: one line per request, with its request id.
    [server, worker] = await Promise.all([new OpenhooksProcess('server', env, scratch, { logLevel: 'debug' }).start(120_000), new OpenhooksProcess('worker', env, scratch).start(120_000)]);
    api = apiClient(server.url, apiKey);
    // METRICS_PORT=0: the worker logs the port it got.
    const listening = await waitFor('the worker to log its metrics port', () => worker!.lines().find((line) => line.msg === 'metrics listening'));
    workerUrl = `http://127.0.0.1:${listening.port as number}`;
  });

  afterAll(async () => {
    await stopAll([server, worker]);
    await Promise.allSettled(receivers.map((r) => r.close()));
    await database?.drop();
  });

  it('answers /metrics only with the bearer token (401 otherwise), on both processes', async () => {
    for (const url of [`${server!.url}/metrics`, `${workerUrl}/metrics`]) {
      expect((await fetch(url)).status, url).toBe(401);
      expect((await fetch(url, { headers: { authorization: `Bearer ${token}x` } })).status, url).toBe(401);
      expect((await fetch(url, { headers: { authorization: token } })).status, url).toBe(401);
      const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status, url).toBe(200);
      expect(await ok.text()).toContain('# HELP process_cpu_user_seconds_total');
    }
  });

  it("serves the worker's /health without a token", async () => {
    const health = await fetch(`${workerUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', worker: 'running' });
    expect((await fetch(`${workerUrl}/nothing`)).status).toBe(404);
  });

  it('counts accepted messages, deliveries by final status, attempts by class, their latency, disabled endpoints and starts', async () => {
    const good = await startReceiver();
    const failing = await startReceiver(() => ({ status: 500, body: 'boom' }));
    const gone = await startReceiver(() => ({ status: 410, body: 'gone' }));
    receivers.push(good, failing, gone);

    const appId = (await api.post('/apps', { name: 'Metered' })).body.id as string;
    expect((await api.post(`/apps/${appId}/webhook_events`, { event_type: 'user.created' })).status).toBe(201);
    const subscriberId = (await api.post(`/apps/${appId}/subscriptions`, { name: 'Acme', email: 'ops@acme.test' })).body.id as string;
    for (const receiver of [good, failing, gone]) {
      expect((await api.post(`/subscriptions/${subscriberId}/endpoints`, { url: receiver.url, version: '1.0' })).status).toBe(201);
    }

    const serverBefore = await scrape(`${server!.url}/metrics`, token);
    const workerBefore = await scrape(`${workerUrl}/metrics`, token);

    const message = { event_type: 'user.created', version: '1.0', data: { user: 1 }, event_id: 'evt-1' };
    const sent = await api.post(`/apps/${appId}/messages`, message);
    expect(sent.status).toBe(202);
    // The same event_id again: a repeat, nothing new is stored or sent.
    const repeat = await api.post(`/apps/${appId}/messages`, message);
    expect(repeat.status).toBe(202);
    expect(repeat.body.id).toBe(sent.body.id);

    await waitFor(
      'the three deliveries to end',
      async () => {
        const { body } = await api.get(`/apps/${appId}/messages/${sent.body.id}`);
        const deliveries = body.deliveries as { status: string }[];
        return deliveries.length === 3 && deliveries.every((d) => d.status !== 'pending') ? true : undefined;
      },
      40_000,
      250,
    );
    expect([good.requests.length, failing.requests.length, gone.requests.length]).toEqual([1, 2, 1]);

    const serverAfter = await scrape(`${server!.url}/metrics`, token);
    const workerAfter = await scrape(`${workerUrl}/metrics`, token);
    const moved = (before: Scrape, after: Scrape, name: string, labels?: Record<string, string>) => sum(after, name, labels) - sum(before, name, labels);
    const server_ = (name: string, labels?: Record<string, string>) => moved(serverBefore, serverAfter, name, labels);
    const worker_ = (name: string, labels?: Record<string, string>) => moved(workerBefore, workerAfter, name, labels);

    // The server accepted; the worker delivered.
    expect(server_('openhooks_messages_accepted_total', { result: 'created' })).toBe(1);
    expect(server_('openhooks_messages_accepted_total', { result: 'repeat' })).toBe(1);
    expect(worker_('openhooks_messages_accepted_total')).toBe(0);

    expect(worker_('openhooks_deliveries_finished_total', { status: 'succeeded', reason: 'none' })).toBe(1);
    expect(worker_('openhooks_deliveries_finished_total', { status: 'failed', reason: 'attempts_exhausted' })).toBe(1);
    expect(worker_('openhooks_deliveries_finished_total', { status: 'failed', reason: 'endpoint_gone' })).toBe(1);
    expect(worker_('openhooks_deliveries_finished_total')).toBe(3);

    expect(worker_('openhooks_delivery_attempts_total', { result: '2xx' })).toBe(1);
    expect(worker_('openhooks_delivery_attempts_total', { result: '5xx' })).toBe(2);
    expect(worker_('openhooks_delivery_attempts_total', { result: '4xx' })).toBe(1);
    expect(worker_('openhooks_delivery_attempts_total')).toBe(4);
    expect(worker_('openhooks_delivery_attempt_duration_seconds_count')).toBe(4);
    expect(worker_('openhooks_delivery_attempt_duration_seconds_bucket', { le: '+Inf' })).toBe(4);

    expect(worker_('openhooks_endpoints_disabled_total', { reason: 'attempts_exhausted' })).toBe(1);
    expect(worker_('openhooks_endpoints_disabled_total', { reason: 'endpoint_gone' })).toBe(1);

    // Each delivery's workflow was made exactly once, by one of the workers' two paths.
    expect(worker_('openhooks_delivery_starts_total', { outcome: 'eager' }) + worker_('openhooks_delivery_starts_total', { outcome: 'started' })).toBe(3);

    // Requests are timed by route pattern: two sends, and no id in any label.
    expect(server_('openhooks_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/apps/:app_id/messages', status: '2xx' })).toBe(2);
    expect(server_('openhooks_http_request_duration_seconds_count', { method: 'GET', route: '/api/v1/apps/:app_id/messages/:id', status: '2xx' })).toBeGreaterThan(0);
    expect(serverAfter.text).not.toContain(appId);
    expect(serverAfter.text).not.toContain(sent.body.id as string);

    // The worker holds at least its LISTEN connection; the pool's size is DATABASE_POOL_SIZE.
    expect(sum(workerAfter, 'openhooks_postgres_pool_connections', { state: 'busy' })).toBeGreaterThanOrEqual(1);
    expect(sum(workerAfter, 'openhooks_postgres_pool_max_connections')).toBe(10);
    expect(sum(workerAfter, 'openhooks_postgres_pool_waiting_clients')).toBe(0);
    // Every start was confirmed: nothing waits.
    expect(sum(workerAfter, 'openhooks_delivery_start_oldest_waiting_seconds')).toBe(0);

    // Every openhooks metric says what it means; the default process metrics are there too.
    const ours = [...serverAfter.types.keys(), ...workerAfter.types.keys()].filter((name) => name.startsWith('openhooks_'));
    expect(new Set(ours)).toEqual(
      new Set([
        'openhooks_messages_accepted_total', 'openhooks_deliveries_finished_total', 'openhooks_delivery_attempts_total', 'openhooks_delivery_attempt_duration_seconds',
        'openhooks_endpoints_disabled_total', 'openhooks_delivery_starts_total', 'openhooks_http_request_duration_seconds', 'openhooks_postgres_pool_connections',
        'openhooks_postgres_pool_waiting_clients', 'openhooks_postgres_pool_max_connections', 'openhooks_replays_active', 'openhooks_delivery_start_oldest_waiting_seconds',
      ]),
    );
    for (const name of ours) expect(serverAfter.help.get(name) ?? workerAfter.help.get(name), name).toMatch(/\w+ \w+/);
    expect(workerAfter.types.get('process_resident_memory_bytes')).toBe('gauge');
    expect(workerAfter.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
  });

  it('counts the resends the server starts under source="resend"', async () => {
    const good = await startReceiver();
    receivers.push(good);
    const appId = (await api.post('/apps', { name: 'Resent' })).body.id as string;
    expect((await api.post(`/apps/${appId}/webhook_events`, { event_type: 'user.created' })).status).toBe(201);
    const subscriberId = (await api.post(`/apps/${appId}/subscriptions`, { name: 'Acme', email: 'ops@acme.test' })).body.id as string;
    expect((await api.post(`/subscriptions/${subscriberId}/endpoints`, { url: good.url, version: '1.0' })).status).toBe(201);
    const sent = await api.post(`/apps/${appId}/messages`, { event_type: 'user.created', version: '1.0', data: { user: 2 } });
    expect(sent.status).toBe(202);
    const attemptsOf = async () => (await api.get(`/apps/${appId}/webhook_attempts?message_id=${sent.body.id}`)).body as { id: string; trigger: string }[];
    const [first] = await waitFor(
      'the first attempt',
      async () => {
        const attempts = await attemptsOf();
        return attempts.length === 1 ? attempts : undefined;
      },
      40_000,
      250,
    );

    const serverBefore = await scrape(`${server!.url}/metrics`, token);
    const workerBefore = await scrape(`${workerUrl}/metrics`, token);
    expect((await api.post(`/apps/${appId}/webhook_attempts/${first!.id}/replay`)).status).toBe(202);
    await waitFor('the resend to be sent and recorded', async () => ((await attemptsOf()).some((a) => a.trigger === 'manual') ? true : undefined), 40_000, 250);
    const serverAfter = await scrape(`${server!.url}/metrics`, token);
    const workerAfter = await scrape(`${workerUrl}/metrics`, token);

    expect(good.requests).toHaveLength(2);
    // The server started the run (not eagerly: it has no worker); the workers started nothing.
    expect(sum(serverAfter, 'openhooks_delivery_starts_total', { source: 'resend', outcome: 'started' }) - sum(serverBefore, 'openhooks_delivery_starts_total', { source: 'resend', outcome: 'started' })).toBe(1);
    expect(sum(serverAfter, 'openhooks_delivery_starts_total') - sum(serverBefore, 'openhooks_delivery_starts_total')).toBe(1);
    expect(sum(workerAfter, 'openhooks_delivery_starts_total') - sum(workerBefore, 'openhooks_delivery_starts_total')).toBe(0);
  });

  it('gives every request an id (a sane X-Request-Id, else a new one), echoes it and logs with it', async () => {
    const given = await fetch(`${server!.url}/api/v1/health`, { headers: { 'x-request-id': 'trace-42.a:b' } });
    expect(given.headers.get('x-request-id')).toBe('trace-42.a:b');
    for (const bad of ['has spaces', 'x'.repeat(129), 'quote"d']) {
      const replaced = await fetch(`${server!.url}/api/v1/health`, { headers: { 'x-request-id': bad } });
      expect(replaced.headers.get('x-request-id'), bad).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
    const line = await waitFor('the request line', () => server!.lines().find((l) => l.msg === 'request' && l.requestId === 'trace-42.a:b'));
    expect(line).toMatchObject({ level: 'debug', method: 'GET', route: '/api/v1/health', status: 200 });

    // The portal's lines carry it too, as JSON: a page no route matches is a 404 logged at debug, not a console error.
    const missing = await fetch(`${server!.url}/no-such-page`, { headers: { 'x-request-id': 'portal-7' } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-request-id')).toBe('portal-7');
    const refused = await waitFor('the portal line', () => server!.lines().find((l) => l.msg === 'portal request refused' && l.requestId === 'portal-7'));
    expect(refused).toMatchObject({ level: 'debug', path: '/no-such-page', status: 404 });
    expect(server!.stderr()).not.toContain('No route matches URL');
  });

  it("serves the Temporal SDK's own metrics on TEMPORAL_METRICS_PORT", async () => {
    const response = await fetch(`http://127.0.0.1:${temporalMetricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
    expect(response.status).toBe(200);
    const { types } = parseMetrics(await response.text());
    const sdk = [...types.keys()].filter((name) => name.startsWith('temporal_'));
    expect(sdk.length).toBeGreaterThan(5);
    expect(sdk).toContain('temporal_workflow_completed');
  });
});

describe('the database gauges', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('report how long the oldest delivery has waited for its start, and the replays under way', async () => {
    const receiver = await startReceiver();
    try {
      const { api } = stack;
      const appId = (await api.post('/apps', { name: 'Waiting' })).body.id as string;
      await api.post(`/apps/${appId}/webhook_events`, { event_type: 'user.created' });
      const subscriberId = (await api.post(`/apps/${appId}/subscriptions`, { name: 'Acme' })).body.id as string;
      const endpointId = (await api.post(`/subscriptions/${subscriberId}/endpoints`, { url: receiver.url, version: '1.0' })).body.id as string;
      const metricsUrl = `${stack.serverUrl}/metrics`;
      // No token in this stack's environment: the server serves /metrics to anyone.
      expect(sum(await scrape(metricsUrl), 'openhooks_delivery_start_oldest_waiting_seconds')).toBe(0);

      // No worker: the accepted delivery waits for its start, and a replay request waits for its workflow.
      await stack.stopWorker();
      expect((await api.post(`/apps/${appId}/messages`, { event_type: 'user.created', version: '1.0', data: {} })).status).toBe(202);
      expect((await api.post(`/apps/${appId}/endpoints/${endpointId}/replay`, {})).status).toBe(202);
      const waiting = await waitFor('the gauge to show a wait of over a second', async () => {
        const scraped = await scrape(metricsUrl);
        return sum(scraped, 'openhooks_delivery_start_oldest_waiting_seconds') > 1 ? scraped : undefined;
      }, 20_000, 500);
      expect(sum(waiting, 'openhooks_replays_active', { status: 'running' })).toBe(1);
      expect(sum(waiting, 'openhooks_replays_active', { status: 'paused' })).toBe(0);

      // A worker again: the delivery starts and the wait ends.
      await stack.startWorker();
      await waitFor('the gauge to fall back to 0', async () => (sum(await scrape(metricsUrl), 'openhooks_delivery_start_oldest_waiting_seconds') === 0 ? true : undefined), 30_000, 500);
    } finally {
      await receiver.close();
    }
  });
});
