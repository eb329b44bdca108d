// The workflow bundle's entry: every workflow the worker runs is exported here.
export { deliveryWorkflow } from './delivery.ts';
export { replayWorkflow } from './replay.ts';
export { retentionWorkflow } from './retention.ts';
