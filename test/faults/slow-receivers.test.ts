import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RESPONSE_BODY_LIMIT } from '../../activities/http.ts';
import { waitFor } from '../support/ports.ts';
import { seed, startStack, type Stack } from '../support/stack.ts';
import { ledger, startDelayedReceiver, type DelayedReceiver } from './support.ts';

// Receivers that misbehave at the socket level. The worker must bound every attempt by DELIVERY_TIMEOUT,
// record it with an error code, and stay able to deliver to healthy endpoints meanwhile and afterwards.
const TIMEOUT_MS = 2_000;
/** Timer and scheduling slack on a busy 2-core machine. */
const MARGIN_MS = 750;

let stack: Stack;
const closers: (() => Promise<void>)[] = [];

interface Misbehaving {
  url: string;
  /** TCP connections currently open to it. */
  open: () => number;
  accepted: () => number;
}

/** A raw TCP receiver: `onSocket` decides what happens to each connection. */
async function tcpReceiver(onSocket: (socket: Socket) => void): Promise<Misbehaving> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: NetServer = createNetServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${port}/hook`, open: () => sockets.size, accepted: () => accepted };
}

/** An HTTP receiver whose handler writes the answer itself. */
async function httpReceiver(handler: Parameters<typeof createServer>[1]): Promise<Misbehaving> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer(handler);
  server.on('connection', (socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${port}/hook`, open: () => sockets.size, accepted: () => accepted };
}

beforeAll(async () => {
  stack = await startStack({ DELIVERY_TIMEOUT: `${TIMEOUT_MS / 1000}s`, RATE_LIMIT: '0' });
});

afterAll(async () => {
  await stack?.close();
  await Promise.allSettled(closers.map((close) => close()));
});

async function attemptsOf(messageId: string) {
  return stack.db
    .selectFrom('attempts')
    .select(['number', 'status_code', 'error_code', 'error', 'succeeded', 'duration_ms', 'response_body'])
    .where('message_id', '=', messageId)
    .orderBy('number')
    .execute();
}

async function finished(messageId: string, timeoutMs: number) {
  return waitFor(
    `the delivery of ${messageId} to finish`,
    async () => {
      const d = await stack.db.selectFrom('deliveries').select(['status']).where('message_id', '=', messageId).executeTakeFirst();
      return d && d.status !== 'pending' ? d.status : undefined;
    },
    timeoutMs,
    250,
  );
}

