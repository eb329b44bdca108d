import { Client, Connection, isGrpcServiceError, type ConnectionLike, WorkflowExecutionAlreadyStartedError, type Workflow, type WorkflowSignalWithStartOptions, type WorkflowStartOptions } from '@temporalio/client';
import type { Config } from './config.ts';

export type TemporalSettings = Config['temporal'] & { address: string };

/** gRPC status codes that mean the server could not be reached or did not answer in time: UNAVAILABLE, DEADLINE_EXCEEDED. */
const UNREACHABLE_CODES = new Set<number>([14, 4]);
const CONNECT_TIMEOUT_MS = 5_000;
const CALL_TIMEOUT_MS = 5_000;
/** The longest one start can take: connecting and the call's deadline. */
export const START_BOUND_MS = CONNECT_TIMEOUT_MS + CALL_TIMEOUT_MS;

export type StartOutcome =
  /**
   * Temporal has the run: this start made it, or found one its id policy forbids replacing and made
   * none. `eager`: its first workflow task came back to this process's worker with the answer.
   */
  | { ok: true; created: boolean; eager?: boolean }
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
  private connection: ConnectionLike | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();

  /**
   * `workerConnection`: the connection a worker of this process polls with. Starts then ask for
   * eager execution: the server hands the run's first workflow task back in the start's answer,
   * to that worker, instead of through matching. The gateway does not close it.
   */
  constructor(
    readonly settings: TemporalSettings,
    private readonly workerConnection?: ConnectionLike,
  ) {}

  client(): Promise<Client> {
    if (this.workerConnection) {
      this.connection = this.workerConnection;
      this.pending ??= Promise.resolve(new Client({ connection: this.workerConnection, namespace: this.settings.namespace }));
    }
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
    const eager = this.workerConnection !== undefined;
    return this.startCall(async (client) => (await client.workflow.start<T>(workflowType, { ...options, requestEagerStart: eager })).eagerlyStarted);
  }

  /** Signals a workflow, starting it first when it is not running; says how it went, never throws. */
  signalWithStart<T extends Workflow, A extends unknown[]>(workflowType: string, options: WorkflowSignalWithStartOptions<A> & WorkflowStartOptions<T>): Promise<StartOutcome> {
    return this.startCall((client) => client.workflow.signalWithStart<T, A>(workflowType, options));
  }

  /** `fn` answers whether the start was eager (true), or anything else. */
  private async startCall(fn: (client: Client) => Promise<unknown>): Promise<StartOutcome> {
    try {
      await this.client();
    } catch (error) {
      // No connection (refused, or no answer before the connect timeout) is unreachable, whatever its error says.
      return { ok: false, unreachable: true, error };
    }
    try {
      const eager = await this.call(fn);
      return { ok: true, created: true, eager: eager === true };
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
    if (connection !== this.workerConnection) await connection?.close();
  }
}
