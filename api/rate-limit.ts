import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import { ApiError } from './errors.ts';

/**
 * At most `perSecond` requests per API key and second, announced in RateLimit-Limit, -Remaining
 * and -Reset headers; beyond it 429 with Retry-After. Counted per process: with several API
 * processes behind a balancer the effective limit is that many times higher.
 */
export function rateLimitPerKey(perSecond: number): RequestHandler {
  if (perSecond === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 1_000,
    limit: perSecond,
    standardHeaders: 'draft-6',
    legacyHeaders: false,
    keyGenerator: (_req, res) => String(res.locals.apiKeyId),
    handler: (_req, _res, next) => next(new ApiError(429, 'rate_limited', `more than ${perSecond} requests per second with this API key; slow down and retry after the Retry-After delay`)),
  });
}
