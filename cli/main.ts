import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createAccount } from '../db/accounts.ts';
import { reencryptSecrets } from '../db/secrets.ts';
import { migrateToLatest } from '../db/connection.ts';
import { ConfigError, loadConfig } from '../lib/config.ts';
import { parseDuration } from '../lib/duration.ts';
import { log, setLogLevel } from '../lib/log.ts';
import { onShutdown, openDb, secretBox, withTemporalAddress, type ProcessDeps } from './runtime.ts';
import { startServer } from './server.ts';
import { startAllInOne } from './start.ts';
import { setupTemporal } from './temporal-setup.ts';
import { bundleWorkflows, startWorker } from './worker.ts';

const USAGE = `Usage: openhooks <command>

Commands:
  start                 everything on one machine (embedded Temporal and Postgres unless configured)
  server                the REST API and the portal
  worker                the Temporal worker (delivery workflows and activities) and the reconciler
  migrate               bring the database schema up to date
  account create --name N --email E --password P
                        create an account with its owner and an API key; prints JSON
  secrets reencrypt     encrypt every stored secret with the current ENCRYPTION_KEY
                        (after rotating it; older keys in ENCRYPTION_KEYS_PREVIOUS)
  temporal setup [--timeout 2m]
                        register TEMPORAL_NAMESPACE and our search attributes on a self-hosted
                        Temporal server when missing, waiting for it to answer; prints JSON
  workflows bundle <file>
                        write the workflow bundle to <file>; a worker with WORKFLOW_BUNDLE=<file>
                        loads it instead of bundling at start (the Docker image does this)

Configuration is read from environment variables; see README.md.`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const config = loadConfig();
  setLogLevel(config.logLevel);
  /** Starts one long-running process; on SIGINT/SIGTERM stops it, then its pool. Resolves when it ends by itself. */
  const runProcess = async (start: (deps: ProcessDeps) => Promise<{ stop(): Promise<void>; done?: Promise<void> }>) => {
    const db = openDb(config);
    const running = await start({ config: withTemporalAddress(config, config.temporal.address ?? '127.0.0.1:7233'), db, secrets: secretBox(config) });
    onShutdown(async () => {
      await running.stop();
      await db.destroy();
    });
    return running.done;
  };

  switch (command) {
    case 'start':
      return startAllInOne(config);
    case 'server':
      return runProcess(startServer);
    case 'worker':
      return runProcess(startWorker);
    case 'migrate': {
      const db = openDb(config);
      try {
        const applied = await migrateToLatest(db);
        console.log(applied.length ? `applied: ${applied.join(', ')}` : 'the schema is up to date');
      } finally {
        await db.destroy();
      }
      return;
    }
    case 'account': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { name: { type: 'string' }, email: { type: 'string' }, password: { type: 'string' } },
        allowPositionals: true,
      });
      if (positionals[0] !== 'create' || !values.name || !values.email || !values.password) {
        throw new UsageError('openhooks account create --name N --email E --password P');
      }
      if (values.password.length < 8) throw new UsageError('the password must have at least 8 characters');
      const db = openDb(config);
      try {
        await migrateToLatest(db);
        const account = await createAccount(db, { name: values.name, email: values.email, password: values.password });
        console.log(JSON.stringify({ account_id: account.accountId, user_id: account.userId, api_key: account.apiKey }));
      } finally {
        await db.destroy();
      }
      return;
    }
    case 'secrets': {
      if (rest[0] !== 'reencrypt') throw new UsageError('openhooks secrets reencrypt');
      const db = openDb(config);
      try {
        const changed = await reencryptSecrets(db, secretBox(config));
        console.log(JSON.stringify({ reencrypted_endpoints: changed }));
      } finally {
        await db.destroy();
      }
      return;
    }
    case 'temporal': {
      const { values, positionals } = parseArgs({ args: rest, options: { timeout: { type: 'string' } }, allowPositionals: true });
      const timeoutMs = parseDuration(values.timeout ?? '2m');
      if (positionals[0] !== 'setup' || positionals.length !== 1 || timeoutMs === undefined) throw new UsageError('openhooks temporal setup [--timeout 2m]');
      const result = await setupTemporal(withTemporalAddress(config, config.temporal.address ?? '127.0.0.1:7233').temporal, { timeoutMs });
      console.log(JSON.stringify({ namespace: result.namespace, namespace_created: result.namespaceCreated, search_attributes_added: result.searchAttributesAdded }));
      return;
    }
    case 'workflows': {
      const [verb, file, ...extra] = rest;
      if (verb !== 'bundle' || !file || extra.length > 0) throw new UsageError('openhooks workflows bundle <file>');
      const bundle = await bundleWorkflows();
      mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      writeFileSync(file, bundle.code);
      console.log(JSON.stringify({ workflow_bundle: path.resolve(file), bytes: Buffer.byteLength(bundle.code) }));
      return;
    }
    default:
      throw new UsageError(command === undefined || command === 'help' || command === '--help' ? undefined : `unknown command: ${command}`);
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else if (err instanceof UsageError) console.error(err.message ? `${err.message}\n\n${USAGE}` : USAGE);
  else log.error('openhooks failed', { error: err, stack: err instanceof Error ? err.stack : undefined });
  process.exit(err instanceof UsageError && !err.message ? 0 : 1);
});
