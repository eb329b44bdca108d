import type { AppLoadContext } from '@remix-run/node';
import { clearLoginFailures, mostRecentLoginFailures, recordLoginFailures } from '../../db/login-failures.ts';

const WINDOW_MS = 15 * 60_000;
const MAX_FAILURES = 10;

/**
 * Failed logins per key (an email, a client address) in a sliding 15-minute window. Counted in
 * Postgres, so every server process sees the same failures: ten failures in a row lock an account
 * or address out whichever servers the attempts reached.
 */
export class LoginThrottle {
  constructor(private readonly db: AppLoadContext['db']) {}

  /** True when any of the keys has had MAX_FAILURES failures within the window. */
  async blocked(keys: string[]): Promise<boolean> {
    return (await mostRecentLoginFailures(this.db, keys, WINDOW_MS)) >= MAX_FAILURES;
  }

  recordFailure(keys: string[]): Promise<void> {
    return recordLoginFailures(this.db, keys, WINDOW_MS);
  }

  clear(key: string): Promise<void> {
    return clearLoginFailures(this.db, key);
  }
}

export const LOGIN_THROTTLE_MINUTES = WINDOW_MS / 60_000;

export function loginThrottle(context: AppLoadContext): LoginThrottle {
  return new LoginThrottle(context.db);
}

/**
 * What a login counts against: the email (an account, or an address with none, answered alike) and
 * the client's address (`clientAddress`, which the server always passes).
 */
export function loginThrottleKeys(email: string, context: AppLoadContext): string[] {
  return [`email:${email}`, ...(context.clientAddress ? [`ip:${context.clientAddress}`] : [])];
}
