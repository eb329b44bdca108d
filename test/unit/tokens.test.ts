import { describe, expect, it } from 'vitest';
import { newEncryptionKey, SecretBox } from '../../lib/secrets.ts';
import { signToken, verifyToken } from '../../lib/tokens.ts';

describe('signed tokens', () => {
  const key = new SecretBox(newEncryptionKey()).deriveKey('tokens');
  const now = Date.UTC(2026, 10, 28, 12);

  it('round-trips its claims until it expires', () => {
    const { token, expiresAt } = signToken(key, { sub: 'sub_1', scope: 'portal' }, 60_000, now);
    expect(expiresAt.toISOString()).toBe('2026-11-28T12:01:00.000Z');
    expect(verifyToken(key, token, now + 59_000)).toMatchObject({ sub: 'sub_1', scope: 'portal' });
    expect(verifyToken(key, token, now + 60_000)).toBeUndefined();
  });

  it('refuses a changed byte, another key, and garbage', () => {
    const { token } = signToken(key, { sub: 'sub_1' }, 60_000, now);
    const [body, signature] = token.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ sub: 'sub_2', exp: now / 1000 + 60 })).toString('base64url');
    expect(verifyToken(key, `${forged}.${signature}`, now)).toBeUndefined();
    expect(verifyToken(key, `${body}.${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`, now)).toBeUndefined();
    expect(verifyToken(new SecretBox(newEncryptionKey()).deriveKey('tokens'), token, now)).toBeUndefined();
    for (const junk of ['', '.', 'a.b.c', 'not-a-token']) expect(verifyToken(key, junk, now)).toBeUndefined();
  });
});
