import { signToken, verifyToken } from './tokens.ts';

/** A subscriber portal link lives 24 h unless asked otherwise, and never more than 30 days. */
export const PORTAL_LINK_DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;
export const PORTAL_LINK_MAX_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/** What a portal link's token names: the purpose (so no other token opens the portal), the subscriber, and when it was issued. */
interface PortalLinkClaims extends Record<string, unknown> {
  purpose: 'subscriber_portal';
  sub: string;
  /** Issued at, in ms: links issued at or before the subscriber's `portal_links_revoked_at` are refused. */
  iat: number;
}

/** The key links are signed with: `SecretBox.deriveKey(PORTAL_LINK_KEY_PURPOSE)`. */
export const PORTAL_LINK_KEY_PURPOSE = 'subscriber-portal-link';

/** A signed, expiring link that opens one subscriber's portal: `PUBLIC_URL/portal/login/<token>`. */
export function issuePortalLink(key: Buffer, publicUrl: string, subscriberId: string, ttlMs: number, now = Date.now()): { url: string; token: string; expiresAt: Date } {
  const claims: PortalLinkClaims = { purpose: 'subscriber_portal', sub: subscriberId, iat: now };
  const { token, expiresAt } = signToken(key, claims, ttlMs, now);
  return { url: `${publicUrl}/portal/login/${token}`, token, expiresAt };
}

/**
 * The subscriber a link's token opens, when it is intact, unexpired and meant for the portal.
 * Revocation is the caller's to check against `issuedAt` (see portalLinkRevoked).
 */
export function readPortalLink(key: Buffer, token: string, now = Date.now()): { subscriberId: string; issuedAt: number; expiresAt: number } | undefined {
  const claims = verifyToken<PortalLinkClaims>(key, token, now);
  if (claims?.purpose !== 'subscriber_portal' || typeof claims.sub !== 'string' || typeof claims.iat !== 'number') return undefined;
  return { subscriberId: claims.sub, issuedAt: claims.iat, expiresAt: claims.exp * 1000 };
}

/** Whether a link (or a session it opened) issued at `issuedAt` was revoked since. */
export function portalLinkRevoked(issuedAt: number, revokedAt: Date | null): boolean {
  return revokedAt !== null && issuedAt <= revokedAt.getTime();
}
