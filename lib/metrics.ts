import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { DELIVERY_REASONS, disablesEndpoint, type DeliveryReason } from './failures.ts';
import { log } from './log.ts';
import type { StartOutcome } from './temporal.ts';

// Every openhooks_* metric of this process, in one registry that /metrics serves (the server's, and
// the worker's listener; `npm start` runs both in one process, so one registry holds both sides).
// The gauges read from Postgres register themselves from db/metrics.ts.
// Labels take a handful of fixed values each: never app, endpoint or message ids.

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const messagesAccepted = new Counter({
  name: 'openhooks_messages_accepted_total',
  help: 'Messages the API accepted (202), by result: created (stored with its deliveries) or repeat (an event_id or Idempotency-Key seen before: nothing new was stored)',
  labelNames: ['result'] as const,
  registers: [registry],
});

const deliveriesFinished = new Counter({
  name: 'openhooks_deliveries_finished_total',
  help: 'Delivery runs that ended, by final status (succeeded, failed, skipped) and reason (none on success); a resend or replay that ends again counts again',
  labelNames: ['status', 'reason'] as const,
  registers: [registry],
});

/** What one HTTP attempt came to: the status class, or why no status came back. */
export type AttemptResult = '2xx' | '3xx' | '4xx' | '5xx' | 'other' | 'timeout' | 'network' | 'refused';
const ATTEMPT_RESULTS: readonly AttemptResult[] = ['2xx', '3xx', '4xx', '5xx', 'other', 'timeout', 'network', 'refused'];

const attempts = new Counter({
  name: 'openhooks_delivery_attempts_total',
  help: 'HTTP attempts of deliveries, by result: the status class (2xx, 3xx, 4xx, 5xx, other), timeout, network (connection or DNS failure) or refused (blocked address, plain http, bad URL: never sent)',
  labelNames: ['result'] as const,
  registers: [registry],
});

const attemptDuration = new Histogram({
  name: 'openhooks_delivery_attempt_duration_seconds',
  help: 'Time of the HTTP attempts that went out, connection to the end of the response (timeouts included)',
  buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60],
  registers: [registry],
});

const endpointsDisabled = new Counter({
  name: 'openhooks_endpoints_disabled_total',
  help: 'Endpoints disabled by a failing delivery, by reason (attempts_exhausted, endpoint_gone: HTTP 410)',
  labelNames: ['reason'] as const,
  registers: [registry],
});

const START_SOURCES = ['starter', 'reconciler', 'resend'] as const;
const START_RESULTS = ['eager', 'started', 'existing', 'failed'] as const;
export type StartSource = (typeof START_SOURCES)[number];
type StartResult = (typeof START_RESULTS)[number];

const deliveryStarts = new Counter({
  name: 'openhooks_delivery_starts_total',
  help: "Delivery workflow starts, by source (starter: the workers' normal path; reconciler: starts found overdue; resend: a resend the server started) and outcome (eager: started and its first task ran on this worker; started; existing: the run was there already; failed: left for a later pass)",
  labelNames: ['source', 'outcome'] as const,
  registers: [registry],
});

const httpDuration = new Histogram({
  name: 'openhooks_http_request_duration_seconds',
  help: 'HTTP requests served by the API and portal, by method, route pattern (portal: all its pages) and status class',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

// Zeros for the fixed label values, so that rate() and the dashboard see a series from the start.
for (const result of ['created', 'repeat']) messagesAccepted.inc({ result }, 0);
deliveriesFinished.inc({ status: 'succeeded', reason: 'none' }, 0);
for (const reason of ['attempts_exhausted', 'endpoint_gone'] as const) {
  deliveriesFinished.inc({ status: 'failed', reason }, 0);
  endpointsDisabled.inc({ reason }, 0);
}
for (const result of ATTEMPT_RESULTS) attempts.inc({ result }, 0);
for (const source of START_SOURCES) for (const outcome of START_RESULTS) deliveryStarts.inc({ source, outcome }, 0);

// Label objects built once: the accept path and the delivery activity allocate none.
const ACCEPTED = { created: { result: 'created' }, repeat: { result: 'repeat' } } as const;
const ATTEMPT_LABELS = Object.fromEntries(ATTEMPT_RESULTS.map((result) => [result, { result }])) as Record<AttemptResult, { result: AttemptResult }>;
const SUCCEEDED = { status: 'succeeded', reason: 'none' } as const;
const ENDED = {
  failed: Object.fromEntries(DELIVERY_REASONS.map((reason) => [reason, { status: 'failed', reason }])),
  skipped: Object.fromEntries(DELIVERY_REASONS.map((reason) => [reason, { status: 'skipped', reason }])),
} as Record<'failed' | 'skipped', Record<DeliveryReason, { status: string; reason: string }>>;

export function countAcceptedMessage(result: 'created' | 'repeat'): void {
  messagesAccepted.inc(ACCEPTED[result]);
}

export function countDeliverySucceeded(): void {
  deliveriesFinished.inc(SUCCEEDED);
}

/** A delivery recorded failed or skipped (only when this call changed it); a failure that disabled its endpoint counts that too. */
export function countDeliveryEnded(status: 'failed' | 'skipped', reason: DeliveryReason, endpointDisabled = false): void {
  deliveriesFinished.inc(ENDED[status][reason]);
  if (endpointDisabled && disablesEndpoint(reason)) endpointsDisabled.inc({ reason });
}

/** The class of one attempt's result (see AttemptResult). */
export function attemptResult(result: { statusCode: number | null; errorCode?: string }): AttemptResult {
  const code = result.statusCode;
  if (code !== null) return code >= 200 && code < 600 ? (`${Math.floor(code / 100)}xx` as AttemptResult) : 'other';
  if (result.errorCode === 'timeout') return 'timeout';
  if (result.errorCode === 'connection_failed' || result.errorCode === 'dns_failed') return 'network';
  return 'refused';
}

/** One HTTP attempt of a delivery, as the activity got it back from the sender. */
export function observeAttempt(result: { statusCode: number | null; errorCode?: string; durationMs: number }): void {
  const kind = attemptResult(result);
  attempts.inc(ATTEMPT_LABELS[kind]);
  if (kind !== 'refused') attemptDuration.observe(result.durationMs / 1000);
}

/** The outcomes of one batch of delivery workflow starts. */
export function countDeliveryStarts(source: StartSource, outcomes: readonly StartOutcome[]): void {
  for (const outcome of outcomes) {
    const result: StartResult = !outcome.ok ? 'failed' : !outcome.created ? 'existing' : outcome.eager ? 'eager' : 'started';
    deliveryStarts.inc({ source, outcome: result });
  }
}

export function observeHttpRequest(method: string, route: string, statusCode: number, seconds: number): void {
  httpDuration.observe({ method, route, status: `${Math.floor(statusCode / 100)}xx` }, seconds);
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * GET /metrics in the Prometheus text format. With a token, only `Authorization: Bearer <token>`
 * is served (compared in constant time); anything else answers 401.
 */
export function metricsHandler(token: string | undefined): (req: IncomingMessage, res: ServerResponse) => void {
  const expected = token === undefined ? undefined : digest(token);
  return (req, res) => {
    if (expected) {
      const header = req.headers.authorization ?? '';
      const given = /^Bearer (.+)$/i.exec(header)?.[1];
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer realm="metrics"' }).end('a bearer token is required (METRICS_TOKEN)\n');
        return;
      }
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text),
      (err: unknown) => {
        log.warn('metrics could not be collected', { error: err });
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics could not be collected\n');
      },
    );
  };
}
