import express, { Router } from 'express';
import type { Db } from '../db/connection.ts';
import type { DeliveryStarter } from '../lib/delivery-starter.ts';
import type { SecretBox } from '../lib/secrets.ts';
import { appsRouter } from './apps.ts';
import { attemptsRouter } from './attempts.ts';
import { authenticate } from './auth.ts';
import { endpointsRouter } from './endpoints.ts';
import { errorHandler, routeNotFound } from './errors.ts';
import { eventTypesRouter } from './event-types.ts';
import { messagesRouter } from './messages.ts';
import { subscribersRouter } from './subscribers.ts';

/** The REST API mounted at /api/v1: one router per resource, all behind API-key auth. */
export function createApi(deps: { db: Db; starter: DeliveryStarter; secrets: SecretBox }): Router {
  const api = Router();
  api.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  api.use(authenticate(deps.db));
  // Messages parse their own bodies with the smaller limit; everything else gets 1 MiB.
  api.use(messagesRouter(deps.db, deps.starter));
  api.use(express.json({ limit: '1mb', type: () => true }));
  api.use(appsRouter(deps.db));
  api.use(eventTypesRouter(deps.db));
  api.use(subscribersRouter(deps.db));
  api.use(endpointsRouter(deps.db, deps.secrets));
  api.use(attemptsRouter(deps.db));
  api.use(routeNotFound);
  api.use(errorHandler);
  return api;
}
