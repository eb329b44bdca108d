/**
 * npm run bench: measures, on this machine and in one run, against the same loopback receiver:
 *   B  the floor: sign, POST with undici, insert the attempt row; no queue, no Temporal
 *   T  the engine ceiling: workflows of our shape with a no-op activity, on the same dev server
 *   E  the engine floor: empty workflows (no activity, nothing recorded), started the same way
 *   S  openhooks: messages posted to the real API, delivered by the real worker (separate processes)
 *   A  API acceptance (202s per second) against a bare Express + single INSERT handler
 * plus a fan-out (one message to many endpoints) and a burst (many messages at once, then drain),
 * and the same burst against `npm start`'s embedded defaults (its own Postgres and Temporal dev server).
 * Latency is open-model: messages are scheduled at a fixed rate and measured from their scheduled
 * time to their arrival at the receiver, so a lagging generator cannot hide latency.
 * Sizes come from the environment (see PARAMS); the last line is a summary a script can read.
 */
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { sql } from 'kysely';
import pg from 'pg';
import { Agent, request } from 'undici';
import { createAccount } from '../db/accounts.ts';
import { createDb, migrateToLatest, type Db } from '../db/connection.ts';
import { newId } from '../lib/ids.ts';
import { newEncryptionKey } from '../lib/secrets.ts';
import { newSigningSecret, signatureHeaders } from '../lib/signing.ts';
import { APP_ID, DELIVERY_STATUS, ENDPOINT_ID, EVENT_TYPE, SUBSCRIBER_ID } from '../lib/search-attributes.ts';
import { freePort } from '../cli/service-process.ts';
import { startDevServer, stopProcess } from '../cli/temporal-dev-server.ts';
import { startTemporalServer } from '../cli/temporal-server.ts';
import { WORKFLOW_TASK_SLOTS } from '../cli/worker.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
export const PARAMS = {
  rate: num('BENCH_RATE', 0), // messages per second for the latency phase; 0: half of the measured S throughput
  warmupS: num('BENCH_WARMUP_S', 3),
  steadyS: num('BENCH_STEADY_S', 15),
  throughputN: num('BENCH_THROUGHPUT_N', 1000), // items per B / T / S throughput run
  acceptS: num('BENCH_ACCEPT_S', 5),
  acceptConcurrency: num('BENCH_ACCEPT_CONCURRENCY', 32),
  acceptRate: num('BENCH_ACCEPT_RATE', 1000), // the acceptance target, held open-model with Temporal paused
  fanout: num('BENCH_FANOUT', 100),
  burstN: num('BENCH_BURST_N', 2000),
  embeddedN: num('BENCH_EMBEDDED_N', 500), // the burst against `openhooks start` with its embedded defaults
  drainTimeoutS: num('BENCH_DRAIN_TIMEOUT_S', 180),
};
/**
 * The Temporal that S and T run on: the CLI's dev server (one process, SQLite), or with
 * BENCH_TEMPORAL=server the real server on the local Postgres in fresh databases, the production
 * shape (scripts/temporal-server.sh; TEMPORAL_SHARDS sets its history shards, 8 by default).
 */
export const BENCH_TEMPORAL = process.env.BENCH_TEMPORAL ?? 'dev';
if (BENCH_TEMPORAL !== 'dev' && BENCH_TEMPORAL !== 'server') throw new Error(`BENCH_TEMPORAL must be dev or server, not ${BENCH_TEMPORAL}`);
const TEMPORAL_DESCRIPTION = BENCH_TEMPORAL === 'server' ? `real server (Postgres, ${process.env.TEMPORAL_SHARDS ?? 8} history shards)` : 'dev server (SQLite)';

// ---------------------------------------------------------------------------------------------
// Measuring helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
const round = (n: number) => Math.round(n * 10) / 10;
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

/** CPU seconds a process has used so far (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Waits until the processes together use under a tenth of a core over half a second (at most
 * `timeoutMs`); answers how long that took. After a saturating run, Temporal and the worker go on
 * for a while with what it left (history and visibility tasks, task completions) after the last
 * delivery is recorded: a phase that starts then measures that backlog, not its own load.
 */
