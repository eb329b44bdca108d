import type { Request } from 'express';
import { z } from 'zod';
import { ApiError } from './errors.ts';

/** Deeper JSON than this is refused: nothing we store needs it, and it exhausts stacks downstream. */
export const MAX_JSON_DEPTH = 64;

/** Validates a JSON body against its schema; a mismatch is a 422 naming each bad field. */
export function parseBody<S extends z.ZodType>(schema: S, req: Request): z.output<S> {
  if (!req.is('application/json')) throw new ApiError(415, 'unsupported_media_type', 'send the body as JSON with content-type: application/json');
  checkJsonValue(req.body, 'validation_failed');
  return parseWith(schema, req.body, 'validation_failed', 'the request body is not valid');
}

export function parseQuery<S extends z.ZodType>(schema: S, req: Request): z.output<S> {
  checkJsonValue(req.query, 'invalid_query');
  return parseWith(schema, req.query, 'invalid_query', 'the query parameters are not valid');
}

/** NUL, which Postgres refuses in text and jsonb, and lone surrogates, which are not Unicode. */
export function badText(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain NUL (\\u0000)';
  if (!text.isWellFormed()) return 'must be valid Unicode (no lone surrogates)';
  return undefined;
}

/**
 * Walks a parsed JSON value without recursion: every key and string must be storable text, and
 * nesting stays within MAX_JSON_DEPTH. Refusals name the field, as schema errors do.
 */
function checkJsonValue(root: unknown, code: string): void {
  const stack: [unknown, string[]][] = [[root, []]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    const refuse = (message: string, at = path) => {
      const field = at.join('.');
      throw new ApiError(422, code, `the request is not valid: ${field ? `${field}: ` : ''}${message}`, [{ field, message }]);
    };
    if (typeof value === 'string') {
      const problem = badText(value);
      if (problem) refuse(problem);
    } else if (value !== null && typeof value === 'object') {
      if (path.length >= MAX_JSON_DEPTH) refuse(`is nested deeper than ${MAX_JSON_DEPTH} levels`, path.slice(0, 1));
      for (const [key, child] of Object.entries(value)) {
        const problem = badText(key);
        if (problem) refuse(`has a key that ${problem}`);
        stack.push([child, [...path, key]]);
      }
    }
  }
}

// Control characters (CR, LF, tabs…) and bidirectional overrides, which let one name pass for another.
const NOT_SINGLE_LINE = /[\p{Cc}\u202A-\u202E\u2066-\u2069]/u;

/** A single-line text field: names show in the portal and in emails, so nothing that can disguise them. */
export const singleLine = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((text) => !NOT_SINGLE_LINE.test(text), 'must be one line without control characters or bidirectional overrides');

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

