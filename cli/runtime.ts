import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { createDb, type Db } from '../db/connection.ts';
import { requireSetting, type Config } from '../lib/config.ts';
import { log } from '../lib/log.ts';
import { newEncryptionKey, SecretBox } from '../lib/secrets.ts';

/** Runs `stop` on the first SIGINT/SIGTERM, then exits; a second signal exits at once (what is still running gets its stop signal on exit). */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn('a second signal: exiting without waiting', { signal });
      process.exit(1);
    }
    stopping = true;
    log.info('shutting down', { signal });
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('shutdown failed', { error: err });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

export interface StopStep {
  name: string;
  stop(): Promise<void>;
  timeoutMs: number;
}

/**
 * Runs the steps one after the other, each bounded by its timeout: a step that hangs is logged and
 * left behind, so the whole stop takes at most the sum of the timeouts. Logs what was stopped.
 */
export async function stopInOrder(steps: StopStep[]): Promise<void> {
  for (const step of steps) {
    const began = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), step.timeoutMs);
    });
    const outcome = await Promise.race([step.stop().then(() => 'stopped' as const, (err: unknown) => err), timedOut]);
    clearTimeout(timer);
    const ms = Math.round(performance.now() - began);
    if (outcome === 'stopped') log.info('stopped', { what: step.name, ms });
    else if (outcome === 'timeout') log.warn('did not stop in time; going on without it', { what: step.name, ms });
    else log.warn('stopping failed; going on', { what: step.name, ms, error: outcome });
  }
}

/** What every long-running process (server, worker) is started with. */
export interface ProcessDeps {
  config: Config & { temporal: { address: string } };
  db: Db;
  secrets: SecretBox;
}

export function openDb(config: Config): Db {
  const url = requireSetting(config.databaseUrl, 'DATABASE_URL', 'set it to your Postgres, such as postgres://user:pass@host:5432/openhooks');
  return createDb(url, config.databasePoolSize);
}

export function secretBox(config: Config): SecretBox {
  return new SecretBox(requireSetting(config.encryptionKey, 'ENCRYPTION_KEY', 'set it to 32 random bytes in base64 (openssl rand -base64 32)'), config.previousEncryptionKeys);
}

/** For `npm start` only: a key kept in the data folder, created on first start. */
export function localEncryptionKey(dataDir: string): string {
  const file = path.resolve(dataDir, 'encryption.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const key = newEncryptionKey();
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

export function withTemporalAddress(config: Config, address: string): Config & { temporal: { address: string } } {
  return { ...config, temporal: { ...config.temporal, address } };
}
