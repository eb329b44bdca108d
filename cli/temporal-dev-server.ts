import { Connection } from '@temporalio/client';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SEARCH_ATTRIBUTES } from '../lib/search-attributes.ts';
import { logTail, spawnService, stopProcess } from './service-process.ts';

export { stopProcess };

const ensureScript = fileURLToPath(new URL('../scripts/ensure-temporal.sh', import.meta.url));

/** The Temporal CLI's path, downloading (or building) it when it is missing (see scripts/ensure-temporal.sh). */
export function ensureTemporalCli(): string {
  return execFileSync('bash', [ensureScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/**
 * Dynamic config for one process serving one task queue (bench/RESULTS.md, tuning log):
 * - the CLI forces a search-attribute cache refresh on every read, a dozen metadata reads per
 *   delivery; ours are written into the namespace with the database (`--search-attribute`), before
 *   any cache is filled, so it never misses them;
 * - one task-queue partition, as nothing is gained from forwarding between partitions of one process;
 * - the single history shard may run more than one persistence operation at once.
 */
const DEV_SERVER_TUNING = [
  'system.forceSearchAttributesCacheRefreshOnRead=false',
  'matching.numTaskqueueReadPartitions=1',
  'matching.numTaskqueueWritePartitions=1',
  'history.shardIOConcurrency=4',
];

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  process: ChildProcess;
  /** SIGTERM, and SIGKILL for its process group after `graceMs` (10 s by default). */
  stop(graceMs?: number): Promise<void>;
}

/**
 * `temporal server start-dev` with a SQLite file under `dataDir` (WAL, so a crash loses nothing
 * committed) and our search attributes registered. Resolves once the frontend answers.
 */
export async function startDevServer(opts: { dataDir: string; port: number; uiPort?: number; headless?: boolean; logFile: string }): Promise<DevServer> {
  const cli = ensureTemporalCli();
  mkdirSync(opts.dataDir, { recursive: true });
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(opts.port),
    '--db-filename', path.join(opts.dataDir, 'temporal.sqlite'),
    '--sqlite-pragma', 'journal_mode=wal',
    '--sqlite-pragma', 'synchronous=normal',
    // A 64 MiB page cache and memory-mapped reads: the history and visibility tables stay in memory.
    '--sqlite-pragma', 'cache_size=-65536',
    '--sqlite-pragma', 'mmap_size=268435456',
    '--log-level', 'warn',
    // The first attempt's activity task comes back with the workflow task that schedules it, instead
    // of through a second round of matching: lower latency and less server work per delivery
    // (bench/RESULTS.md). Production clusters want the same dynamic config value.
    '--dynamic-config-value', 'system.enableActivityEagerExecution=true',
    ...DEV_SERVER_TUNING.flatMap((value) => ['--dynamic-config-value', value]),
    ...SEARCH_ATTRIBUTES.flatMap((sa) => ['--search-attribute', `${sa.name}=${sa.type}`]),
    ...(opts.headless || opts.uiPort === undefined ? ['--headless'] : ['--ui-port', String(opts.uiPort)]),
  ];
  const child = spawnService(cli, args, { logFile: opts.logFile, stopSignal: 'SIGTERM' });
  const address = `127.0.0.1:${opts.port}`;
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code) => reject(new Error(`temporal server start-dev exited with code ${code}; the end of ${opts.logFile}:\n${logTail(opts.logFile)}`)));
  });
  try {
    await Promise.race([waitForFrontend(address, 60_000), exited]);
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
  return {
    address,
    uiUrl: opts.uiPort !== undefined && !opts.headless ? `http://127.0.0.1:${opts.uiPort}` : undefined,
    process: child,
    stop: (graceMs) => stopProcess(child, undefined, graceMs),
  };
}

async function waitForFrontend(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Temporal dev server at ${address} did not become ready`, { cause: err });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
