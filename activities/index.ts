import { createDeliveryActivities } from './delivery.ts';
import type { ActivityDeps } from './deps.ts';
import { createNotifyActivities } from './notify.ts';
import { createReplayActivities } from './replay.ts';
import { createRetentionActivities } from './retention.ts';

export type { ActivityDeps } from './deps.ts';

/** Every activity the worker registers, built from the dependencies it is handed. */
export function createActivities(deps: ActivityDeps) {
  return { ...createDeliveryActivities(deps), ...createNotifyActivities(deps), ...createReplayActivities(deps), ...createRetentionActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
