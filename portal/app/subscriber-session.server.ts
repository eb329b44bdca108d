import { createCookieSessionStorage, redirect, type AppLoadContext, type Session, type SessionStorage } from '@remix-run/node';
import type { App, Subscriber } from '../../db/database.ts';
import { findSubscriberAndApp } from '../../db/subscribers.ts';
import { portalLinkRevoked } from '../../lib/portal-links.ts';
import { csrfCheckedForm, csrfToken, type CsrfSessions } from './csrf.server';
import { newNonce } from './session.server';

/**
 * What the subscriber portal's cookie holds: the subscriber a portal link opened, when that link was
 * issued (a revocation refuses the session as it refuses the link) and when it expires (the session
 * ends with it), and the CSRF nonce of the subscriber's forms.
 */
export interface SubscriberSessionData {
  subscriberId: string;
  issuedAt: number;
  expiresAt: number;
  csrf: string;
}

export type SubscriberSession = Session<SubscriberSessionData>;

/** A cookie of its own, signed with a key of its own: the provider's session neither opens nor is opened by it. */
export const SUBSCRIBER_COOKIE = '__subscriber_portal';
const SESSION_KEY_PURPOSE = 'subscriber-portal-session';

const storages = new WeakMap<AppLoadContext['secrets'], SessionStorage<SubscriberSessionData>>();

function storage(context: AppLoadContext): SessionStorage<SubscriberSessionData> {
  let found = storages.get(context.secrets);
  if (!found) {
    found = createCookieSessionStorage<SubscriberSessionData>({
      cookie: {
        name: SUBSCRIBER_COOKIE,
        httpOnly: true,
        sameSite: 'lax',
        secure: context.config.publicUrl.startsWith('https:'),
        // Not /portal: single-fetch data requests of /portal go to /portal.data, which that path would not match.
        path: '/',
        secrets: [context.secrets.deriveKey(SESSION_KEY_PURPOSE).toString('base64')],
      },
    });
    storages.set(context.secrets, found);
  }
  return found;
}

function getSubscriberSession(request: Request, context: AppLoadContext): Promise<SubscriberSession> {
  return storage(context).getSession(request.headers.get('Cookie'));
}

/** The subscriber session's CSRF nonce, for csrf.server.ts. */
export const subscriberCsrfSessions: CsrfSessions = {
  get: (request, context) => getSubscriberSession(request, context),
  commit: (session, context) => storage(context).commitSession(session),
};

/**
 * The Set-Cookie of a session a portal link just opened: nothing carried over, a fresh CSRF nonce,
 * and a cookie that the browser drops when the link expires.
 */
export async function subscriberSessionCookie(context: AppLoadContext, link: { subscriberId: string; issuedAt: number; expiresAt: number }, now = Date.now()): Promise<string> {
  const session = await storage(context).getSession();
  session.set('subscriberId', link.subscriberId);
  session.set('issuedAt', link.issuedAt);
  session.set('expiresAt', link.expiresAt);
  session.set('csrf', newNonce());
  return storage(context).commitSession(session, { maxAge: Math.max(1, Math.floor((link.expiresAt - now) / 1000)) });
}

/** The Set-Cookie that ends the subscriber's session. */
export async function endSubscriberSession(request: Request, context: AppLoadContext): Promise<string> {
  return storage(context).destroySession(await getSubscriberSession(request, context));
}

export interface SignedInSubscriber {
  subscriber: Subscriber;
  app: App;
}

/** Why there is no subscriber: no session, or one that ended (its link expired or was revoked since). */
export type SubscriberSessionState = { kind: 'signed_in'; signedIn: SignedInSubscriber } | { kind: 'none' | 'expired' | 'revoked' };

/** The session's subscriber, checked again on every request: expiry, revocation, and that it still exists. */
export async function subscriberSessionState(request: Request, context: AppLoadContext, now = Date.now()): Promise<SubscriberSessionState> {
  const session = await getSubscriberSession(request, context);
  const subscriberId = session.get('subscriberId');
  const issuedAt = session.get('issuedAt');
  const expiresAt = session.get('expiresAt');
  if (!subscriberId || typeof issuedAt !== 'number' || typeof expiresAt !== 'number') return { kind: 'none' };
  if (expiresAt <= now) return { kind: 'expired' };
  const found = await findSubscriberAndApp(context.db, subscriberId);
  if (!found) return { kind: 'none' };
  if (portalLinkRevoked(issuedAt, found.subscriber.portal_links_revoked_at)) return { kind: 'revoked' };
  return { kind: 'signed_in', signedIn: found };
}

export async function optionalSubscriber(request: Request, context: AppLoadContext): Promise<SignedInSubscriber | undefined> {
  const state = await subscriberSessionState(request, context);
  return state.kind === 'signed_in' ? state.signedIn : undefined;
}

/** The signed-in subscriber and its app, or a redirect to /portal/login, which says why and what to do. */
export async function requireSubscriber(request: Request, context: AppLoadContext): Promise<SignedInSubscriber> {
  const state = await subscriberSessionState(request, context);
  if (state.kind === 'signed_in') return state.signedIn;
  const headers: HeadersInit = state.kind === 'none' ? {} : { 'Set-Cookie': await endSubscriberSession(request, context) };
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- Remix answers with a thrown Response
  throw redirect(`/portal/login${state.kind === 'none' ? '' : `?ended=${state.kind}`}`, { headers });
}

/** A subscriber portal page's posted form: its CSRF token first (the subscriber session's nonce), then the session. */
export async function requireSubscriberForm(request: Request, context: AppLoadContext): Promise<SignedInSubscriber & { form: FormData }> {
  const form = await csrfCheckedForm(request, context, subscriberCsrfSessions);
  return { form, ...(await requireSubscriber(request, context)) };
}

/** The CSRF token of a subscriber portal page's forms (set at sign-in, so this sets no cookie). */
export async function subscriberCsrfToken(request: Request, context: AppLoadContext): Promise<string> {
  return (await csrfToken(request, context, subscriberCsrfSessions)).token;
}
