import { proxyLocalActivities, upsertSearchAttributes } from '@temporalio/workflow';
import { DELIVERY_STATUS } from '../lib/search-attributes.ts';

// T, the engine ceiling: the same shape as deliveryWorkflow's successful run (the first attempt as a
// local activity, then the status search attribute) with an activity that does nothing.
const { noop } = proxyLocalActivities<{ noop(id: string): Promise<void> }>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 1 },
});

export async function engineWorkflow(id: string): Promise<string> {
  await noop(id);
  upsertSearchAttributes([{ key: DELIVERY_STATUS, value: 'succeeded' }]);
  return 'succeeded';
}

// E, the engine's floor: a workflow that does nothing at all. No delivery design with one workflow per
// delivery can go faster than this on the same server and cores.
export function emptyWorkflow(id: string): Promise<string> {
  return Promise.resolve(id);
}
