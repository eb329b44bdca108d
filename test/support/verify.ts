import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Webhook } from 'standardwebhooks';

/**
 * A HostedHooks-Signature check written from HostedHooks' documentation, independent of lib/signing:
 * `t=<unix seconds>,s=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, parsed by key.
 */
export function verifyHostedHooks(secret: string, body: string, header: string | undefined): boolean {
  if (!header) return false;
  const parts = new Map(header.split(',').map((part) => {
    const i = part.indexOf('=');
    return [part.slice(0, i).trim(), part.slice(i + 1).trim()] as const;
  }));
  const t = parts.get('t');
  const s = parts.get('s');
  if (!t || !s) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return s.length === expected.length && timingSafeEqual(Buffer.from(s), Buffer.from(expected));
}

/** Verifies with the independent `standardwebhooks` package; throws when the signature is wrong. */
export function verifyStandardWebhooks(secret: string, body: string, headers: IncomingHttpHeaders): unknown {
  return new Webhook(secret).verify(body, {
    'webhook-id': String(headers['webhook-id']),
    'webhook-timestamp': String(headers['webhook-timestamp']),
    'webhook-signature': String(headers['webhook-signature']),
  });
}
