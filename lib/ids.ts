import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lowercase

/** The prefix of each kind of id, so that an id tells what it names in logs and support tickets. */
export const ID_PREFIX = {
  account: 'acc',
  user: 'usr',
  invite: 'inv',
  apiKey: 'key',
  app: 'app',
  eventType: 'evt',
  subscriber: 'sub',
  endpoint: 'ep',
  message: 'msg',
  delivery: 'dlv',
  attempt: 'att',
  notification: 'ntf',
  replay: 'rpl',
} as const;

export type IdKind = keyof typeof ID_PREFIX;

function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/**
 * A new opaque id such as `msg_01jd…`: 48 bits of milliseconds then 80 random bits, so ids sort by
 * creation time (handy for pagination and indexes) and never collide in practice.
 */
export function newId(kind: IdKind, now = Date.now()): string {
  const bytes = new Uint8Array(16);
  let time = now;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = time % 256;
    time = Math.floor(time / 256);
  }
  bytes.set(randomBytes(10), 6);
  return `${ID_PREFIX[kind]}_${base32(bytes)}`;
}