async function settle(pids: number[], timeoutMs = 30_000): Promise<number> {
  const began = performance.now();
  const total = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  for (let before = total(); performance.now() - began < timeoutMs; ) {
    await sleep(500);
    const now = total();
    if (now - before < 0.05) break;
    before = now;
  }
  return performance.now() - began;
}

/** The receiver every scenario delivers to: records when each id first arrives. */
async function startReceiver() {
  const arrivals = new Map<string, number>();
  let requests = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const id = req.headers['webhook-id'] as string | undefined;
      if (id && !arrivals.has(id)) arrivals.set(id, performance.now());
      res.writeHead(200).end('ok');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/hook`, arrivals, requests: () => requests, close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
}

/** Fires `fire(i)` for i = 0..n-1 at `rate` per second (open model) and returns the scheduled times. */
async function openModel(n: number, rate: number, fire: (i: number, scheduledAt: number) => Promise<void>): Promise<number[]> {
  const start = performance.now() + 50;
  const scheduled: number[] = [];
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const at = start + (i * 1000) / rate;
    scheduled.push(at);
    const wait = at - performance.now();
    // Behind schedule, still yield once per message: answers must be read while sending goes on.
    if (wait > 1) await sleep(wait);
    else await new Promise((r) => setImmediate(r));
    inFlight.push(fire(i, at).catch(() => undefined));
  }
  await Promise.all(inFlight);
  return scheduled;
}

async function waitUntil(what: string, done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

// ---------------------------------------------------------------------------------------------
// The system under test

interface Env {
  [key: string]: string;
}

function spawnOpenhooks(kind: 'server' | 'worker' | 'start', env: Env, logDir: string): ChildProcess {
  const log = path.join(logDir, `${kind}.log`);
  // BENCH_NODE_ARGS go to the child's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'bin/openhooks.js'), kind], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => out.push(c));
  child.on('exit', (code) => {
    const output = Buffer.concat(out);
    writeFileSync(log, output);
    // The work folder goes at the end of the run: a child that failed shows its last lines here.
    if (code !== null && code !== 0) process.stderr.write(`openhooks ${kind} exited with ${code}:\n${output.toString().split('\n').slice(-20).join('\n')}\n`);
  });
  return child;
}

async function api(base: string, key: string, method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/api/v1${route}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json().catch(() => undefined) };
}

// ---------------------------------------------------------------------------------------------

interface Row {
  scenario: string;
  items: number;
  per_s: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  cpu: string;
  note: string;
}

/**
 * S, the system under test: Temporal (see BENCH_TEMPORAL), a fresh database, the receiver, and openhooks'
 * server and worker as child processes, with one app whose one endpoint is the receiver.
 */
export async function startSystemUnderTest(work: string) {
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const temporalOpts = { dataDir: path.join(work, 'temporal'), port: await freePort(), logFile: path.join(work, 'temporal.log') };
    const temporal = BENCH_TEMPORAL === 'server' ? await startTemporalServer(temporalOpts) : await startDevServer({ ...temporalOpts, headless: true });
    cleanups.push(() => temporal.stop());
    const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const dbName = `openhooks_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    cleanups.push(async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await c.end();
    });
    const dbUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();
    const db = createDb(dbUrl, 10);
    cleanups.push(() => db.destroy());
    await migrateToLatest(db);
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());

    const account = await createAccount(db, { name: 'Bench', email: 'bench@openhooks.test', password: 'benchmark-password' });
    const apiPort = await freePort();
    const env: Env = {
      DATABASE_URL: dbUrl, TEMPORAL_ADDRESS: temporal.address, TEMPORAL_TASK_QUEUE: 'bench', ENCRYPTION_KEY: newEncryptionKey(),
      PORT: String(apiPort), HOST: '127.0.0.1', ALLOW_PRIVATE_NETWORK: 'true', ALLOW_HTTP: 'true', RATE_LIMIT: '0',
      DATA_DIR: path.join(work, 'data'), LOG_LEVEL: 'warn', RECONCILE_INTERVAL: '5s',
    };
    mkdirSync(env.DATA_DIR!, { recursive: true });
    const server = spawnOpenhooks('server', env, work);
    const worker = spawnOpenhooks('worker', env, work);
    cleanups.push(() => stopProcess(server), () => stopProcess(worker));
    const base = `http://127.0.0.1:${apiPort}`;
    await waitUntil('the API', async () => {
      for (const [kind, child] of [['server', server], ['worker', worker]] as const) if (child.exitCode !== null) throw new Error(`openhooks ${kind} exited with ${child.exitCode} while starting`);
      return fetch(`${base}/api/v1/health`).then((r) => r.ok, () => false);
    }, 60_000);

    const app = (await api(base, account.apiKey, 'POST', '/apps', { name: 'bench' })).body;
    await api(base, account.apiKey, 'POST', `/apps/${app.id}/webhook_events`, { event_type: 'bench.event' });
    const sub = (await api(base, account.apiKey, 'POST', `/apps/${app.id}/subscriptions`, { name: 'one' })).body;
    await api(base, account.apiKey, 'POST', `/subscriptions/${sub.id}/endpoints`, { url: receiver.url, version: '1' });
    // The load generator shares the two cores with what it measures: undici's request costs it far
    // less CPU per call than fetch (bench/RESULTS.md).
    const agent = new Agent({ connections: 128, keepAliveTimeout: 30_000 });
    cleanups.push(() => agent.close());
    const messagesUrl = `${base}/api/v1/apps/${app.id}/messages`;
    const headers = { authorization: `Bearer ${account.apiKey}`, 'content-type': 'application/json' };
    const post = async (data: unknown): Promise<{ status: number; body: any }> => {
      const res = await request(messagesUrl, { method: 'POST', headers, body: JSON.stringify({ event_type: 'bench.event', version: '1', data }), dispatcher: agent });
      return { status: res.statusCode, body: await res.body.json() };
    };
    return { temporal, db, dbUrl, receiver, base, account, server, worker, post, serverPid: server.pid!, workerPid: worker.pid!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

let runtimeInstalled = false;

export async function runBench(params = PARAMS): Promise<{ rows: Row[]; summary: Record<string, number | string>; summaryLine: string }> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    Runtime.install({ logger: new DefaultLogger('WARN') });
  }
  const work = mkdtempSync(path.join(tmpdir(), 'openhooks-bench-'));
  const cleanups: (() => Promise<void>)[] = [() => Promise.resolve(rmSync(work, { recursive: true, force: true }))];
  const rows: Row[] = [];
  try {
    const system = await startSystemUnderTest(work);
    cleanups.push(() => system.stop());
    const { temporal, db, dbUrl, receiver, base, account, server, worker, post } = system;

    // Warm-up (caches, JIT, connections), then throughput: N messages posted as fast as 16 clients
    // can, and the time until all arrived. That is the sustainable rate.
    const warmupRate = 10;
    await openModel(Math.round(warmupRate * params.warmupS), warmupRate, async (i) => void (await post({ warmup: i })));
    // CPU seconds of every process on the delivery path: steadier than wall time on a shared machine.
    const cpuStart = { server: cpuSeconds(server.pid!), worker: cpuSeconds(worker.pid!), temporal: cpuSeconds(temporal.process.pid!) };
    const sThroughput = await drain(params.throughputN, async (i) => (await post({ t: i })).body.id as string, receiver, params.drainTimeoutS);
    const cpuEnd = { server: cpuSeconds(server.pid!), worker: cpuSeconds(worker.pid!), temporal: cpuSeconds(temporal.process.pid!) };
    const cpuMsPerDelivery = ((cpuEnd.server + cpuEnd.worker + cpuEnd.temporal - cpuStart.server - cpuStart.worker - cpuStart.temporal) * 1000) / params.throughputN;
    const sLedger = await ledger(db, sThroughput.ids);
    rows.push({ scenario: 'S throughput', items: params.throughputN, per_s: round(sThroughput.perS), p50_ms: NaN, p90_ms: NaN, p99_ms: NaN, cpu: `server ${round(cpuEnd.server - cpuStart.server)}s, worker ${round(cpuEnd.worker - cpuStart.worker)}s, temporal ${round(cpuEnd.temporal - cpuStart.temporal)}s: ${round(cpuMsPerDelivery)} ms per delivery`, note: `ledger ${sLedger.ok ? 'ok' : 'VOID'} (${sLedger.text})` });

    // Latency, open model, at half the sustainable rate unless BENCH_RATE says otherwise, once the
    // throughput run's backlog is worked off (see settle).
    const settledMs = await settle([server.pid!, worker.pid!, temporal.process.pid!]);
    const rate = params.rate > 0 ? params.rate : Math.max(1, Math.round(sThroughput.perS / 2));
    const steadyN = Math.round(rate * params.steadyS);
    const ids: string[] = new Array<string>(steadyN);
    const acceptMs: number[] = [];
    const scheduled = await openModel(steadyN, rate, async (i) => {
      const sent = performance.now();
      const res = await post({ i });
      acceptMs.push(performance.now() - sent);
      if (res.status === 202) ids[i] = res.body.id as string;
    });
    const posted = ids.filter(Boolean);
    await waitUntil('the steady phase to drain', () => posted.every((id) => receiver.arrivals.has(id)), params.drainTimeoutS * 1000).catch(() => undefined);
    const latency = posted.map((id) => receiver.arrivals.get(id)! - scheduled[ids.indexOf(id)]!).filter((v) => Number.isFinite(v));
    const steadyLedger = await ledger(db, posted);
    rows.push({ scenario: `S latency @${rate}/s`, items: posted.length, per_s: rate, p50_ms: round(percentile(latency, 0.5)), p90_ms: round(percentile(latency, 0.9)), p99_ms: round(percentile(latency, 0.99)), cpu: '', note: `ledger ${steadyLedger.ok ? 'ok' : 'VOID'} (${steadyLedger.text}); accept p99 ${round(percentile(acceptMs, 0.99))} ms; started ${round(settledMs / 1000)} s after the S run, once quiet` });

    // Fan-out: one message to many endpoints.
    const fanApp = (await api(base, account.apiKey, 'POST', '/apps', { name: 'fanout' })).body;
    await api(base, account.apiKey, 'POST', `/apps/${fanApp.id}/webhook_events`, { event_type: 'bench.event' });
    const fanSub = (await api(base, account.apiKey, 'POST', `/apps/${fanApp.id}/subscriptions`, { name: 'many' })).body;
    const before = receiver.requests();
    for (let e = 0; e < params.fanout; e += 20) {
      // A subscriber holds 20 endpoints at most by default; spread them over subscribers.
      const owner = e === 0 ? fanSub : (await api(base, account.apiKey, 'POST', `/apps/${fanApp.id}/subscriptions`, { name: `many-${e}` })).body;
      for (let k = e; k < Math.min(e + 20, params.fanout); k++) await api(base, account.apiKey, 'POST', `/subscriptions/${owner.id}/endpoints`, { url: `${receiver.url}?e=${k}`, version: '1' });
    }
    const fanStart = performance.now();
    await api(base, account.apiKey, 'POST', `/apps/${fanApp.id}/messages`, { event_type: 'bench.event', version: '1', data: { fanout: true } });
    await waitUntil('the fan-out', () => receiver.requests() - before >= params.fanout, params.drainTimeoutS * 1000);
    rows.push({ scenario: `fan-out 1→${params.fanout}`, items: params.fanout, per_s: round((params.fanout * 1000) / (performance.now() - fanStart)), p50_ms: NaN, p90_ms: NaN, p99_ms: round(performance.now() - fanStart), cpu: '', note: 'p99 column: time until the last endpoint got it' });

    // Burst: many messages as fast as possible, then time to drain.
    const burst = await drain(params.burstN, async (i) => (await post({ burst: i })).body.id as string, receiver, params.drainTimeoutS);
    rows.push({ scenario: `burst ${params.burstN}`, items: params.burstN, per_s: round(burst.perS), p50_ms: NaN, p90_ms: NaN, p99_ms: round(burst.totalMs), cpu: '', note: `posted in ${round(burst.postMs)} ms; p99 column: time until drained` });

    // ---- A: acceptance. First as deployed here, with the worker and Temporal delivering what is
    // accepted on the same two cores; then the API alone: no worker, and the Temporal server paused
    // (SIGSTOP), so the messages stay pending. Acceptance never calls Temporal, so it must not
    // notice. Then the same closed loop against a bare Express + single INSERT handler.
    const acceptedIds: string[] = [];
    const acceptOnce = async () => {
      const res = await post({ a: 1 });
      if (res.status === 202) acceptedIds.push(res.body.id as string);
      return res.status === 202;
    };
    const acceptLive = await closedLoop(params.acceptS, params.acceptConcurrency, acceptOnce);
    await stopProcess(worker);
    temporal.process.kill('SIGSTOP');
    let acceptAlone: Awaited<ReturnType<typeof closedLoop>>;
    let acceptAtRate: { perS: number; p50: number; p99: number };
    try {
      acceptAlone = await closedLoop(params.acceptS, params.acceptConcurrency, acceptOnce);
      const n = Math.round(params.acceptRate * params.acceptS);
      const done: number[] = new Array<number>(n).fill(NaN);
      const started = performance.now();
      const scheduledAt = await openModel(n, params.acceptRate, async (i) => {
        if (await acceptOnce()) done[i] = performance.now();
      });
      const latency = done.map((t, i) => t - scheduledAt[i]!).filter((v) => Number.isFinite(v));
      if (latency.length !== n) throw new Error(`${n - latency.length} of ${n} messages were not accepted at ${params.acceptRate}/s`);
      acceptAtRate = { perS: (n * 1000) / (Math.max(...done) - started), p50: percentile(latency, 0.5), p99: percentile(latency, 0.99) };
    } finally {
      temporal.process.kill('SIGCONT');
    }
    await stopProcess(server); // its queued starts must not run during B and T
    const acceptLedger = await acceptedLedger(db, acceptedIds);
    const bare = await startBareApi(dbUrl);
    cleanups.push(bare.close);
    const bareAgent = new Agent({ connections: 128, keepAliveTimeout: 30_000 });
    cleanups.push(() => bareAgent.close());
    const bareBody = JSON.stringify({ event_type: 'bench.event', version: '1', data: { a: 1 } });
    const bareRun = await closedLoop(params.acceptS, params.acceptConcurrency, async () => {
      const res = await request(bare.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bareBody, dispatcher: bareAgent });
      await res.body.arrayBuffer();
      return res.statusCode === 202;
    });
    const closedRow = (scenario: string, run: Awaited<ReturnType<typeof closedLoop>>, note: string): Row => ({ scenario, items: run.count, per_s: round(run.perS), p50_ms: round(run.p50), p90_ms: round(run.p90), p99_ms: round(run.p99), cpu: '', note });
    rows.push(closedRow('A accept, engine live', acceptLive, `${params.acceptConcurrency} clients, closed loop; the worker and Temporal deliver them on the same cores`));
    rows.push(closedRow('A accept, API alone', acceptAlone, `${params.acceptConcurrency} clients, closed loop; no worker, Temporal paused; ${acceptLedger.text}`));
    rows.push({ scenario: `A accept @${params.acceptRate}/s, API alone`, items: Math.round(params.acceptRate * params.acceptS), per_s: round(acceptAtRate.perS), p50_ms: round(acceptAtRate.p50), p90_ms: NaN, p99_ms: round(acceptAtRate.p99), cpu: '', note: 'open model; latency from the scheduled send' });
    rows.push(closedRow('A bare Express+INSERT', bareRun, 'the same closed loop'));

    // ---- B: the floor
    const floor = await runFloor(db, params.throughputN, receiver);
    rows.push({ scenario: 'B floor (sign+POST+INSERT)', items: params.throughputN, per_s: round(floor.perS), p50_ms: NaN, p90_ms: NaN, p99_ms: NaN, cpu: '', note: '16 concurrent loops' });

    // ---- T: the engine ceiling, on the same dev server
    const engine = await runEngine(temporal, params.throughputN);
    rows.push({ scenario: 'T engine (no-op activity)', items: params.throughputN, per_s: round(engine.perS), p50_ms: NaN, p90_ms: NaN, p99_ms: NaN, cpu: engine.cpu, note: 'same workflow shape and eager start, in-process worker' });
    const empty = await runEngine(temporal, params.throughputN, 'emptyWorkflow');
    rows.push({ scenario: 'E engine floor (empty workflow)', items: params.throughputN, per_s: round(empty.perS), p50_ms: NaN, p90_ms: NaN, p99_ms: NaN, cpu: empty.cpu, note: 'no activity at all: the most workflows/s these cores run, whatever a workflow does' });

    // ---- The embedded default: the same burst against `openhooks start` with no DATABASE_URL and no TEMPORAL_ADDRESS.
    const embedded = await runEmbeddedDefault(work, params.embeddedN, receiver, params.drainTimeoutS);
    rows.push({ scenario: `embedded default, burst ${params.embeddedN}`, items: params.embeddedN, per_s: round(embedded.perS), p50_ms: NaN, p90_ms: NaN, p99_ms: round(embedded.totalMs), cpu: '', note: `npm start's own Postgres and Temporal; every post 202, posted in ${round(embedded.postMs)} ms; ready in ${round(embedded.readyS)} s, stopped ${round(embedded.stopS)} s after SIGINT; p99 column: time until drained` });

    const ledgerOk = steadyLedger.ok && sLedger.ok && acceptLedger.ok;
    const summary = {
      'S/T': ratio(sThroughput.perS, engine.perS),
      'S/B': ratio(sThroughput.perS, floor.perS),
      'S/E': ratio(sThroughput.perS, empty.perS),
      engine_floor_per_s: round(empty.perS),
      'A/bare': ratio(acceptAlone.perS, bareRun.perS),
      accept_per_s: round(acceptAlone.perS),
      deliveries_per_s: round(sThroughput.perS),
      p50_ms: round(percentile(latency, 0.5)),
      p99_ms: round(percentile(latency, 0.99)),
      ledger: ledgerOk ? 'ok' : 'void',
    };
    const summaryLine = `bench: S/T=${summary['S/T']} S/B=${summary['S/B']} A/bare=${summary['A/bare']} accept_per_s=${summary.accept_per_s} deliveries_per_s=${summary.deliveries_per_s} p50_ms=${summary.p50_ms} p99_ms=${summary.p99_ms} engine_floor_per_s=${summary.engine_floor_per_s} S/E=${summary['S/E']} ledger=${summary.ledger}`;
    return { rows, summary, summaryLine };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

