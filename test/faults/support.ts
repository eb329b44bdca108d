import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { stopProcess } from '../../lib/temporal-dev-server.ts';
import { createDb } from '../../db/connection.ts';
import { freePort, waitFor } from '../support/ports.ts';
import { createTestDatabase, testEnv } from '../support/stack.ts';

const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(ROOT, 'bin/openhooks.js');

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A folder of this run's temp dir for one test file's logs and data. */
export function faultDir(name: string): string {
  return mkdtempSync(path.join(inject('tempDir'), `faults-${name}-`));
}

/** The environment a child gets: only what we pass, plus PATH/HOME (never the test runner's own variables). */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    ...env,
    NODE_ENV: 'production',
  };
}

/** `openhooks <args>` to completion (migrate, account create); bounded by `timeoutMs`. */
export async function openhooksCommand(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv(env), timeout: timeoutMs, killSignal: 'SIGKILL' });
  return stdout;
}

/** `openhooks account create` (it also migrates); returns the printed API key. */
export async function createAccountCli(env: Record<string, string>): Promise<{ accountId: string; apiKey: string }> {
  const out = await openhooksCommand(['account', 'create', '--name', 'Faults', '--email', 'owner@faults.test', '--password', 'correct horse battery'], env);
  const printed = JSON.parse(out.trim().split('\n').at(-1)!) as { account_id: string; api_key: string };
  return { accountId: printed.account_id, apiKey: printed.api_key };
}

const live = new Set<ChildProcess>();
// If the test process dies, its children must not outlive it.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export type Kind = 'server' | 'worker';

/**
 * One `node bin/openhooks.js server|worker` child. Every start writes its stdout and stderr to a
 * file of its own (`<name>-<n>.log`); `kill` sends the chosen signal and waits for the exit;
 * `restart` starts again with the same environment (so a server binds the same PORT).
 */
export class OpenhooksProcess {
  child: ChildProcess | undefined;
  starts = 0;
  readonly logFiles: string[] = [];
  private exit: Promise<void> = Promise.resolve();

  constructor(
    readonly kind: Kind,
    readonly env: Record<string, string>,
    readonly logDir: string,
    readonly name: string = kind,
  ) {
    if (kind === 'server' && (!env.PORT || env.PORT === '0')) throw new Error('a server process needs a fixed PORT (freePort()) so that a restart keeps it');
  }

