/** Errors that mean "Postgres is unreachable right now", as opposed to a bad query. */
const UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006']);

export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  if (e?.code && UNAVAILABLE.has(e.code)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(e?.message ?? '');
}

/**
 * Retries `fn` while the database is unreachable, with backoff, for at most `budgetMs`; any other
 * error, or the last one when the budget is spent, is thrown. `onWait` runs before each pause.
 */
export async function retryWhileDatabaseDown<T>(fn: () => Promise<T>, budgetMs: number, onWait: () => void = () => undefined): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await fn();
    } catch (err) {
      if (!isDatabaseUnavailable(err) || Date.now() + delay > deadline) throw err;
      onWait();
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
