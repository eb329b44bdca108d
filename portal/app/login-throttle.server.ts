import type { AppLoadContext } from '@remix-run/node';

const WINDOW_MS = 15 * 60_000;
const MAX_FAILURES = 10;
// Past this many tracked keys, expired ones are swept, so a flood of addresses cannot grow memory unbounded.
const SWEEP_AT = 10_000;

/**
 * Failed logins per key (an email, a client address) in a sliding 15-minute window. Kept in this
 * process's memory: with several server processes each counts on its own, so the limit is per process
 * (at most MAX_FAILURES × processes), which still stops guessing at any useful rate.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /** True when any of the keys has had MAX_FAILURES failures within the window. */
  blocked(keys: string[]): boolean {
    return keys.some((key) => this.recent(key).length >= MAX_FAILURES);
  }

  recordFailure(keys: string[]): void {
    if (this.failures.size >= SWEEP_AT) this.sweep();
    for (const key of keys) this.failures.set(key, [...this.recent(key), this.now()].slice(-MAX_FAILURES));
  }

  clear(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.now() - WINDOW_MS;
    return (this.failures.get(key) ?? []).filter((at) => at > since);
  }

  private sweep(): void {
    for (const key of [...this.failures.keys()]) if (this.recent(key).length === 0) this.failures.delete(key);
  }
}

export const LOGIN_THROTTLE_MINUTES = WINDOW_MS / 60_000;

// One throttle per server (its database pool), so two servers in one process (tests) count apart.
const throttles = new WeakMap<AppLoadContext['db'], LoginThrottle>();

export function loginThrottle(context: AppLoadContext): LoginThrottle {
  let throttle = throttles.get(context.db);
  if (!throttle) throttles.set(context.db, (throttle = new LoginThrottle()));
  return throttle;
}

/**
 * What a login counts against: the email (an account, or an address with none, answered alike) and
 * the client's address (`clientAddress`, which the server always passes).
 */
export function loginThrottleKeys(email: string, context: AppLoadContext): string[] {
  return [`email:${email}`, ...(context.clientAddress ? [`ip:${context.clientAddress}`] : [])];
}