it('bounds silent, resetting, huge and trickling receivers, and keeps delivering to healthy ones', async () => {
  // (a) accepts the connection, reads the request, never answers.
  const silent = await tcpReceiver((socket) => socket.resume());
  // (b) resets the connection (RST) as soon as a request arrives.
  const resetting = await tcpReceiver((socket) => socket.once('data', () => socket.resetAndDestroy()));
  // (c) 200 with a 5 MiB body.
  const huge = await httpReceiver((req, res) => {
    req.resume();
    req.on('end', () => {
      res.on('error', () => undefined);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(5 * 1024 * 1024) });
      res.end(Buffer.alloc(5 * 1024 * 1024, 'x'));
    });
  });
  // (d) headers at once, then one byte every 500 ms, never finishing (stops after 60 s or when the client leaves).
  const trickle = await httpReceiver((req, res) => {
    req.resume();
    req.on('end', () => {
      res.on('error', () => undefined);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed || ++sent > 120) {
          clearInterval(timer);
          return;
        }
        res.write('x');
      }, 500);
      res.on('close', () => clearInterval(timer));
    });
  });
  const healthy: DelayedReceiver = await startDelayedReceiver();
  closers.push(() => healthy.close());

  const cases = [
    { name: 'silent', receiver: silent, expect: { succeeded: false, codes: ['timeout'] } },
    { name: 'resetting', receiver: resetting, expect: { succeeded: false, codes: ['connection_failed'] } },
    { name: 'huge', receiver: huge, expect: { succeeded: true, codes: [null] } },
    { name: 'trickle', receiver: trickle, expect: { succeeded: false, codes: ['timeout'] } },
  ];
  const sentAt = Date.now();
  const posted = await Promise.all(
    cases.map(async (c) => {
      const { appId } = await seed(stack.api, c.receiver.url);
      const res = await stack.api.post(`/apps/${appId}/messages`, { event_type: 'user.created', version: '1.0', data: { case: c.name } });
      expect(res.status).toBe(202);
      return { ...c, messageId: res.body.id as string };
    }),
  );

  // While those are timing out, a healthy endpoint is served promptly.
  const { appId: healthyApp } = await seed(stack.api, healthy.url);
  const healthyIds: string[] = [];
  const sendHealthy = async () => {
    const before = Date.now();
    const res = await stack.api.post(`/apps/${healthyApp}/messages`, { event_type: 'user.created', version: '1.0', data: { healthy: healthyIds.length } });
    expect(res.status).toBe(202);
    healthyIds.push(res.body.id as string);
    await waitFor('the healthy endpoint to get its message', () => (healthy.requests.some((q) => q.webhookId === res.body.id) ? true : undefined), 10_000, 20);
    return Date.now() - before;
  };
  await waitFor('the silent receiver to hold a request', () => (silent.accepted() > 0 ? true : undefined), 10_000, 20);
  const duringMs = await sendHealthy();

  const outcomes = await Promise.all(posted.map(async (p) => ({ ...p, status: await finished(p.messageId, 90_000), attempts: await attemptsOf(p.messageId) })));
  const afterMs = await sendHealthy();

  for (const o of outcomes) {
    const durations = o.attempts.map((a) => a.duration_ms);
    console.log(
      `slow-receivers: ${o.name.padEnd(9)} -> ${o.status}, ${o.attempts.length} attempt(s), error codes ${JSON.stringify([...new Set(o.attempts.map((a) => a.error_code))])}, ` +
        `durations ${JSON.stringify(durations)} ms` +
        (o.name === 'huge' ? `, response stored ${Buffer.byteLength(o.attempts[0]?.response_body ?? '')} bytes` : ''),
    );
  }
  console.log(`slow-receivers: healthy endpoint served in ${duringMs} ms while the others misbehaved, ${afterMs} ms afterwards; all four finished ${Date.now() - sentAt} ms after sending`);
  ledger({ sent: healthyIds, received: healthy.requests, label: 'healthy endpoint' });

  for (const o of outcomes) {
    expect(o.attempts.length, o.name).toBeGreaterThan(0);
    expect(o.status, o.name).toBe(o.expect.succeeded ? 'succeeded' : 'failed');
    for (const a of o.attempts) {
      expect({ name: o.name, code: a.error_code, succeeded: a.succeeded }).toEqual({ name: o.name, code: o.expect.codes[0], succeeded: o.expect.succeeded });
      expect(a.duration_ms, `${o.name} attempt ${a.number}`).toBeLessThanOrEqual(TIMEOUT_MS + MARGIN_MS);
    }
    if (!o.expect.succeeded) expect(o.attempts.at(-1)?.error, o.name).toBeTruthy();
  }
  const hugeAttempt = outcomes.find((o) => o.name === 'huge')!.attempts[0]!;
  expect(hugeAttempt.status_code).toBe(200);
  expect(Buffer.byteLength(hugeAttempt.response_body ?? '')).toBeGreaterThan(0);
  expect(Buffer.byteLength(hugeAttempt.response_body ?? '')).toBeLessThanOrEqual(RESPONSE_BODY_LIMIT);
  // The worker let go of every connection it gave up on.
  await waitFor('connections to the silent and trickling receivers to be closed', () => (silent.open() === 0 && trickle.open() === 0 ? true : undefined), 10_000, 100);
  // The worker is healthy: a healthy endpoint is served promptly, during and after.
  expect(duringMs).toBeLessThan(5_000);
  expect(afterMs).toBeLessThan(5_000);
});
