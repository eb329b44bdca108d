import { Router } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { App } from '../db/database.ts';
import { newId } from '../lib/ids.ts';
import { accountOf } from './auth.ts';
import { handle } from './errors.ts';
import { readPage, sendPage } from './pagination.ts';
import { findApp } from './scope.ts';
import { nonEmpty, parseBody } from './validation.ts';

const retrySettings = {
  /** Per-app override of RETRY_INITIAL_INTERVAL, in milliseconds; null uses the server default. */
  retry_initial_interval_ms: z.number().int().min(10).max(86_400_000).nullable().optional(),
  /** Per-app override of RETRY_BACKOFF_COEFFICIENT; null uses the server default. */
  retry_backoff_coefficient: z.number().min(1).max(100).nullable().optional(),
};
export const AppIn = z.strictObject({ name: nonEmpty(200), ...retrySettings });
export const AppPatch = z.strictObject({ name: nonEmpty(200).optional(), ...retrySettings });

/** The nested form HostedHooks embeds in other resources. */
export const appRef = (app: Pick<App, 'id' | 'name' | 'created_at'>) => ({ id: app.id, name: app.name, created_at: app.created_at.toISOString() });

export const appOut = (app: App) => ({
  ...appRef(app),
  updated_at: app.updated_at.toISOString(),
  retry_initial_interval_ms: app.retry_initial_interval_ms,
  retry_backoff_coefficient: app.retry_backoff_coefficient,
});

export function appsRouter(db: Db): Router {
  const router = Router();

  router.get('/apps', handle(async (req, res) => {
    const page = readPage(req);
    const base = db.selectFrom('apps').where('account_id', '=', accountOf(res));
    const [rows, count] = await Promise.all([
      base.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.perPage).offset(page.offset).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    sendPage(req, res, page, count.n, rows.map(appOut));
  }));

  router.post('/apps', handle(async (req, res) => {
    const input = parseBody(AppIn, req);
    const app = await db
      .insertInto('apps')
      .values({ id: newId('app'), account_id: accountOf(res), ...input })
      .returningAll()
      .executeTakeFirstOrThrow();
    res.status(201).json(appOut(app));
  }));

  router.get('/apps/:app_id', handle(async (req, res) => {
    res.json(appOut(await findApp(db, accountOf(res), req.params.app_id!)));
  }));

  router.patch('/apps/:app_id', handle(async (req, res) => {
    const input = parseBody(AppPatch, req);
    const app = await findApp(db, accountOf(res), req.params.app_id!);
    const updated = await db
      .updateTable('apps')
      .set({ ...input, updated_at: sql<Date>`now()` })
      .where('id', '=', app.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    res.json(appOut(updated));
  }));

  return router;
}
