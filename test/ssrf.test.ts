/**
 * SSRF guard: deliveries must never reach private, loopback, link-local or reserved addresses
 * unless the operator opened them (ALLOW_PRIVATE_NETWORK, ALLOWED_NETWORKS), plain http:// is
 * refused unless ALLOW_HTTP, and redirects are never followed.
 *
 * All traffic stays on loopback. Two things make "refused before any connection" observable and
 * keep a failing guard from ever reaching the outside:
 * - counting servers listen on every loopback address a case names (127.0.0.1, 127.0.0.2,
 *   127.255.255.254, ::1, all on one port), so a guard that let a loopback address through would
 *   show up as a connection;
 * - a tripwire wraps net.connect / tls.connect (which undici calls for every socket): any connection
 *   to an address outside 127.0.0.0/8 and ::1 — by literal or by what a lookup answered — is
 *   recorded and refused without a packet being sent, so a guard bug fails a test instead of
 *   touching 10.0.0.1 or 169.254.169.254. A self-check proves the tripwire is on undici's path.
 * Names resolve through a stubbed resolver; only the end-to-end case uses the system resolver
 * for `localhost`.
 */
import dns, { type LookupAddress } from 'node:dns';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import net, { isIP } from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttpSender, type HttpResult, type HttpSender, type HttpSenderOptions } from '../activities/http.ts';
import type { Resolver } from '../lib/network.ts';
import { waitFor } from './support/ports.ts';
import { seed, startStack, type Api, type Stack } from './support/stack.ts';

// ---------------------------------------------------------------------------------------------
// Tripwire: no connection to a non-loopback address ever leaves this process.

/** Connections the tripwire refused: `address` for literals, `name → address` for lookups. */
const tripped: string[] = [];
/** Loopback addresses treated as remote, only for the tripwire's own self-check. */
const pretendRemote = new Set<string>();
const isLoopback = (address: string): boolean =>
  !pretendRemote.has(address) && ((isIP(address) === 4 && address.startsWith('127.')) || address === '::1');

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
type LookupFn = (hostname: string, options: object, callback: LookupCallback) => void;
type ConnectFn = (...args: unknown[]) => net.Socket;

const tripwireError = (what: string) => Object.assign(new Error(`tripwire: refused a connection to ${what}, which is not loopback`), { code: 'ETRIPWIRE' });

function refusedSocket(what: string): net.Socket {
  tripped.push(what);
  const socket = new net.Socket();
  process.nextTick(() => socket.destroy(tripwireError(what)));
  return socket;
}

function withTripwire(real: ConnectFn): ConnectFn {
  return function (this: unknown, ...args: unknown[]): net.Socket {
    const [first, second] = args;
    if (typeof first !== 'object' || first === null) {
      // connect(port, host?, …): only a literal host can be judged without a lookup.
      if (typeof second === 'string' && isIP(second) && !isLoopback(second)) return refusedSocket(second);
      return real.apply(this, args);
    }
    const options = first as { host?: string; path?: string; lookup?: LookupFn };
    if (options.path) return real.apply(this, args);
    const host = options.host ?? 'localhost';
    if (isIP(host)) return isLoopback(host) ? real.apply(this, args) : refusedSocket(host);
    const lookup = options.lookup ?? dns.lookup;
    const checkedLookup: LookupFn = (hostname, lookupOptions, callback) =>
      lookup(hostname, lookupOptions, (err, address, family) => {
        if (err) return callback(err, address, family);
        const addresses = Array.isArray(address) ? address.map((a) => a.address) : [address];
        const remote = addresses.find((a) => !isLoopback(a));
        if (remote === undefined) return callback(null, address, family);
        tripped.push(`${hostname} → ${remote}`);
        callback(tripwireError(`${hostname} → ${remote}`), Array.isArray(address) ? [] : '', family);
      });
    return real.call(this, { ...options, lookup: checkedLookup }, ...args.slice(1));
  };
}

