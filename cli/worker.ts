import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundle, type WorkflowBundleOption } from '@temporalio/worker';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createActivities } from '../activities/index.ts';
import { createHttpSender } from '../activities/http.ts';
import { createMailer } from '../activities/mailer.ts';
import { ConfigError, WORKER_METRICS_PORT, type Config } from '../lib/config.ts';
import { log } from '../lib/log.ts';
import { watchDatabase } from '../db/metrics.ts';
import { connectionOptions, TemporalGateway } from '../lib/temporal.ts';
import { ensureRetentionSchedule, retentionScheduleId } from '../workflows/retention-schedule.ts';
import { startDeliveryStarter } from './delivery-starter.ts';
import { startMetricsServer, type MetricsServer } from './metrics-server.ts';
import { reconcileReplays, reconcileStarts, settleOrphanedReplays } from './reconciler.ts';
import type { ProcessDeps } from './runtime.ts';

/** How long a stopping worker waits past its grace time before it stops regardless. */
const SHUTDOWN_FORCE_AFTER_GRACE_MS = 10_000;
/** Workflow tasks, and so first attempts, one worker runs at once (the SDK's defaults: 40 and 100). */
export const WORKFLOW_TASK_SLOTS = 200;

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Bundles the workflow code once; tests and production workers reuse the result. */
export async function bundleWorkflows(): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
}

/**
 * The bundle `openhooks workflows bundle <file>` wrote, when WORKFLOW_BUNDLE names it (the Docker image
 * does, at build time): the worker starts without bundling, and every replica runs the same code.
 */
export function prebuiltWorkflowBundle(env: NodeJS.ProcessEnv = process.env): WorkflowBundleOption | undefined {
  const codePath = env.WORKFLOW_BUNDLE?.trim();
  if (!codePath) return undefined;
  if (!existsSync(codePath)) throw new ConfigError([`WORKFLOW_BUNDLE=${codePath} does not exist: write it with \`openhooks workflows bundle ${codePath}\``]);
  return { codePath };
}

let runtimeInstalled = false;
/**
 * Routes the SDK's own logs into our JSON lines and, with TEMPORAL_METRICS_PORT, serves the SDK's
 * metrics (`temporal_*`) on that port's /metrics (once per process: the runtime is global).
 */
function installRuntime({ logLevel: level, host, metrics }: Pick<Config, 'logLevel' | 'host' | 'metrics'>): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const sdkLevel = level === 'debug' ? 'DEBUG' : level === 'error' ? 'ERROR' : 'WARN';
  const bindAddress = metrics.temporalPort === undefined ? undefined : `${host.includes(':') ? `[${host}]` : host}:${metrics.temporalPort}`;
  Runtime.install({
    logger: new DefaultLogger(sdkLevel, ({ level: entryLevel, message, meta }) => {
      const fields = { sdk: true, workflowId: meta?.workflowId as unknown, activityType: meta?.activityType as unknown, error: meta?.error as unknown };
      if (entryLevel === 'ERROR') log.error(message, fields);
      else if (entryLevel === 'WARN') log.warn(message, fields);
      else log.debug(message, fields);
    }),
    // Native (Rust core) logs are forwarded to the logger above too, so every line is JSON.
    telemetryOptions: {
      logging: { filter: { core: sdkLevel === 'DEBUG' ? 'INFO' : 'WARN', other: 'ERROR' }, forward: {} },
      ...(bindAddress ? { metrics: { prometheus: { bindAddress } } } : {}),
    },
  });
  if (bindAddress) log.info('Temporal SDK metrics listening', { port: metrics.temporalPort });
}

export interface RunningWorker {
  /** Stops polling, lets in-flight activities finish, and closes what the worker opened. */
  stop(): Promise<void>;
  /** Resolves or rejects when the Temporal worker stops on its own. */
  done: Promise<void>;
}

/**
 * `serveMetrics: false` (npm start, unless METRICS_PORT is set) leaves out the worker's own
 * /metrics and /health listener.
 */
