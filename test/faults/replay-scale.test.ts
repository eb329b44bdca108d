import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, expect, it, inject } from 'vitest';
import { requestReplay } from '../../db/replays.ts';
import { withTemporalAddress } from '../../cli/runtime.ts';
import { loadConfig } from '../../lib/config.ts';
import { newId } from '../../lib/ids.ts';
import { TemporalGateway } from '../../lib/temporal.ts';
import { CONTINUE_AFTER, replayWorkflowId } from '../../workflows/replay.ts';
import { signalReplayWorkflow } from '../../workflows/replay-start.ts';
import { waitFor } from '../support/ports.ts';
import { startReceiver } from '../support/receiver.ts';
import { seed, startStack, type Stack } from '../support/stack.ts';

// Heavy, so it runs with the process-level tests (npm run test:faults): a replay of 5,000 skipped
// deliveries completes at the default REPLAY_CONCURRENCY with every message received once, never
// more than that many in flight, and its history bounded by continue-as-new (issue 11).

const COUNT = 5_000;

let stack: Stack;
let connection: Connection;
beforeAll(async () => {
  stack = await startStack();
  connection = await Connection.connect({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await connection?.close();
  await stack?.close();
});

it(`replays ${COUNT} skipped deliveries with bounded concurrency and bounded history`, { timeout: 1_000_000 }, async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const receiver = await startReceiver((_request, _i, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    // A receiver that takes a moment, so that concurrency shows.
    setTimeout(() => {
      inFlight--;
      res.writeHead(200).end('ok');
    }, 5);
    return 'handled';
  });
  try {
    const s = await seed(stack.api, receiver.url);
    const config = withTemporalAddress(loadConfig(stack.env), stack.env.TEMPORAL_ADDRESS!);
    expect(config.replayConcurrency, 'the default').toBe(10);

    // Written as the API writes messages that reach an inactive endpoint, without sending 5,000 first.
    const start = Date.now() - 60_000;
    const messageIds: string[] = [];
    for (let batch = 0; batch < COUNT / 1_000; batch++) {
      const messages = Array.from({ length: 1_000 }, (_, i) => {
        const at = new Date(start + batch * 1_000 + i);
        return { id: newId('message', at.getTime()), app_id: s.appId, event_type: 'user.created', version: '1.0', data: JSON.stringify({ n: batch * 1_000 + i }), override_payload: false, request_hash: 'x', created_at: at };
      });
      await stack.db.insertInto('messages').values(messages).execute();
      await stack.db
        .insertInto('deliveries')
        .values(messages.map((m) => ({ id: newId('delivery', m.created_at.getTime()), message_id: m.id, endpoint_id: s.endpointId, app_id: s.appId, subscriber_id: s.subscriberId, status: 'skipped' as const, reason: 'endpoint_inactive' as const, workflow_started_at: m.created_at, finished_at: m.created_at, created_at: m.created_at })))
        .execute();
      messageIds.push(...messages.map((m) => m.id));
    }

    const endpoint = await stack.db.selectFrom('endpoints').selectAll().where('id', '=', s.endpointId).executeTakeFirstOrThrow();
    const outcome = await stack.db.transaction().execute((trx) => requestReplay(trx, endpoint, { since: new Date(start - 1), requestedBy: { kind: 'user', id: 'usr_scale' } }, new Date()));
    if (outcome.kind !== 'accepted') throw new Error(`refused: ${outcome.kind}`);
    expect(outcome.replay.total).toBe(COUNT);
    const gateway = new TemporalGateway(config.temporal);
    const began = Date.now();
    expect((await signalReplayWorkflow(gateway, config, outcome.replay)).ok).toBe(true);
    await gateway.close();

    let reported = Date.now();
    const done = await waitFor(
      'the replay to finish',
      async () => {
        const row = await stack.db.selectFrom('replays').selectAll().where('id', '=', outcome.replay.id).executeTakeFirst();
        if (Date.now() - reported > 30_000) {
          reported = Date.now();
          console.log(`replay progress after ${((Date.now() - began) / 1000).toFixed(0)} s: ${row?.sent} sent, ${row?.succeeded} succeeded`);
        }
        return row?.finished_at ? row : undefined;
      },
      900_000,
      500,
    );
    const seconds = (Date.now() - began) / 1000;
    expect(done).toMatchObject({ status: 'completed', total: COUNT, sent: COUNT, succeeded: COUNT, failed: 0, remaining: 0 });
    const received = new Set(receiver.requests.map((r) => r.headers['webhook-id'] as string));
    expect(received.size).toBe(COUNT);
    expect(receiver.requests).toHaveLength(COUNT);
    expect([...received].sort()).toEqual([...messageIds].sort());
    expect(maxInFlight).toBeLessThanOrEqual(config.replayConcurrency);

    const client = new Client({ connection });
    const runs = [];
    for await (const run of client.workflow.list({ query: `WorkflowId = "${replayWorkflowId(s.endpointId)}"` })) runs.push(run);
    const longest = Math.max(...runs.map((run) => run.historyLength));
    expect(runs.length).toBeGreaterThanOrEqual(Math.ceil(COUNT / CONTINUE_AFTER));
    // About 4 events a delivery plus the page steps: bounded by CONTINUE_AFTER, far below Temporal's limits.
    expect(longest).toBeLessThan(CONTINUE_AFTER * 8);
    console.log(`replay of ${COUNT}: ${seconds.toFixed(1)} s, ${(COUNT / seconds).toFixed(1)} deliveries/s, ${runs.length} runs, longest history ${longest} events, at most ${maxInFlight} in flight`);
  } finally {
    await receiver.close();
  }
});
