import { Client, Connection } from '@temporalio/client';
import type { Config } from './config.ts';

export type TemporalSettings = Config['temporal'] & { address: string };

export function connectionOptions(settings: TemporalSettings) {
  return {
    address: settings.address,
    // false, not undefined: the SDK turns TLS on by itself when an API key is set and tls is undefined.
    tls: settings.tls ? {} : false,
    apiKey: settings.apiKey,
  };
}

/**
 * A Temporal client that survives the server being away: the SDK memoises a failed first connect,
 * so this keeps the connection only once it succeeded and tries again on the next call otherwise.
 */
export class TemporalGateway {
  private pending: Promise<Client> | undefined;
  private connection: Connection | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(readonly settings: TemporalSettings) {}

  client(): Promise<Client> {
    this.pending ??= Connection.connect({ ...connectionOptions(this.settings), connectTimeout: '5s' }).then(
      (connection) => {
        this.connection = connection;
        return new Client({ connection, namespace: this.settings.namespace });
      },
      (err: unknown) => {
        this.pending = undefined;
        throw err;
      },
    );
    return this.pending;
  }

  /** Runs one client call with a deadline, so a down server costs a bounded wait, not a hang. */
  async call<T>(fn: (client: Client) => Promise<T>, timeoutMs = 5_000): Promise<T> {
    const client = await this.client();
    const call = this.connection!.withDeadline(Date.now() + timeoutMs, () => fn(client));
    this.inFlight.add(call);
    try {
      return await call;
    } finally {
      this.inFlight.delete(call);
    }
  }

  /** Waits for calls under way (their retries run on timers that must not outlive the channel), then closes. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    const connection = this.connection;
    this.pending = undefined;
    this.connection = undefined;
    await connection?.close();
  }
}
