import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../support/ports.ts';
import { startReceiver } from '../support/receiver.ts';
import { apiClient, createTestDatabase, testEnv, type Api } from '../support/stack.ts';
import { verifyStandardWebhooks } from '../support/verify.ts';
import { openhooksCommand, OpenhooksProcess, scratchDir, stopAll, type CommandResult, type Kind } from '../support/processes.ts';

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** Every form a signing secret could leak in: itself, its base64 key, and that key's bytes as hex. */
function signingSecretForms(secret: string): string[] {
  const base64 = secret.slice('whsec_'.length);
  return [secret, base64, Buffer.from(base64, 'base64').toString('hex')];
}

/** An API key reads `ohk_<prefix>_<secret>`; the prefix is public, the secret part is not. */
function apiKeyForms(key: string): string[] {
  const secretPart = key.slice('ohk_'.length + 12 + 1);
  expect(secretPart).toHaveLength(32);
  return [key, secretPart, `Bearer ${key}`];
}

describe('secrets never reach the process logs', () => {
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const secrets = new Map<string, string>();
  const remember = (what: string, values: string[]) => values.forEach((value, i) => secrets.set(`${what}#${i}`, value));
  const commandOutputs: { what: string; text: string }[] = [];
  const receivers: Receiver[] = [];
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  let server: OpenhooksProcess | undefined;
  let worker: OpenhooksProcess | undefined;
  /** Same database, but its Temporal is away: messages it accepts are left to the worker's reconciler. */
  let noTemporal: OpenhooksProcess | undefined;
  /** Its Postgres (with a password in DATABASE_URL) is away: requests answer 503 and it logs why. */
  let noDatabase: OpenhooksProcess | undefined;
  let apiKey: string;
  let api: Api;
  let logs: { what: string; text: string }[] = [];
  let processLines: { what: string; line: string; json: Record<string, unknown> | undefined }[] = [];

  const command = async (what: string, args: string[], keepStdout = true): Promise<CommandResult> => {
    const result = await openhooksCommand(args, env);
    expect(result.code, result.stderr).toBe(0);
    if (keepStdout) commandOutputs.push({ what: `${what} stdout`, text: result.stdout });
    commandOutputs.push({ what: `${what} stderr`, text: result.stderr });
    return result;
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    env = testEnv({ DATABASE_URL: database.url, LOG_LEVEL: 'debug', RETRY_MAXIMUM_ATTEMPTS: '2', DELIVERY_TIMEOUT: '1s' });
    remember('ENCRYPTION_KEY', [env.ENCRYPTION_KEY!, Buffer.from(env.ENCRYPTION_KEY!, 'base64').toString('hex')]);
    remember('password', [password]);
    const dir = scratchDir('process-secrets');
    // Children log at the level of the commands (debug): every line a secret could be in.
    const start = (kind: Kind, name: string, childEnv: Record<string, string>) => new OpenhooksProcess(kind, childEnv, dir, { name, logLevel: childEnv.LOG_LEVEL }).start();

    await command('migrate', ['migrate']);
    // Its stdout is the command's answer (it prints the key on purpose), not a log: only its stderr is scanned.
    const created = await command('account create', ['account', 'create', '--name', 'Secrets', '--email', 'owner@secrets.test', '--password', password], false);
    apiKey = (JSON.parse(created.stdout) as { api_key: string }).api_key;
    remember('account API key', apiKeyForms(apiKey));

    const databasePassword = `dbpw-${randomBytes(12).toString('hex')}`;
    remember('database password', [databasePassword]);
    [server, worker, noTemporal, noDatabase] = await Promise.all([
      start('server', 'server', env),
      start('worker', 'worker', env),
      start('server', 'server-no-temporal', { ...env, TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` }),
      start('server', 'server-no-database', { ...env, DATABASE_URL: `postgres://openhooks:${databasePassword}@127.0.0.1:${await freePort()}/openhooks` }),
    ]);
    api = apiClient(server.url, apiKey);
  });

  afterAll(async () => {
    await stopAll([server, worker, noTemporal, noDatabase]);
    await Promise.allSettled(receivers.map((r) => r.close()));
    await database?.drop();
  });

  it('exercises every path that handles a secret (creation, read, rotation, keys, errors, failing deliveries, resend)', async () => {
    // Receivers: one that works, and every way of failing.
    const good = await startReceiver();
    const failing500 = await startReceiver(() => ({ status: 500, body: 'boom' }));
    const gone = await startReceiver(() => ({ status: 410, body: 'gone' }));
    const slow = await startReceiver((_request, _index, res: ServerResponse) => {
      setTimeout(() => res.writeHead(200).end('too late'), 3_000).unref();
      return 'handled';
    });
    receivers.push(good, failing500, gone, slow);
    const refusedUrl = `http://127.0.0.1:${await freePort()}/hook`;

    // An app, a subscriber and one endpoint per receiver: each answer shows the endpoint's secret.
    const app = await api.post('/apps', { name: 'Shop' });
    expect(app.status).toBe(201);
    const appId = app.body.id as string;
    expect((await api.post(`/apps/${appId}/webhook_events`, { event_type: 'user.created' })).status).toBe(201);
    const subscriber = await api.post(`/apps/${appId}/subscriptions`, { name: 'Acme', email: 'ops@acme.test' });
    const subscriberId = subscriber.body.id as string;
    const endpoints: Record<string, { id: string; url: string }> = {};
    for (const [name, url] of Object.entries({ good: good.url, failing500: failing500.url, gone: gone.url, slow: slow.url, refused: refusedUrl })) {
      const created = await api.post(`/subscriptions/${subscriberId}/endpoints`, { url, version: '1.0', description: name });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body.secret).toMatch(/^whsec_/);
      remember(`${name} secret`, signingSecretForms(created.body.secret as string));
      endpoints[name] = { id: created.body.id as string, url };

      // Reading the secret back answers the same one.
      const read = await api.get(`/apps/${appId}/endpoints/${created.body.id}/secret`);
      expect(read.body.key).toBe(created.body.secret);
    }

    // Rotation, generated and chosen: both old and new secrets sign during the overlap.
    const rotated = await api.post(`/apps/${appId}/endpoints/${endpoints.good!.id}/secret/rotate`, {});
    expect(rotated.status).toBe(200);
    remember('rotated secret', signingSecretForms(rotated.body.key as string));
    const chosen = `whsec_${randomBytes(32).toString('base64')}`;
    remember('chosen secret', signingSecretForms(chosen));
    const rotatedAgain = await api.post(`/apps/${appId}/endpoints/${endpoints.good!.id}/secret/rotate`, { key: chosen });
    expect(rotatedAgain.body.key).toBe(chosen);

    // A second API key: created, used, revoked, refused.
    const second = await api.post('/api_keys', { name: 'ci' });
    expect(second.status).toBe(201);
    remember('second API key', apiKeyForms(second.body.key as string));
    const secondApi = apiClient(server!.url, second.body.key as string);
    expect((await secondApi.get('/apps')).status).toBe(200);
    expect((await api.raw('DELETE', `/api_keys/${second.body.id}`)).status).toBe(200);
    expect((await secondApi.get('/apps')).status).toBe(401);

    // Error paths: a well-formed but unknown key, a malformed header, malformed JSON, a bad body, no route.
    const unknownKey = `ohk_${randomBytes(6).toString('hex')}_${randomBytes(24).toString('base64url')}`;
    remember('unknown API key', apiKeyForms(unknownKey));
    expect((await apiClient(server!.url, unknownKey).get('/apps')).status).toBe(401);
    expect((await api.raw('GET', '/apps', undefined, { authorization: `Token ${apiKey}` })).status).toBe(401);
    expect((await api.post(`/apps/${appId}/messages`, '{"event_type": "user.created", "data": {')).status).toBe(400);
    expect((await api.post('/apps', '{"name": ')).status).toBe(400);
    expect((await api.post(`/apps/${appId}/endpoints/${endpoints.good!.id}/secret/rotate`, { key: 'whsec_tooshort' })).status).toBe(422);
    expect((await api.get('/no/such/route')).status).toBe(404);

    // One message to every endpoint: one success and each kind of failure, to exhaustion.
    const sent = await api.post(`/apps/${appId}/messages`, { event_type: 'user.created', version: '1.0', data: { user: 42 } });
    expect(sent.status).toBe(202);
    const messageId = sent.body.id as string;
    const settled = await waitFor(
      'every delivery to finish',
      async () => {
        const message = await api.get(`/apps/${appId}/messages/${messageId}`);
        const deliveries = message.body.deliveries as { endpoint_id: string; status: string }[];
        return deliveries.length === 5 && deliveries.every((d) => d.status !== 'pending') ? deliveries : undefined;
      },
      40_000,
      250,
    );
    const statusOf = (name: string) => settled.find((d) => d.endpoint_id === endpoints[name]!.id)?.status;
    expect(Object.fromEntries(Object.keys(endpoints).map((name) => [name, statusOf(name)]))).toEqual({
      good: 'succeeded',
      failing500: 'failed',
      gone: 'failed',
      slow: 'failed',
      refused: 'failed',
    });
    // The good receiver got a request signed with the current and the previous secrets.
    expect(() => verifyStandardWebhooks(chosen, good.requests[0]!.body, good.requests[0]!.headers)).not.toThrow();
    expect(String(good.requests[0]!.headers['webhook-signature']).split(' ')).toHaveLength(2);

    // A resend of the successful attempt.
    const attempts = await api.get(`/apps/${appId}/webhook_attempts?endpoint_id=${endpoints.good!.id}`);
    const resend = await api.post(`/apps/${appId}/webhook_attempts/${attempts.body[0].id}/replay`);
    expect(resend.status).toBe(202);
    await waitFor('the resend to arrive', () => (good.requests.length === 2 ? true : undefined), 20_000);

    // Dependencies away: the database (503, logged with its cause) and Temporal. An API that cannot
    // reach Temporal still accepts (the workers start the delivery), and a resend it cannot start
    // itself is logged and started later by the reconciler.
    const refused = await apiClient(noDatabase!.url, apiKey).get('/apps');
    expect(refused.status).toBe(503);
    const accepted = await apiClient(noTemporal!.url, apiKey).post(`/apps/${appId}/messages`, { event_type: 'user.created', version: '1.0', data: { user: 43 } });
    expect(accepted.status).toBe(202);
    await waitFor('the workers to deliver it', () => (good.requests.some((r) => r.headers['webhook-id'] === accepted.body.id) ? true : undefined), 30_000);
    const resentAway = await apiClient(noTemporal!.url, apiKey).post(`/apps/${appId}/webhook_attempts/${attempts.body[0].id}/replay`);
    expect(resentAway.status).toBe(202);
    await waitFor('the start failure to be logged', () => (noTemporal!.lines().some((l) => l.level === 'warn') ? true : undefined), 20_000);
    await waitFor('the reconciler to start the resend', () => (good.requests.length >= 4 ? true : undefined), 40_000);

    // Stop every process the ordinary way, so every line it meant to write is written.
    for (const child of [server, noTemporal, noDatabase, worker]) expect(await child!.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const children = [server!, noTemporal!, noDatabase!, worker!];
    logs = [
      ...children.flatMap((child) => [
        { what: `${child.name} stdout`, text: child.stdout() },
        { what: `${child.name} stderr`, text: child.stderr() },
      ]),
      ...commandOutputs,
    ];
    processLines = logs.slice(0, 2 * children.length).flatMap(({ what, text }) => text.split('\n').filter((line) => line.trim() !== '').map((line) => ({ what, line, json: parseLine(line) })));

    // The scan means something: both processes logged JSON lines, at debug level, about the failures.
    const json = processLines.filter((l) => l.json !== undefined);
    expect(json.length).toBeGreaterThan(10);
    for (const what of ['server stdout', 'worker stdout', 'server-no-temporal stderr', 'server-no-database stderr']) expect(json.some((l) => l.what === what), what).toBe(true);
    expect(json.some((l) => l.json!.level === 'debug')).toBe(true);
    const deliveryErrors = json.filter(({ what, line }) => what.startsWith('worker') && /HTTP 500|HTTP 410|ECONNREFUSED|no complete response/.test(line));
    expect(deliveryErrors.length, 'a worker log line mentions a failed delivery').toBeGreaterThan(0);
  });

  it('finds no API key, signing secret, encryption key, password or Authorization header in any log', () => {
    expect(logs.length).toBeGreaterThan(0);
    expect(secrets.size).toBeGreaterThan(20);
    // Long random strings only: a hit cannot be a coincidence.
    for (const [name, value] of secrets) expect(value.length, name).toBeGreaterThanOrEqual(24);
    const leaks: string[] = [];
    for (const { what, text } of logs) {
      for (const [name, value] of secrets) {
        if (text.includes(value)) leaks.push(`${name} in ${what}: ${text.split('\n').find((line) => line.includes(value))?.slice(0, 300)}`);
      }
    }
    expect(leaks).toEqual([]);
  });

  // Native Temporal core lines are forwarded through the JSON logger too (cli/worker.ts installRuntime).
  it('writes nothing but JSON lines (one object with level and msg per line)', () => {
    expect(processLines.length).toBeGreaterThan(10);
    const notJson = processLines.filter((l) => l.json === undefined || typeof l.json.level !== 'string' || typeof l.json.msg !== 'string');
    expect(notJson.map(({ what, line }) => `${what}: ${line.slice(0, 200)}`)).toEqual([]);
  });
});

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const parsed = JSON.parse(line) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
