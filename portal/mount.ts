import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequestHandler } from '@remix-run/express';
import type { ServerBuild } from '@remix-run/node';
import express from 'express';
import type { Express } from 'express';
import { requestLog } from '../api/requests.ts';
import type { PortalContext } from './context.ts';

const clientDir = fileURLToPath(new URL('./build/client/', import.meta.url));
const assetsDir = fileURLToPath(new URL('./build/client/assets/', import.meta.url));
const serverBuildUrl = new URL('./build/server/index.js', import.meta.url);

export function portalBuildExists(): boolean {
  return existsSync(fileURLToPath(serverBuildUrl)) && existsSync(clientDir);
}

/** Mount after every other route: the portal answers any request not handled before it. */
export async function mountPortal(app: Express, context: PortalContext): Promise<void> {
  if (!portalBuildExists()) {
    throw new Error('The portal is not built: run `npm run build` first.');
  }
  const build = (await import(serverBuildUrl.href)) as ServerBuild;

  // File names under assets/ carry a content hash, so they can be cached forever.
  app.use('/assets', express.static(assetsDir, { immutable: true, maxAge: '1y' }));
  app.use(express.static(clientDir, { maxAge: '1h' }));
  app.all('*', createRequestHandler({ build, getLoadContext: (req, res) => ({ ...context, clientAddress: req.ip, log: requestLog(res) }) }));
}
