import type { Migration } from 'kysely';
import * as initial from './2026-11-28-0001-initial.ts';
import * as idempotencyKeys from './2026-11-28-0002-idempotency-keys.ts';
import * as attemptRun from './2026-11-28-0003-attempt-run.ts';
import * as deliveryOutcomes from './2026-12-02-0004-delivery-outcomes.ts';
import * as deliveryOutcomeIndex from './2026-12-02-0005-delivery-outcome-index.ts';
import * as replays from './2026-12-02-0006-replays.ts';
import * as retention from './2026-12-02-0007-retention.ts';
import * as loginFailures from './2026-12-02-0008-login-failures.ts';

/**
 * Every migration, by name, in order. Listed statically (not read from the folder at run time) so
 * the same code migrates under tsx, vitest and any bundler. Add new ones at the end.
 */
export const migrations: Record<string, Migration> = {
  '2026-11-28-0001-initial': initial,
  '2026-11-28-0002-idempotency-keys': idempotencyKeys,
  '2026-11-28-0003-attempt-run': attemptRun,
  '2026-12-02-0004-delivery-outcomes': deliveryOutcomes,
  '2026-12-02-0005-delivery-outcome-index': deliveryOutcomeIndex,
  '2026-12-02-0006-replays': replays,
  '2026-12-02-0007-retention': retention,
  '2026-12-02-0008-login-failures': loginFailures,
};
