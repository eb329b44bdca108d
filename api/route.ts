import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import type { Db } from '../db/connection.ts';
import { accountOf } from './auth.ts';
import { ApiError, handle, notFound } from './errors.ts';
import { runIdempotent } from './idempotency.ts';
import { readPage, type Page } from './pagination.ts';
import { badText, parseBody, parseQuery } from './validation.ts';

type Method = 'get' | 'post' | 'patch' | 'delete';
type Schema = z.ZodType;
type Out<S> = S extends Schema ? z.output<S> : undefined;

/** One API operation: the one description that routes, validates and documents it (OpenAPI). */
export interface Operation<B extends Schema | undefined = Schema | undefined, Q extends Schema | undefined = Schema | undefined> {
  method: Method;
  /** Express form, e.g. `/apps/:app_id`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  body?: B;
  query?: Q;
  /** Lists take `page` and `per_page` and answer a JSON array with Link and X-Total-Count headers. */
  paginated?: boolean;
  status: number;
  response: Schema;
  /** Error statuses beyond the ones every authenticated operation can answer (400, 401, 404, 422, 429, 503). */
  errors?: number[];
  /** No API key needed. */
  public?: boolean;
  /**
   * Creates something and honours Idempotency-Key: `stored` replays the first answer from the
   * idempotency store, and runs the handler in the transaction that stores it (so the handler must
   * write through `ctx.db`); `atomic` means the handler dedupes in its own transaction (messages).
   */
  idempotent?: 'stored' | 'atomic';
  /** Middleware before validation (such as a body parser with its own size limit). */
  before?: RequestHandler[];
}

export interface Context<B, Q> {
  req: Request;
  res: Response;
  body: B;
  query: Q;
  params: Record<string, string>;
  page: Page;
  accountId: string;
  /**
   * Where the handler reads and writes. For `idempotent: 'stored'` operations it is the transaction
   * that also stores the answer (one commit for both; do not open another); else the database.
   */
  db: Db;
  /** Runs `fn` once the handler's writes are committed and its answer sent (never on failure). */
  afterCommit: (fn: () => void) => void;
}

/** Every operation defined so far, in order; the OpenAPI document is built from it. */
export class ApiSpec {
  readonly operations: Operation[] = [];
}

export type Define = <B extends Schema | undefined = undefined, Q extends Schema | undefined = undefined>(
  op: Omit<Operation<B, Q>, 'tag'>,
  handler: (ctx: Context<Out<B>, Out<Q>>) => Promise<void>,
) => void;

/**
 * A router for one resource and its `define`: each call registers the route and records the
 * operation in the spec under the resource's tag.
 */
export function resourceRouter(spec: ApiSpec, db: Db, tag: string): { router: Router; define: Define } {
  const router = Router();
  const define: Define = (op, handler) => {
    spec.operations.push({ ...op, tag });
    router[op.method](
      op.path,
      ...(op.before ?? []),
      handle(async (req, res) => {
        // An id that cannot exist (NUL, broken Unicode) is simply not found; it never reaches Postgres.
        if (Object.values(req.params).some((value) => badText(value) !== undefined)) throw notFound('resource');
        if (!op.body && hasBody(req.body)) {
          const fields = typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? Object.keys(req.body as object) : [''];
          throw new ApiError(422, 'validation_failed', `${op.method.toUpperCase()} ${op.path} takes no request body`, fields.map((field) => ({ field, message: field ? `unknown field: ${field}` : 'no body expected' })));
        }
        const body = (op.body ? parseBody(op.body, req) : undefined) as never;
        const query = (op.query ? parseQuery(op.query, req) : undefined) as never;
        const page = op.paginated ? readPage(req) : { page: 1, limit: 0, offset: 0 };
        const accountId = op.public ? '' : accountOf(res);
        const committed: (() => void)[] = [];
        const run = (handlerDb: Db) => handler({ req, res, body, query, params: req.params, page, accountId, db: handlerDb, afterCommit: (fn) => committed.push(fn) });
        if (op.idempotent === 'stored') await runIdempotent(db, req, res, accountId, body, run);
        else await run(db);
        for (const fn of committed) fn();
      }),
    );
  };
  return { router, define };
}

/** The JSON parser leaves `{}` when nothing was sent; anything else is a body. */
function hasBody(body: unknown): boolean {
  if (body === undefined) return false;
  return !(typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 0);
}
