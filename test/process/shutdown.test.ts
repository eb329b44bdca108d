import { connect, type Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/ports.ts';
import { startReceiver } from '../support/receiver.ts';
import { apiClient, createTestDatabase, seed, testEnv, type Api, type Seeded } from '../support/stack.ts';
import { openhooksCommand, OpenhooksProcess, scratchDir, sleep, stopAll } from '../support/processes.ts';

/** How long the receiver holds every request before it answers 200. */
const HOLD_MS = 3_000;

describe('graceful shutdown of real processes', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const answered: string[] = [];
  let env: Record<string, string>;
  let dir: string;
  let server: OpenhooksProcess;
  const workers: OpenhooksProcess[] = [];
  let api: Api;
  let apiKey: string;
  let seeded: Seeded;

  const startWorker = async () => {
    const worker = await new OpenhooksProcess('worker', env, dir, { name: `worker-${workers.length + 1}` }).start();
    workers.push(worker);
    return worker;
  };
  const send = async (label: string) => {
    const sent = await api.post(`/apps/${seeded.appId}/messages`, { event_type: 'user.created', version: '1.0', data: { label } });
    expect(sent.status).toBe(202);
    return sent.body.id as string;
  };
  const received = (messageId: string) => receiver.requests.filter((r) => r.headers['webhook-id'] === messageId).length;
  const deliveryOf = async (messageId: string) => {
    const message = await api.get(`/apps/${seeded.appId}/messages/${messageId}`);
    expect(message.status).toBe(200);
    return (message.body.deliveries as { status: string }[])[0];
  };
  const attemptsOf = async (messageId: string) => {
    const attempts = await api.get(`/apps/${seeded.appId}/webhook_attempts?message_id=${messageId}`);
    expect(attempts.status).toBe(200);
    return attempts.body as { status_code: number | null; attempt: number }[];
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = scratchDir('process-shutdown');
    // The receiver holds each request well within the delivery timeout (so the worker's grace time is 15s).
    env = testEnv({ DATABASE_URL: database.url, LOG_LEVEL: 'info', DELIVERY_TIMEOUT: '10s' });
    expect((await openhooksCommand(['migrate'], env)).code).toBe(0);
    const created = await openhooksCommand(['account', 'create', '--name', 'Shutdown', '--email', 'owner@shutdown.test', '--password', 'correct horse battery'], env);
    expect(created.code, created.stderr).toBe(0);
    apiKey = (JSON.parse(created.stdout) as { api_key: string }).api_key;

    receiver = await startReceiver((request, _index, res: ServerResponse) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok', () => answered.push(String(request.headers['webhook-id'])));
      }, HOLD_MS);
      return 'handled';
    });
    server = await new OpenhooksProcess('server', env, dir).start();
    api = apiClient(server.url, apiKey);
    seeded = await seed(api, receiver.url);
  });

  afterAll(async () => {
    await stopAll([server, ...workers]);
    await receiver?.close();
    await database?.drop();
  });

  it('a worker stopped by SIGTERM finishes and records the attempt in flight, then exits 0', async () => {
    const worker = await startWorker();
    const messageId = await send('in flight');
    await waitFor('the receiver to hold the request', () => (received(messageId) === 1 ? true : undefined), 20_000);

    const signalledAt = Date.now();
    worker.signal('SIGTERM');
    const exit = await worker.waitExit(20_000);
    expect(exit, `the worker did not exit within 20s:\n${worker.output()}`).toEqual({ code: 0, signal: null });
    // It waited for the held request rather than dropping it.
    expect(answered).toContain(messageId);
    expect(Date.now() - signalledAt).toBeLessThan(20_000);

    // The attempt was recorded before the process went away.
    const attempts = await attemptsOf(messageId);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ status_code: '200', attempt: 1 });
    expect(await deliveryOf(messageId)).toMatchObject({ status: 'succeeded' });

    // A new worker takes over the workflow and does not send it again.
    await startWorker();
    await sleep(4_000);
    expect(received(messageId)).toBe(1);
    expect(await attemptsOf(messageId)).toHaveLength(1);
  });

  it('a stopped worker takes no new work; the next worker delivers it', async () => {
    const running = workers.filter((w) => w.running);
    for (const worker of running) expect(await worker.stop('SIGTERM', 20_000)).toEqual({ code: 0, signal: null });

    const messageId = await send('after stop');
    await sleep(3_000);
    expect(received(messageId)).toBe(0);
    expect(await deliveryOf(messageId)).toMatchObject({ status: 'pending' });

    await startWorker();
    await waitFor('the new worker to deliver', async () => ((await deliveryOf(messageId))?.status === 'succeeded' ? true : undefined), 20_000, 250);
    expect(received(messageId)).toBe(1);
  });

  it('a server stopped by SIGTERM refuses new connections, answers the request in flight, and exits 0', async () => {
    const stopping = await new OpenhooksProcess('server', env, dir, { name: 'server-stopping' }).start();
    const socket = await openSocket(stopping.port);
    try {
      // One complete exchange first: the connection is established and kept alive.
      socket.write(`GET /api/v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive\r\n\r\n`);
      expect((await readResponse(socket)).status).toBe(200);

      // Then a request whose body is still coming when the signal arrives.
      const body = JSON.stringify({ event_type: 'user.created', version: '1.0', data: { label: 'during server shutdown' } });
      const half = Math.floor(body.length / 2);
      socket.write(
        `POST /api/v1/apps/${seeded.appId}/messages HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive\r\n` +
          `authorization: Bearer ${apiKey}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`,
      );
      await sleep(500);
      const signalledAt = Date.now();
      stopping.signal('SIGTERM');

      await waitFor('new connections to be refused', async () => ((await connectionRefused(stopping.port)) ? true : undefined), 3_000, 50);
      expect(stopping.running).toBe(true);

      const pending = readResponse(socket);
      socket.write(body.slice(half));
      const response = await pending;
      expect(response.status).toBe(202);
      const message = JSON.parse(response.body) as { id: string; data: unknown };
      expect(message.data).toEqual({ label: 'during server shutdown' });
      socket.end();

      const exit = await stopping.waitExit(15_000);
      expect(exit, `the server did not exit within 15s:\n${stopping.output()}`).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalledAt).toBeLessThan(15_000);
      // Accepted means stored: the other server sees it.
      expect((await api.get(`/apps/${seeded.appId}/messages/${message.id}`)).status).toBe(200);
    } finally {
      socket.destroy();
      await stopping.stop('SIGKILL');
    }
  });
});

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** True when a new TCP connection to `port` is refused. */
function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** Reads one complete HTTP/1.1 response (Content-Length framed) from a kept-alive socket. */
function readResponse(socket: Socket, timeoutMs = 10_000): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const done = (err?: Error, value?: { status: number; headers: Record<string, string>; body: string }) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(value!);
    };
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...headerLines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      const length = Number(headers['content-length']);
      if (!Number.isInteger(length)) return done(new Error(`no content-length in ${statusLine}`));
      if (buffer.length < end + 4 + length) return;
      done(undefined, { status: Number(statusLine!.split(' ')[1]), headers, body: buffer.subarray(end + 4, end + 4 + length).toString('utf8') });
    };
    const onClose = () => done(new Error(`the connection closed before a complete response (${buffer.length} bytes read)`));
    const timer = setTimeout(() => done(new Error(`no complete response within ${timeoutMs}ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