export async function startWorker(opts: ProcessDeps & { workflowBundle?: WorkflowBundleOption; serveMetrics?: boolean }): Promise<RunningWorker> {
  const { config, db } = opts;
  installRuntime(config);
  // Before connecting: a missing bundle file is a configuration error, reported at once.
  const prebuilt = opts.workflowBundle ?? prebuiltWorkflowBundle();
  const connection = await NativeConnection.connect(connectionOptions(config.temporal));
  const http = createHttpSender({ timeoutMs: config.deliveryTimeoutMs, allowPrivateNetwork: config.allowPrivateNetwork, allowedNetworks: config.allowedNetworks, allowHttp: config.allowHttp });
  const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, dataDir: config.dataDir });
  const shutdownGraceTime = config.deliveryTimeoutMs + 5_000;
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowBundle: prebuilt ?? (await bundleWorkflows()),
    activities: createActivities({ db, http, mailer, secrets: opts.secrets, publicUrl: config.publicUrl }),
    // A delivery's first attempt is a local activity that holds its workflow task's slot while the
    // request is under way: room for many slow endpoints at once (the CPU-bound part stays small).
    maxConcurrentWorkflowTaskExecutions: WORKFLOW_TASK_SLOTS,
    maxConcurrentLocalActivityExecutions: WORKFLOW_TASK_SLOTS,
    shutdownGraceTime,
    // Past this the worker stops even if Temporal is gone and activities cannot report back.
    shutdownForceTime: shutdownGraceTime + SHUTDOWN_FORCE_AFTER_GRACE_MS,
  });
  const done = worker.run();
  const metricsServer = await listenForMetrics(config, opts.serveMetrics ?? true, worker).catch(async (err: unknown) => {
    worker.shutdown();
    await done.catch(() => undefined);
    await connection.close();
    throw err;
  });
  const unwatchDatabase = watchDatabase(db);

  // On the worker's own connection, so that delivery starts are executed eagerly by this worker.
  const gateway = new TemporalGateway(config.temporal, connection);
  const starter = await startDeliveryStarter({ db, temporal: gateway, config });
  // Data retention (payloads, attempt bodies, Idempotency-Keys) runs on a Temporal Schedule, not here.
  // Not fatal: deliveries matter more, and the next worker start tries again.
  await gateway
    .call((client) => ensureRetentionSchedule(client, { taskQueue: config.temporal.taskQueue, retentionMs: config.retentionMs }))
    .then((outcome) => log.info(`retention schedule ${outcome}`, { scheduleId: retentionScheduleId(config.temporal.taskQueue), retentionMs: config.retentionMs }))
    .catch((err: unknown) => log.error('could not create or update the retention schedule; nothing is purged until a worker manages to', { scheduleId: retentionScheduleId(config.temporal.taskQueue), error: err }));
  // The worker's periodic jobs, each on its own timer.
  const loops = [
    startLoop('reconciler', config.reconcileIntervalMs, async (signal) => {
      const started = await reconcileStarts({ db, temporal: gateway, config }, { signal });
      if (started > 0) log.info('reconciler started delivery workflows', { started });
      const replays = await reconcileReplays({ db, temporal: gateway, config }, { signal });
      if (replays > 0) log.info('reconciler sent replay requests', { replays });
      await settleOrphanedReplays({ db, temporal: gateway, config }, { signal });
    }),
  ];

  log.info('worker started', { taskQueue: config.temporal.taskQueue, namespace: config.temporal.namespace });
  return {
    done,
    async stop() {
      await Promise.all([starter.stop(), ...loops.map((loop) => loop.stop())]);
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done.catch((err: unknown) => log.error('worker stopped with an error', { error: err }));
      await Promise.allSettled([gateway.close(), connection.close(), http.close(), metricsServer?.stop()]);
      unwatchDatabase();
      mailer.close();
    },
  };
}

/** The worker's /metrics and /health (cli/metrics-server.ts), when it serves them; logs the bound port. */
async function listenForMetrics(config: Pick<Config, 'host' | 'metrics'>, serve: boolean, worker: Worker): Promise<MetricsServer | undefined> {
  if (!serve) return undefined;
  const port = config.metrics.port ?? WORKER_METRICS_PORT;
  try {
    const server = await startMetricsServer({
      port,
      host: config.host,
      token: config.metrics.token,
      healthy: () => ({ ok: worker.getState() === 'RUNNING', state: worker.getState().toLowerCase() }),
    });
    log.info('metrics listening', { port: server.port });
    return server;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    const problem = `METRICS_PORT=${port}: the port is in use; choose another, or 0 for any free port`;
    // A port asked for is a promise to keep; the default one taken (a second worker on this machine) only costs this worker's metrics.
    if (config.metrics.port !== undefined) throw new Error(problem, { cause: err });
    log.warn(`${problem}; this worker runs without its /metrics and /health`, { port });
    return undefined;
  }
}

/**
 * Runs `tick` every `intervalMs` (never two at once) until stopped; a failing tick is logged. The
 * signal aborts when stopping, so a long tick can end early.
 */
function startLoop(name: string, intervalMs: number, tick: (signal: AbortSignal) => Promise<void>): { stop(): Promise<void> } {
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const schedule = () => {
    if (stopping.signal.aborted) return;
    timer = setTimeout(() => {
      running = tick(stopping.signal)
        .catch((err: unknown) => log.warn(`${name} pass failed; it will try again`, { error: err }))
        .finally(schedule);
    }, intervalMs);
  };
  schedule();
  return {
    async stop() {
      stopping.abort();
      clearTimeout(timer);
      await running;
    },
  };
}
