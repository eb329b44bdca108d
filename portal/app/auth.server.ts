import { redirect, type AppLoadContext } from '@remix-run/node';
import { findUser } from '../../db/users.ts';
import type { User } from '../../db/database.ts';
import { csrfCheckedForm } from './csrf.server';
import { getSession } from './session.server';

export interface PortalUser {
  id: string;
  accountId: string;
  email: string;
  name: string | null;
  role: 'owner' | 'admin' | 'member';
}

export function toPortalUser(user: User): PortalUser {
  return { id: user.id, accountId: user.account_id, email: user.email, name: user.name, role: user.role };
}

/** The signed-in user, read again from the database on every request so a removed user is signed out. */
export async function optionalUser(request: Request, context: AppLoadContext): Promise<PortalUser | undefined> {
  const userId = (await getSession(request, context)).get('userId');
  if (!userId) return undefined;
  const user = await findUser(context.db, userId);
  return user ? toPortalUser(user) : undefined;
}

/** The signed-in user, or a redirect to /login that comes back here afterwards. */
export async function requireUser(request: Request, context: AppLoadContext): Promise<PortalUser> {
  const user = await optionalUser(request, context);
  if (user) return user;
  const url = new URL(request.url);
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- Remix answers with a thrown Response
  throw redirect(`/login?${new URLSearchParams({ redirectTo: `${url.pathname}${url.search}` }).toString()}`);
}

export function requireRole(user: PortalUser, roles: PortalUser['role'][]): void {
  if (roles.includes(user.role)) return;
   
  throw new Response(`Only ${roles.map((role) => `${role}s`).join(' and ')} can do this; your role is ${user.role}. Ask an owner of your account.`, {
    status: 403,
    statusText: 'Forbidden',
    headers: { 'Content-Type': 'text/plain; charset=utf-8' },
  });
}

/** The posted form of a page only owners and admins may change: CSRF token first, then the login, then the role. */
export async function requireManagerForm(request: Request, context: AppLoadContext): Promise<{ form: FormData; user: PortalUser }> {
  const form = await csrfCheckedForm(request, context);
  const user = await requireUser(request, context);
  requireRole(user, ['owner', 'admin']);
  return { form, user };
}

/**
 * Where to go after a form, when that came from the query string or a form field: only a path on
 * this site. `//host` and `/\host` are other sites to a browser, so they are refused like absolute URLs.
 */
export function safeRedirect(to: FormDataEntryValue | string | null | undefined, fallback = '/'): string {
  if (typeof to !== 'string' || !to.startsWith('/') || to.startsWith('//') || to.startsWith('/\\')) return fallback;
  return to;
}