const realNetConnect = net.connect as unknown as ConnectFn;
const realNetCreateConnection = net.createConnection as unknown as ConnectFn;
const realTlsConnect = tls.connect as unknown as ConnectFn;
beforeAll(() => {
  Object.assign(net, { connect: withTripwire(realNetConnect), createConnection: withTripwire(realNetCreateConnection) });
  Object.assign(tls, { connect: withTripwire(realTlsConnect) });
});
afterAll(() => {
  Object.assign(net, { connect: realNetConnect, createConnection: realNetCreateConnection });
  Object.assign(tls, { connect: realTlsConnect });
});

// ---------------------------------------------------------------------------------------------
// Counting loopback servers.

interface Received {
  host: string;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

type Respond = (request: Received, res: ServerResponse) => void;
const answerOk: Respond = (_request, res) => res.writeHead(200, { connection: 'close' }).end('ok');

interface Trap {
  port: number;
  /** Connections accepted, per listening address. */
  connections: Map<string, number>;
  total(): number;
  requests: Received[];
  respond: Respond;
  reset(): void;
  close(): Promise<void>;
}

const listen = (server: Server, port: number, host: string) =>
  new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/** HTTP servers on each of `hosts`, all on one port, counting every TCP connection they accept. */
async function startTrap(hosts: string[], optional: string[] = []): Promise<Trap> {
  for (let round = 0; ; round++) {
    const servers: Server[] = [];
    const trap: Trap = {
      port: 0,
      connections: new Map(),
      total: () => [...trap.connections.values()].reduce((a, b) => a + b, 0),
      requests: [],
      respond: answerOk,
      reset() {
        trap.connections.clear();
        trap.requests.length = 0;
        trap.respond = answerOk;
      },
      close: () => Promise.all(servers.map(closeServer)).then(() => undefined),
    };
    const serve = (host: string) => {
      const server = createServer((req, res) => {
        const request = { host, method: req.method ?? '', path: req.url ?? '', headers: req.headers };
        trap.requests.push(request);
        req.resume();
        req.on('end', () => trap.respond(request, res));
      });
      server.on('connection', () => trap.connections.set(host, (trap.connections.get(host) ?? 0) + 1));
      servers.push(server);
      return server;
    };
    try {
      await listen(serve(hosts[0]!), 0, hosts[0]!);
      const address = servers[0]!.address();
      trap.port = typeof address === 'object' && address ? address.port : 0;
      for (const host of hosts.slice(1)) await listen(serve(host), trap.port, host);
      for (const host of optional) {
        const server = serve(host);
        await listen(server, trap.port, host).catch((err: NodeJS.ErrnoException) => {
          servers.splice(servers.indexOf(server), 1);
          if (err.code !== 'EADDRNOTAVAIL' && err.code !== 'EAFNOSUPPORT') throw err;
        });
      }
      return trap;
    } catch (err) {
      await trap.close();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || round >= 5) throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sender, stubbed resolver.

function stubResolver(answers: Record<string, string[] | ((call: number) => string[])>) {
  const calls: string[] = [];
  const resolve: Resolver = (hostname, callback) => {
    calls.push(hostname);
    const answer = answers[hostname];
    const list = typeof answer === 'function' ? answer(calls.filter((h) => h === hostname).length) : answer;
    setImmediate(() => {
      if (list === undefined) callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
      else callback(null, list.map((address) => ({ address, family: isIP(address) })));
    });
  };
  return { resolve, calls };
}

const senders: HttpSender[] = [];
function sender(options: Partial<HttpSenderOptions> = {}): HttpSender {
  const created = createHttpSender({ timeoutMs: 2000, allowPrivateNetwork: false, allowedNetworks: [], allowHttp: true, ...options });
  senders.push(created);
  return created;
}
const post = (s: HttpSender, url: string) => s.post(url, { 'content-type': 'application/json' }, '{"id":"msg_ssrf"}');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let trap: Trap;
beforeAll(async () => {
  trap = await startTrap(['127.0.0.1', '127.0.0.2', '127.255.255.254'], ['::1']);
});
afterAll(async () => {
  await trap?.close();
});
beforeEach(() => {
  trap.reset();
  tripped.length = 0;
  pretendRemote.clear();
});
afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close()));
});

