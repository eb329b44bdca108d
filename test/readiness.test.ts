import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from './support/ports.ts';
import { openhooksCommandOk, OpenhooksProcess, printLogs, scratchDir } from './support/processes.ts';
import { createTestDatabase, testEnv } from './support/stack.ts';

// /ready of a real server process whose Temporal address has nothing listening: messages are still
// accepted (Temporal only starts them), so a load balancer must keep it; the body and one warning
// say that Temporal is away.

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let server: OpenhooksProcess;
beforeAll(async () => {
  database = await createTestDatabase();
  const env = testEnv({ DATABASE_URL: database.url, TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` });
  await openhooksCommandOk(['migrate'], env);
  server = await new OpenhooksProcess('server', env, scratchDir('readiness')).start();
});
afterAll(async () => {
  await server?.stop();
  await database?.drop();
});

it('stays ready with Temporal unreachable, reports it in the body, and warns once however often it is probed', async () => {
  try {
    for (let probe = 0; probe < 4; probe++) {
      const ready = await fetch(`${server.url}/api/v1/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', postgres: 'ok', temporal: 'unavailable' });
    }
    const warnings = server.lines().filter((line) => line.level === 'warn' && String(line.msg).includes('temporal is unavailable'));
    expect(warnings, 'one warning, not one per probe').toHaveLength(1);
  } catch (err) {
    printLogs([server]);
    throw err;
  }
});
