import { z } from 'zod';
import type { ApiSpec, Operation } from './route.ts';
import { ErrorOut } from './schemas.ts';

type JsonSchema = Record<string, unknown>;

/** Error statuses every authenticated operation can answer. */
const COMMON_ERRORS = [400, 401, 404, 422, 429, 503];
const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed JSON',
  401: 'Missing or invalid API key',
  404: 'Not found (also for resources of other accounts)',
  409: 'Conflict with the current state',
  413: 'Request body too large',
  415: 'Not sent as application/json',
  422: 'Validation failed; details name each field',
  429: 'Rate limit reached; see the RateLimit-* and Retry-After headers',
  503: 'A dependency (Postgres or Temporal) is unavailable; retry shortly',
};

/**
 * The OpenAPI 3.1 document, built from the operations the routers defined: the same zod schemas
 * that validate requests and shape answers describe them here.
 */
export function openApiDocument(spec: ApiSpec, opts: { serverUrl: string; version: string; describe?: (op: Operation) => string | undefined }): JsonSchema {
  const components: Record<string, JsonSchema> = {};
  const toSchema = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
    const json = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema;
    const text = JSON.stringify(json).replaceAll('"#/$defs/', '"#/components/schemas/');
    const { $defs, ...rest } = JSON.parse(text) as JsonSchema & { $defs?: Record<string, JsonSchema> };
    delete rest.$schema;
    Object.assign(components, $defs);
    return rest;
  };
  const errorRef = toSchema(ErrorOut, 'output');

  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of spec.operations) {
    const path = op.path.replace(/:(\w+)/g, '{$1}');
    const pathParams = [...op.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const queryParams: JsonSchema[] = [];
    if (op.paginated) {
      queryParams.push(
        { name: 'page', in: 'query', schema: { type: 'integer', minimum: 1, default: 1 } },
        { name: 'per_page', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 25 } },
      );
    }
    if (op.query) {
      const properties = (toSchema(op.query, 'input').properties ?? {}) as Record<string, JsonSchema>;
      for (const [name, schema] of Object.entries(properties)) {
        const { description, ...rest } = schema;
        queryParams.push({ name, in: 'query', schema: rest, ...(description ? { description } : {}) });
      }
    }
    const headerParams = op.idempotent
      ? [{ name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 255 }, description: 'Repeat a create safely: the same key and body answer the first result for 24 hours' }]
      : [];

    const responses: Record<string, unknown> = {
      [op.status]: {
        description: op.summary,
        // 204 answers have no body.
        ...(op.status === 204 ? {} : { content: { 'application/json': { schema: toSchema(op.response, 'output') } } }),
        ...(op.paginated
          ? { headers: { Link: { schema: { type: 'string' }, description: 'first, last, prev and next pages' }, 'X-Total-Count': { schema: { type: 'integer' } } } }
          : {}),
      },
    };
    for (const status of [...(op.public ? [] : COMMON_ERRORS), ...(op.errors ?? [])].sort()) {
      responses[status] = { description: ERROR_DESCRIPTIONS[status] ?? 'Error', content: { 'application/json': { schema: errorRef } } };
    }

    const description = [op.description, opts.describe?.(op)].filter(Boolean).join('\n\n');
    paths[path] ??= {};
    paths[path][op.method] = {
      operationId: operationId(op),
      tags: [op.tag],
      summary: op.summary,
      ...(description ? { description } : {}),
      parameters: [...pathParams, ...queryParams, ...headerParams],
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: toSchema(op.body, 'input') } } } } : {}),
      responses,
      ...(op.public ? { security: [] } : {}),
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'openhooks API',
      version: opts.version,
      description: 'Webhook delivery, compatible with the HostedHooks REST API. Authenticate with `Authorization: Bearer <api key>`.',
    },
    servers: [{ url: opts.serverUrl }],
    security: [{ bearerAuth: [] }],
    tags: [...new Set(spec.operations.map((op) => op.tag))].map((name) => ({ name })),
    paths,
    components: { schemas: components, securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key, such as ohk_…' } } },
  };
}

/** `post /apps/:app_id/messages` → `postAppsMessages`. */
function operationId(op: Operation): string {
  const words = op.path.split('/').filter((part) => part && !part.startsWith(':'));
  const base = words.map((w) => w.replace(/_(\w)/g, (_m, c: string) => c.toUpperCase())).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  const byId = op.path.endsWith('/:id') || op.path.endsWith('_id') ? 'ById' : '';
  return `${op.method}${base}${byId}`;
}
