import type { Router } from 'express';
import { z } from 'zod';
import { createApp, listApps, updateApp } from '../db/apps.ts';
import type { Db } from '../db/connection.ts';
import type { App } from '../db/database.ts';
import { sendPage } from './pagination.ts';
import { resourceRouter, type ApiSpec } from './route.ts';
import { Id, Timestamp } from './schemas.ts';
import { singleLine } from './validation.ts';
import { requireApp } from './scope.ts';

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
  const { router, define } = resourceRouter(spec, db, 'Apps');

  define({ method: 'get', path: '/apps', summary: 'List apps', paginated: true, status: 200, response: z.array(AppOut) }, async ({ req, res, page, accountId }) => {
    sendPage(req, res, page, await listApps(db, accountId, page), appOut);
  });

  define({ method: 'post', path: '/apps', summary: 'Create an app', body: AppIn, status: 201, response: AppOut, idempotent: 'stored' }, async ({ res, body, accountId, db }) => {
    res.status(201).json(appOut(await createApp(db, accountId, body)));
  });

  define({ method: 'get', path: '/apps/:app_id', summary: 'Get an app', status: 200, response: AppOut }, async ({ res, params, accountId }) => {
    res.json(appOut(await requireApp(db, accountId, params.app_id!)));
  });

  define({ method: 'patch', path: '/apps/:app_id', summary: 'Update an app', body: AppPatch, status: 200, response: AppOut }, async ({ res, params, body, accountId }) => {
    const app = await requireApp(db, accountId, params.app_id!);
    res.json(appOut(await updateApp(db, app.id, body)));
  });

  return router;
}
