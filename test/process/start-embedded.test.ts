import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../support/ports.ts';
import { startReceiver } from '../support/receiver.ts';
import { apiClient, seed, type Api, type Seeded } from '../support/stack.ts';
import { alive, OpenhooksProcess, printLogs, scratchDir } from '../support/processes.ts';

const CLIENTS = 16;

// `npm start` as a new user runs it: no DATABASE_URL, no TEMPORAL_ADDRESS, so the embedded Postgres
// and Temporal dev server it starts itself; only the ports are chosen so that they collide with nothing.
describe('npm start with its embedded defaults', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let start: OpenhooksProcess;
  let api: Api;
  let seeded: Seeded;
  let dataDir: string;
  /** How long the receiver holds each request before it answers 200. */
  let holdMs = 0;

  /** Posts `n` messages from CLIENTS concurrent clients; every answer's status and every accepted id. */
  const burst = async (n: number, label: string) => {
    const statuses: number[] = [];
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < n) {
          const i = next++;
          const sent = await api.post(`/apps/${seeded.appId}/messages`, { event_type: 'user.created', version: '1.0', data: { label, i } });
          statuses.push(sent.status);
          if (sent.status === 202) ids.push(sent.body.id as string);
        }
      }),
    );
    return { statuses, ids };
  };
  const received = () => new Set(receiver.requests.map((r) => String(r.headers['webhook-id'])));
  const waitDelivered = (ids: string[], timeoutMs: number) =>
    waitFor(`${ids.length} messages to reach the receiver`, () => {
      const got = received();
      return ids.every((id) => got.has(id)) ? true : undefined;
    }, timeoutMs, 250);

  beforeAll(async () => {
    receiver = await startReceiver((_request, _index, res: ServerResponse) => {
      setTimeout(() => res.writeHead(200).end('ok'), holdMs);
      return 'handled';
    });
    const dir = scratchDir('start-embedded');
    // Run as root, the embedded Postgres runs as the user postgres, who cannot enter the run's private temp dir.
    dataDir = mkdtempSync(path.join(tmpdir(), 'openhooks-start-'));
    chmodSync(dataDir, 0o755);
    const env = {
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      TEMPORAL_DEV_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      // The bursts test the database, not the per-key rate limit (100/s by default).
      RATE_LIMIT: '0',
      // Short enough that a delivery cut by the stop is retried within the test's bounds.
      RETRY_INITIAL_INTERVAL: '1s',
      RECONCILE_INTERVAL: '2s',
    };
    start = await new OpenhooksProcess('start', env, dir, { detached: true }).start(120_000);
    const apiKey = /API key:\s+(\S+)/.exec(start.stdout())?.[1];
    expect(apiKey, start.stdout()).toBeDefined();
    api = apiClient(start.url, apiKey!);
    seeded = await seed(api, receiver.url);
  }, 180_000);

  afterAll(async () => {
    await start?.kill();
    await receiver?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('signs the printed demo login in at /login and shows the demo app on the dashboard', async () => {
    const [, email, password] = /Login:\s+(\S+) \/ (\S+)/.exec(start.stdout()) ?? [];
    expect(email, start.stdout()).toBe('demo@openhooks.local');
    const form = await fetch(`${start.url}/login`);
    expect(form.status).toBe(200);
    const cookie = form.headers.get('set-cookie')!.split(';')[0]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1];
    expect(csrf).toBeDefined();
    const login = await fetch(`${start.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: email!, password: password!, csrf: csrf!, redirectTo: '/' }),
    });
    expect(login.status).toBe(302);
    const session = login.headers.get('set-cookie')!.split(';')[0]!;
    const dashboard = await fetch(`${start.url}/`, { headers: { cookie: session } });
    expect(dashboard.status).toBe(200);
    expect(await dashboard.text()).toContain('Demo app');
  });

  it('accepts a concurrent burst with 202 for every message and delivers every one', async () => {
    try {
      const { statuses, ids } = await burst(300, 'burst');
      expect(statuses.filter((s) => s !== 202)).toEqual([]);
      expect(existsSync(path.join(dataDir, 'postgres', 'PG_VERSION')), 'the cluster lives in DATA_DIR').toBe(true);
      expect(new Set(ids).size).toBe(300);
      await waitDelivered(ids, 120_000);
      // Still healthy after the burst.
      expect((await api.post(`/apps/${seeded.appId}/messages`, { event_type: 'user.created', version: '1.0', data: { after: true } })).status).toBe(202);
    } catch (err) {
      printLogs([start]);
      throw err;
    }
  }, 180_000);

  it('stops on Ctrl-C within 30 s with deliveries in flight, and delivers every accepted message after a restart', async () => {
    try {
      holdMs = 2_000;
      const before = receiver.requests.length;
      const { statuses, ids } = await burst(100, 'in flight');
      expect(statuses.filter((s) => s !== 202)).toEqual([]);
      await waitFor('deliveries in flight', () => (receiver.requests.length > before ? true : undefined), 30_000);

      // Every process of the run: the group the terminal signals and the embedded services of their own.
      const pids = start.tree();
      expect(pids.length).toBeGreaterThanOrEqual(3);
      const signalledAt = Date.now();
      start.signalGroup('SIGINT');
      await waitFor('every process of npm start to exit', () => (alive(pids).length === 0 ? true : undefined), 30_000, 100);
      expect(Date.now() - signalledAt).toBeLessThan(30_000);
      expect(await start.waitExit(5_000)).toEqual({ code: 0, signal: null });

      holdMs = 0;
      await start.start(120_000);
      await waitDelivered(ids, 150_000);
    } catch (err) {
      printLogs([start]);
      throw err;
    }
  }, 330_000);
});