  get url(): string {
    return `http://127.0.0.1:${this.env.PORT}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns the process and resolves once it is ready (server: /api/v1/health answers 200; worker: logs `worker started`). */
  async start(timeoutMs = 60_000): Promise<this> {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.starts++;
    const logFile = path.join(this.logDir, `${this.name}-${this.starts}.log`);
    this.logFiles.push(logFile);
    const fd = openSync(logFile, 'a');
    // The readiness line is an info line: children log at info (into files) unless told otherwise.
    const child = spawn(process.execPath, [BIN, this.kind], { cwd: ROOT, env: childEnv({ ...this.env, LOG_LEVEL: this.env.CHILD_LOG_LEVEL ?? 'info' }), stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.child = child;
    live.add(child);
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    this.exit = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exited = { code, signal };
        live.delete(child);
        resolve();
      });
    });
    try {
      await waitFor(
        `${this.name} to be ready`,
        async () => {
          if (exited) throw new Error(`${this.name} exited during start (code ${exited.code}, signal ${exited.signal}):\n${this.tail()}`);
          return (await this.ready()) ? true : undefined;
        },
        timeoutMs,
        100,
      );
    } catch (err) {
      child.kill('SIGKILL');
      await this.exit;
      throw err;
    }
    return this;
  }

  private async ready(): Promise<boolean> {
    if (this.kind === 'worker') return this.log().includes('"msg":"worker started"');
    try {
      const response = await fetch(`${this.url}/api/v1/health`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  }

  /** Sends `signal` and waits until the process is gone (a SIGTERM not obeyed in `graceMs` becomes SIGKILL). */
  async kill(signal: NodeJS.Signals = 'SIGKILL', graceMs = 15_000): Promise<void> {
    if (!this.child || !this.running) return;
    await stopProcess(this.child, signal, graceMs);
    await this.exit;
  }

  async restart(signal: NodeJS.Signals = 'SIGKILL'): Promise<this> {
    await this.kill(signal);
    return this.start();
  }

  /** Everything the process wrote in its current (or last) run. */
  log(): string {
    const file = this.logFiles.at(-1);
    if (!file) return '';
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  }

  /** The last lines of every run, for failure messages. */
  tail(lines = 30): string {
    return this.logFiles
      .map((file) => {
        let text = '';
        try {
          text = readFileSync(file, 'utf8');
        } catch {
          /* not written yet */
        }
        return `--- ${file}\n${text.split('\n').slice(-lines).join('\n')}`;
      })
      .join('\n');
  }
}

/** For a failing test: the end of every run's log of each process (the files go with the run's temp dir). */
export function printLogs(processes: (OpenhooksProcess | undefined)[], lines = 40): void {
  for (const p of processes) if (p) console.log(`${p.name} (${p.running ? 'running' : 'not running'}, ${p.starts} start(s)):\n${p.tail(lines)}`);
}

/** Stops every given process (SIGTERM, then SIGKILL after a grace period), all at once. */
export async function stopAll(processes: (OpenhooksProcess | undefined)[]): Promise<void> {
  await Promise.allSettled(processes.flatMap((p) => (p ? [p.kill('SIGTERM', 10_000)] : [])));
}

// ---------------------------------------------------------------------------------------------
// Receivers

export interface FaultRequest {
  webhookId: string;
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
  /** When our answer was fully handed to the socket; undefined while in flight or if it never was. */
  answeredAt?: number;
  /** The client went away before the answer was written. */
  aborted: boolean;
}

/**
 * A loopback receiver that answers 200 after `delayMs()` and knows, at every instant, which requests
 * are in flight (received, not yet answered).
 */
export async function startDelayedReceiver(delayMs: () => number = () => 0) {
  const requests: FaultRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let inFlight = 0;
  const server = createServer((req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: FaultRequest = {
        webhookId: String(req.headers['webhook-id'] ?? ''),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
        aborted: false,
      };
      requests.push(request);
      inFlight++;
      let settled = false;
      const settle = (aborted: boolean) => {
        if (settled) return;
        settled = true;
        inFlight--;
        if (aborted) request.aborted = true;
        else request.answeredAt = Date.now();
      };
      res.on('close', () => settle(!res.writableFinished));
      res.on('error', () => undefined);
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (res.destroyed) return settle(true);
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok', () => settle(false));
      }, delayMs());
      timers.add(timer);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    /** Requests received and not yet answered, right now. */
    inFlight: () => inFlight,
    /** Distinct webhook ids received. */
    distinct: () => new Set(requests.map((r) => r.webhookId)).size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
export type DelayedReceiver = Awaited<ReturnType<typeof startDelayedReceiver>>;

/** Random whole number of milliseconds in [min, max]. */
export const between = (min: number, max: number) => () => min + Math.floor(Math.random() * (max - min + 1));

/** Whether a TCP port on 127.0.0.1 can be listened on right now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createNetServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

// ---------------------------------------------------------------------------------------------
// Producing messages

export interface PostResult {
  status: number | 'connection_error';
  body: any;
  ms: number;
  replayed: boolean;
}

/** One POST with a deadline; a refused or reset connection is a result, not an exception. */
export async function postJson(url: string, apiKey: string, body: unknown, headers: Record<string, string> = {}, timeoutMs = 15_000): Promise<PostResult> {
  const started = Date.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let json: any = text;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: response.status, body: json, ms: Date.now() - started, replayed: response.headers.get('idempotent-replayed') === 'true' };
  } catch (err) {
    return { status: 'connection_error', body: String((err as Error).cause ?? err), ms: Date.now() - started, replayed: false };
  }
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once; results in order. */
export async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

// ---------------------------------------------------------------------------------------------
// The ledger

export interface Ledger {
  sent: number;
  delivered: number;
  failedRecorded: number;
  missing: number;
  /** Requests beyond the first for a message, summed. */
  duplicates: number;
  duplicateIds: Record<string, number>;
  missingIds: string[];
  /** Webhook ids the receiver saw that we never posted (must be none). */
  unexpectedIds: string[];
  line: string;
}

/**
 * Balances what was posted against what the receiver got: delivered (unique `webhook-id`s of posted
 * messages), duplicates, and missing (neither received nor recorded `failed`). Prints one line.
 */
export function ledger(input: { sent: readonly string[]; received: readonly { webhookId: string }[]; failedRecorded?: readonly string[]; label?: string }): Ledger {
  const counts = new Map<string, number>();
  for (const r of input.received) counts.set(r.webhookId, (counts.get(r.webhookId) ?? 0) + 1);
  const sent = new Set(input.sent);
  const failed = new Set(input.failedRecorded ?? []);
  const delivered = input.sent.filter((id) => (counts.get(id) ?? 0) > 0);
  const failedRecorded = input.sent.filter((id) => !counts.has(id) && failed.has(id));
  const missingIds = input.sent.filter((id) => !counts.has(id) && !failed.has(id));
  const duplicateIds: Record<string, number> = {};
  let duplicates = 0;
  for (const [id, n] of counts) {
    if (n > 1 && sent.has(id)) {
      duplicateIds[id] = n;
      duplicates += n - 1;
    }
  }
  const unexpectedIds = [...counts.keys()].filter((id) => !sent.has(id));
  const line = `ledger: sent=${input.sent.length} delivered=${delivered.length} failed_recorded=${failedRecorded.length} missing=${missingIds.length} duplicates=${duplicates}`;
  console.log(input.label ? `${line} (${input.label})` : line);
  if (duplicates > 0) console.log(`  duplicated messages (requests received): ${JSON.stringify(duplicateIds)}`);
  if (missingIds.length > 0) console.log(`  missing: ${missingIds.slice(0, 20).join(', ')}${missingIds.length > 20 ? ', …' : ''}`);
  if (unexpectedIds.length > 0) console.log(`  unexpected webhook ids: ${unexpectedIds.slice(0, 20).join(', ')}`);
  return { sent: input.sent.length, delivered: delivered.length, failedRecorded: failedRecorded.length, missing: missingIds.length, duplicates, duplicateIds, missingIds, unexpectedIds, line };
}

/** A server and a worker process on a fresh database, with an account: what most fault tests start from. */
export async function startSystem(name: string, overrides: Record<string, string> = {}) {
  const dir = faultDir(name);
  const database = await createTestDatabase();
  const env = testEnv({ DATABASE_URL: database.url, PORT: String(await freePort()), DELIVERY_TIMEOUT: '5s', RATE_LIMIT: '0', ...overrides });
  const { apiKey } = await createAccountCli(env);
  const server = new OpenhooksProcess('server', env, dir);
  const worker = new OpenhooksProcess('worker', env, dir);
  await Promise.all([server.start(), worker.start()]);
  const db = createDb(database.url, 2);
  return {
    env,
    apiKey,
    server,
    worker,
    db,
    async stop() {
      await stopAll([server, worker]);
      await db.destroy();
      await database.drop();
    },
  };
}
