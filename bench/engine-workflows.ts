import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import { DELIVERY_STATUS } from '../lib/search-attributes.ts';

// T, the engine ceiling: the same shape as deliveryWorkflow (one activity under a retry policy, then
// the status search attribute) with an activity that does nothing.
const { noop } = proxyActivities<{ noop(id: string): Promise<void> }>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 4 },
});

export async function engineWorkflow(id: string): Promise<string> {
  await noop(id);
  upsertSearchAttributes([{ key: DELIVERY_STATUS, value: 'succeeded' }]);
  return 'succeeded';
}
