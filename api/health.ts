import type { Router } from 'express';
import { z } from 'zod';
import { ping, type Db } from '../db/connection.ts';
import { log } from '../lib/log.ts';
import type { TemporalGateway } from '../lib/temporal.ts';
import { resourceRouter, type ApiSpec } from './route.ts';

export const HealthOut = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
export const ReadyOut = z
  .object({ status: z.enum(['ready', 'unavailable']), postgres: z.enum(['ok', 'unavailable']), temporal: z.enum(['ok', 'unavailable']) })
  .meta({ id: 'Readiness' });

const CHECK_TIMEOUT_MS = 2_000;
/** At most one warning this often while Temporal stays away, however often the probe runs. */
const TEMPORAL_WARN_EVERY_MS = 60_000;

async function check(probe: () => Promise<unknown>): Promise<'ok' | 'unavailable'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return 'ok';
  } catch {
    return 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}

/** Liveness and readiness for load balancers and orchestrators; no API key needed. */
export function healthRouter(db: Db, spec: ApiSpec, temporal: TemporalGateway): Router {
  const { router, define } = resourceRouter(spec, db, 'Health');

  define({ method: 'get', path: '/health', summary: 'Liveness: the process answers', public: true, status: 200, response: HealthOut }, ({ res }) => {
    res.json({ status: 'ok' });
    return Promise.resolve();
  });

  let warnedAt = -Infinity;
  define({
    method: 'get', path: '/ready', summary: 'Readiness: Postgres is reachable (Temporal is reported, not required)',
    description: 'Answers 503 only when Postgres is unreachable, since only that stops messages being accepted. While Temporal is unreachable messages are still accepted (and started once it is back): the answer stays 200 with "temporal": "unavailable", and a warning is logged at most once a minute.',
    public: true, status: 200, response: ReadyOut, errors: [503],
  }, async ({ res }) => {
    const [postgres, temporalStatus] = await Promise.all([
      check(() => ping(db)),
      check(() => temporal.call((client) => client.workflowService.getSystemInfo({}), CHECK_TIMEOUT_MS)),
    ]);
    if (temporalStatus === 'unavailable' && Date.now() - warnedAt >= TEMPORAL_WARN_EVERY_MS) {
      warnedAt = Date.now();
      log.warn('temporal is unavailable: messages are still accepted and their deliveries start once it is back', { check: 'ready' });
    }
    const ready = postgres === 'ok';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', postgres, temporal: temporalStatus });
  });

  return router;
}
