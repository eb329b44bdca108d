import type { AppLoadContext } from '@remix-run/node';
import type { z } from 'zod';
import { findApp } from '../../db/apps.ts';
import type { Db } from '../../db/connection.ts';
import type { App } from '../../db/database.ts';
import { requireUser, type PortalUser } from './auth.server';
import { csrfCheckedForm } from './csrf.server';

/** The account's app; another account's app, or none, is a 404, never a 403, so ids reveal nothing. */
export async function requireAccountApp(db: Db, accountId: string, appId: string | undefined): Promise<App> {
  const app = appId ? await findApp(db, accountId, appId) : undefined;
  if (!app) throw new Response('Not found', { status: 404, statusText: 'Not Found' });
  return app;
}

/** An app page's posted form, in this order: its CSRF token, the login, then the app within the user's account. */
export async function requireAppForm(request: Request, context: AppLoadContext, appId: string | undefined): Promise<{ form: FormData; user: PortalUser; app: App }> {
  const form = await csrfCheckedForm(request, context);
  const user = await requireUser(request, context);
  const app = await requireAccountApp(context.db, user.accountId, appId);
  return { form, user, app };
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
