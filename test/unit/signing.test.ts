import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { hostedHooksSignature, newSigningSecret, signatureHeaders, standardWebhooksSignature } from '../../lib/signing.ts';

const body = '{"event_type":"ping","data":{"success":true}}';
const now = () => Math.floor(Date.now() / 1000); // standardwebhooks rejects timestamps more than 5 minutes off

describe('standardWebhooksSignature', () => {
  it('matches the Standard Webhooks test vector', () => {
    expect(standardWebhooksSignature('whsec_plJ3nmyCDGBKInavdOK15jsl', 'msg_loFOjxBNrRLzqYUf', 1731705121, body))
      .toBe('v1,rAvfW3dJ/X/qxhsaXPOyyCGmRKsaKWcsNccKXlIktD0=');
  });
});

describe('signatureHeaders with the standardwebhooks package', () => {
  const secret = newSigningSecret();
  const previous = newSigningSecret();

  it('verifies with one secret', () => {
    const headers = signatureHeaders([secret], 'msg_1', now(), body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('verifies with either secret during rotation', () => {
    const headers = signatureHeaders([secret, previous], 'msg_2', now(), body);
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(previous).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(newSigningSecret()).verify(body, headers)).toThrow(/No matching signature/);
  });

  it('fails for a tampered body', () => {
    const headers = signatureHeaders([secret], 'msg_3', now(), body);
    expect(() => new Webhook(secret).verify(body.replace('true', 'false'), headers)).toThrow(/No matching signature/);
  });

  it('signs the HostedHooks header with the newest secret only', () => {
    const t = now();
    const headers = signatureHeaders([secret, previous], 'msg_4', t, body);
    expect(headers['hostedhooks-signature']).toBe(hostedHooksSignature(secret, t, body));
  });
});

/** An independent HostedHooks verifier written from the documented `t=<unix>,s=<hex hmac>` format. */
function verifyHostedHooks(header: string, secret: string, rawBody: string): boolean {
  const fields = new Map(header.split(',').map((part) => {
    const eq = part.indexOf('=');
    return [part.slice(0, eq), part.slice(eq + 1)] as const;
  }));
  const t = fields.get('t');
  const s = fields.get('s');
  if (!t || !/^\d+$/.test(t) || !s || !/^[0-9a-f]{64}$/.test(s)) return false;
  const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${t}.${rawBody}`).digest();
  return timingSafeEqual(expected, Buffer.from(s, 'hex'));
}

describe('hostedHooksSignature', () => {
  const secret = 'hh_secret_ünïcode';

  it('has the documented shape and verifies', () => {
    const header = hostedHooksSignature(secret, 1731705121, body);
    expect(header).toMatch(/^t=1731705121,s=[0-9a-f]{64}$/);
    expect(verifyHostedHooks(header, secret, body)).toBe(true);
  });

  it('does not verify with a changed body, secret or timestamp', () => {
    const header = hostedHooksSignature(secret, 1731705121, body);
    expect(verifyHostedHooks(header, secret, `${body} `)).toBe(false);
    expect(verifyHostedHooks(header, 'another secret', body)).toBe(false);
    expect(verifyHostedHooks(header.replace('t=1731705121', 't=1731705122'), secret, body)).toBe(false);
  });
});

describe('newSigningSecret', () => {
  it('is whsec_ and the base64 of 32 random bytes', () => {
    const secret = newSigningSecret();
    const match = /^whsec_([A-Za-z0-9+/]{43}=)$/.exec(secret);
    expect(match).not.toBeNull();
    expect(Buffer.from(match![1]!, 'base64')).toHaveLength(32);
    expect(newSigningSecret()).not.toBe(secret);
  });
});
