import { randomBytes } from 'node:crypto';
import { createCookieSessionStorage, type Session, type SessionStorage } from '@remix-run/node';
import type { AppLoadContext } from '@remix-run/node';

/** What the session cookie holds: who is signed in, and the nonce that CSRF tokens must match. */
export interface SessionData {
  userId: string;
  csrf: string;
}

export type PortalSession = Session<SessionData>;

const SEVEN_DAYS_S = 7 * 24 * 60 * 60;

// One storage per server context: its secret and Secure flag come from that server's configuration.
const storages = new WeakMap<AppLoadContext['secrets'], SessionStorage<SessionData>>();

function sessionStorage(context: AppLoadContext): SessionStorage<SessionData> {
  let storage = storages.get(context.secrets);
  if (!storage) {
    storage = createCookieSessionStorage<SessionData>({
      cookie: {
        name: '__session',
        httpOnly: true,
        sameSite: 'lax',
        secure: context.config.publicUrl.startsWith('https:'),
        path: '/',
        maxAge: SEVEN_DAYS_S,
        secrets: [context.secrets.deriveKey('portal-session').toString('base64')],
      },
    });
    storages.set(context.secrets, storage);
  }
  return storage;
}

export function getSession(request: Request, context: AppLoadContext): Promise<PortalSession> {
  return sessionStorage(context).getSession(request.headers.get('Cookie'));
}

export function commitSession(session: PortalSession, context: AppLoadContext): Promise<string> {
  return sessionStorage(context).commitSession(session);
}

export function destroySession(session: PortalSession, context: AppLoadContext): Promise<string> {
  return sessionStorage(context).destroySession(session);
}

export function newNonce(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * A session for a user who just proved who they are: nothing carried over from before sign-in, and
 * a fresh CSRF nonce, so a token seen before sign-in does not work after it.
 */
export async function signedInSessionCookie(context: AppLoadContext, userId: string): Promise<string> {
  const session = await sessionStorage(context).getSession();
  session.set('userId', userId);
  session.set('csrf', newNonce());
  return commitSession(session, context);
}
