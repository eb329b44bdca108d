import type { Db } from '../db/connection.ts';
import type { SecretBox } from '../lib/secrets.ts';
import { createDeliveryActivities } from './delivery.ts';
import type { HttpSender } from './http.ts';
import type { Mailer } from './mailer.ts';
import { createNotifyActivities } from './notify.ts';

export interface ActivityDeps {
  db: Db;
  http: HttpSender;
  mailer: Mailer;
  secrets: SecretBox;
  publicUrl: string;
  clock?: () => Date;
}

/** Every activity the worker registers, built from the dependencies it is handed. */
export function createActivities(deps: ActivityDeps) {
  return { ...createDeliveryActivities(deps), ...createNotifyActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
