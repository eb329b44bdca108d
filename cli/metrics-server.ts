import { createServer } from 'node:http';
import { metricsHandler } from '../lib/metrics.ts';

export interface MetricsServer {
  port: number;
  stop(): Promise<void>;
}

/**
 * The worker's own small HTTP listener (it has no other): `/metrics` (the process's registry, behind
 * the token when one is set) and `/health` (200 while `healthy()` says so, else 503; no token, for
 * container health checks).
 */
export async function startMetricsServer(opts: { port: number; host: string; token: string | undefined; healthy: () => { ok: boolean; state: string } }): Promise<MetricsServer> {
  const metrics = metricsHandler(opts.token);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    } else if (path === '/metrics') {
      metrics(req, res);
    } else if (path === '/health') {
      const { ok, state } = opts.healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ status: ok ? 'ok' : 'unavailable', worker: state }));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the worker serves /metrics and /health\n');
    }
  });
  // Scrapes are short: a stuck client must not hold the worker's shutdown.
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, resolve);
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : opts.port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
