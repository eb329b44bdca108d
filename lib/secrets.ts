import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/**
 * Encrypts values at rest with AES-256-GCM. Ciphertexts read `v1.<key id>.<iv>.<tag>.<data>`
 * (base64url). New values use the current key; older keys stay readable, so ENCRYPTION_KEY can be
 * rotated: set the new one, list the old in ENCRYPTION_KEYS_PREVIOUS, run `openhooks secrets
 * reencrypt`, then drop the old.
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  readonly keyId: string;

  constructor(base64Key: string, previousKeys: readonly string[] = []) {
    this.keyId = this.add(base64Key, 'ENCRYPTION_KEY');
    for (const key of previousKeys) this.add(key, 'ENCRYPTION_KEYS_PREVIOUS');
  }

  private add(base64Key: string, name: string): string {
    const key = Buffer.from(base64Key, 'base64');
    if (key.length !== 32) throw new Error(`${name} must hold keys of 32 bytes in base64`);
    const id = createHash('sha256').update(key).digest('hex').slice(0, 8);
    if (!this.keys.has(id)) this.keys.set(id, key);
    return id;
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.keyId)!, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', this.keyId, iv, cipher.getAuthTag(), data]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  decrypt(sealed: string): string {
    const [version, keyId, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !keyId || !iv || !tag || data === undefined) throw new Error('not an openhooks ciphertext');
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`ciphertext was written with key ${keyId}, which is neither the configured key ${this.keyId} nor in ENCRYPTION_KEYS_PREVIOUS`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** True when `sealed` was written with an older key and should be encrypted again. */
  isStale(sealed: string): boolean {
    return sealed.split('.')[1] !== this.keyId;
  }

  /** A key for another purpose (such as signing tokens), derived from the current key. */
  deriveKey(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.keys.get(this.keyId)!, Buffer.alloc(0), `openhooks:${purpose}`, 32));
  }
}

export function newEncryptionKey(): string {
  return randomBytes(32).toString('base64');
}

/** API keys read `ohk_<prefix>_<secret>`; the prefix is stored in clear to find the row, the key only as a salted hash. */
export function newApiKey(): { key: string; prefix: string; hash: string } {
  const prefix = randomBytes(6).toString('hex');
  const key = `ohk_${prefix}_${randomBytes(24).toString('base64url')}`;
  return { key, prefix, hash: hashApiKey(key) };
}

export function parseApiKey(key: string): { prefix: string } | undefined {
  const match = /^ohk_([0-9a-f]{12})_[\w-]{32}$/.exec(key);
  return match ? { prefix: match[1]! } : undefined;
}

/**
 * `sha256$<salt>$<hex>`. SHA-256 rather than a slow hash: the key carries 192 random bits, so there
 * is nothing to brute-force; the salt keeps equal keys from having equal hashes.
 */
export function hashApiKey(key: string, salt: Buffer = randomBytes(16)): string {
  return `sha256$${salt.toString('base64url')}$${createHash('sha256').update(salt).update(key).digest('hex')}`;
}

export function verifyApiKey(key: string, stored: string): boolean {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'sha256' || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'hex');
  const actual = Buffer.from(hashApiKey(key, Buffer.from(salt, 'base64url')).split('$')[2]!, 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Password hashes for portal logins: `scrypt$<salt>$<hash>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, 32);
  return `scrypt$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  if (expected.length !== 32) return false;
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length);
  return timingSafeEqual(actual, expected);
}
