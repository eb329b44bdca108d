import type { Request } from 'express';
import { z } from 'zod';
import { ApiError } from './errors.ts';

/** Validates a JSON body against its schema; a mismatch is a 422 naming each bad field. */
export function parseBody<S extends z.ZodType>(schema: S, req: Request): z.output<S> {
  if (!req.is('application/json')) throw new ApiError(415, 'unsupported_media_type', 'send the body as JSON with content-type: application/json');
  return parseWith(schema, req.body, 'validation_failed', 'the request body is not valid');
}

export function parseQuery<S extends z.ZodType>(schema: S, req: Request): z.output<S> {
  return parseWith(schema, req.query, 'invalid_query', 'the query parameters are not valid');
}

function parseWith<S extends z.ZodType>(schema: S, value: unknown, code: string, summary: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => {
    const field = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') return { field: issue.keys.join(','), message: `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}` };
    return { field, message: issue.message };
  });
  throw new ApiError(422, code, `${summary}: ${details.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message)).join('; ')}`, details);
}

