import { timingSafeEqual } from 'node:crypto';
import type { AppLoadContext } from '@remix-run/node';
import { commitSession, getSession, newNonce } from './session.server';

/**
 * The CSRF token for the forms of a page: the session's nonce (synchronizer token). When the visitor
 * has no session yet, `headers` sets a cookie with a new one, so login and sign-up forms are covered too.
 */
export async function csrfToken(request: Request, context: AppLoadContext): Promise<{ token: string; headers: HeadersInit }> {
  const session = await getSession(request, context);
  const existing = session.get('csrf');
  if (existing) return { token: existing, headers: {} };
  const token = newNonce();
  session.set('csrf', token);
  return { token, headers: { 'Set-Cookie': await commitSession(session, context) } };
}

/** The posted form, once its CSRF token is checked: every portal action starts here. */
export async function csrfCheckedForm(request: Request, context: AppLoadContext): Promise<FormData> {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  return form;
}

/** Throws a 403 Response unless the form's `csrf` field matches the session's nonce. */
export async function requireCsrf(request: Request, context: AppLoadContext, form: FormData): Promise<void> {
  const session = await getSession(request, context);
  const expected = session.get('csrf');
  const given = form.get('csrf');
  if (expected && typeof given === 'string' && sameText(expected, given)) return;
   
  throw new Response(
    'This form has expired or was not sent from the portal (its security token is missing or does not match). Go back, reload the page and submit it again.',
    { status: 403, statusText: 'Forbidden', headers: { 'Content-Type': 'text/plain; charset=utf-8' } },
  );
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
