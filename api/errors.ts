import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { isDatabaseUnavailable } from '../lib/retry.ts';
import { requestLog } from './requests.ts';

export interface ErrorDetail {
  field: string;
  message: string;
}

/** Every API error answers `{error, code, details?}` with its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);

/** Express 4 does not catch rejected promises; this passes them to the error handler. */
export function handle(fn: (...args: Parameters<RequestHandler>) => Promise<unknown>): RequestHandler {
  return (req, res, next) => {
    fn(req, res, next).catch(next);
  };
}

export const errorHandler: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
  const apiError = toApiError(err);
  if (apiError.status === 503) requestLog(res).warn('request refused: a dependency is unavailable', { error: err });
  else if (apiError.status >= 500) requestLog(res).error('request failed', { error: err });
  res.status(apiError.status).json({
    error: apiError.message,
    code: apiError.code,
    ...(apiError.details ? { details: apiError.details } : {}),
  });
};

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { type?: string; status?: number; code?: string; message?: string; limit?: number };
  // body-parser's errors carry a `type`.
  if (e.type === 'entity.too.large') return new ApiError(413, 'payload_too_large', `request body is larger than ${e.limit} bytes`);
  if (e.type === 'entity.verify.failed') return new ApiError(400, 'malformed_json', e.message ?? 'request body is not valid JSON');
  if (e.type === 'entity.parse.failed') return new ApiError(400, 'malformed_json', 'request body is not valid JSON');
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return new ApiError(415, 'unsupported_encoding', e.message ?? 'unsupported encoding');
  // Express's own refusals, such as a path it cannot decode (URIError, 400).
  if (err instanceof URIError) return new ApiError(400, 'malformed_path', 'the request path is not valid percent-encoded UTF-8');
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return new ApiError(e.status, 'bad_request', e.message ?? 'bad request');
  if (isDatabaseUnavailable(err)) return new ApiError(503, 'database_unavailable', 'the database is unavailable; try again shortly');
  return new ApiError(500, 'internal_error', 'internal error; the server log has the details');
}

export const routeNotFound: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'route_not_found', `no route for ${req.method} ${req.baseUrl}${req.path}`));
};

/**
 * JSON body parsing for the API: refuses a body that is not JSON (415) before reading it, bytes that
 * are not UTF-8 and a byte order mark (400), and anything over `limit` (413).
 */
export function jsonBody(limit: string): RequestHandler[] {
  const requireJson: RequestHandler = (req, _res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody && !req.is('application/json')) return next(new ApiError(415, 'unsupported_media_type', 'send the body as JSON with content-type: application/json'));
    next();
  };
  const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const parse = express.json({
    limit,
    type: () => true,
    verify: (_req, _res, buf) => {
      const fail = (message: string) => Object.assign(new Error(message), { status: 400, type: 'entity.verify.failed' });
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) throw fail('request body starts with a byte order mark; send plain UTF-8 JSON');
      try {
        strictUtf8.decode(buf);
      } catch {
        throw fail('request body is not valid UTF-8');
      }
    },
  });
  return [requireJson, parse];
}