/**
 * `openhooks start` as a new user runs it (embedded Postgres and Temporal dev server, in a data
 * folder of its own), one app whose endpoint is the receiver, then a burst of `n` messages from 16
 * clients with the demo API key it prints. Any answer but 202 fails the run.
 */
async function runEmbeddedDefault(work: string, n: number, receiver: Awaited<ReturnType<typeof startReceiver>>, drainTimeoutS: number) {
  // Run as root, the embedded Postgres runs as the user postgres, who must be able to enter the folder.
  chmodSync(work, 0o755);
  const port = await freePort();
  const env: Env = {
    DATA_DIR: path.join(work, 'embedded'), PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT: '0',
    TEMPORAL_DEV_PORT: String(await freePort()), TEMPORAL_UI_PORT: String(await freePort()),
  };
  const began = performance.now();
  const child = spawnOpenhooks('start', env, work);
  let stdout = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  try {
    await waitUntil('openhooks start', () => stdout.includes('openhooks is running'), 120_000);
    const readyS = (performance.now() - began) / 1000;
    const key = /API key:\s+(\S+)/.exec(stdout)?.[1];
    if (!key) throw new Error(`openhooks start printed no API key:\n${stdout}`);
    const base = `http://127.0.0.1:${port}`;
    const app = (await api(base, key, 'POST', '/apps', { name: 'embedded' })).body;
    await api(base, key, 'POST', `/apps/${app.id}/webhook_events`, { event_type: 'bench.event' });
    const sub = (await api(base, key, 'POST', `/apps/${app.id}/subscriptions`, { name: 'one' })).body;
    await api(base, key, 'POST', `/subscriptions/${sub.id}/endpoints`, { url: `${receiver.url}?embedded`, version: '1' });
    const agent = new Agent({ connections: 32, keepAliveTimeout: 30_000 });
    try {
      const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
      const burst = await drain(n, async (i) => {
        const res = await request(`${base}/api/v1/apps/${app.id}/messages`, { method: 'POST', headers, body: JSON.stringify({ event_type: 'bench.event', version: '1', data: { embedded: i } }), dispatcher: agent });
        const body = (await res.body.json()) as { id?: string; error?: string };
        if (res.statusCode !== 202 || !body.id) throw new Error(`the embedded default answered ${res.statusCode}: ${body.error}`);
        return body.id;
      }, receiver, drainTimeoutS);
      const stopping = performance.now();
      await stopProcess(child, 'SIGINT', 30_000);
      return { ...burst, readyS, stopS: (performance.now() - stopping) / 1000 };
    } finally {
      await agent.close();
    }
  } finally {
    await stopProcess(child, 'SIGINT', 30_000);
  }
}

