import { describe, expect, it } from 'vitest';
import { SecretBox, hashApiKey, hashPassword, newApiKey, newEncryptionKey, parseApiKey, verifyApiKey, verifyPassword } from '../../lib/secrets.ts';

describe('SecretBox', () => {
  const box = new SecretBox(newEncryptionKey());

  it('round-trips, with a fresh ciphertext each time', () => {
    const plain = 'whsec_some secret ✓';
    const a = box.encrypt(plain);
    const b = box.encrypt(plain);
    expect(a).not.toBe(b);
    expect(a).not.toContain('some secret');
    expect(box.decrypt(a)).toBe(plain);
    expect(box.decrypt(b)).toBe(plain);
  });

  it('rejects a tampered ciphertext', () => {
    const parts = box.encrypt('hello world').split('.');
    const data = Buffer.from(parts[4]!, 'base64url');
    data[0]! ^= 1;
    parts[4] = data.toString('base64url');
    expect(() => box.decrypt(parts.join('.'))).toThrow();
    expect(() => box.decrypt('garbage')).toThrow(/not an openhooks ciphertext/);
  });

  it('refuses a ciphertext from another key, naming both key ids', () => {
    const other = new SecretBox(newEncryptionKey());
    expect(other.keyId).not.toBe(box.keyId);
    const sealed = box.encrypt('x');
    expect(() => other.decrypt(sealed)).toThrow(new RegExp(`${box.keyId}.*${other.keyId}`));
  });

  it('requires a 32-byte key', () => {
    expect(() => new SecretBox(Buffer.alloc(16).toString('base64'))).toThrow(/32 bytes/);
  });

  it('keeps reading values written with a previous key after ENCRYPTION_KEY rotates', () => {
    const oldKey = newEncryptionKey();
    const sealedOld = new SecretBox(oldKey).encrypt('whsec_old');
    const rotated = new SecretBox(newEncryptionKey(), [oldKey]);
    expect(rotated.decrypt(sealedOld)).toBe('whsec_old');
    expect(rotated.isStale(sealedOld)).toBe(true);
    const resealed = rotated.encrypt(rotated.decrypt(sealedOld));
    expect(rotated.isStale(resealed)).toBe(false);
    // Without the previous key listed, the old value is unreadable, with a message saying why.
    expect(() => new SecretBox(newEncryptionKey()).decrypt(sealedOld)).toThrow(/ENCRYPTION_KEYS_PREVIOUS/);
  });

  it('derives distinct keys per purpose from the current key', () => {
    const box = new SecretBox(newEncryptionKey());
    expect(box.deriveKey('tokens')).toHaveLength(32);
    expect(box.deriveKey('tokens').equals(box.deriveKey('tokens'))).toBe(true);
    expect(box.deriveKey('tokens').equals(box.deriveKey('sessions'))).toBe(false);
  });
});

describe('API keys', () => {
  it('newApiKey parses back to its prefix and stores only a salted hash', () => {
    const { key, prefix, hash } = newApiKey();
    expect(key).toMatch(/^ohk_[0-9a-f]{12}_[\w-]{32}$/);
    expect(parseApiKey(key)).toEqual({ prefix });
    expect(hash).toMatch(/^sha256\$[\w-]{22}\$[0-9a-f]{64}$/);
    expect(hash).not.toContain(key.slice(17));
    expect(verifyApiKey(key, hash)).toBe(true);
    expect(verifyApiKey(`${key}x`, hash)).toBe(false);
    expect(verifyApiKey(key, 'sha256$$')).toBe(false);
    expect(verifyApiKey(key, 'plain')).toBe(false);
    // Salted: the same key hashes differently each time, and each hash verifies.
    const again = hashApiKey(key);
    expect(again).not.toBe(hash);
    expect(verifyApiKey(key, again)).toBe(true);
    expect(newApiKey().key).not.toBe(key);
  });

  it.each(['', 'ohk_abc_def', `ohk_${'g'.repeat(12)}_${'a'.repeat(32)}`, `ohk_${'a'.repeat(12)}_${'a'.repeat(31)}`, `sk_${'a'.repeat(12)}_${'a'.repeat(32)}`])(
    'parseApiKey rejects %j',
    (key) => {
      expect(parseApiKey(key)).toBeUndefined();
    },
  );
});

describe('passwords', () => {
  it('verifies the right password only, with a salted hash', async () => {
    const stored = await hashPassword('correct horse');
    expect(stored).toMatch(/^scrypt\$[\w-]+\$[\w-]+$/);
    expect(await hashPassword('correct horse')).not.toBe(stored);
    expect(await verifyPassword('correct horse', stored)).toBe(true);
    expect(await verifyPassword('correct horse ', stored)).toBe(false);
    expect(await verifyPassword('correct horse', 'bcrypt$x$y')).toBe(false);
  });

  // A hash that decodes to zero bytes would make scrypt derive an empty key that equals it.
  it('rejects every password against a corrupt stored hash', async () => {
    expect(await verifyPassword('anything', 'scrypt$c2FsdA$!!!')).toBe(false);
  });
});
