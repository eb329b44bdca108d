import type { z } from 'zod';
import { findApp } from '../../db/apps.ts';
import type { Db } from '../../db/connection.ts';
import type { App } from '../../db/database.ts';

/** The account's app; another account's app, or none, is a 404, never a 403, so ids reveal nothing. */
export async function requireAccountApp(db: Db, accountId: string, appId: string | undefined): Promise<App> {
  const app = appId ? await findApp(db, accountId, appId) : undefined;
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- Remix answers with a thrown Response
  if (!app) throw new Response('Not found', { status: 404, statusText: 'Not Found' });
  return app;
}

/** One message per form field from a schema's issues; `rename` maps a schema key to its form field's name. */
export function fieldErrors(error: z.ZodError, rename: Record<string, string> = {}): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = issue.path.join('.');
    const field = rename[key] ?? key;
    errors[field] ??= sayIssue(issue);
  }
  return errors;
}

// Zod's own wording for number bounds ("Too small: expected number to be >=10") is for developers.
function sayIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'too_small' && issue.origin === 'number') return `must be at least ${issue.minimum}`;
  if (issue.code === 'too_big' && issue.origin === 'number') return `must be at most ${issue.maximum}`;
  if (issue.code === 'too_big' && issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
  return issue.message;
}