/**
 * Posted = delivered + failed, read from the database once every delivery has finished (the
 * receiver sees a request a moment before its success is recorded); otherwise the run is void.
 */
async function ledger(db: Db, ids: string[], timeoutMs = 60_000): Promise<{ ok: boolean; text: string }> {
  if (ids.length === 0) return { ok: false, text: 'nothing posted' };
  const read = () => db.selectFrom('deliveries').select(['status']).where('message_id', 'in', ids).execute();
  await waitUntil('every delivery to finish', async () => (await read()).every((r) => r.status !== 'pending'), timeoutMs).catch(() => undefined);
  const rows = await read();
  const delivered = rows.filter((r) => r.status === 'succeeded').length;
  const failed = rows.filter((r) => r.status === 'failed').length;
  return { ok: delivered + failed === ids.length && rows.length === ids.length, text: `posted ${ids.length} = delivered ${delivered} + failed ${failed}` };
}

/** Every accepted message is durable: its one delivery row exists (pending, started or not, or already done). */
async function acceptedLedger(db: Db, ids: string[]): Promise<{ ok: boolean; text: string }> {
  const { n } = await db.selectFrom('deliveries').select((eb) => eb.fn.countAll<number>().as('n')).where('message_id', '=', sql<string>`any(${ids}::text[])`).executeTakeFirstOrThrow();
  return { ok: ids.length > 0 && n === ids.length, text: `accepted ${ids.length}, delivery rows ${n}` };
}

