import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { logTail, spawnService, stopProcess } from './service-process.ts';

const script = fileURLToPath(new URL('../scripts/temporal-server.sh', import.meta.url));

export interface TemporalServer {
  address: string;
  process: ChildProcess;
  /** Its two Postgres databases, made for it and dropped by stop(). */
  databases: { temporal: string; visibility: string };
  /** SIGTERM (SIGKILL after `graceMs`), then drops its two databases. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * The real Temporal server on the local Postgres, in two fresh databases, through
 * scripts/temporal-server.sh (schema, config, run, register): the production shape, where
 * startDevServer is the one-process convenience. Resolves once namespace `default` and our search
 * attributes are registered.
 */
export async function startTemporalServer(opts: { dataDir: string; logFile: string; port?: number; shards?: number }): Promise<TemporalServer> {
  mkdirSync(opts.dataDir, { recursive: true });
  const temporal = `openhooks_temporal_${randomBytes(4).toString('hex')}`;
  const databases = { temporal, visibility: `${temporal}_visibility` };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_DB: databases.temporal,
    TEMPORAL_VISIBILITY_DB: databases.visibility,
    ...(opts.port === undefined ? {} : { TEMPORAL_PORT: String(opts.port) }),
    ...(opts.shards === undefined ? {} : { TEMPORAL_SHARDS: String(opts.shards) }),
  };
  const step = (...args: string[]) => runScript(args, env, opts.logFile);
  const drop = () => step('drop').then(() => undefined);

  let child: ChildProcess | undefined;
  try {
    await step('schema');
    const address = (await step('config', opts.dataDir)).trim();
    child = spawnService('bash', [script, 'run', opts.dataDir], { logFile: opts.logFile, stopSignal: 'SIGTERM', env });
    const started = child;
    const exited = new Promise<never>((_, reject) => {
      started.once('exit', (code) => reject(new Error(`the Temporal server exited with code ${code}; the end of ${opts.logFile}:\n${logTail(opts.logFile)}`)));
    });
    await Promise.race([step('register', address), exited]);
    return {
      address,
      process: started,
      databases,
      stop: async (graceMs) => {
        await stopProcess(started, undefined, graceMs);
        await drop();
      },
    };
  } catch (err) {
    if (child) await stopProcess(child);
    await drop().catch(() => undefined);
    throw err;
  }
}

/** One subcommand of the script: its stdout, its stderr appended to the log; rejects on a non-zero exit. */
function runScript(args: string[], env: NodeJS.ProcessEnv, logFile: string): Promise<string> {
  const log = openSync(logFile, 'a');
  const child = spawn('bash', [script, ...args], { env, stdio: ['ignore', 'pipe', log] });
  closeSync(log);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`scripts/temporal-server.sh ${args[0]} exited with code ${code}; the end of ${logFile}:\n${logTail(logFile)}`));
    });
  });
}
