import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, type Duration } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sendFailure } from '../activities/delivery.ts';
import type { Activities } from '../activities/index.ts';
import { FAILURE, NOTIFY_ATTEMPTS, OWN_FAILURE_RETRIES } from '../lib/failures.ts';
import { DELIVERY_STATUS } from '../lib/search-attributes.ts';
import type { DeliveryInput, deliveryWorkflow } from '../workflows/delivery.ts';

// The real workflow bundle on the shared dev server, with fake activities in place of HTTP and
// Postgres: the order of calls, the retry counts and the error chain, without waiting on receivers.

// Failing activities are what these tests are about: keep the SDK's warnings about them out of the
// report (each test file is its own process, so this runtime is ours alone).
Runtime.install({ logger: new DefaultLogger('ERROR') });

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await env?.teardown();
});

type Fakes = Pick<Activities, 'sendAttempt' | 'recordSkipped' | 'recordFailure' | 'notifyEndpointDisabled'>;
type Call = [name: keyof Fakes, ...args: unknown[]];
/** What a fake does when called: return its result or throw, as the real activity would. */
type Script = { [K in keyof Fakes]?: (...args: Parameters<Fakes[K]>) => Awaited<ReturnType<Fakes[K]>> };

const defaults: Required<Script> = {
  sendAttempt: () => undefined,
  recordSkipped: () => undefined,
  recordFailure: () => ({ endpointDisabled: true }),
  notifyEndpointDisabled: () => ({ sent: 2, failed: 0 }),
};

/** Activities that log every call, then act as the scenario's script says (by default: succeed). */
function fakeActivities(script: Script, calls: Call[]): Fakes {
  sends = 0;
  const logged = (name: keyof Fakes) => (...args: unknown[]): Promise<never> => {
    calls.push([name, ...args]);
    if (name === 'sendAttempt') sends++;
    const act = (script[name] ?? defaults[name]) as (...a: unknown[]) => never;
    // A throw inside the executor rejects the promise: the activity fails with that error.
    return new Promise((resolve) => resolve(act(...args)));
  };
  return {
    sendAttempt: logged('sendAttempt'),
    recordSkipped: logged('recordSkipped'),
    recordFailure: logged('recordFailure'),
    notifyEndpointDisabled: logged('notifyEndpointDisabled'),
  };
}

const deliveryId = 'dlv_fake';

