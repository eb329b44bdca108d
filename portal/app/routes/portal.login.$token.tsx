import { data, redirect, type LoaderFunctionArgs, type MetaFunction } from '@remix-run/node';
import { useLoaderData } from '@remix-run/react';
import { findSubscriberAndApp } from '../../../db/subscribers.ts';
import { PORTAL_LINK_KEY_PURPOSE, portalLinkRevoked, readPortalLink } from '../../../lib/portal-links.ts';
import { subscriberSessionCookie } from '../subscriber-session.server';

export const meta: MetaFunction = () => [{ title: 'Open the webhook portal' }, { name: 'referrer', content: 'no-referrer' }];

/** A refused link: 401 when it is not a link we signed, 403 when it was revoked, 410 when it expired. */
type Refusal = { why: 'invalid' | 'revoked' | 'expired'; appName: string | null };
const STATUS: Record<Refusal['why'], number> = { invalid: 401, revoked: 403, expired: 410 };

// The token is a credential in the address: this page is never cached, and sends no Referer.
const PRIVATE = { 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' };

const refuse = (refusal: Refusal) => data(refusal, { status: STATUS[refusal.why], headers: PRIVATE });

/**
 * Exchanges a portal link for the subscriber's own session cookie, then sends the browser to /portal
 * so the token leaves the address bar (and its history entry). A refused link opens no session.
 */
export async function loader({ context, params }: LoaderFunctionArgs) {
  const key = context.secrets.deriveKey(PORTAL_LINK_KEY_PURPOSE);
  const token = params.token ?? '';
  const now = Date.now();
  const link = readPortalLink(key, token, now);
  if (link) {
    const found = await findSubscriberAndApp(context.db, link.subscriberId);
    if (!found) return refuse({ why: 'invalid', appName: null });
    if (portalLinkRevoked(link.issuedAt, found.subscriber.portal_links_revoked_at)) return refuse({ why: 'revoked', appName: found.app.name });
    return redirect('/portal', { headers: { ...PRIVATE, 'Set-Cookie': await subscriberSessionCookie(context, link, now) } });
  }
  // Intact but expired? Read as of the epoch, only the expiry check passes that failed now: the
  // signature and purpose are still checked, so the app named below is the one we signed.
  const stale = readPortalLink(key, token, 0);
  const found = stale && (await findSubscriberAndApp(context.db, stale.subscriberId));
  return refuse(found ? { why: 'expired', appName: found.app.name } : { why: 'invalid', appName: null });
}

const HEADINGS: Record<Refusal['why'], string> = {
  expired: 'This link has expired',
  revoked: 'This link was revoked',
  invalid: 'This link does not work',
};

// Remix requires the route component to be the module's default export.
export default function PortalLinkRefused() {
  const { why, appName } = useLoaderData<typeof loader>();
  const provider = appName ?? 'your provider (the service that sent you the link)';
  return (
    <>
      <h1>{HEADINGS[why]}</h1>
      <p role="alert">
        {why === 'invalid'
          ? 'This portal link is not one we issued, or it was cut short or changed when it was copied. Open the link exactly as you received it.'
          : why === 'expired'
            ? 'Portal links work for a limited time, and this one has expired.'
            : 'Every portal link of your account was revoked, this one included.'}
      </p>
      <p>Ask {provider} for a new link to manage your webhook endpoints.</p>
    </>
  );
}
