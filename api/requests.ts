import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { log, type Log } from '../lib/log.ts';
import { observeHttpRequest } from '../lib/metrics.ts';

/** An incoming X-Request-Id is kept when it looks like an id (a UUID, a trace id…); anything else is replaced. */
const SANE_REQUEST_ID = /^[\w.:-]{1,128}$/;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

interface RequestLocals {
  requestId?: string;
  log?: Log;
}

/**
 * First on every request of the server (API, portal, docs, /metrics): gives it an id (the caller's
 * sane X-Request-Id, or a new UUID), echoed in the X-Request-Id answer header and carried by its
 * log lines (requestLog), and times it into openhooks_http_request_duration_seconds by route pattern.
 */
export function observeRequests(): RequestHandler {
  return (req, res, next) => {
    const began = performance.now();
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
    (res.locals as RequestLocals).requestId = requestId;
    res.setHeader('x-request-id', requestId);
    res.once('finish', () => {
      const seconds = (performance.now() - began) / 1000;
      const route = routeOf(req);
      observeHttpRequest(METHODS.has(req.method) ? req.method : 'OTHER', route, res.statusCode, seconds);
      if (log.enabled('debug')) requestLog(res).debug('request', { method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000) });
    });
    next();
  };
}

/** The request's logger: every line carries its request id. Made on first use, so requests that log nothing pay nothing. */
export function requestLog(res: Response): Log {
  const locals = res.locals as RequestLocals;
  if (locals.requestId === undefined) return log;
  return (locals.log ??= log.child({ requestId: locals.requestId }));
}

/**
 * The route pattern that answered (`/api/v1/apps/:app_id/messages`), never the raw URL: ids stay out
 * of the labels. The portal's catch-all is one group; what no route matched is `<mount>/*`.
 */
export function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path === 'string') return path === '*' ? 'portal' : `${req.baseUrl}${path}`;
  return `${req.baseUrl}/*`;
}
