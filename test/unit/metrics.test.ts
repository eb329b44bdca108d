import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Request } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { routeOf } from '../../api/requests.ts';
// Registers the gauges read from Postgres, as the server and worker do.
import '../../db/metrics.ts';
import { attemptResult, countDeliveryEnded, countDeliveryStarts, metricsHandler, observeAttempt, observeHttpRequest, registry } from '../../lib/metrics.ts';

async function value(name: string, labels: Record<string, string> = {}): Promise<number> {
  // A histogram's _count and _bucket series are values of the histogram itself.
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name || name === `${m.name}_count` || name === `${m.name}_bucket`);
  if (!metric) throw new Error(`no metric ${name}`);
  return (metric.values as { labels: Record<string, string | number>; value: number; metricName?: string }[])
    .filter((v) => (v.metricName ?? name) === name && Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('attemptResult', () => {
  it('classes a status by its hundreds, and an attempt without one by why', () => {
    expect(attemptResult({ statusCode: 204 })).toBe('2xx');
    expect(attemptResult({ statusCode: 301 })).toBe('3xx');
    expect(attemptResult({ statusCode: 429 })).toBe('4xx');
    expect(attemptResult({ statusCode: 503 })).toBe('5xx');
    expect(attemptResult({ statusCode: 999 })).toBe('other');
    expect(attemptResult({ statusCode: null, errorCode: 'timeout' })).toBe('timeout');
    expect(attemptResult({ statusCode: null, errorCode: 'connection_failed' })).toBe('network');
    expect(attemptResult({ statusCode: null, errorCode: 'dns_failed' })).toBe('network');
    for (const errorCode of ['blocked_address', 'invalid_url', 'insecure_url']) expect(attemptResult({ statusCode: null, errorCode })).toBe('refused');
  });
});

describe('the instrumentation functions', () => {
  it('move exactly their own series', async () => {
    const before = {
      five: await value('openhooks_delivery_attempts_total', { result: '5xx' }),
      refused: await value('openhooks_delivery_attempts_total', { result: 'refused' }),
      timed: await value('openhooks_delivery_attempt_duration_seconds_count'),
      slow: await value('openhooks_delivery_attempt_duration_seconds_bucket', { le: '0.5' }),
      skipped: await value('openhooks_deliveries_finished_total', { status: 'skipped', reason: 'endpoint_inactive' }),
      gone: await value('openhooks_endpoints_disabled_total', { reason: 'endpoint_gone' }),
      eager: await value('openhooks_delivery_starts_total', { source: 'reconciler', outcome: 'eager' }),
      existing: await value('openhooks_delivery_starts_total', { source: 'reconciler', outcome: 'existing' }),
      failed: await value('openhooks_delivery_starts_total', { source: 'reconciler', outcome: 'failed' }),
    };
    observeAttempt({ statusCode: 500, durationMs: 1_000 });
    observeAttempt({ statusCode: null, errorCode: 'blocked_address', durationMs: 0 });
    countDeliveryEnded('skipped', 'endpoint_inactive', true);
    countDeliveryEnded('failed', 'endpoint_gone', true);
    countDeliveryStarts('reconciler', [{ ok: true, created: true, eager: true }, { ok: true, created: false }, { ok: false, unreachable: true, error: new Error('away') }]);

    expect(await value('openhooks_delivery_attempts_total', { result: '5xx' })).toBe(before.five + 1);
    expect(await value('openhooks_delivery_attempts_total', { result: 'refused' })).toBe(before.refused + 1);
    // A refused attempt never went out: it has no latency.
    expect(await value('openhooks_delivery_attempt_duration_seconds_count')).toBe(before.timed + 1);
    expect(await value('openhooks_delivery_attempt_duration_seconds_bucket', { le: '0.5' })).toBe(before.slow);
    expect(await value('openhooks_deliveries_finished_total', { status: 'skipped', reason: 'endpoint_inactive' })).toBe(before.skipped + 1);
    // Only reasons that disable an endpoint count as disabling one.
    expect(await value('openhooks_endpoints_disabled_total', { reason: 'endpoint_gone' })).toBe(before.gone + 1);
    expect(await value('openhooks_endpoints_disabled_total', { reason: 'endpoint_inactive' })).toBe(0);
    expect(await value('openhooks_delivery_starts_total', { source: 'reconciler', outcome: 'eager' })).toBe(before.eager + 1);
    expect(await value('openhooks_delivery_starts_total', { source: 'reconciler', outcome: 'existing' })).toBe(before.existing + 1);
    expect(await value('openhooks_delivery_starts_total', { source: 'reconciler', outcome: 'failed' })).toBe(before.failed + 1);
  });

  it('labels HTTP requests by method, route pattern and status class', async () => {
    observeHttpRequest('PATCH', '/api/v1/apps/:app_id', 404, 0.003);
    expect(await value('openhooks_http_request_duration_seconds_count', { method: 'PATCH', route: '/api/v1/apps/:app_id', status: '4xx' })).toBe(1);
    const text = await registry.metrics();
    expect(text).toContain('# HELP openhooks_http_request_duration_seconds ');
    expect(text).toContain('openhooks_http_request_duration_seconds_bucket{le="0.005",method="PATCH",route="/api/v1/apps/:app_id",status="4xx"} 1');
  });
});

describe('routeOf', () => {
  const req = (baseUrl: string, path?: string) => ({ baseUrl, route: path === undefined ? undefined : { path } }) as unknown as Request;
  it('names the pattern that answered, never the URL', () => {
    expect(routeOf(req('/api/v1', '/apps/:app_id/messages'))).toBe('/api/v1/apps/:app_id/messages');
    expect(routeOf(req('', '/metrics'))).toBe('/metrics');
    expect(routeOf(req('', '*'))).toBe('portal');
    expect(routeOf(req('/api/v1'))).toBe('/api/v1/*');
    expect(routeOf(req(''))).toBe('/*');
  });
});

describe('metricsHandler', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function serve(token: string | undefined): Promise<string> {
    server = createServer(metricsHandler(token));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/metrics`;
  }

  it('serves the text format to anyone without a token', async () => {
    const response = await fetch(await serve(undefined));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(registry.contentType);
    expect(await response.text()).toContain('# TYPE openhooks_messages_accepted_total counter');
  });

  it('with a token, answers 401 to a missing, wrong or malformed one', async () => {
    const token = 'x'.repeat(32);
    const url = await serve(token);
    for (const authorization of [undefined, `Bearer ${token.slice(1)}`, `Bearer ${token}y`, token, `Basic ${token}`, 'Bearer ']) {
      const response = await fetch(url, { headers: authorization === undefined ? {} : { authorization } });
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    }
    expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(url, { headers: { authorization: `bearer ${token}` } })).status).toBe(200);
  });
});

describe('the Grafana dashboard (deploy/grafana/openhooks.json)', () => {
  it('queries every openhooks metric, and only metrics that exist', async () => {
    const dashboard = JSON.parse(readFileSync(new URL('../../deploy/grafana/openhooks.json', import.meta.url), 'utf8')) as { uid: string; panels: { type: string; targets?: { expr: string }[] }[] };
    expect(dashboard.uid).toBe('openhooks');
    const exprs = dashboard.panels.filter((p) => p.type !== 'row').flatMap((p) => p.targets!.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(20);
    const queried = new Set(exprs.flatMap((expr) => [...expr.matchAll(/\b(openhooks_\w+?)(?:_bucket|_count|_sum)?\b/g)].map((m) => m[1]!)));
    const registered = new Set((await registry.getMetricsAsJSON()).map((m) => m.name).filter((name) => name.startsWith('openhooks_')));
    expect(queried).toEqual(registered);
  });
});
