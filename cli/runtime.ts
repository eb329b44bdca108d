import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { createDb, type Db } from '../db/connection.ts';
import { requireSetting, type Config } from '../lib/config.ts';
import { log } from '../lib/log.ts';
import { newEncryptionKey, SecretBox } from '../lib/secrets.ts';

/** Stops everything in reverse order on SIGINT/SIGTERM, once. */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
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
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
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