/** Runs one delivery workflow to its end on a task queue of its own; returns its status and the calls made. */
async function deliver(script: Script, retry: Partial<DeliveryInput['retry']> = {}, executionTimeout: Duration = '45 seconds') {
  const calls: Call[] = [];
  const taskQueue = `delivery-workflow-${randomBytes(6).toString('hex')}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    activities: fakeActivities(script, calls),
  });
  const input: DeliveryInput = {
    deliveryId,
    trigger: 'automatic',
    // The server spaces retries about 1 s apart whatever the policy says: keep counts small.
    retry: { initialIntervalMs: 100, backoffCoefficient: 1, maximumAttempts: 3, ...retry },
    timeoutMs: 1_000,
  };
  const workflowId = `delivery:${deliveryId}:${taskQueue}`;
  const run = env.client.workflow.execute<typeof deliveryWorkflow>('deliveryWorkflow', {
    taskQueue,
    workflowId,
    args: [input],
    // A policy that stopped ending would otherwise hold the test until its own timeout.
    workflowExecutionTimeout: executionTimeout,
  });
  const outcome = await worker.runUntil(run.then((status) => ({ status, error: undefined }), (error: unknown) => ({ status: undefined, error })));
  const handle = env.client.workflow.getHandle(workflowId);
  const description = await handle.describe();
  const events = (await handle.fetchHistory()).events ?? [];
  // Which kinds of events the run wrote, e.g. 'activityTaskScheduledEventAttributes'.
  const kinds = events.map((event) => Object.keys(event).find((key) => key.endsWith('EventAttributes')));
  const scheduled = events.flatMap((event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
  return { ...outcome, calls, names: calls.map(([name]) => name), searchStatus: description.typedSearchAttributes.get(DELIVERY_STATUS), kinds, scheduled };
}

/** As the real activity throws it: typed, and non-retryable when no further attempt can help. */
function typed(type: string, message: string, nonRetryable = true, retryAfterMs?: number) {
  return sendFailure(type, message, nonRetryable, retryAfterMs);
}

/**
 * The number of this send: the first runs as a local activity and the rest as the regular one, so
 * Temporal's own attempt counter starts again; the real activity counts recorded attempts instead.
 */
let sends = 0;
const attempt = () => sends;

describe('delivery workflow with fake activities', () => {
  it('sends once and records nothing else on success', async () => {
    const result = await deliver({});
    expect(result).toMatchObject({ status: 'succeeded', searchStatus: 'succeeded' });
    expect(result.calls).toEqual([['sendAttempt', { deliveryId, trigger: 'automatic', maximumAttempts: 3 }]]);
  });

  it('makes a successful first attempt as a local activity: no activity task, one workflow task', async () => {
    const result = await deliver({});
    expect(result.status).toBe('succeeded');
    expect(result.kinds).not.toContain('activityTaskScheduledEventAttributes');
    expect(result.kinds.filter((kind) => kind === 'workflowTaskCompletedEventAttributes')).toHaveLength(1);
    // The patch marker and the local activity's marker.
    expect(result.kinds.filter((kind) => kind === 'markerRecordedEventAttributes')).toHaveLength(2);
  });

  it("keeps the policy's schedule after a failed first attempt: initial interval, then × coefficient", async () => {
    const at: number[] = [];
    const result = await deliver(
      {
        sendAttempt: () => {
          at.push(Date.now());
          throw typed(FAILURE.attemptFailed, 'endpoint answered HTTP 500', attempt() >= 3);
        },
      },
      { initialIntervalMs: 1_000, backoffCoefficient: 2 },
    );
    expect(result.names).toEqual(['sendAttempt', 'sendAttempt', 'sendAttempt', 'recordFailure', 'notifyEndpointDisabled']);
    // The local first attempt, a timer, then the regular activity: attempt 3 waits 2 s, not the initial 1 s again.
    expect(result.scheduled).toEqual(['sendAttempt', 'recordFailure', 'notifyEndpointDisabled']);
    expect(result.kinds).toContain('timerStartedEventAttributes');
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(1_950);
  });

  it('retries a failing endpoint up to its attempts, then records the failure and notifies once', async () => {
    const result = await deliver({
      // The real activity marks its last attempt non-retryable itself.
      sendAttempt: () => {
        throw typed(FAILURE.attemptFailed, 'endpoint answered HTTP 500', attempt() >= 3);
      },
    });
    expect(result).toMatchObject({ status: 'failed', searchStatus: 'failed' });
    expect(result.names).toEqual(['sendAttempt', 'sendAttempt', 'sendAttempt', 'recordFailure', 'notifyEndpointDisabled']);
    expect(result.calls[3]).toEqual(['recordFailure', deliveryId, 'attempts_exhausted', 'endpoint answered HTTP 500']);
    expect(result.calls[4]).toEqual(['notifyEndpointDisabled', deliveryId]);
  });

  it('succeeds on a later attempt without recording a failure', async () => {
    const result = await deliver({
      sendAttempt: () => {
        if (attempt() < 3) throw typed(FAILURE.attemptFailed, 'endpoint answered HTTP 503', false);
      },
    });
    expect(result.status).toBe('succeeded');
    expect(result.names).toEqual(['sendAttempt', 'sendAttempt', 'sendAttempt']);
  });

  it('does not notify when another delivery already disabled the endpoint', async () => {
    const result = await deliver({
      sendAttempt: () => {
        throw typed(FAILURE.endpointGone, 'endpoint answered HTTP 410');
      },
      recordFailure: () => ({ endpointDisabled: false }),
    });
    expect(result.status).toBe('failed');
    expect(result.names).toEqual(['sendAttempt', 'recordFailure']);
  });

  it('stops at once on 410 Gone and records endpoint_gone', async () => {
    const result = await deliver({
      sendAttempt: () => {
        throw typed(FAILURE.endpointGone, 'endpoint answered HTTP 410');
      },
    });
    expect(result.status).toBe('failed');
    expect(result.names).toEqual(['sendAttempt', 'recordFailure', 'notifyEndpointDisabled']);
    expect(result.calls[1]).toEqual(['recordFailure', deliveryId, 'endpoint_gone', 'endpoint answered HTTP 410']);
  });

  it('skips a delivery whose endpoint is inactive', async () => {
    const result = await deliver({
      sendAttempt: () => {
        throw typed(FAILURE.endpointInactive, 'the endpoint is inactive');
      },
    });
    expect(result).toMatchObject({ status: 'skipped', searchStatus: 'skipped' });
    expect(result.calls).toEqual([['sendAttempt', expect.anything()], ['recordSkipped', deliveryId, 'endpoint_inactive']]);
  });

  it('skips a delivery whose endpoint was deleted, with that reason', async () => {
    const result = await deliver({
      sendAttempt: () => {
        throw typed(FAILURE.endpointDeleted, 'the endpoint was deleted');
      },
    });
    expect(result.status).toBe('skipped');
    expect(result.calls).toEqual([['sendAttempt', expect.anything()], ['recordSkipped', deliveryId, 'endpoint_deleted']]);
  });

  it('fails a delivery whose secret cannot be decrypted at once, without disabling or notifying', async () => {
    const result = await deliver({
      sendAttempt: () => {
        throw typed(FAILURE.secretUnreadable, "the endpoint's signing secret cannot be decrypted");
      },
      // Our key, not the endpoint's fault: recordFailure leaves the endpoint active.
      recordFailure: () => ({ endpointDisabled: false }),
    });
    expect(result.status).toBe('failed');
    expect(result.calls).toEqual([
      ['sendAttempt', expect.anything()],
      ['recordFailure', deliveryId, 'secret_unreadable', "the endpoint's signing secret cannot be decrypted"],
    ]);
  });

  it('retries an untyped error only within its bound, then records internal_error', async () => {
    const result = await deliver(
      {
        sendAttempt: () => {
          throw new Error('relation "deliveries" does not exist');
        },
        // Our failure, not the endpoint's: it stays active.
        recordFailure: () => ({ endpointDisabled: false }),
      },
      { maximumAttempts: 1 },
      // One attempt and OWN_FAILURE_RETRIES more, each about a second or two apart.
      '100 seconds',
    );
    expect(result.status).toBe('failed');
    expect(result.names).toEqual([...Array<string>(1 + OWN_FAILURE_RETRIES).fill('sendAttempt'), 'recordFailure']);
    expect(result.calls.at(-1)).toEqual(['recordFailure', deliveryId, 'internal_error', 'relation "deliveries" does not exist']);
  }, 120_000);

  it('completes as failed when notifying fails every time, after a bounded number of tries', async () => {
    const result = await deliver({
      sendAttempt: () => {
        throw typed(FAILURE.endpointGone, 'endpoint answered HTTP 410');
      },
      notifyEndpointDisabled: () => {
        // The server's own delay before the next try would be 10 s and more; the bound is what counts here.
        throw ApplicationFailure.create({ message: 'SMTP 550 mailbox unavailable', nextRetryDelay: '100 ms' });
      },
    });
    expect(result).toMatchObject({ status: 'failed', searchStatus: 'failed' });
    expect(result.names).toEqual(['sendAttempt', 'recordFailure', ...Array<string>(NOTIFY_ATTEMPTS).fill('notifyEndpointDisabled')]);
  }, 60_000);

  it("waits as long as the endpoint's Retry-After asks, not as the policy says", async () => {
    const result = await deliver(
      {
        sendAttempt: () => {
          // Both the local first attempt and the regular activity's first try honour it.
          if (attempt() <= 2) throw typed(FAILURE.attemptFailed, 'endpoint answered HTTP 429', false, 1_000);
        },
      },
      // The policy alone would wait an hour before the second attempt: far past the execution timeout.
      { initialIntervalMs: 3_600_000 },
    );
    expect(result.status).toBe('succeeded');
    expect(result.names).toEqual(['sendAttempt', 'sendAttempt', 'sendAttempt']);
  });

  it('fails the run with the whole error chain when bookkeeping fails for good', async () => {
    const result = await deliver({
      sendAttempt: () => {
        throw typed(FAILURE.endpointInactive, 'the endpoint is inactive');
      },
      recordSkipped: () => {
        throw ApplicationFailure.create({ type: 'Bug', message: 'column "reason" does not exist', nonRetryable: true });
      },
    });
    expect(result.names).toEqual(['sendAttempt', 'recordSkipped']);
    expect(result.error).toBeInstanceOf(WorkflowFailedError);
    const activity = (result.error as WorkflowFailedError).cause;
    expect(activity).toBeInstanceOf(ActivityFailure);
    expect((activity as ActivityFailure).activityType).toBe('recordSkipped');
    expect(activity?.cause).toBeInstanceOf(ApplicationFailure);
    expect(activity?.cause).toMatchObject({ type: 'Bug', message: 'column "reason" does not exist', nonRetryable: true });
  });
});
