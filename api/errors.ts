import type { ErrorRequestHandler, RequestHandler } from 'express';
import { log } from '../lib/log.ts';

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

const POSTGRES_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P03', '08000', '08003', '08006']);

export const errorHandler: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
  const apiError = toApiError(err);
  if (apiError.status === 503) log.warn('request refused: a dependency is unavailable', { error: err });
  else if (apiError.status >= 500) log.error('request failed', { error: err });
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
  if (e.type === 'entity.parse.failed') return new ApiError(400, 'malformed_json', 'request body is not valid JSON');
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return new ApiError(415, 'unsupported_encoding', e.message ?? 'unsupported encoding');
  if (e.code && POSTGRES_UNAVAILABLE.has(e.code)) return new ApiError(503, 'database_unavailable', 'the database is unavailable; try again shortly');
  if (e.message?.includes('timeout exceeded when trying to connect')) return new ApiError(503, 'database_unavailable', 'the database is unavailable; try again shortly');
  return new ApiError(500, 'internal_error', 'internal error; the server log has the details');
}

export const routeNotFound: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'route_not_found', `no route for ${req.method} ${req.baseUrl}${req.path}`));
};
