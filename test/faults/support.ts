import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { createDb, type Db } from '../../db/connection.ts';
import { freePort, waitFor } from '../support/ports.ts';
import { createAccountCli, OpenhooksProcess, scratchDir, stopAll } from '../support/processes.ts';
import { createTestDatabase, testEnv } from '../support/stack.ts';

/** A folder of this run's temp dir for one test file's logs and data. */
export function faultDir(name: string): string {
  return scratchDir(`faults-${name}`);
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

/** Waits until all `count` deliveries of the app are finished, and returns their statuses. */
export function finishedDeliveries(db: Db, appId: string, count: number, timeoutMs = 60_000) {
  return waitFor(
    'every delivery recorded as finished',
    async () => {
      const rows = await db.selectFrom('deliveries').select(['message_id', 'status']).where('app_id', '=', appId).execute();
      return rows.length === count && rows.every((row) => row.status !== 'pending') ? rows : undefined;
    },
    timeoutMs,
    250,
  );
}
