import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed, expiring tokens (`<base64url JSON>.<base64url HMAC-SHA256>`) for portal sessions and
 * subscriber portal links: the server can check them without storing them, and a changed byte or an
 * expired one is refused. The key comes from `SecretBox.deriveKey('tokens')`.
 */
export function signToken(key: Buffer, claims: Record<string, unknown>, ttlMs: number, now = Date.now()): { token: string; expiresAt: Date } {
  // Whole seconds, as `exp` carries it, so the expiry we report is exactly when the token stops working.
  const expiresAt = new Date(Math.floor((now + ttlMs) / 1000) * 1000);
  const body = Buffer.from(JSON.stringify({ ...claims, exp: Math.floor(expiresAt.getTime() / 1000) })).toString('base64url');
  return { token: `${body}.${mac(key, body)}`, expiresAt };
}

/** The token's claims when it is intact and unexpired; undefined otherwise. */
export function verifyToken<T extends Record<string, unknown>>(key: Buffer, token: string, now = Date.now()): (T & { exp: number }) | undefined {
  const [body, signature, extra] = token.split('.');
  if (!body || !signature || extra !== undefined) return undefined;
  const expected = Buffer.from(mac(key, body));
  const actual = Buffer.from(signature);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T & { exp: number };
    return typeof claims.exp === 'number' && claims.exp * 1000 > now ? claims : undefined;
  } catch {
    return undefined;
  }
}

function mac(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(body).digest('base64url');
}
