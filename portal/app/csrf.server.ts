import { timingSafeEqual } from 'node:crypto';
import type { AppLoadContext, Session } from '@remix-run/node';
import { commitSession, getSession, newNonce } from './session.server';

/**
 * The cookie session a CSRF nonce lives in: the provider's (the default) or a subscriber's
 * (subscriber-session.server.ts). Each keeps its own nonce, so a token of one never passes the other.
 */
export interface CsrfSessions {
  get(request: Request, context: AppLoadContext): Promise<Session<{ csrf: string }>>;
  commit(session: Session<{ csrf: string }>, context: AppLoadContext): Promise<string>;
}

const providerSessions: CsrfSessions = {
  get: (request, context) => getSession(request, context),
  commit: (session, context) => commitSession(session, context),
};

/**
 * The CSRF token for the forms of a page: the session's nonce (synchronizer token). When the visitor
 * has no session yet, `headers` sets a cookie with a new one, so login and sign-up forms are covered too.
 */
export async function csrfToken(request: Request, context: AppLoadContext, sessions: CsrfSessions = providerSessions): Promise<{ token: string; headers: HeadersInit }> {
  const session = await sessions.get(request, context);
  const existing = session.get('csrf');
  if (existing) return { token: existing, headers: {} };
  const token = newNonce();
  session.set('csrf', token);
  return { token, headers: { 'Set-Cookie': await sessions.commit(session, context) } };
}

/** The posted form, once its CSRF token is checked: every portal action starts here. */
export async function csrfCheckedForm(request: Request, context: AppLoadContext, sessions: CsrfSessions = providerSessions): Promise<FormData> {
  const form = await request.formData();
  await requireCsrf(request, context, form, sessions);
  return form;
}

/** Throws a 403 Response unless the form's `csrf` field matches the session's nonce. */
export async function requireCsrf(request: Request, context: AppLoadContext, form: FormData, sessions: CsrfSessions = providerSessions): Promise<void> {
  const session = await sessions.get(request, context);
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
