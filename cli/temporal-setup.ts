import { Connection, isGrpcServiceError } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import { msToTs } from '@temporalio/common/lib/time.js';
import { SEARCH_ATTRIBUTES } from '../lib/search-attributes.ts';
import { connectionOptions, type TemporalSettings } from '../lib/temporal.ts';

// gRPC status codes (@grpc/grpc-js `status`).
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;
/** Answers that waiting will not change: a bad request, no permission, no such call. */
const PERMANENT_CODES = new Set<number>([3 /* INVALID_ARGUMENT */, 7 /* PERMISSION_DENIED */, 12 /* UNIMPLEMENTED */, 16 /* UNAUTHENTICATED */]);

/** How long a closed workflow's history is kept in a namespace this creates: the Temporal CLI's default. */
const RETENTION = '3 days';
const CONNECT_TIMEOUT_MS = 5_000;

export interface TemporalSetupOptions {
  /** How long to wait for the server to answer and for the new namespace to be usable. */
  timeoutMs?: number;
  /** Pause between tries. */
  retryMs?: number;
}

export interface TemporalSetupResult {
  namespace: string;
  namespaceCreated: boolean;
  searchAttributesAdded: string[];
}

/**
 * What a self-hosted Temporal cluster needs before the first worker polls: the namespace, and our
 * search attributes in it (the dev server gets both from flags). Only what is missing is created, so
 * running it again, or from several containers at once, is harmless. Waits, up to `timeoutMs`, for
 * the server to answer and for a new namespace to reach the frontend's cache.
 */
export async function setupTemporal(settings: TemporalSettings, opts: TemporalSetupOptions = {}): Promise<TemporalSetupResult> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  const retryMs = opts.retryMs ?? 500;
  const namespace = settings.namespace;
  const connection = await untilDeadline(`connect to Temporal at ${settings.address}`, deadline, retryMs, async () => {
    const connectTimeout = Math.max(100, Math.min(CONNECT_TIMEOUT_MS, deadline - Date.now()));
    const connected = await Connection.connect({ ...connectionOptions(settings), connectTimeout });
    try {
      await connected.workflowService.getSystemInfo({});
      return connected;
    } catch (err) {
      await connected.close();
      throw err;
    }
  });
  try {
    const namespaceCreated = await untilDeadline(`register the namespace ${namespace}`, deadline, retryMs, async () => {
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return false;
      } catch (err) {
        if (grpcCode(err) !== NOT_FOUND) throw err;
      }
      try {
        await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(RETENTION) });
        return true;
      } catch (err) {
        // Another setup registered it meanwhile.
        if (grpcCode(err) === ALREADY_EXISTS) return false;
        throw err;
      }
    });

    const added: string[] = [];
    await untilDeadline(`register the search attributes in ${namespace}`, deadline, retryMs, async () => {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = SEARCH_ATTRIBUTES.filter((sa) => !(sa.name in (customAttributes ?? {})));
      if (missing.length === 0) return;
      try {
        await connection.operatorService.addSearchAttributes({
          namespace,
          searchAttributes: Object.fromEntries(missing.map((sa) => [sa.name, indexedValueType(sa.type)])),
        });
        added.push(...missing.map((sa) => sa.name).filter((name) => !added.includes(name)));
      } catch (err) {
        if (grpcCode(err) !== ALREADY_EXISTS) throw err;
      }
      // A new namespace or attribute reaches the frontend's caches within seconds: list again until it has.
      throw new Error(`not listed yet: ${missing.map((sa) => sa.name).join(', ')}`);
    });
    return { namespace, namespaceCreated, searchAttributesAdded: added };
  } finally {
    await connection.close();
  }
}

/** 'Keyword' (the dev server's flag spelling in SEARCH_ATTRIBUTES) as the operator API's enum. */
function indexedValueType(type: string) {
  const name = type.toUpperCase();
  const known = Object.values(SearchAttributeType).find((t) => t === name);
  const encoded = known === undefined ? undefined : encodeSearchAttributeIndexedValueType(known);
  if (encoded === undefined) throw new Error(`unknown search attribute type ${type}`);
  return encoded;
}

function grpcCode(err: unknown): number | undefined {
  return isGrpcServiceError(err) ? Number(err.code) : undefined;
}

/** Runs `attempt` until it resolves; a permanent gRPC error, or the deadline, ends it with the last error. */
async function untilDeadline<T>(what: string, deadline: number, retryMs: number, attempt: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      const code = grpcCode(err);
      const permanent = code !== undefined && PERMANENT_CODES.has(code);
      if (permanent || Date.now() + retryMs >= deadline) {
        throw new Error(`Could not ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  }
}
