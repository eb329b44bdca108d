import { Router } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { TemporalGateway } from '../lib/temporal.ts';
import { definer, type ApiSpec } from './route.ts';

export const HealthOut = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
export const ReadyOut = z
  .object({ status: z.enum(['ready', 'unavailable']), postgres: z.enum(['ok', 'unavailable']), temporal: z.enum(['ok', 'unavailable']) })
  .meta({ id: 'Readiness' });

const CHECK_TIMEOUT_MS = 2_000;

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
  const router = Router();
  const define = definer(router, spec, db);
  const tag = 'Health';

  define({ method: 'get', path: '/health', tag, summary: 'Liveness: the process answers', public: true, status: 200, response: HealthOut }, ({ res }) => {
    res.json({ status: 'ok' });
    return Promise.resolve();
  });

  define({ method: 'get', path: '/ready', tag, summary: 'Readiness: Postgres and Temporal are reachable', public: true, status: 200, response: ReadyOut, errors: [503] }, async ({ res }) => {
    const [postgres, temporalStatus] = await Promise.all([
      check(() => sql`select 1`.execute(db)),
      check(() => temporal.call((client) => client.workflowService.getSystemInfo({}), CHECK_TIMEOUT_MS)),
    ]);
    const ready = postgres === 'ok' && temporalStatus === 'ok';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', postgres, temporal: temporalStatus });
  });

  return router;
}