async function drain(n: number, send: (i: number) => Promise<string>, receiver: Awaited<ReturnType<typeof startReceiver>>, timeoutS: number) {
  const started = performance.now();
  const ids: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < n) ids.push(await send(next++));
  }));
  const postMs = performance.now() - started;
  await waitUntil('the drain', () => ids.every((id) => receiver.arrivals.has(id)), timeoutS * 1000);
  const totalMs = Math.max(...ids.map((id) => receiver.arrivals.get(id)!)) - started;
  return { ids, perS: (n * 1000) / totalMs, totalMs, postMs };
}

async function closedLoop(seconds: number, concurrency: number, once: () => Promise<boolean>) {
  const until = performance.now() + seconds * 1000;
  const times: number[] = [];
  let failures = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      const t = performance.now();
      if (await once()) times.push(performance.now() - t);
      else failures++;
    }
  }));
  if (failures > 0) throw new Error(`${failures} requests failed during the acceptance run`);
  return { count: times.length, perS: times.length / seconds, p50: percentile(times, 0.5), p90: percentile(times, 0.9), p99: percentile(times, 0.99) };
}

export async function startBareApi(dbUrl: string) {
  const pool = new pg.Pool({ connectionString: dbUrl, max: 10 });
  await pool.query('CREATE TABLE IF NOT EXISTS bench_bare (id text primary key, body jsonb not null, created_at timestamptz not null default now())');
  const app = express();
  app.use(express.json());
  app.post('/messages', (req, res, next) => {
    pool.query('INSERT INTO bench_bare (id, body) VALUES ($1, $2)', [newId('message'), JSON.stringify(req.body)]).then(() => res.status(202).json({ ok: true }), next);
  });
  const server = await new Promise<Server>((r) => { const s = app.listen(0, '127.0.0.1', () => r(s)); });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/messages`, close: async () => { await closeServer(server); await pool.end(); } };
}

async function runFloor(db: Db, n: number, receiver: Awaited<ReturnType<typeof startReceiver>>) {
  // Attempt rows need a real delivery to belong to: borrow any one.
  const delivery = await db.selectFrom('deliveries').select(['id', 'message_id', 'endpoint_id', 'subscriber_id', 'app_id']).limit(1).executeTakeFirstOrThrow();
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64 });
  const secret = newSigningSecret();
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < n) {
      const i = next++;
      const id = `floor_${i}_${randomBytes(4).toString('hex')}`;
      const body = JSON.stringify({ id, type: 'bench.event', version: '1', created: new Date().toISOString(), data: { i } });
      const headers = { 'content-type': 'application/json', ...signatureHeaders([secret], id, Math.floor(Date.now() / 1000), body) };
      const t = performance.now();
      const res = await request(receiver.url, { method: 'POST', headers, body, dispatcher: agent });
      const responseBody = await res.body.text();
      await db.insertInto('attempts').values({
        id: newId('attempt'), delivery_id: delivery.id, message_id: delivery.message_id, endpoint_id: delivery.endpoint_id, subscriber_id: delivery.subscriber_id, app_id: delivery.app_id, event_type: 'bench.event',
        number: 1, trigger: 'automatic', url: receiver.url, request_headers: JSON.stringify(headers), request_body: body, status_code: res.statusCode,
        response_body: responseBody, error_code: null, error: null, succeeded: true, will_retry: false, duration_ms: Math.round(performance.now() - t), workflow_id: 'floor',
      }).execute();
    }
  }));
  await agent.close();
  return { perS: (n * 1000) / (performance.now() - started) };
}

/**
 * Workflows of `type` from bench/engine-workflows.ts, started as the workers start deliveries (on the
 * worker's own connection, eagerly) by 16 loops; per second until the last one completed, and the CPU
 * per workflow of this process (client and worker) and of Temporal.
 */
async function runEngine(temporal: { address: string; process: ChildProcess }, n: number, type: 'engineWorkflow' | 'emptyWorkflow' = 'engineWorkflow') {
  const completed = { count: 0 };
  const connection = await NativeConnection.connect({ address: temporal.address });
  const taskQueue = `bench-${type}`;
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./engine-workflows.ts', import.meta.url)), logger: new DefaultLogger('WARN') }),
    activities: { noop: () => Promise.resolve(void completed.count++) },
    maxConcurrentWorkflowTaskExecutions: WORKFLOW_TASK_SLOTS,
    maxConcurrentLocalActivityExecutions: WORKFLOW_TASK_SLOTS,
  });
  const running = worker.run();
  const client = new Client({ connection });
  const cpuBefore = { self: cpuSeconds(process.pid), temporal: cpuSeconds(temporal.process.pid!) };
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < n) {
      const i = next++;
      await client.workflow.start(type, {
        taskQueue, workflowId: `${type}-${i}-${randomBytes(4).toString('hex')}`, args: [String(i)], requestEagerStart: true,
        typedSearchAttributes: [
          { key: APP_ID, value: 'bench' }, { key: SUBSCRIBER_ID, value: 'bench' }, { key: ENDPOINT_ID, value: 'bench' },
          { key: EVENT_TYPE, value: 'bench.event' }, { key: DELIVERY_STATUS, value: 'pending' },
        ],
      });
    }
  }));
  if (type === 'engineWorkflow') {
    // The activity counts completions itself: no visibility lag in the measurement.
    await waitUntil('the engine workflows', () => completed.count >= n, 600_000);
  } else {
    // Nothing runs in this process to count them: ask Temporal (its visibility lags by milliseconds here).
    await waitUntil('the empty workflows', async () => (await client.workflow.count(`TaskQueue="${taskQueue}" AND ExecutionStatus="Running"`)).count === 0, 600_000);
  }
  const elapsedMs = performance.now() - started;
  const perWorkflowMs = (before: number, pid: number) => round(((cpuSeconds(pid) - before) * 1000) / n);
  const cpu = `node ${perWorkflowMs(cpuBefore.self, process.pid)} ms, Temporal ${perWorkflowMs(cpuBefore.temporal, temporal.process.pid!)} ms per workflow`;
  worker.shutdown();
  await running;
  await connection.close();
  return { perS: (n * 1000) / elapsedMs, cpu };
}

function table(rows: Row[]): string {
  const head = ['scenario', 'items', 'per s', 'p50 ms', 'p90 ms', 'p99 ms', 'CPU', 'note'];
  const body = rows.map((r) => [r.scenario, String(r.items), String(r.per_s), ...[r.p50_ms, r.p90_ms, r.p99_ms].map((v) => (Number.isFinite(v) ? String(v) : '')), r.cpu, r.note]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runBench();
  const out = path.join(ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ params: PARAMS, temporal: TEMPORAL_DESCRIPTION, ...result }, null, 2));
  console.log(`Temporal: ${TEMPORAL_DESCRIPTION}`);
  console.log(table(result.rows));
  console.log(result.summaryLine);
  process.exit(0);
}