/** Refused by the guard, quickly, with no connection to any loopback server and none tried elsewhere. */
function expectRefusedBeforeConnect(result: HttpResult, what: RegExp = /is a private or reserved address/) {
  expect(result).toMatchObject({ statusCode: null, errorCode: 'blocked_address' });
  expect(result.error).toMatch(what);
  expect(result.error).toContain('ALLOW_PRIVATE_NETWORK or ALLOWED_NETWORKS can open it');
  expect(result.durationMs).toBeLessThan(250);
  expect(trap.total()).toBe(0);
  expect(tripped).toEqual([]);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---------------------------------------------------------------------------------------------

describe('tripwire self-check', () => {
  it('sits on the sender’s connection path: an address it treats as remote is never connected to', async () => {
    const remote = await startTrap(['127.0.0.3']);
    try {
      pretendRemote.add('127.0.0.3');
      const stub = stubResolver({ 'trip.test': ['127.0.0.3'] });
      const s = sender({ allowPrivateNetwork: true, resolve: stub.resolve });
      const byLiteral = await post(s, `http://127.0.0.3:${remote.port}/hook`);
      const byName = await post(s, `http://trip.test:${remote.port}/hook`);
      expect(byLiteral).toMatchObject({ statusCode: null, errorCode: 'connection_failed' });
      expect(byLiteral.error).toContain('tripwire');
      expect(byName).toMatchObject({ statusCode: null, errorCode: 'connection_failed' });
      expect(tripped).toEqual(['127.0.0.3', 'trip.test → 127.0.0.3']);
      expect(remote.total()).toBe(0);
    } finally {
      await remote.close();
    }
  });

  it('lets loopback through, so the counting servers see what a leaking guard would send', async () => {
    const result = await post(sender({ allowPrivateNetwork: true }), `http://127.255.255.254:${trap.port}/hook`);
    expect(result.statusCode).toBe(200);
    expect(trap.connections.get('127.255.255.254')).toBe(1);
    expect(tripped).toEqual([]);
  });
});

describe('IP literals in the URL (allowPrivateNetwork false, allowHttp true)', () => {
  it.each([
    '127.0.0.1', '127.255.255.254', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1',
    '169.254.169.254', '100.64.0.1', '100.127.255.254', '0.0.0.0', '0.1.2.3', '198.18.0.1', '198.19.255.255',
    '224.0.0.1', '239.255.255.255', '240.0.0.1', '255.255.255.255',
    '[::1]', '[::]', '[fc00::1]', '[fd12:3456::1]', '[fe80::1]', '[ff02::1]',
    '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[::ffff:169.254.169.254]',
    '[64:ff9b::7f00:1]', '[64:ff9b::a9fe:a9fe]', '[2002:7f00:1::]',
  ])('%s → blocked_address, no connection', async (host) => {
    const result = await post(sender(), `http://${host}:${trap.port}/latest/meta-data/`);
    expectRefusedBeforeConnect(result);
    expect(result.durationMs).toBe(0);
  });

  it.each([
    ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['017700000001', '127.0.0.1'],
    ['0xa9fea9fe', '169.254.169.254'],
  ])('decimal/octal/hex form %s is judged as %s → blocked_address, no connection', async (host, dotted) => {
    const result = await post(sender(), `http://${host}:${trap.port}/hook`);
    expectRefusedBeforeConnect(result, new RegExp(`^${escape(dotted)} is a private or reserved address`));
  });
});

describe('names through the resolver', () => {
  it.each([
    '127.0.0.1', '127.0.0.2', '127.255.255.254', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1',
    '169.254.169.254', '100.64.0.1', '100.127.255.254', '0.0.0.0', '0.1.2.3', '198.18.0.1', '198.19.255.255',
    '224.0.0.1', '239.255.255.255', '240.0.0.1', '255.255.255.255',
    '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '0:0:0:0:0:ffff:7f00:1',
    '64:ff9b::7f00:1', '64:ff9b::a9fe:a9fe', '2002:7f00:1::',
  ])('evil.test → %s: blocked_address, no connection', async (address) => {
    const stub = stubResolver({ 'evil.test': [address] });
    const result = await post(sender({ resolve: stub.resolve }), `http://evil.test:${trap.port}/hook`);
    expectRefusedBeforeConnect(result, new RegExp(`^evil\\.test resolves to ${escape(address)}, which is a private or reserved address`));
    expect(stub.calls).toEqual(['evil.test']);
  });

  it.each([
    [['93.184.216.34', '10.0.0.1'], '10.0.0.1'],
    [['10.0.0.1', '93.184.216.34'], '10.0.0.1'],
    [['93.184.216.34', '127.0.0.1'], '127.0.0.1'],
    [['93.184.216.34', '::ffff:169.254.169.254'], '::ffff:169.254.169.254'],
    [['2606:2800:220:1:248:1893:25c8:1946', 'fd00::1'], 'fd00::1'],
    [['1.1.1.1', '8.8.8.8', '2606:4700:4700::1111', '169.254.169.254'], '169.254.169.254'],
  ])('an answer %j with one private address is refused as a whole', async (addresses, bad) => {
    const stub = stubResolver({ 'mixed.test': addresses });
    const result = await post(sender({ resolve: stub.resolve }), `http://mixed.test:${trap.port}/hook`);
    expectRefusedBeforeConnect(result, new RegExp(`^mixed\\.test resolves to ${escape(bad)}, which`));
  });

  it.each([
    ['an empty answer', 'empty.test', /empty\.test has no address/],
    ['an unknown name', 'unknown.test', /ENOTFOUND unknown\.test/],
  ])('%s → dns_failed, no connection', async (_what, name, message) => {
    const stub = stubResolver({ 'empty.test': [] });
    const result = await post(sender({ resolve: stub.resolve }), `http://${name}:${trap.port}/hook`);
    expect(result).toMatchObject({ statusCode: null, errorCode: 'dns_failed' });
    expect(result.error).toMatch(message);
    expect(trap.total()).toBe(0);
    expect(tripped).toEqual([]);
  });
});

describe('DNS rebinding: the socket goes to the address that was checked', () => {
  it('ALLOWED_NETWORKS=127.0.0.1/32: reaches 127.0.0.1 with Host allowed.test; a later answer of 127.0.0.2 is refused', async () => {
    // First answer is allowed, every later one (a rebinding attacker) is not.
    const stub = stubResolver({ 'allowed.test': (call) => (call === 1 ? ['127.0.0.1'] : ['127.0.0.2']) });
    const s = sender({ allowedNetworks: ['127.0.0.1/32'], resolve: stub.resolve });

    const first = await post(s, `http://allowed.test:${trap.port}/hook`);
    expect(first.statusCode).toBe(200);
    expect(trap.requests).toHaveLength(1);
    expect(trap.requests[0]).toMatchObject({ host: '127.0.0.1', method: 'POST', path: '/hook' });
    expect(trap.requests[0]!.headers.host).toBe(`allowed.test:${trap.port}`);
    expect([...trap.connections]).toEqual([['127.0.0.1', 1]]);
    expect(stub.calls).toEqual(['allowed.test']); // one lookup for one connection: nothing to rebind between

    // The server closed that connection, so the next request looks the name up again.
    const second = await post(s, `http://allowed.test:${trap.port}/hook`);
    expect(second).toMatchObject({ statusCode: null, errorCode: 'blocked_address' });
    expect(second.error).toMatch(/^allowed\.test resolves to 127\.0\.0\.2, which/);
    expect(stub.calls).toEqual(['allowed.test', 'allowed.test']);
    expect([...trap.connections]).toEqual([['127.0.0.1', 1]]);
    expect(tripped).toEqual([]);
  });

  it('without the allowlist the same name is refused with no connection', async () => {
    const stub = stubResolver({ 'allowed.test': ['127.0.0.1'] });
    const result = await post(sender({ resolve: stub.resolve }), `http://allowed.test:${trap.port}/hook`);
    expectRefusedBeforeConnect(result, /^allowed\.test resolves to 127\.0\.0\.1, which/);
  });
});


describe('ALLOWED_NETWORKS opens exactly its CIDR; ALLOW_PRIVATE_NETWORK opens everything', () => {
  const row = (opened: string, policy: Partial<HttpSenderOptions>, host: string, reaches: string | null, resolvesTo?: string) => ({
    label: `${opened}: ${host}${resolvesTo ? ` (resolving to ${resolvesTo})` : ''} → ${reaches ? `reaches ${reaches}` : 'blocked_address'}`,
    policy,
    host,
    reaches,
    resolvesTo,
  });
  const slash32 = { allowedNetworks: ['127.0.0.1/32'] };
  const everything = { allowPrivateNetwork: true };
  it.each([
    row('127.0.0.1/32', slash32, '127.0.0.1', '127.0.0.1'),
    row('127.0.0.1/32', slash32, '127.0.0.2', null),
    row('127.0.0.1/32', slash32, '127.255.255.254', null),
    row('127.0.0.1/32', slash32, '[::1]', null),
    row('127.0.0.1/32', slash32, 'name.test', '127.0.0.1', '127.0.0.1'),
    row('127.0.0.1/32', slash32, 'name.test', null, '127.0.0.2'),
    row('127.0.0.1/32', slash32, 'name.test', null, '10.0.0.1'),
    row('127.0.0.1/32', slash32, 'name.test', null, '169.254.169.254'),
    row('127.0.0.0/31', { allowedNetworks: ['127.0.0.0/31'] }, '127.0.0.2', null),
    row('127.0.0.2/31', { allowedNetworks: ['127.0.0.2/31'] }, '127.0.0.2', '127.0.0.2'),
    row('::1/128', { allowedNetworks: ['::1/128'] }, '[::1]', '::1'),
    row('::1/128', { allowedNetworks: ['::1/128'] }, '127.0.0.1', null),
    row('10.0.0.0/8 and ::1/128', { allowedNetworks: ['10.0.0.0/8', '::1/128'] }, '127.0.0.1', null),
    row('ALLOW_PRIVATE_NETWORK', everything, '127.0.0.1', '127.0.0.1'),
    row('ALLOW_PRIVATE_NETWORK', everything, '127.0.0.2', '127.0.0.2'),
    row('ALLOW_PRIVATE_NETWORK', everything, '127.255.255.254', '127.255.255.254'),
    row('ALLOW_PRIVATE_NETWORK', everything, '[::1]', '::1'),
    row('ALLOW_PRIVATE_NETWORK', everything, 'name.test', '127.0.0.2', '127.0.0.2'),
  ])('$label', async ({ policy, host, reaches, resolvesTo }) => {
    const stub = stubResolver(resolvesTo ? { 'name.test': [resolvesTo] } : {});
    const result = await post(sender({ ...policy, resolve: stub.resolve }), `http://${host}:${trap.port}/hook`);
    if (reaches === null) {
      expectRefusedBeforeConnect(result);
    } else {
      expect(result).toMatchObject({ statusCode: 200, body: 'ok' });
      expect(result.errorCode).toBeUndefined();
      expect([...trap.connections]).toEqual([[reaches, 1]]);
      expect(tripped).toEqual([]);
    }
  });
});

describe('https only (allowHttp false)', () => {
  it.each([
    { label: 'http:// to a loopback literal → insecure_url', url: (port: number) => `http://127.0.0.1:${port}/hook`, errorCode: 'insecure_url' },
    { label: 'http:// to a name → insecure_url, not even looked up', url: (port: number) => `http://evil.test:${port}/hook`, errorCode: 'insecure_url' },
    { label: 'HTTP:// in capitals → insecure_url', url: (port: number) => `HTTP://127.0.0.1:${port}/hook`, errorCode: 'insecure_url' },
    { label: 'ftp:// → invalid_url', url: (port: number) => `ftp://127.0.0.1:${port}/`, errorCode: 'invalid_url' },
    { label: 'file:// → invalid_url', url: () => 'file:///etc/passwd', errorCode: 'invalid_url' },
  ])('$label, no connection', async ({ url, errorCode }) => {
    // Private networks are open here, so only the scheme can be what refuses the request.
    const stub = stubResolver({ 'evil.test': ['127.0.0.1'] });
    const result = await post(sender({ allowHttp: false, allowPrivateNetwork: true, resolve: stub.resolve }), url(trap.port));
    expect(result).toMatchObject({ statusCode: null, errorCode, durationMs: 0 });
    if (errorCode === 'insecure_url') expect(result.error).toContain('use https://');
    expect(stub.calls).toEqual([]);
    expect(trap.total()).toBe(0);
    expect(tripped).toEqual([]);
  });

  it('https:// to a private literal is refused as blocked_address, no connection', async () => {
    const result = await post(sender({ allowHttp: false }), `https://127.0.0.1:${trap.port}/hook`);
    expectRefusedBeforeConnect(result, /^127\.0\.0\.1 is a private or reserved address/);
  });
});

describe('redirects are never followed', () => {
  let target: Trap;
  beforeAll(async () => {
    target = await startTrap(['127.0.0.1']);
  });
  afterAll(async () => {
    await target?.close();
  });
  beforeEach(() => target.reset());

  const metadata = 'http://169.254.169.254/latest/meta-data/';
  it.each([
    { status: 302, to: 'cloud metadata' },
    { status: 302, to: 'a second loopback server' },
    { status: 301, to: 'a second loopback server' },
    { status: 303, to: 'a second loopback server' },
    { status: 307, to: 'a second loopback server' },
    { status: 308, to: 'a second loopback server' },
    { status: 307, to: 'cloud metadata' },
  ])('$status to $to: the result is the $status itself and nothing follows it', async ({ status, to }) => {
    const location = to === 'cloud metadata' ? metadata : `http://127.0.0.1:${target.port}/latest/meta-data/`;
    trap.respond = (_request, res) => res.writeHead(status, { location, connection: 'close' }).end();
    // Private networks are open, so only "never follow" can keep the redirect target unreached.
    const result = await post(sender({ allowPrivateNetwork: true }), `http://127.0.0.1:${trap.port}/hook`);
    expect(result).toMatchObject({ statusCode: status, headers: { location } });
    expect(result.errorCode).toBeUndefined();
    await sleep(200);
    expect(trap.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /hook']);
    expect(target.total()).toBe(0);
    expect(tripped).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Through the API and the real worker.

async function subscriberWithoutEndpoint(api: Api) {
  const app = await api.post('/apps', { name: 'Shop' });
  await api.post(`/apps/${app.body.id}/webhook_events`, { event_type: 'user.created' });
  const subscriber = await api.post(`/apps/${app.body.id}/subscriptions`, { name: 'Acme', email: 'ops@acme.test' });
  return { appId: app.body.id as string, subscriberId: subscriber.body.id as string };
}

describe('API: endpoint URLs are judged when saved (ALLOW_HTTP=false, ALLOW_PRIVATE_NETWORK=false)', () => {
  let stack: Stack;
  let subscriberId: string;
  beforeAll(async () => {
    stack = await startStack({ ALLOW_HTTP: 'false', ALLOW_PRIVATE_NETWORK: 'false' });
    ({ subscriberId } = await subscriberWithoutEndpoint(stack.api));
  });
  afterAll(async () => {
    await stack?.close();
  });
  const endpoints = async () => (await stack.api.get(`/subscriptions/${subscriberId}/endpoints`)).body;

  it.each(['http://example.com/hook', 'http://127.0.0.1/hook', 'HTTP://EXAMPLE.COM/hook'])('creating %s → 422 insecure_url, nothing created', async (url) => {
    const created = await stack.api.post(`/subscriptions/${subscriberId}/endpoints`, { url, version: '1.0' });
    expect(created.status).toBe(422);
    expect(created.body).toMatchObject({ code: 'insecure_url', details: [{ field: 'url' }] });
    expect(created.body.error).toContain('https://');
    expect(await endpoints()).toEqual([]);
  });

  it.each([
    'https://127.0.0.1/hook', 'https://10.0.0.1/hook', 'https://192.168.1.1/hook', 'https://169.254.169.254/latest/meta-data/',
    'https://0x7f.1/hook', 'https://2130706433/hook', 'https://0xa9fea9fe/hook',
    'https://[::1]/hook', 'https://[::ffff:127.0.0.1]/hook', 'https://[fd00::1]/hook', 'https://[64:ff9b::a9fe:a9fe]/hook',
  ])('creating %s → 422 blocked_address, nothing created', async (url) => {
    const created = await stack.api.post(`/subscriptions/${subscriberId}/endpoints`, { url, version: '1.0' });
    expect(created.status).toBe(422);
    expect(created.body).toMatchObject({ code: 'blocked_address', details: [{ field: 'url' }] });
    expect(created.body.error).toContain('private or reserved address');
    expect(await endpoints()).toEqual([]);
  });

  describe('PATCH', () => {
    let endpointId: string;
    beforeAll(async () => {
      // A name is accepted when saved: its address is judged on every connection instead.
      const created = await stack.api.post(`/subscriptions/${subscriberId}/endpoints`, { url: 'https://localhost/hook', version: '1.0' });
      expect(created.status).toBe(201);
      endpointId = created.body.id as string;
    });

    it.each([
      ['http://example.com/hook', 'insecure_url'],
      ['https://127.0.0.1/hook', 'blocked_address'],
      ['https://169.254.169.254/latest/meta-data/', 'blocked_address'],
      ['https://0x7f.1/hook', 'blocked_address'],
      ['https://[::ffff:169.254.169.254]/hook', 'blocked_address'],
    ])('to %s → 422 %s, URL unchanged', async (url, code) => {
      const patched = await stack.api.patch(`/subscriptions/${subscriberId}/endpoints/${endpointId}`, { url });
      expect(patched.status).toBe(422);
      expect(patched.body).toMatchObject({ code, details: [{ field: 'url' }] });
      expect((await endpoints()).map((e: { url: string }) => e.url)).toEqual(['https://localhost/hook']);
    });
  });
});

describe('end to end through the real worker (ALLOW_PRIVATE_NETWORK=false, ALLOWED_NETWORKS=127.0.0.2/32)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ALLOW_PRIVATE_NETWORK: 'false', ALLOWED_NETWORKS: '127.0.0.2/32' });
  });
  afterAll(async () => {
    await stack?.close();
  });
  const message = { event_type: 'user.created', version: '1.0', data: { id: 42 } };
  const deliveryStatus = (messageId: string, status: string, timeoutMs: number) =>
    waitFor(`the delivery of ${messageId} to become ${status}`, async () => {
      const row = await stack.db.selectFrom('deliveries').select('status').where('message_id', '=', messageId).executeTakeFirst();
      return row?.status === status ? row : undefined;
    }, timeoutMs);

  it('a name resolving to loopback is refused at connect time on all 5 attempts, the endpoint becomes inactive, the receiver gets nothing', async () => {
    const { appId, endpointId } = await seed(stack.api, `http://localhost:${trap.port}/hook`);
    const posted = await stack.api.post(`/apps/${appId}/messages`, message);
    expect(posted.status).toBe(202);
    // 1 s initial interval × 1.5: about 8 s for 5 attempts.
    await deliveryStatus(posted.body.id, 'failed', 40_000);

    const attempts = (await stack.api.get(`/apps/${appId}/webhook_attempts?endpoint_id=${endpointId}`)).body;
    expect(attempts.map((a: { attempt: number }) => a.attempt)).toEqual([5, 4, 3, 2, 1]);
    expect(attempts.map((a: { retry_status: string }) => a.retry_status)).toEqual(['failed', 'scheduled', 'scheduled', 'scheduled', 'scheduled']);
    for (const attempt of attempts) {
      expect(attempt).toMatchObject({ status_code: null, status_message: 'failed', error_code: 'blocked_address', url: `http://localhost:${trap.port}/hook` });
      expect(attempt.error_message).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), which is a private or reserved address; ALLOW_PRIVATE_NETWORK or ALLOWED_NETWORKS can open it$/);
      expect(attempt.duration_ms).toBeLessThan(1000);
    }
    expect((await stack.api.get(`/apps/${appId}/webhook_attempts?endpoint_id=${endpointId}&status=failed`)).body).toHaveLength(5);
    expect((await stack.api.get(`/apps/${appId}/webhook_attempts?endpoint_id=${endpointId}&status=success`)).body).toEqual([]);

    const endpoint = (await stack.api.get(`/apps/${appId}/endpoints/${endpointId}`)).body;
    expect(endpoint.status).toBe('inactive');
    expect(endpoint.disabled_reason).toMatch(/^5 failed attempts; the last got localhost resolves to .* private or reserved address/);

    expect(trap.total()).toBe(0);
    expect(trap.requests).toEqual([]);
    expect(tripped).toEqual([]);
  });

  it.each(['cloud metadata', 'a second loopback server'])('a 302 to %s is a failed attempt with status_code 302, and the redirect is not followed', async (to) => {
    const target = await startTrap(['127.0.0.1']);
    try {
      const location = to === 'cloud metadata' ? 'http://169.254.169.254/latest/meta-data/' : `http://127.0.0.1:${target.port}/latest/meta-data/`;
      trap.respond = (_request, res) => res.writeHead(302, { location, connection: 'close' }).end();
      // 127.0.0.2 is opened by ALLOWED_NETWORKS, so the endpoint can be saved and reached.
      const { appId, subscriberId, endpointId } = await seed(stack.api, `http://127.0.0.2:${trap.port}/hook`);
      const posted = await stack.api.post(`/apps/${appId}/messages`, message);
      const [first] = await waitFor('the first attempt', async () => {
        const list = (await stack.api.get(`/apps/${appId}/webhook_attempts?endpoint_id=${endpointId}`)).body;
        return list.length > 0 ? list : undefined;
      });
      // No need to wait out all 5 attempts: disabling the endpoint ends the delivery as skipped.
      expect((await stack.api.patch(`/subscriptions/${subscriberId}/endpoints/${endpointId}`, { status: 'inactive' })).status).toBe(200);
      await deliveryStatus(posted.body.id, 'skipped', 20_000);

      expect(first).toMatchObject({ attempt: 1, status_code: '302', status_message: 'failed', retry_status: 'scheduled', error_code: 'http_status', error_message: 'HTTP 302' });
      expect(trap.requests.length).toBeGreaterThanOrEqual(1);
      expect(trap.requests.every((r) => r.host === '127.0.0.2' && r.method === 'POST' && r.path === '/hook')).toBe(true);
      expect(target.total()).toBe(0);
      expect(tripped).toEqual([]);
    } finally {
      await target.close();
    }
  });
});
