import { Client, Connection, isGrpcServiceError, WorkflowExecutionAlreadyStartedError, type Workflow, type WorkflowSignalWithStartOptions, type WorkflowStartOptions } from '@temporalio/client';
import type { Config } from './config.ts';

export type TemporalSettings = Config['temporal'] & { address: string };

/** gRPC status codes that mean the server could not be reached or did not answer in time: UNAVAILABLE, DEADLINE_EXCEEDED. */
const UNREACHABLE_CODES = new Set<number>([14, 4]);
const CONNECT_TIMEOUT_MS = 5_000;
const CALL_TIMEOUT_MS = 5_000;
/** The longest one start can take: connecting and the call's deadline. */
export const START_BOUND_MS = CONNECT_TIMEOUT_MS + CALL_TIMEOUT_MS;

export type StartOutcome =
  /** Temporal has the run: this start made it, or found one its id policy forbids replacing and made none. */
  | { ok: true; created: boolean }
  /** `unreachable`: Temporal did not answer, so other starts would fail the same way. */
  | { ok: false; unreachable: boolean; error: unknown };

/** Whether an error from a Temporal call means the server is away (unavailable, too slow, no connection) rather than this call's own problem. */
export function isTemporalUnreachable(error: unknown): boolean {
  for (let err = error; err instanceof Error; err = err.cause) {
    if (isGrpcServiceError(err) && UNREACHABLE_CODES.has(err.code)) return true;
  }
  return false;
}

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
    this.pending ??= Connection.connect({ ...connectionOptions(this.settings), connectTimeout: CONNECT_TIMEOUT_MS }).then(
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
  async call<T>(fn: (client: Client) => Promise<T>, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
    const client = await this.client();
    const call = this.connection!.withDeadline(Date.now() + timeoutMs, () => fn(client));
    this.inFlight.add(call);
    try {
      return await call;
    } finally {
      this.inFlight.delete(call);
    }
  }

  /** Starts a workflow and says how it went; never throws. */
  startWorkflow<T extends Workflow>(workflowType: string, options: WorkflowStartOptions<T>): Promise<StartOutcome> {
    return this.startCall((client) => client.workflow.start<T>(workflowType, options));
  }

  /** Signals a workflow, starting it first when it is not running; says how it went, never throws. */
  signalWithStart<T extends Workflow, A extends unknown[]>(workflowType: string, options: WorkflowSignalWithStartOptions<A> & WorkflowStartOptions<T>): Promise<StartOutcome> {
    return this.startCall((client) => client.workflow.signalWithStart<T, A>(workflowType, options));
  }

  private async startCall(fn: (client: Client) => Promise<unknown>): Promise<StartOutcome> {
    try {
      await this.client();
    } catch (error) {
      // No connection (refused, or no answer before the connect timeout) is unreachable, whatever its error says.
      return { ok: false, unreachable: true, error };
    }
    try {
      await this.call(fn);
      return { ok: true, created: true };
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return { ok: true, created: false };
      return { ok: false, unreachable: isTemporalUnreachable(error), error };
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
