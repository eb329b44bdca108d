import { Connection } from '@temporalio/client';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { expect, it } from 'vitest';
import { startTemporalServer } from '../cli/temporal-server.ts';
import { SEARCH_ATTRIBUTES } from '../lib/search-attributes.ts';
import { freePort } from './support/ports.ts';

// The binaries are built once (minutes); .ci/run builds them before the tests, so this is instant there.
const build = spawnSync('bash', [fileURLToPath(new URL('../scripts/temporal-server.sh', import.meta.url)), 'build'], { encoding: 'utf8' });

it('runs the real Temporal server on fresh Postgres databases with namespace default and our search attributes, and drops them on stop', async (ctx) => {
  ctx.skip(build.status !== 0, `the Temporal server could not be built with Go: ${build.stderr.trim().split('\n').slice(-3).join(' ')}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'openhooks-temporal-server-'));
  const port = await freePort();
  const server = await startTemporalServer({ dataDir: path.join(dir, 'temporal'), logFile: path.join(dir, 'temporal.log'), port, shards: 2 });
  let stopped = false;
  try {
    expect(server.address).toBe(`127.0.0.1:${port}`);
    const connection = await Connection.connect({ address: server.address });
    try {
      const described = await connection.workflowService.describeNamespace({ namespace: 'default' });
      expect(described.namespaceInfo?.name).toBe('default');
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      for (const sa of SEARCH_ATTRIBUTES) expect(Object.keys(customAttributes ?? {}), sa.name).toContain(sa.name);
    } finally {
      await connection.close();
    }
    const databases = async () => {
      const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
      await client.connect();
      try {
        const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'openhooks_temporal_%'`);
        return rows.map((r) => r.datname);
      } finally {
        await client.end();
      }
    };
    const ours = (await databases()).filter((name) => name.startsWith(server.databases.temporal));
    expect(ours.sort()).toEqual([server.databases.temporal, server.databases.visibility].sort());
    await server.stop();
    stopped = true;
    expect(server.process.exitCode !== null || server.process.signalCode !== null).toBe(true);
    expect((await databases()).filter((name) => ours.includes(name))).toEqual([]);
  } finally {
    if (!stopped) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);
