import express from 'express';
import swaggerUi from 'swagger-ui-express';
import type { Server } from 'node:http';
import { DeliveryStarts } from '../api/delivery-starts.ts';
import { TrustedKeys } from '../api/auth.ts';
import { createApi } from '../api/index.ts';
import { observeRequests } from '../api/requests.ts';
import { createMailer } from '../activities/mailer.ts';
import { log } from '../lib/log.ts';
import { metricsHandler } from '../lib/metrics.ts';
import { watchDatabase } from '../db/metrics.ts';
import { TemporalGateway } from '../lib/temporal.ts';
import { mountPortal, portalBuildExists } from '../portal/mount.ts';
import type { ProcessDeps } from './runtime.ts';

const STOP_GRACE_MS = 10_000;
/** How long stopping waits for queued workflow starts; the reconciler starts what is left. */
const STARTS_GRACE_MS = 3_000;

export interface RunningServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** The API (and the portal, when it is built) in one Express process. */
export async function startServer(opts: ProcessDeps & { portal?: boolean }): Promise<RunningServer> {
  const { config, db, secrets } = opts;
  const temporal = new TemporalGateway(config.temporal);
  const starts = new DeliveryStarts(db, temporal, config);
  // The portal mails invites and password resets itself, the same way the worker mails notifications.
  const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, dataDir: config.dataDir });
  const app = express();
  app.disable('x-powered-by');
  app.locals.publicUrl = config.publicUrl;
  // The client's address (login throttling, logs) from X-Forwarded-For, only as set by these proxies.
  app.set('trust proxy', config.trustProxy);
  app.use(observeRequests());
  // Outside the API's authentication; METRICS_TOKEN guards it when set.
  app.get('/metrics', metricsHandler(config.metrics.token));
  const unwatchDatabase = watchDatabase(db);
  const trustedKeys = new TrustedKeys();
  const api = createApi({ db, starts, temporal, secrets, config, trustedKeys });
  app.use('/api/v1', api.router);
  // Reference docs rendered by Swagger UI (assets served locally) from the generated document.
  app.use('/docs', swaggerUi.serve, swaggerUi.setup(undefined, { swaggerOptions: { url: '/api/v1/openapi.json' }, customSiteTitle: 'openhooks API' }));
  if (opts.portal ?? true) {
    if (portalBuildExists()) await mountPortal(app, { db, secrets, config, mailer, starts, trustedKeys });
    else log.warn('the portal is not built (npm run build); serving the API only');
  }

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s)).on('error', reject);
  });
  // Requests Node's parser refuses (bad header bytes…) get the API's JSON error shape too.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') return socket.destroy();
    const body = JSON.stringify({ error: 'the request is not valid HTTP', code: 'bad_request' });
    socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info('server listening', { port });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    /** Stops accepting connections, lets requests under way finish (10 s at most), then closes. */
    async stop() {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      await starts.stop(STARTS_GRACE_MS);
      await temporal.close();
      unwatchDatabase();
      mailer.close();
    },
  };
}
