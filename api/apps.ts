import { Router } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../db/connection.ts';
import type { App } from '../db/database.ts';
import { newId } from '../lib/ids.ts';
import { fetchPage, sendPage } from './pagination.ts';
import { definer, type ApiSpec } from './route.ts';
import { Id, Timestamp } from './schemas.ts';
import { singleLine } from './validation.ts';
import { findApp } from './scope.ts';

const retrySettings = {
  retry_initial_interval_ms: z.number().int().min(10).max(86_400_000).nullable().optional()
    .meta({ description: "First retry delay for this app's deliveries, in milliseconds; null uses the server's RETRY_INITIAL_INTERVAL" }),
  retry_backoff_coefficient: z.number().min(1).max(100).nullable().optional()
    .meta({ description: "Each retry delay is the previous one times this; null uses the server's RETRY_BACKOFF_COEFFICIENT" }),
};
export const AppIn = z.strictObject({ name: singleLine(200), ...retrySettings }).meta({ id: 'AppIn' });
export const AppPatch = z.strictObject({ name: singleLine(200).optional(), ...retrySettings }).meta({ id: 'AppPatch' });

/** The nested form HostedHooks embeds in other resources. */
export const AppRef = z.object({ id: Id('app', 'app'), name: z.string(), created_at: Timestamp }).meta({ id: 'AppRef' });
export const AppOut = AppRef.extend({
  updated_at: Timestamp,
  retry_initial_interval_ms: z.number().nullable(),
  retry_backoff_coefficient: z.number().nullable(),
}).meta({ id: 'App' });

export const appRef = (app: Pick<App, 'id' | 'name' | 'created_at'>): z.infer<typeof AppRef> => ({ id: app.id, name: app.name, created_at: app.created_at.toISOString() });

export const appOut = (app: App): z.infer<typeof AppOut> => ({
  ...appRef(app),
  updated_at: app.updated_at.toISOString(),
  retry_initial_interval_ms: app.retry_initial_interval_ms,
  retry_backoff_coefficient: app.retry_backoff_coefficient,
});

export function appsRouter(db: Db, spec: ApiSpec): Router {
  const router = Router();
  const define = definer(router, spec, db);
  const tag = 'Apps';

  define({ method: 'get', path: '/apps', tag, summary: 'List apps', paginated: true, status: 200, response: z.array(AppOut) }, async ({ req, res, page, accountId }) => {
    const { rows, total } = await fetchPage(db.selectFrom('apps').where('account_id', '=', accountId).selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'), page);
    sendPage(req, res, page, total, rows.map(appOut));
  });

  define({ method: 'post', path: '/apps', tag, summary: 'Create an app', body: AppIn, status: 201, response: AppOut, idempotent: 'stored' }, async ({ res, body, accountId, db }) => {
    const app = await db.insertInto('apps').values({ id: newId('app'), account_id: accountId, ...body }).returningAll().executeTakeFirstOrThrow();
    res.status(201).json(appOut(app));
  });

  define({ method: 'get', path: '/apps/:app_id', tag, summary: 'Get an app', status: 200, response: AppOut }, async ({ res, params, accountId }) => {
    res.json(appOut(await findApp(db, accountId, params.app_id!)));
  });

  define({ method: 'patch', path: '/apps/:app_id', tag, summary: 'Update an app', body: AppPatch, status: 200, response: AppOut }, async ({ res, params, body, accountId }) => {
    const app = await findApp(db, accountId, params.app_id!);
    const updated = await db.updateTable('apps').set({ ...body, updated_at: sql<Date>`now()` }).where('id', '=', app.id).returningAll().executeTakeFirstOrThrow();
    res.json(appOut(updated));
  });

  return router;
}
