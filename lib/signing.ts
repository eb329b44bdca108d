import { createHmac, randomBytes } from 'node:crypto';

/** A new endpoint signing secret in the Standard Webhooks form `whsec_<base64 of 32 bytes>`. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** HostedHooks-compatible header value: `t=<unix seconds>,s=<hex HMAC-SHA256(secret as UTF-8, "t.body")>`. */
export function hostedHooksSignature(secret: string, timestamp: number, body: string): string {
  const s = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},s=${s}`;
}

/** One Standard Webhooks v1 signature: `v1,<base64 HMAC-SHA256(base64-decoded secret, "id.t.body")>`. */
export function standardWebhooksSignature(secret: string, messageId: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${messageId}.${timestamp}.${body}`).digest('base64')}`;
}

/**
 * Every signature header of one delivery request. During secret rotation `secrets` holds each
 * active secret: `webhook-signature` carries one signature per secret; the HostedHooks header signs
 * with the newest only, because its format has room for one.
 */
export function signatureHeaders(
  secrets: readonly [string, ...string[]],
  messageId: string,
  timestamp: number,
  body: string,
): Record<string, string> {
  return {
    'hostedhooks-signature': hostedHooksSignature(secrets[0], timestamp, body),
    'webhook-id': messageId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => standardWebhooksSignature(s, messageId, timestamp, body)).join(' '),
  };
}
