import { ServiceError, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { isTemporalUnreachable } from '../../lib/temporal.ts';
import { startDeliveryWorkflow } from '../../workflows/delivery-start.ts';
import { TemporalGateway } from '../../lib/temporal.ts';
import { freePort } from '../support/ports.ts';

/** An error shaped as @grpc/grpc-js rejects a call, wrapped the way the Temporal client rethrows it. */
const grpcError = (code: number, name: string) =>
  new ServiceError('Failed to start Workflow', { cause: Object.assign(new Error(`${code} ${name}: test`), { code, details: 'test', metadata: {} }) });

describe('isTemporalUnreachable', () => {
  it('is true for UNAVAILABLE and DEADLINE_EXCEEDED, however deeply wrapped', () => {
    expect(isTemporalUnreachable(grpcError(14, 'UNAVAILABLE'))).toBe(true);
    expect(isTemporalUnreachable(grpcError(4, 'DEADLINE_EXCEEDED'))).toBe(true);
    expect(isTemporalUnreachable(new Error('outer', { cause: grpcError(14, 'UNAVAILABLE') }))).toBe(true);
  });

  it("is false for an answer about this call alone, and for errors that are not Temporal's", () => {
    expect(isTemporalUnreachable(grpcError(3, 'INVALID_ARGUMENT'))).toBe(false);
    expect(isTemporalUnreachable(grpcError(5, 'NOT_FOUND'))).toBe(false);
    expect(isTemporalUnreachable(new WorkflowExecutionAlreadyStartedError('started', 'delivery:x', 'deliveryWorkflow'))).toBe(false);
    expect(isTemporalUnreachable(new Error('14 UNAVAILABLE'))).toBe(false);
    expect(isTemporalUnreachable('UNAVAILABLE')).toBe(false);
  });
});

describe('startDeliveryWorkflow', () => {
  const gateways: TemporalGateway[] = [];
  const gateway = (address: string) => {
    const config = loadConfig({ TEMPORAL_ADDRESS: address, TEMPORAL_TASK_QUEUE: `unit-${Math.random().toString(36).slice(2)}` });
    const temporal = new TemporalGateway({ ...config.temporal, address });
    gateways.push(temporal);
    return { config, temporal };
  };
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.close()));
  });
  const delivery = (id: string) => ({ id, app_id: 'app_1', subscriber_id: 'sub_1', endpoint_id: 'ep_1', event_type: 'user.created', retry_initial_interval_ms: null, retry_backoff_coefficient: null });

  it('says unreachable when nothing listens at the address', async () => {
    const { config, temporal } = gateway(`127.0.0.1:${await freePort()}`);
    expect(await startDeliveryWorkflow(temporal, config, delivery('dlv_unit_a'), { trigger: 'automatic' })).toMatchObject({ ok: false, unreachable: true });
  }, 20_000);

  it('says refused, not unreachable, when the server answers no to this start', async () => {
    const { config, temporal } = gateway(inject('temporalAddress'));
    // Longer than the server's workflow id limit: INVALID_ARGUMENT.
    expect(await startDeliveryWorkflow(temporal, config, delivery(`dlv_${'x'.repeat(1_100)}`), { trigger: 'automatic' })).toMatchObject({ ok: false, unreachable: false });
    const id = `dlv_unit_${Math.random().toString(36).slice(2)}`;
    expect(await startDeliveryWorkflow(temporal, config, delivery(id), { trigger: 'automatic' })).toEqual({ ok: true, created: true, eager: false });
    expect(await startDeliveryWorkflow(temporal, config, delivery(id), { trigger: 'automatic' })).toEqual({ ok: true, created: false });
    await (await temporal.client()).workflow.getHandle(`delivery:${id}`).terminate('test done');
  });
});
