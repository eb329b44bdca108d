import { createHash } from 'node:crypto';
import type { AppLoadContext } from '@remix-run/node';
import type { User } from '../../db/database.ts';
import { findUser } from '../../db/users.ts';
import { signToken, verifyToken } from '../../lib/tokens.ts';

const RESET_TTL_MS = 60 * 60_000;

/**
 * A short digest of the user's password hash. The hash has a fresh salt on every change, so a reset
 * link that carries this stops working once any new password is set: single use, with nothing stored.
 */
function passwordStamp(user: User): string {
  return createHash('sha256').update(user.password_hash).digest('base64url').slice(0, 16);
}

const resetKey = (context: AppLoadContext): Buffer => context.secrets.deriveKey('portal-password-reset');

export function passwordResetUrl(context: AppLoadContext, user: User, now = Date.now()): string {
  const { token } = signToken(resetKey(context), { sub: user.id, pw: passwordStamp(user) }, RESET_TTL_MS, now);
  return `${context.config.publicUrl}/reset-password/${token}`;
}

/** The user a reset token is for, while it is intact, unexpired and unused; undefined otherwise. */
export async function userForResetToken(context: AppLoadContext, token: string): Promise<User | undefined> {
  const claims = verifyToken<{ sub?: unknown; pw?: unknown }>(resetKey(context), token);
  if (!claims || typeof claims.sub !== 'string') return undefined;
  const user = await findUser(context.db, claims.sub);
  return user && claims.pw === passwordStamp(user) ? user : undefined;
}
